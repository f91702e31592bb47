/**
 * What a scenario run shows: a snapshot of it while it runs (for the live view), and the
 * report at its end, both read from the ledger and the consumer groups.
 */
import { type CheckerReport, check } from "./checker.js";
import { contractWatch } from "./contracts.js";
import type { ConsumerGroup } from "./groups.js";
import type { RunState } from "./state.js";
import type {
  PlayReport,
  QueueReport,
  QueueRow,
  Snapshot,
  StoppedBy,
  ViolationsReport,
} from "./types.js";

interface Rate {
  at: number;
  in: number;
  out: number;
  inRate: number;
  outRate: number;
}

/** Snapshots of one run: the rates per queue are measured over about a second between them. */
export class Snapshots {
  private readonly rates = new Map<string, Rate>();
  /** The checker is run at most once a second (it looks at every copy). */
  private checked: { at: number; counts: NonNullable<Snapshot["checker"]> } | undefined;

  constructor(
    private readonly run: RunState,
    private readonly groups: readonly ConsumerGroup[],
    private readonly limitMs: number | undefined,
  ) {}

  take(): Snapshot {
    const { run, groups } = this;
    const now = Date.now();
    const names = [...new Set([...groups.map((g) => g.queue), ...run.ledger.counters.keys()])];
    const queues = names.map((name) => this.row(name, now));
    return {
      scenario: run.options.name,
      elapsedMs: now - run.started,
      durationMs: this.limitMs,
      published: run.published,
      planned: run.planned,
      confirmed: run.publisherStats?.confirmed ?? 0,
      preexisting: queues.reduce((n, q) => n + (q.preexisting ?? 0), 0),
      queues,
      consumers: groups.map((g) => g.row()),
      events: run.events.slice(-4),
      ...(run.timeline.length > 0
        ? {
            faults: {
              count: run.timeline.length,
              now: run.timeline
                .filter((f) => f.endMs === undefined || f.endMs > now - run.started)
                .map((f) => f.what),
            },
          }
        : {}),
      reconnects: run.reconnects,
      blockedMs: run.blockedMs,
      checker: this.checker(now),
    };
  }

  private checker(now: number): NonNullable<Snapshot["checker"]> {
    if (this.checked && now - this.checked.at < 1000) return this.checked.counts;
    const c = check(this.run.ledger, { restarts: [], durable: () => true }).counts;
    const counts = {
      ok: c.ok,
      duplicated: c.duplicated,
      recovered: c.recovered,
      waiting: c.lost + c["unconfirmed-lost"],
    };
    this.checked = { at: now, counts };
    return counts;
  }

  private row(name: string, now: number): QueueRow {
    const c = this.run.ledger.queue(name);
    const st = this.run.options.queueStats?.(name);
    const rate = this.rates.get(name) ?? { at: now, in: c.in, out: c.out, inRate: 0, outRate: 0 };
    if (now - rate.at >= 1000) {
      rate.inRate = ((c.in - rate.in) * 1000) / (now - rate.at);
      rate.outRate = ((c.out - rate.out) * 1000) / (now - rate.at);
      rate.at = now;
      rate.in = c.in;
      rate.out = c.out;
    }
    this.rates.set(name, rate);
    return {
      name,
      depth: st?.ready,
      unacked: st?.unacked,
      inRate: rate.inRate,
      outRate: rate.outRate,
      redelivered: c.redelivered,
      deadLettered: c.deadLettered,
      duplicates: c.duplicates,
      outOfOrder: c.outOfOrder,
      preexisting: c.preexisting,
    };
  }
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function latencyOf(latencies: readonly number[]): PlayReport["latencyMs"] {
  if (latencies.length === 0) return undefined;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] as number,
  };
}

/** Why copies are lost, when it is not on purpose. */
function lostNote(lost: number, stoppedBy: StoppedBy, checker: CheckerReport): string | undefined {
  if (lost === 0) return undefined;
  if (stoppedBy === "idle" || stoppedBy === "done") {
    const first = checker.samples.lost[0] ?? "";
    return `the run stopped (${stoppedBy}) before every copy was settled: confirmed by the broker, never processed; record a run (--record FILE) and ask \`eventlab why ${first.split(" in ")[0]} --from FILE\` for its story`;
  }
  return `the run stopped (${stoppedBy}) before every copy was settled`;
}

function queueReport(run: RunState, groups: readonly ConsumerGroup[], name: string): QueueReport {
  const l = run.ledger;
  const c = l.queue(name);
  const gs = groups.filter((g) => g.queue === name);
  // Copies worked on to the end, whether or not the ack reached the broker (as the checker
  // counts them), each at most as often as it was expected here.
  const worked = l.processedById.get(name);
  let processed = 0;
  for (const [id, expected] of l.expectedIn(name)) {
    processed += Math.min(expected, worked?.get(id) ?? 0);
  }
  return {
    name,
    routed: l.expected.get(name) ?? 0,
    consumed: processed + l.count(name, "duplicate"),
    processed,
    // Deliveries recognised as duplicates (by the dedupe key), however many per id.
    duplicates: c.duplicates,
    retried: gs.reduce((n, g) => n + g.counts.retried, 0),
    deadLettered: c.deadLettered,
    redelivered: c.redelivered,
    outOfOrder: gs.reduce((n, g) => n + g.counts.outOfOrder, 0),
    gaps: gs.reduce((n, g) => n + g.counts.gaps, 0),
    lost: l.lost(name),
    preexisting: c.preexisting,
  };
}

/** The report at the end of a run; `publisher` holds the producers' publisher's counters. */
export function buildReport(
  run: RunState,
  groups: readonly ConsumerGroup[],
  stoppedBy: StoppedBy,
  publisher: {
    published: number;
    confirmed: number;
    nacked: number;
    returned: number;
    unanswered: number;
  },
): PlayReport {
  const l = run.ledger;
  const topology = run.options.config.topology;
  const checker = check(l, {
    restarts: run.restarts,
    durable: (q) => topology.queues[q]?.durable ?? true,
  });
  const queues = [...l.consumed].map((name) => ({
    ...queueReport(run, groups, name),
    lost: checker.lostIn[name] ?? 0,
  }));
  const sum = (f: (q: QueueReport) => number) => queues.reduce((n, q) => n + f(q), 0);
  const lost = checker.counts.lost;
  return {
    scenario: run.options.name,
    stoppedBy,
    ...(run.failure !== undefined ? { error: run.failure } : {}),
    reconnects: run.reconnects,
    elapsedMs: Date.now() - run.started,
    published: publisher.published,
    confirmed: publisher.confirmed,
    nacked: publisher.nacked,
    returned: publisher.returned,
    routed: sum((q) => q.routed),
    consumed: sum((q) => q.consumed),
    retried: sum((q) => q.retried),
    deadLettered: sum((q) => q.deadLettered),
    dropped: [...l.consumed].reduce((n, q) => n + l.count(q, "dropped"), 0),
    duplicates: sum((q) => q.duplicates),
    outOfOrder: sum((q) => q.outOfOrder),
    gaps: sum((q) => q.gaps),
    redelivered: sum((q) => q.redelivered),
    unconsumed: l.unconsumed,
    preexisting: sum((q) => q.preexisting),
    purged: run.purged,
    lost,
    lostNote: checker.intended ?? lostNote(lost, stoppedBy, checker),
    ...(checker.intended !== undefined ? { lostIntended: true } : {}),
    uncertain: publisher.unanswered,
    checker,
    faults: run.timeline,
    blockedMs: run.blockedMs,
    latencyMs: latencyOf(l.latencies),
    queues,
    consumers: groups.map((g) => g.row()),
    events: run.events,
    ...violationsOf(run),
  };
}

/** The contract checks of consumers with a schema, when the scenario has any. */
function violationsOf(run: RunState): { violations?: ViolationsReport } {
  const watch = contractWatch(run);
  return watch ? { violations: structuredClone(watch.report) } : {};
}

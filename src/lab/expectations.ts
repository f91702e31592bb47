/**
 * A scenario's `expect:` entries and `thresholds:`, checked against a run: what the run
 * published (watched as it happens, for queue and message expectations) and its report (for
 * consumer expectations and thresholds). Each check ends as one result with the expected
 * value, the actual one and the message ids involved: what `play --ci` prints and what the
 * JUnit file holds, one test case per check.
 *
 * A queue or message expectation counts the run's messages that the routing sends to the queue
 * and the broker confirmed: a confirmed message is in the queue. `within` counts those whose
 * confirm came by then, from the start of producing.
 */
import type { PublishOutcome } from "../client/publisher.js";
import type { Violation } from "../config/contracts.js";
import {
  CONSUMER_COUNTERS,
  type Comparison,
  compare,
  type Expectation,
  expectationOf,
  showComparison,
  THRESHOLD_COUNTS,
  THRESHOLD_LATENCIES,
  type ThresholdKey,
  type Thresholds,
} from "../config/expect-schema.js";
import { compileExpression, type Expression, factsOf } from "../config/expression.js";
import type { ScenarioConfig } from "../config/schema.js";
import type { RenderedMessage } from "../config/templates.js";
import { scenarioError } from "./scenario.js";
import type { PlayReport } from "./types.js";

/** Checks a body against a schema (a file, relative to the config, or inline). */
export type SchemaCheck = (body: Buffer) => Violation[];
export type SchemaLoader = (
  schema: string | Record<string, unknown>,
  where: string,
) => Promise<SchemaCheck>;

export interface CheckResult {
  /** What is checked, as JUnit names the test case. */
  name: string;
  kind: "queue" | "consumer" | "message" | "threshold";
  ok: boolean;
  expected: string;
  actual: string;
  /** Ids of messages involved in a failure (the first few). */
  ids: string[];
  /** One line: what failed and why; empty when it passed. */
  message: string;
}

/** Ids kept per failing check. */
const MAX_IDS = 10;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Per message expectation: what was selected and what broke its contract, while in flight. */
interface MessageWatch {
  e: Extract<Expectation, { kind: "message" }>;
  match: Expression | undefined;
  check: SchemaCheck | undefined;
  /** Selected and published, waiting for the broker's answer: their violations. */
  pending: Map<string, Violation[]>;
  selected: number;
  bad: Array<{ id: string; violations: Violation[] }>;
  badCount: number;
  /** Selected ids that were not confirmed (nacked, uncertain): not counted. */
  unconfirmed: string[];
}

/** Per queue expectation: when each confirmed message reached the queue. */
interface QueueWatch {
  e: Extract<Expectation, { kind: "queue" }>;
  pending: Set<string>;
  /** Confirm times (epoch ms) with their ids. */
  arrived: Array<{ id: string; at: number }>;
  unconfirmed: string[];
}

export class Expectations {
  private readonly queues: QueueWatch[] = [];
  private readonly messages: MessageWatch[] = [];
  private readonly others: Expectation[] = [];
  /** The queue and message watches by queue name, for each publish. */
  private readonly byQueue = new Map<string, Array<QueueWatch | MessageWatch>>();
  private readonly pendingIds = new Map<string, Array<QueueWatch | MessageWatch>>();

  private constructor(
    readonly list: readonly Expectation[],
    readonly thresholds: Thresholds,
  ) {}

  /** When producing started (epoch ms). */
  private startedAt = Date.now();

  started(at: number): void {
    this.startedAt = at;
  }

  /** Whether the scenario has anything to check. */
  get any(): boolean {
    return this.list.length > 0 || Object.keys(this.thresholds).length > 0;
  }

  /**
   * The scenario's checks, their expressions compiled and their schemas loaded, before the run:
   * a consumer that is not the scenario's, a bad expression or a missing schema stops here.
   */
  static async of(
    scenarioName: string,
    scenario: ScenarioConfig,
    loadSchema: SchemaLoader,
  ): Promise<Expectations> {
    const list = (scenario.expect ?? []).map((e) => expectationOf(e as Record<string, unknown>));
    const x = new Expectations(list, (scenario.thresholds ?? {}) as Thresholds);
    for (const [i, e] of list.entries()) {
      const where = `scenarios.${scenarioName}.expect[${i}]`;
      if (e.kind === "consumer") {
        if (!scenario.consumers.includes(e.consumer)) {
          throw scenarioError(
            scenarioName,
            `${where} expects consumer '${e.consumer}', which the scenario does not run (its consumers: ${scenario.consumers.join(", ") || "none"})`,
          );
        }
        x.others.push(e);
        continue;
      }
      const watch =
        e.kind === "queue"
          ? { e, pending: new Set<string>(), arrived: [], unconfirmed: [] }
          : {
              e,
              match:
                e.match === undefined
                  ? undefined
                  : compileExpression(e.match, `${where}.message.match`),
              check:
                e.schema === undefined ? undefined : await loadSchema(e.schema, `${where}.schema`),
              pending: new Map<string, Violation[]>(),
              selected: 0,
              bad: [],
              badCount: 0,
              unconfirmed: [],
            };
      if (e.kind === "queue") x.queues.push(watch as QueueWatch);
      else x.messages.push(watch as MessageWatch);
      const on = x.byQueue.get(e.queue) ?? [];
      on.push(watch);
      x.byQueue.set(e.queue, on);
    }
    return x;
  }

  /** The run published message `id`, and the routing sends it to `queues`. */
  published(id: string, m: RenderedMessage, queues: Iterable<string>): void {
    if (this.byQueue.size === 0) return;
    let facts: ReturnType<typeof factsOf> | undefined;
    for (const q of new Set(queues)) {
      for (const w of this.byQueue.get(q) ?? []) {
        if ("arrived" in w) w.pending.add(id);
        else {
          facts ??= factsOf({
            content: m.content,
            fields: { exchange: m.exchange, routingKey: m.routingKey, redelivered: false },
            properties: m.properties as unknown as Record<string, unknown>,
          });
          if (w.match && !w.match.test(facts)) continue;
          w.pending.set(id, w.check ? w.check(m.content) : []);
        }
        const ws = this.pendingIds.get(id) ?? [];
        ws.push(w);
        this.pendingIds.set(id, ws);
      }
    }
  }

  /** The broker answered the publish of message `id`. */
  answered(id: string, outcome: PublishOutcome): void {
    const ws = this.pendingIds.get(id);
    if (!ws) return;
    this.pendingIds.delete(id);
    const now = Date.now();
    for (const w of ws) {
      if ("arrived" in w) {
        if (!w.pending.delete(id)) continue;
        if (outcome === "confirmed") w.arrived.push({ id, at: now });
        else if (w.unconfirmed.length < MAX_IDS) w.unconfirmed.push(id);
        continue;
      }
      const violations = w.pending.get(id);
      if (violations === undefined) continue;
      w.pending.delete(id);
      if (outcome !== "confirmed") {
        if (w.unconfirmed.length < MAX_IDS) w.unconfirmed.push(id);
        continue;
      }
      w.selected += 1;
      if (violations.length > 0) {
        w.badCount += 1;
        if (w.bad.length < MAX_IDS) w.bad.push({ id, violations });
      }
    }
  }

  /** Every check against the run, in the order written, thresholds last. */
  evaluate(report: PlayReport): CheckResult[] {
    const out: CheckResult[] = [];
    for (const e of this.list) {
      if (e.kind === "queue") out.push(this.queueResult(e, this.startedAt));
      else if (e.kind === "message") out.push(this.messageResult(e));
      else out.push(...consumerResults(e, report));
    }
    out.push(...thresholdResults(this.thresholds, report));
    return out;
  }

  private queueResult(e: Extract<Expectation, { kind: "queue" }>, startedAt: number): CheckResult {
    const w = this.queues.find((q) => q.e === e) as QueueWatch;
    const by = e.withinMs === undefined ? Number.POSITIVE_INFINITY : startedAt + e.withinMs;
    const inTime = w.arrived.filter((a) => a.at <= by);
    const late = w.arrived.filter((a) => a.at > by);
    const actual = inTime.length;
    const ok = compare(actual, e.count);
    const within = e.withinMs === undefined ? "" : ` within ${e.withinMs} ms`;
    const name = e.name ?? `queue ${e.queue} receives ${showComparison(e.count)} messages${within}`;
    const notes = [
      late.length > 0
        ? `${late.length} more came later (first at ${late[0] ? late[0].at - startedAt : 0} ms)`
        : "",
      w.unconfirmed.length > 0
        ? `${plural(w.unconfirmed.length, "message")} routed there not confirmed`
        : "",
    ].filter(Boolean);
    const ids = ok ? [] : [...late.map((a) => a.id), ...w.unconfirmed].slice(0, MAX_IDS);
    return {
      name,
      kind: "queue",
      ok,
      expected: `${showComparison(e.count)}${within}`,
      actual: String(actual),
      ids,
      message: ok
        ? ""
        : `expected ${showComparison(e.count)} messages in queue ${e.queue}${within}, got ${actual}${notes.length > 0 ? ` (${notes.join("; ")})` : ""}`,
    };
  }

  private messageResult(e: Extract<Expectation, { kind: "message" }>): CheckResult {
    const w = this.messages.find((m) => m.e === e) as MessageWatch;
    const what = `messages to ${e.queue}${e.match ? ` matching ${e.match}` : ""}`;
    const name =
      e.name ??
      `${what}: ${showComparison(e.count)}${e.schema !== undefined ? ", each valid against its schema" : ""}`;
    const countOk = compare(w.selected, e.count);
    const ok = countOk && w.badCount === 0;
    const problems: string[] = [];
    if (!countOk) problems.push(`expected ${showComparison(e.count)} ${what}, got ${w.selected}`);
    if (w.badCount > 0) {
      const first = w.bad[0];
      const v = first?.violations[0];
      problems.push(
        `${plural(w.badCount, "message")} of ${w.selected} broke the schema${first && v ? ` (first: ${first.id}: ${v.path || "/"} ${v.message})` : ""}`,
      );
    }
    return {
      name,
      kind: "message",
      ok,
      expected: `${showComparison(e.count)} selected${e.schema !== undefined ? ", 0 invalid" : ""}`,
      actual: `${w.selected} selected${e.schema !== undefined ? `, ${w.badCount} invalid` : ""}`,
      ids: ok ? [] : w.bad.map((b) => b.id).slice(0, MAX_IDS),
      message: problems.join("; "),
    };
  }
}

function consumerResults(
  e: Extract<Expectation, { kind: "consumer" }>,
  report: PlayReport,
): CheckResult[] {
  const row = report.consumers.find((c) => c.name === e.consumer);
  return CONSUMER_COUNTERS.flatMap((counter) => {
    const want = e.counters[counter];
    if (!want) return [];
    const actual = row ? consumerCount(report, row.name, counter) : 0;
    const ok = compare(actual, want);
    return [
      {
        name: e.name ?? `consumer ${e.consumer} ${counter} ${showComparison(want)}`,
        kind: "consumer" as const,
        ok,
        expected: showComparison(want),
        actual: String(actual),
        ids: ok ? [] : samplesFor(report, counter),
        message: ok
          ? ""
          : `expected consumer ${e.consumer} ${counter} ${showComparison(want)}, got ${actual}`,
      },
    ];
  });
}

/** A consumer profile's counter: the row's own, else its queue's (ordering counts). */
function consumerCount(
  report: PlayReport,
  name: string,
  counter: (typeof CONSUMER_COUNTERS)[number],
): number {
  const row = report.consumers.find((c) => c.name === name);
  if (!row) return 0;
  if (counter === "processed" || counter === "failed" || counter === "retried") return row[counter];
  return report.queues.find((q) => q.name === row.queue)?.[counter] ?? 0;
}

/** Message ids the checker keeps for a failing count, when it keeps any. */
function samplesFor(report: PlayReport, key: string): string[] {
  const category = key === "unconfirmedLost" ? "unconfirmed-lost" : key;
  const samples = (report.checker.samples as Record<string, string[] | undefined>)[category];
  return (samples ?? []).slice(0, MAX_IDS);
}

/** The value of a threshold's key in a report. */
function thresholdActual(report: PlayReport, key: ThresholdKey): number | undefined {
  const c = report.checker.counts as Record<string, number>;
  switch (key) {
    case "duplicated":
    case "unexpected":
    case "recovered":
      return c[key] ?? 0;
    case "unconfirmedLost":
      return c["unconfirmed-lost"] ?? 0;
    case "violations":
      return report.violations?.total ?? 0;
    case "p50":
    case "p90":
    case "p99":
    case "max":
      return report.latencyMs?.[key];
    default:
      return report[key];
  }
}

function thresholdResults(t: Thresholds, report: PlayReport): CheckResult[] {
  const keys = [...THRESHOLD_COUNTS, ...THRESHOLD_LATENCIES].filter((k) => t[k] !== undefined);
  return keys.map((key) => {
    const want = t[key] as Comparison;
    const actual = thresholdActual(report, key);
    const shown = actual === undefined ? "none" : want.duration ? `${actual} ms` : String(actual);
    // A latency threshold with no processed message to measure fails: nothing shows it holds.
    const ok = actual !== undefined && compare(actual, want);
    return {
      name: `threshold ${key} ${showComparison(want)}`,
      kind: "threshold" as const,
      ok,
      expected: showComparison(want),
      actual: shown,
      ids: ok ? [] : samplesFor(report, key),
      message: ok
        ? ""
        : actual === undefined
          ? `expected ${key} ${showComparison(want)}, but no message was processed to measure it`
          : `expected ${key} ${showComparison(want)}, got ${shown}`,
    };
  });
}

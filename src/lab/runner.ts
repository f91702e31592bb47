/**
 * The playground's runner: a scenario's producers and consumer groups on one broker, with
 * the consumers' behaviours and timed faults (groups.ts), every published copy accounted for
 * in the ledger (ledger.ts), and a report at the end (report.ts). Each message carries an id,
 * and the pure routing table says which queues should get it, so `lost` is measured.
 * Messages that were in the queues before the run are refused, purged or kept apart
 * (leftovers.ts), never counted as the run's.
 *
 * The run ends when the ledger says every expected copy is accounted for, when the
 * scenario's time is up, when nothing has been settled for a while (idle), or on the signal:
 * each of these is an event the run waits for, none is polled.
 */

import type { Connection } from "../client/connect.js";
import { applyTopology } from "../client/topology.js";
import { CommandGroup } from "./command-group.js";
import { faultOf } from "./faults.js";
import { type ConsumerGroup, Group } from "./groups.js";
import { Injector } from "./injector.js";
import { handleLeftovers } from "./leftovers.js";
import { compileProducers, ProducerRun } from "./producers.js";
import { buildReport, Snapshots } from "./report.js";
import { routingTableOf } from "./routing.js";
import { declareSupportQueue, planScenario, type ScenarioPlan } from "./scenario.js";
import { RunState, type ScenarioRunOptions } from "./state.js";
import type { PlayReport, StoppedBy } from "./types.js";

export type { ScenarioRunOptions } from "./state.js";
export type { DecisionEvent, PlayReport, QueueReport } from "./types.js";

/** How often the run's state goes to `onSnapshot`. */
const SNAPSHOT_MS = 250;
/** On the embedded broker, how long every queue the run reads must stay empty to end as idle. */
const DRAINED_MS = 500;
/** How long the producers' publisher waits for outstanding confirms once publishing is done. */
const CONFIRM_WAIT_MS = 5000;
/** Unless told otherwise, a run stops as idle after this long without a settled copy… */
const IDLE_MS = 5000;
/** …or this long past the longest retry delay of its consumers, if that is later. */
const IDLE_PAST_RETRY_MS = 3000;

export async function runScenario(o: ScenarioRunOptions): Promise<PlayReport> {
  const plan = planScenario(o.name, o.scenario, o.config);
  const compiled = await compileProducers(o.scenario, o.config, {
    seed: o.seed,
    env: o.env,
    amount: o.amount,
    compiled: o.templates,
  });
  const run = new RunState(
    o,
    plan.groups.map((g) => g.queue),
    routingTableOf(o.config.topology),
  );
  run.planned = compiled.reduce((n, p) => n + p.amount, 0);
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 32);
  const groups: ConsumerGroup[] = plan.groups.map((spec) =>
    spec.cfg.command !== undefined
      ? new CommandGroup({ ...spec, command: spec.cfg.command }, run)
      : new Group(spec, run, seed),
  );
  const producers = compiled.map((p, i) => new ProducerRun(run, p, i));
  run.publisherStats = {
    get confirmed() {
      return producers.reduce((n, p) => n + p.counts().confirmed, 0);
    },
  };
  let stopped = false;
  try {
    const setup = await o.connect();
    try {
      await prepare(run, setup, plan, groups);
    } finally {
      await setup.close();
    }
    await Promise.all(producers.map((p) => p.open()));
    const stoppedBy = await play(run, plan, groups, producers);
    stopped = true;
    await Promise.all(groups.map((g) => g.stop()));
    await Promise.all(producers.map((p) => p.close()));
    return buildReport(run, groups, stoppedBy, sumCounts(producers));
  } finally {
    if (!stopped) {
      await Promise.all(groups.map((g) => g.stop().catch(() => {})));
      await Promise.all(producers.map((p) => p.close().catch(() => {})));
    }
  }
}

function sumCounts(producers: readonly ProducerRun[]) {
  const total = { published: 0, confirmed: 0, nacked: 0, returned: 0, unanswered: 0 };
  for (const p of producers) {
    const c = p.counts();
    for (const k of Object.keys(total) as Array<keyof typeof total>) total[k] += c[k];
  }
  return total;
}

/**
 * Everything before the scenario's clock starts: messages from before the run (in the queues
 * it consumes, and in the retry queues that lead back to them) are handled before anything
 * is declared or consumed; then the topology, the support queues, and the consumers.
 */
async function prepare(
  run: RunState,
  setup: Connection,
  plan: ScenarioPlan,
  groups: readonly ConsumerGroup[],
): Promise<void> {
  const o = run.options;
  const retryQueues = plan.support.filter((q) => q.retry).map((q) => q.name);
  run.purged = await handleLeftovers(
    setup,
    [...groups.map((g) => g.queue), ...retryQueues],
    o.leftovers,
    (text) => run.event(text),
  );
  await declare(run, setup, plan);
  await Promise.all(groups.map((g) => g.start()));
}

/** The run's topology and support queues (again, on a broker that restarted empty). */
async function declare(run: RunState, c: Connection, plan: ScenarioPlan): Promise<void> {
  if (run.options.applyTopology !== false)
    await applyTopology(c, run.options.config.topology, () => {});
  for (const q of plan.support) await declareSupportQueue(c, q);
}

/** The scenario's clock: producers, faults and snapshots, until the run ends. */
async function play(
  run: RunState,
  plan: ScenarioPlan,
  groups: readonly ConsumerGroup[],
  producers: readonly ProducerRun[],
): Promise<StoppedBy> {
  const o = run.options;
  const limit = o.durationMs ?? o.scenario.duration;
  run.started = Date.now();
  o.observer?.started(run.started);
  const timeUp = new AbortController();
  const timers: NodeJS.Timeout[] = [];
  if (limit !== undefined) timers.push(setTimeout(() => timeUp.abort(), limit));
  const stop = AbortSignal.any([o.signal, timeUp.signal, run.lost.signal]);
  const injector = new Injector(run, {
    groups,
    producers,
    consumerTimeoutMs: o.consumerTimeoutMs,
    prepare: async (url) => {
      const c = await (o.connectTo ?? (() => o.connect()))(url);
      try {
        await declare(run, c, plan);
      } finally {
        await c.close();
      }
    },
  });
  injector.start(o.faults ?? o.scenario.faults.map(faultOf));
  const snapshots = new Snapshots(run, groups, limit);
  const ticker = setInterval(() => o.onSnapshot?.(snapshots.take()), SNAPSHOT_MS);
  ticker.unref();
  try {
    try {
      await Promise.all(producers.map((p) => p.play(stop)));
    } catch (err) {
      // A producer's connection is gone and did not come back.
      run.fail("producers", err instanceof Error ? err : new Error(String(err)));
    }
    await Promise.all(producers.map((p) => p.settle(CONFIRM_WAIT_MS)));
    // Where the run's messages may still come from: the consumed queues, and every queue that
    // dead-letters onwards (retry and delay queues).
    const onwards = Object.entries(o.config.topology.queues)
      .filter(([, q]) => q.deadLetterExchange !== undefined)
      .map(([name]) => name);
    const reads = [
      ...new Set([
        ...run.ledger.consumed,
        ...plan.support.filter((q) => q.retry).map((q) => q.name),
        ...onwards,
      ]),
    ];
    const stoppedBy = await ending(run, reads, stop, timeUp.signal);
    o.onSnapshot?.(snapshots.take());
    return stoppedBy;
  } finally {
    clearInterval(ticker);
    for (const t of timers) clearTimeout(t);
    await injector.stop();
  }
}

/** How long a run without its own idle setting waits for a copy that does not come. */
function defaultIdleMs(o: ScenarioRunOptions): number {
  const delays = o.scenario.consumers.flatMap((c) => o.config.consumers[c]?.retry?.delays ?? []);
  return Math.max(IDLE_MS, Math.max(0, ...delays) + IDLE_PAST_RETRY_MS);
}

/**
 * Resolves with how the run ends, once publishing is over:
 * - "done": the ledger accounts for every expected copy (consumers only: `count` copies
 *   settled for good), checked now and on every change to the ledger;
 * - "duration" or "interrupted": `stop` aborts (the scenario's time is up, or the signal);
 * - "connection-lost": a connection of the run was lost and did not come back;
 * - "idle": nothing happened for the idle time: no change to the ledger (consumers only: no
 *   decision at all), measured by a timer that each change restarts; or, on the embedded
 *   broker, every queue the run reads stayed empty for a while (watchDrained).
 */
function ending(
  run: RunState,
  queues: readonly string[],
  stop: AbortSignal,
  timeUp: AbortSignal,
): Promise<StoppedBy> {
  const o = run.options;
  const only = o.consumeOnly;
  const ledger = run.ledger;
  const done = only
    ? () => only.count !== undefined && ledger.finals >= only.count
    : () => ledger.outstanding() <= 0;
  const idleMs = only ? only.idleMs : (o.idleMs ?? defaultIdleMs(o));
  return new Promise<StoppedBy>((resolve) => {
    const cleanups: Array<() => void> = [];
    let over = false;
    const end = (why: StoppedBy) => {
      if (over) return;
      over = true;
      for (const c of cleanups) c();
      resolve(why);
    };
    const onStop = () =>
      end(
        run.lost.signal.aborted && !o.signal.aborted
          ? "connection-lost"
          : timeUp.aborted
            ? "duration"
            : "interrupted",
      );
    if (stop.aborted) return onStop();
    if (done()) return end("done");
    stop.addEventListener("abort", onStop, { once: true });
    cleanups.push(() => stop.removeEventListener("abort", onStop));
    cleanups.push(ledger.watch(() => (done() ? end("done") : undefined)));
    if (idleMs === undefined) return;
    const idle = setTimeout(() => end("idle"), idleMs);
    cleanups.push(() => clearTimeout(idle));
    const restart = () => void idle.refresh();
    cleanups.push(only ? run.watchDecisions(restart) : ledger.watch(restart));
    if (!only) cleanups.push(watchDrained(run, queues, () => end("idle")));
  });
}

/**
 * On the embedded broker, idle comes sooner: once every queue the run reads from (its
 * consumed queues and their retry queues) has held no message, ready or unacknowledged, for
 * DRAINED_MS with no fault under way, nothing more can arrive. Returns the stop function.
 */
function watchDrained(run: RunState, queues: readonly string[], idle: () => void): () => void {
  const stats = run.options.queueStats;
  if (!stats) return () => {};
  let since: number | undefined;
  const timer = setInterval(() => {
    const empty =
      run.faultsUnderway === 0 &&
      queues.every((q) => {
        const s = stats(q);
        return s !== undefined && s.ready === 0 && s.unacked === 0;
      });
    if (!empty) since = undefined;
    else if (since === undefined) since = Date.now();
    else if (Date.now() - since >= DRAINED_MS) idle();
  }, DRAINED_MS / 5);
  timer.unref();
  return () => clearInterval(timer);
}

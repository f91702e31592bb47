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
import { Publisher } from "../client/publisher.js";
import { applyTopology } from "../client/topology.js";
import { elapsed } from "../ui/format.js";
import { Group } from "./groups.js";
import { handleLeftovers } from "./leftovers.js";
import { compileProducers, type Producer, runProducers } from "./producers.js";
import { buildReport, Snapshots } from "./report.js";
import { routingTableOf } from "./routing.js";
import { declareSupportQueue, planScenario, type ScenarioPlan } from "./scenario.js";
import { RunState, type ScenarioRunOptions } from "./state.js";
import type { PlayReport, StoppedBy } from "./types.js";

export type { ScenarioRunOptions } from "./state.js";
export type { DecisionEvent, PlayReport, QueueReport } from "./types.js";

/** How often the run's state goes to `onSnapshot`. */
const SNAPSHOT_MS = 250;
/** How long the producers' publisher waits for outstanding confirms once publishing is done. */
const CONFIRM_WAIT_MS = 5000;
/** Unless told otherwise, a run stops as idle after this long without a settled copy… */
const IDLE_MS = 5000;
/** …or this long past the longest retry delay of its consumers, if that is later. */
const IDLE_PAST_RETRY_MS = 3000;
/** A pause fault without `for` lasts this long. */
const PAUSE_MS = 2000;

export async function runScenario(o: ScenarioRunOptions): Promise<PlayReport> {
  const plan = planScenario(o.name, o.scenario, o.config);
  const producers = await compileProducers(o.scenario, o.config, {
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
  run.planned = producers.reduce((n, p) => n + p.amount, 0);
  const groups = plan.groups.map(
    (spec) => new Group(spec, run, o.seed ?? Math.floor(Math.random() * 2 ** 32)),
  );
  const link = o.link ? await run.link("producers") : undefined;
  const setup = link ? link.connection : await o.connect();
  let stopped = false;
  try {
    await prepare(run, setup, plan, groups);
    const publisher = await Publisher.open(link?.connection ?? setup, {
      confirm: true,
      mandatory: true,
      window: 1000,
      link,
    });
    run.publisherStats = publisher.stats;
    const stoppedBy = await play(run, groups, producers, publisher);
    stopped = true;
    await Promise.all(groups.map((g) => g.stop()));
    const counts = { ...publisher.stats };
    await publisher.close();
    return buildReport(run, groups, stoppedBy, counts);
  } finally {
    if (!stopped) await Promise.all(groups.map((g) => g.stop().catch(() => {})));
    await (link ?? setup).close();
  }
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
  groups: readonly Group[],
): Promise<void> {
  const o = run.options;
  const retryQueues = plan.support.filter((q) => q.retry).map((q) => q.name);
  run.purged = await handleLeftovers(
    setup,
    [...groups.map((g) => g.queue), ...retryQueues],
    o.leftovers,
    (text) => run.event(text),
  );
  if (o.applyTopology !== false) await applyTopology(setup, o.config.topology, () => {});
  for (const q of plan.support) await declareSupportQueue(setup, q);
  await Promise.all(groups.map((g) => g.start()));
}

/** The scenario's clock: producers, faults and snapshots, until the run ends. */
async function play(
  run: RunState,
  groups: readonly Group[],
  producers: Producer[],
  publisher: Publisher,
): Promise<StoppedBy> {
  const o = run.options;
  const limit = o.durationMs ?? o.scenario.duration;
  run.started = Date.now();
  const timeUp = new AbortController();
  const timers: NodeJS.Timeout[] = [];
  if (limit !== undefined) timers.push(setTimeout(() => timeUp.abort(), limit));
  const stop = AbortSignal.any([o.signal, timeUp.signal, run.lost.signal]);
  timers.push(...scheduleFaults(run, groups));
  const snapshots = new Snapshots(run, groups, limit);
  const ticker = setInterval(() => o.onSnapshot?.(snapshots.take()), SNAPSHOT_MS);
  ticker.unref();
  try {
    try {
      await runProducers(run, producers, publisher, stop);
    } catch (err) {
      // The producers' connection is gone and did not come back.
      run.fail("producers", err instanceof Error ? err : new Error(String(err)));
    }
    await publisher.settle(CONFIRM_WAIT_MS);
    const stoppedBy = await ending(run, stop, timeUp.signal);
    o.onSnapshot?.(snapshots.take());
    return stoppedBy;
  } finally {
    clearInterval(ticker);
    for (const t of timers) clearTimeout(t);
  }
}

function scheduleFaults(run: RunState, groups: readonly Group[]): NodeJS.Timeout[] {
  return run.options.scenario.faults.flatMap((f) => {
    const g = groups.find((x) => x.name === f.consumer);
    if (!g) return [];
    const pauseMs = f.for ?? PAUSE_MS;
    const timer = setTimeout(() => {
      run.event(
        `fault: ${f.action} ${f.consumer}${f.action === "pause" ? ` for ${elapsed(pauseMs)}` : ""}`,
      );
      if (f.action === "kill") void g.kill();
      else if (f.action === "pause") g.pause(pauseMs);
      else void g.cut();
    }, f.at);
    return [timer];
  });
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
 *   decision at all), measured by a timer that each change restarts.
 */
function ending(run: RunState, stop: AbortSignal, timeUp: AbortSignal): Promise<StoppedBy> {
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
  });
}

/**
 * A produce-and-consume round trip: apply the topology, run every template (in parallel,
 * at its own pace) with confirms and mandatory returns, consume every queue the messages
 * route to, and account for each copy. Where each message should go is computed with the
 * same pure routing code the embedded broker uses, so `lost` is measured, not assumed.
 * Messages that were in those queues before the round trip are refused, purged, or consumed
 * and counted apart (leftovers.ts): they never stand in for a copy that did not arrive.
 */

import type { RouteResult } from "../broker/routing/index.js";
import type { Connection } from "../client/connect.js";
import type { Config } from "../config/schema.js";
import {
  handleLeftovers,
  ID_HEADER,
  type LeftoverPolicy,
  newRunId,
  publishedBy,
} from "./leftovers.js";
import { Pacer, paceOf, sleep } from "./pacer.js";
import { routingTableOf } from "./routing.js";

export interface RoundTripOptions {
  templates: string[];
  /** Overrides every template's amount. */
  amount?: number | undefined;
  seed?: number | undefined;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  /** How long consumers wait for a missing copy once publishing is done. */
  idleMs?: number;
  /** Messages already in the queues the messages route to (default "keep": counted apart). */
  leftovers?: Exclude<LeftoverPolicy, "process">;
}

export interface TemplateReport {
  name: string;
  exchange: string;
  published: number;
  confirmed: number;
  nacked: number;
  returned: number;
}

export interface QueueReport {
  name: string;
  /** Copies the routing rules send here. */
  routed: number;
  consumed: number;
  /** Messages from before the round trip consumed here, not counted in `consumed`. */
  preexisting: number;
}

export interface RoundTripReport {
  templates: TemplateReport[];
  queues: QueueReport[];
  published: number;
  confirmed: number;
  nacked: number;
  returned: number;
  /** Copies routed to queues, summed over queues. */
  routed: number;
  consumed: number;
  /** Routed copies that were never consumed. */
  lost: number;
  /** Messages from before the round trip consumed (with "keep"), apart from `consumed`. */
  preexisting: number;
  /** Messages from before the round trip deleted first, per queue (with "purge"). */
  purged: Record<string, number>;
  interrupted: boolean;
  elapsedMs: number;
}

export interface RoundTripProgress {
  published: number;
  planned: number;
  consumed: number;
  routed: number;
}

export async function runRoundTrip(
  connection: Connection,
  config: Config,
  options: RoundTripOptions,
  onProgress: (p: RoundTripProgress) => void = () => {},
): Promise<RoundTripReport> {
  const started = Date.now();
  const [{ applyTopology }, { Publisher }, { QueueConsumer }, { compileTemplate }] =
    await Promise.all([
      import("../client/topology.js"),
      import("../client/publisher.js"),
      import("../client/consumer.js"),
      import("../config/templates.js"),
    ]);
  const table = routingTableOf(config.topology);
  const runId = newRunId();

  const compiled = await Promise.all(
    options.templates.map((name) =>
      compileTemplate(name, config.templates[name] as NonNullable<Config["templates"][string]>, {
        seed: options.seed,
        env: options.env,
      }),
    ),
  );
  const planned = compiled.reduce((n, t) => n + (options.amount ?? t.amount), 0);

  // Plan every message first: its copies decide which queues to consume and how many.
  const routed = new Map<string, number>();
  const consumed = new Map<string, number>();
  const progress: RoundTripProgress = { published: 0, planned, consumed: 0, routed: 0 };
  const targets = new Set<string>();
  const plans = compiled.map((t) => {
    const n = options.amount ?? t.amount;
    return Array.from({ length: n }, (_, k) => {
      const message = t.render();
      message.properties.headers = {
        ...message.properties.headers,
        [ID_HEADER]: `${runId}:${t.name}-${k + 1}`,
      };
      const route: RouteResult = table.route(message.exchange, {
        routingKey: message.routingKey,
        headers: message.properties.headers,
      });
      for (const q of route.queues) targets.add(q);
      return { message, queues: route.queues };
    });
  });

  // Before anything is declared or consumed: messages from before the round trip.
  const purged = await handleLeftovers(connection, targets, options.leftovers ?? "keep");
  await applyTopology(connection, config.topology, () => {});

  // Consumers first, so nothing waits in a queue longer than it must.
  const older = new Map<string, number>();
  let wake: () => void = () => {};
  const consumers = await Promise.all(
    [...targets].map((queue) =>
      QueueConsumer.start(
        connection,
        { queue, prefetch: 100, noAck: false },
        (msg, self) => {
          self.settle(msg, "ack");
          if (!publishedBy(runId, msg.properties.headers)) {
            older.set(queue, (older.get(queue) ?? 0) + 1);
            return;
          }
          consumed.set(queue, (consumed.get(queue) ?? 0) + 1);
          progress.consumed += 1;
          onProgress(progress);
          wake();
        },
        () => wake(),
      ),
    ),
  );

  const reports: TemplateReport[] = [];
  await Promise.all(
    compiled.map(async (t, i) => {
      const messages = plans[i] ?? [];
      const publisher = await Publisher.open(connection, {
        confirm: true,
        mandatory: true,
        window: 1000,
      });
      const pacer = new Pacer(paceOf(t.delayMs, t.rate));
      for (let k = 0; k < messages.length && !options.signal.aborted; k++) {
        await sleep(pacer.waitFor(k), options.signal);
        if (options.signal.aborted) break;
        const { message, queues } = messages[k] as (typeof messages)[number];
        if (!publisher.publish(message)) await publisher.ready(options.signal);
        for (const q of queues) routed.set(q, (routed.get(q) ?? 0) + 1);
        progress.routed += queues.length;
        progress.published += 1;
        onProgress(progress);
      }
      await publisher.settle(5000);
      const s = publisher.stats;
      reports.push({
        name: t.name,
        exchange: messages[0]?.message.exchange ?? "",
        published: s.published,
        confirmed: s.confirmed,
        nacked: s.nacked,
        returned: s.returned,
      });
      await publisher.close();
    }),
  );

  // Wait until every routed copy arrived, or nothing has arrived for idleMs.
  const idleMs = options.idleMs ?? 2000;
  let last = progress.consumed;
  let quietSince = Date.now();
  while (progress.consumed < progress.routed && !options.signal.aborted) {
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, 100).unref();
    });
    if (progress.consumed !== last) {
      last = progress.consumed;
      quietSince = Date.now();
    } else if (Date.now() - quietSince > idleMs) break;
  }
  await Promise.all(consumers.map((c) => c.close()));

  const order = options.templates;
  reports.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const queues = [...routed.entries()].map(([name, n]) => ({
    name,
    routed: n,
    consumed: consumed.get(name) ?? 0,
    preexisting: older.get(name) ?? 0,
  }));
  const sum = (f: (t: TemplateReport) => number) => reports.reduce((n, t) => n + f(t), 0);
  const total = queues.reduce((n, q) => n + q.routed, 0);
  const got = queues.reduce((n, q) => n + Math.min(q.consumed, q.routed), 0);
  return {
    templates: reports,
    queues,
    published: sum((t) => t.published),
    confirmed: sum((t) => t.confirmed),
    nacked: sum((t) => t.nacked),
    returned: sum((t) => t.returned),
    routed: total,
    consumed: queues.reduce((n, q) => n + q.consumed, 0),
    lost: total - got,
    preexisting: [...older.values()].reduce((n, k) => n + k, 0),
    purged,
    interrupted: options.signal.aborted,
    elapsedMs: Date.now() - started,
  };
}

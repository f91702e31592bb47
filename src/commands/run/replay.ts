/**
 * `eventlab produce --replay FILE`: publish a recording (consume --save, or consume --json)
 * again, byte for byte: body, properties, and headers with their AMQP field types. The whole
 * file is read and checked first, so a bad line stops the run before anything is published.
 * Messages keep their recorded spacing (scaled by --speed) or go as fast as confirms allow
 * (--speed max), through the same Publisher (confirms, returns, backpressure, reconnects) and
 * the same summary as any produce.
 */
import { basename, resolve } from "node:path";
import { type RecordedMessage, readRecording } from "../../client/envelope.js";
import { Publisher } from "../../client/publisher.js";
import type { PublishProperties } from "../../config/templates.js";
import type { Context } from "../../context.js";
import { sleep } from "../../lab/pacer.js";
import { count } from "../../ui/format.js";
import { startProgress } from "../../ui/progress.js";
import type { ProduceOptions, ProduceSummary, ReplayOptions } from "../produce.js";
import { openLink } from "./link.js";
import { concludePublish, publishSummary } from "./publish-run.js";

/** How long to wait for the last confirms after an error or Ctrl-C. */
const SHORT_SETTLE_MS = 5000;

/**
 * When each message is due, in ms after the first is published: its receive time after the
 * first one's, divided by the speed; never earlier than the one before (a recording out of
 * order is sent in file order). Without receive times (consume --json), or at max, all 0.
 */
export function replaySchedule(
  messages: ReadonlyArray<Pick<RecordedMessage, "receivedAtMs">>,
  speed: number,
): number[] {
  let first: number | undefined;
  let last = 0;
  return messages.map((m) => {
    if (m.receivedAtMs === undefined || !Number.isFinite(speed)) return last;
    first ??= m.receivedAtMs;
    last = Math.max(last, (m.receivedAtMs - first) / speed);
    return last;
  });
}

type ReplayRun = ProduceOptions & { replay: ReplayOptions };

export async function runReplay(
  ctx: Context,
  o: ReplayRun,
  /** produce's own summary printer, so that a replay reads like any produce. */
  printSummary: (ctx: Context, s: ProduceSummary, json: boolean) => void,
): Promise<void> {
  const { file, speed } = o.replay;
  const messages = await recorded(ctx, o);
  const schedule = replaySchedule(messages, speed);
  const link = await openLink(ctx, "eventlab produce", o.reconnect);
  try {
    const publisher = await Publisher.open(link.connection, {
      confirm: o.confirm,
      mandatory: o.mandatory,
      window: o.window,
      link,
      onBlocked: (reason) =>
        ctx.io.err(
          reason === undefined
            ? ctx.theme.dim("the broker unblocked publishing")
            : ctx.theme.warn(
                `! the broker blocked publishing (${reason}); waiting until it unblocks`,
              ),
        ),
    });
    const started = performance.now();
    const failure = await publishAll(ctx, publisher, messages, schedule, started);
    const publishMs = performance.now() - started;
    const settled = await settle(ctx, o, publisher, failure);
    const elapsedMs = performance.now() - started;
    await publisher.close();

    const exchanges = new Set(messages.map((m) => m.exchange));
    const only = exchanges.size === 1 ? [...exchanges][0] : undefined;
    const { summary, error } = publishSummary(ctx, publisher, {
      templates: [
        {
          name: basename(file),
          exchange: only ?? "(several)",
          published: publisher.stats.published,
        },
      ],
      link,
      confirm: o.confirm,
      mandatory: o.mandatory,
      failure,
      publishMs,
      elapsedMs,
    });
    printSummary(ctx, summary, o.json);
    const s = publisher.stats;
    if (s.published < messages.length)
      ctx.io.err(
        ctx.theme.warn(
          `! ${count(messages.length - s.published)} of ${count(messages.length)} messages in ${file} were not published: those from line ${messages[s.published]?.line ?? 0} on`,
        ),
      );
    if (error !== undefined) throw error;
    concludePublish(ctx, o, summary, settled);
  } finally {
    await link.close();
  }
}

/** The recording, read and checked, with --exchange and --key applied; notes on stderr. */
async function recorded(ctx: Context, o: ReplayRun): Promise<RecordedMessage[]> {
  const { io, theme } = ctx;
  const { file } = o.replay;
  const recording = await readRecording(resolve(ctx.cwd, file), file);
  const messages = recording.messages.map((m) => ({
    ...m,
    exchange: o.exchange ?? m.exchange,
    routingKey: o.routingKey ?? m.routingKey,
  }));
  const plain = recording.plainLines;
  if (plain > 0)
    io.err(
      theme.dim(
        `${count(plain)} line${plain === 1 ? "" : "s"} without header types (consume --json): their header types are inferred`,
      ),
    );
  const dropped = messages.filter((m) => m.droppedClusterId).length;
  if (dropped > 0)
    io.err(
      theme.warn(
        `! ${count(dropped)} message${dropped === 1 ? " has" : "s have"} a clusterId property, which is not sent again (the AMQP client cannot)`,
      ),
    );
  return messages;
}

/** Publish each message when it is due; what stopped publishing early, if anything. */
async function publishAll(
  ctx: Context,
  publisher: Publisher,
  messages: readonly RecordedMessage[],
  schedule: readonly number[],
  started: number,
): Promise<unknown> {
  const progress = await startProgress(ctx.io, () => {
    const s = publisher.stats;
    return `replaying ${count(s.published)}/${count(messages.length)} · confirmed ${count(s.confirmed)}${publisher.reconnecting ? " · reconnecting…" : ""}`;
  });
  try {
    for (let i = 0; i < messages.length; i++) {
      if (ctx.signal.aborted || publisher.error) break;
      const m = messages[i] as RecordedMessage;
      const wait = started + (schedule[i] as number) - performance.now();
      if (wait >= 1) await sleep(wait, ctx.signal);
      if (ctx.signal.aborted) break;
      const ok = publisher.publish({
        exchange: m.exchange,
        routingKey: m.routingKey,
        content: m.content,
        properties: m.properties as unknown as PublishProperties,
      });
      if (!ok) await publisher.ready(ctx.signal);
      // Let confirms, returns and timers in between long synchronous bursts.
      if ((i & 1023) === 1023) await new Promise<void>((r) => setImmediate(r));
    }
    return undefined;
  } catch (err) {
    return err;
  } finally {
    progress.stop();
  }
}

/** Wait for the last confirms (shorter after an error or Ctrl-C), through a reconnect. */
async function settle(
  ctx: Context,
  o: ReplayRun,
  publisher: Publisher,
  failure: unknown,
): Promise<boolean> {
  const short = ctx.signal.aborted || failure !== undefined;
  const timeoutMs = short ? Math.min(o.settleTimeoutMs, SHORT_SETTLE_MS) : o.settleTimeoutMs;
  let settled = await publisher.settle(timeoutMs);
  while (!settled && publisher.reconnecting && !ctx.signal.aborted) {
    await publisher.recovered();
    settled = await publisher.settle(timeoutMs);
  }
  return settled;
}

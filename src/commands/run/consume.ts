/**
 * What `eventlab consume` does once its flags are parsed: merge the consumer profile the
 * queue argument may name, then either read (or tap) and print each message through a
 * ConsumeSession, or, with behaviours, run the playground's runner with consumers only.
 */
import type { Connection } from "../../client/connect.js";
import {
  type ConsumeResult,
  ConsumeSession,
  effectivePrefetch,
} from "../../client/consume-session.js";
import { toPlain } from "../../client/consumer.js";
import { brokerError } from "../../client/errors.js";
import { PIPE_BUFFER_BYTES } from "../../client/output-acks.js";
import type { Link } from "../../client/reconnect.js";
import type { ConsumerConfig } from "../../config/schema.js";
import type { Context } from "../../context.js";
import { EventlabError, ExitCode, UsageError } from "../../errors.js";
import { runScenario } from "../../lab/runner.js";
import { decisionLine, decisionRecord } from "../../ui/decision-view.js";
import { count, elapsed, rate } from "../../ui/format.js";
import { pipeReaderAlive } from "../../ui/io.js";
import { ndjsonLine, prettyMessage } from "../../ui/message.js";
import {
  type BehaviourSettings,
  behaviourOf,
  type ConsumeOptions,
  DEFAULT_PREFETCH,
  offsetConflict,
} from "../consume.js";
import { openLink } from "./link.js";

export async function runConsume(ctx: Context, input: ConsumeOptions): Promise<void> {
  const o = await withProfile(ctx, input);
  // The flags were checked; a consumer profile may still bring what --offset excludes.
  const conflict = offsetConflict(o);
  if (conflict) throw conflict;
  if (o.behaviour) {
    if (o.queue === undefined) {
      throw new UsageError(
        "consumer behaviours work on a queue, not on an exchange tap",
        "name the queue: eventlab consume <queue> --work-time 50ms …",
      );
    }
    if (o.noAck || o.policy !== undefined) {
      throw new UsageError(
        "behaviours decide how each message is settled: leave out --no-ack, --reject and --requeue",
        "use --on-failure requeue|reject|retry for what a failure does",
      );
    }
    await runBehaviourConsume(ctx, { ...o, queue: o.queue, behaviour: o.behaviour });
    return;
  }
  await consumeAndPrint(ctx, o);
}

/** Merge a consumer profile from the config under the flags. */
async function withProfile(ctx: Context, o: ConsumeOptions): Promise<ConsumeOptions> {
  if (o.queue === undefined) return o;
  const { config } = await ctx.loadConfig();
  const p = config.consumers[o.queue];
  if (!p) return o;
  if (p.queue === undefined && p.exchange === undefined) {
    throw new EventlabError(
      "config",
      `consumer "${o.queue}" in the config names neither a queue nor an exchange`,
      { hint: `add queue: <name> (or exchange: <name>) under consumers.${o.queue}` },
    );
  }
  return {
    queue: p.exchange !== undefined ? undefined : p.queue,
    exchange: p.exchange,
    routingKey: o.routingKey ?? p.routingKey,
    headers: o.headers ?? p.headers,
    match: o.match ?? p.match,
    prefetch: o.prefetch ?? p.prefetch,
    noAck: o.noAck ?? (p.ack === false ? true : undefined),
    count: o.count ?? p.count,
    idleTimeoutMs: o.idleTimeoutMs ?? p.idleTimeout,
    policy: o.policy ?? p.policy,
    behaviour: behaviourOf({ ...behaviourOf(p), ...o.behaviour }),
    offset: o.offset,
    json: o.json,
    reconnect: o.reconnect,
  };
}

/** Read the queue (or tap the exchange), print each message, settle it once printed. */
async function consumeAndPrint(ctx: Context, o: ConsumeOptions): Promise<void> {
  const { io, theme } = ctx;
  const noAck = o.noAck === true;
  const prefetch = effectivePrefetch(o.prefetch ?? DEFAULT_PREFETCH, o.count);
  let recover: (lost: Connection) => Promise<Connection | undefined> = async () => undefined;
  const session = new ConsumeSession({
    spec: {
      queue: o.queue,
      tap:
        o.exchange === undefined
          ? undefined
          : {
              exchange: o.exchange,
              // A tap takes everything unless told otherwise: # on topic and fanout exchanges.
              routingKey: o.routingKey ?? (o.headers === undefined ? "#" : ""),
              headers: o.headers,
              match: o.match,
            },
      prefetch,
      noAck,
      offset: o.offset,
    },
    policy: o.policy ?? "ack",
    count: o.count,
    idleTimeoutMs: o.idleTimeoutMs,
    format: (n, m) => (o.json ? ndjsonLine(n, toPlain(m)) : prettyMessage(n, toPlain(m), theme)),
    output: {
      write: (text, done) => io.write(text, done),
      lagBytes: io.stdoutIsPipe ? PIPE_BUFFER_BYTES : 0,
      readerGone: () => {
        const fd = (io.stdout as { fd?: unknown }).fd;
        return typeof fd === "number" && pipeReaderAlive(fd) === false;
      },
    },
    onRequeueLoop: (n) =>
      io.err(
        theme.warn(
          `! requeue loop: ${count(n)} messages came back in the last second after --requeue put them back; --reject sends them to the dead-letter exchange instead, and --count or --idle-timeout ends the run`,
        ),
      ),
    signal: ctx.signal,
    recover: (lost) => recover(lost),
  });
  io.stdout.on("error", session.outputFailed);
  const link = await openLink(ctx, "eventlab consume", o.reconnect);
  recover = (lost) => link.recover(lost);
  try {
    const queue = await session.start(link.connection);
    const source =
      o.exchange === undefined
        ? `queue ${queue}`
        : `exchange ${o.exchange} (temporary queue ${queue})`;
    if (!o.json || io.stderrIsTTY) {
      const mode = `${noAck ? ", no-ack" : `, prefetch ${prefetch}`}${offsetText(o.offset)}`;
      io.err(theme.dim(`consuming from ${source}${mode}; Ctrl-C to stop`));
    }
    const result = await session.finish();
    printSummary(ctx, result, noAck);
    conclude(ctx, result, source, link);
  } finally {
    io.stdout.off("error", session.outputFailed);
    await link.close();
  }
}

/** ", from first" for a stream read with --offset. */
function offsetText(offset: ConsumeOptions["offset"]): string {
  if (offset === undefined) return "";
  return `, from ${offset instanceof Date ? offset.toISOString() : offset}`;
}

/** What the way the session stopped means: an error, an exit code, a warning. */
function conclude(ctx: Context, r: ConsumeResult, source: string, link: Link): void {
  const connection = link.connection;
  switch (r.stoppedBy) {
    case "channel-closed": {
      if (link.failure) throw link.failure;
      // A connection closed by the broker (320) closes the channel without an error of its
      // own: the reply is on the connection.
      const reason = r.error ?? connection.closeReason;
      throw reason
        ? brokerError(reason, { op: "consume", queue: r.queue }, connection)
        : new EventlabError("connection", `the channel to ${source} closed unexpectedly`, {
            hint: "check that the broker is still running",
          });
    }
    case "interrupted":
      ctx.setExitCode(ExitCode.interrupted);
      return;
    case "cancelled-by-broker":
      ctx.io.err(ctx.theme.warn(`! the broker cancelled the consumer: ${source} was deleted`));
      return;
    default:
      return;
  }
}

function printSummary(ctx: Context, s: ConsumeResult, noAck: boolean): void {
  const { io, theme } = ctx;
  const settled: string[] = [];
  if (noAck) settled.push("no-ack");
  else {
    if (s.acked > 0 || (s.rejected === 0 && s.requeued === 0))
      settled.push(`acked ${count(s.acked)}`);
    if (s.rejected > 0) settled.push(`rejected ${count(s.rejected)}`);
    if (s.requeued > 0) settled.push(`requeued ${count(s.requeued)}`);
  }
  if (s.redelivered > 0) settled.push(`redelivered ${count(s.redelivered)}`);
  if (s.resumed > 0)
    settled.push(
      theme.warn(`reconnected ${s.resumed === 1 ? "once" : `${count(s.resumed)} times`}`),
    );
  if (s.lostInFlight > 0)
    settled.push(
      theme.warn(
        `${count(s.lostInFlight)} printed but not acked before the connection was lost (delivered again)`,
      ),
    );
  if (s.duplicates > 0)
    settled.push(`${count(s.duplicates)} duplicates acked again (their first ack was lost)`);
  if (s.putBack > 0)
    settled.push(
      theme.warn(
        `put back ${count(s.putBack)} (the output closed before they were read: they stay in the queue)`,
      ),
    );
  const why: Record<ConsumeResult["stoppedBy"], string> = {
    count: "",
    idle: " — idle",
    interrupted: theme.warn(" — interrupted"),
    "output-closed": " — output closed",
    "cancelled-by-broker": " — cancelled by broker",
    "channel-closed": " — channel closed",
  };
  const mark =
    s.stoppedBy === "interrupted" || s.stoppedBy === "channel-closed" || s.putBack > 0
      ? theme.warn("!")
      : theme.ok("✓");
  io.err(
    `${mark} consumed ${theme.bold(count(s.consumed))} from ${s.queue} in ${elapsed(s.elapsedMs)} (${rate(s.ratePerSecond)} msg/s) · ${settled.join(" · ")}${why[s.stoppedBy]}`,
  );
  if (s.stoppedBy === "output-closed" && s.putBack > 0 && s.acked + s.rejected + s.requeued > 0)
    io.err(
      theme.dim(
        "hint: to take exactly N messages, use --count N rather than a reader that stops early (| head)",
      ),
    );
}

/** consume with behaviours: the playground's runner with consumers only, a line per decision. */
async function runBehaviourConsume(
  ctx: Context,
  o: ConsumeOptions & { queue: string; behaviour: BehaviourSettings },
): Promise<void> {
  const { io, theme } = ctx;
  const { config } = await ctx.loadConfig();
  const name = config.consumers[o.queue] ? o.queue : `consume ${o.queue}`;
  const queue = config.consumers[o.queue]?.queue ?? o.queue;
  const consumer: ConsumerConfig = {
    queue,
    ...(o.prefetch !== undefined ? { prefetch: o.prefetch } : {}),
    ...o.behaviour,
  };
  let n = 0;
  const report = await runScenario({
    name,
    scenario: { producers: [], consumers: [name], faults: [] },
    config: { ...config, consumers: { ...config.consumers, [name]: consumer } },
    connect: () => ctx.connect({ connectionName: "eventlab consume" }),
    link: (onEvent) => openLink(ctx, "eventlab consume", o.reconnect, onEvent),
    applyTopology: false,
    // Without producers, what is in the queue is the work: consume it, never refuse.
    leftovers: "process",
    consumeOnly: { count: o.count, idleMs: o.idleTimeoutMs },
    env: ctx.env,
    signal: ctx.signal,
    onDecision: (e) => {
      n += 1;
      const r = decisionRecord(n, e);
      io.out(o.json ? `${JSON.stringify(r)}\n` : `${decisionLine(r, theme)}\n`);
    },
  });
  const c = report.consumers[0];
  const q = report.queues[0];
  const interrupted = report.stoppedBy === "interrupted";
  const mark = interrupted ? theme.warn(theme.symbols.warn) : theme.ok(theme.symbols.ok);
  io.err(
    `${mark} ${queue}: ${c?.processed ?? 0} processed · ${c?.failed ?? 0} failed · ${c?.retried ?? 0} retried · ${q?.deadLettered ?? 0} dead-lettered · ${q?.duplicates ?? 0} duplicates · ${q?.outOfOrder ?? 0} out of order · ${q?.redelivered ?? 0} redelivered${report.stoppedBy === "idle" ? theme.dim(" — idle") : ""}`,
  );
  if (report.stoppedBy === "connection-lost") {
    throw new EventlabError(
      "connection",
      `the connection to the broker was lost (${report.error})`,
      {
        hint: "check that the broker is running; --reconnect forever and --reconnect-timeout wait longer",
      },
    );
  }
  if (interrupted) ctx.setExitCode(ExitCode.interrupted);
}

/**
 * What `eventlab consume` does once its flags are parsed: merge the consumer profile the
 * queue argument may name, then either read (or tap) and print each message through a
 * ConsumeSession, or, with behaviours, run the playground's runner with consumers only.
 */
import { resolve } from "node:path";
import type { ConsumeMessage } from "amqplib";
import type { Connection } from "../../client/connect.js";
import {
  type ConsumeResult,
  ConsumeSession,
  effectivePrefetch,
} from "../../client/consume-session.js";
import { toPlain } from "../../client/consumer.js";
import { EnvelopeFile, envelopeLine } from "../../client/envelope.js";
import { brokerError } from "../../client/errors.js";
import { PIPE_BUFFER_BYTES } from "../../client/output-acks.js";
import type { Link } from "../../client/reconnect.js";
import { captureHeaderTypes } from "../../client/typed-headers.js";
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
import { concludeScreen, openScreen, screenConflict, screenedResult } from "./consume-screen.js";
import { type ConsumeValidation, consumeValidation } from "./contract-check.js";
import { openLink } from "./link.js";

export async function runConsume(ctx: Context, input: ConsumeOptions): Promise<void> {
  const validation = await consumeValidation(ctx, input);
  const o = await withProfile(ctx, input);
  // The flags were checked; a consumer profile may still bring what --offset excludes.
  const conflict = offsetConflict(o) ?? screenConflict(o);
  if (conflict) throw conflict;
  if (o.behaviour) {
    if (validation) {
      throw new UsageError(
        "--validate reads messages as they are; it does not go with consumer behaviours",
        "leave out the behaviour flags, or give the profile a schema: and run it in `eventlab play`, which checks every message",
      );
    }
    if (o.queue === undefined) {
      throw new UsageError(
        "consumer behaviours work on a queue, not on an exchange tap",
        "name the queue: eventlab consume <queue> --work-time 50ms …",
      );
    }
    if (o.save !== undefined) {
      throw new UsageError(
        "--save records messages as they are read; with behaviours, consume prints decisions instead",
        "record first (eventlab consume <queue> --save <file> --count N), then run the behaviours",
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
  await consumeAndPrint(ctx, o, validation);
  validation?.conclude();
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
    save: o.save,
    reconnect: o.reconnect,
    validate: o.validate,
    schema: o.schema,
    filter: o.filter,
    exec: o.exec,
  };
}

/** Read the queue (or tap the exchange), print each message, settle it once printed. */
async function consumeAndPrint(
  ctx: Context,
  o: ConsumeOptions,
  validation?: ConsumeValidation,
): Promise<void> {
  const { io, theme } = ctx;
  const noAck = o.noAck === true;
  // --count caps the prefetch, but skipped messages held by --filter use the window too.
  const prefetch = effectivePrefetch(
    o.prefetch ?? DEFAULT_PREFETCH,
    o.filter === undefined ? o.count : undefined,
  );
  let recover: (lost: Connection) => Promise<Connection | undefined> = async () => undefined;
  const save = o.save === undefined ? undefined : openSave(ctx, o.save);
  const screen = openScreen(ctx, o, prefetch);
  const session: ConsumeSession = new ConsumeSession({
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
    // A screen settles the messages it skips itself, later: acks one by one then.
    batchAcks: screen === undefined,
    count: o.count,
    idleTimeoutMs: o.idleTimeoutMs,
    format: (n, m) => {
      save?.record(n, m, () => session.outputFailed());
      const plain = toPlain(m);
      const line = o.json ? ndjsonLine(n, plain) : prettyMessage(n, plain, theme);
      return validation ? validation.check(n, plain, line, o.json) : line;
    },
    output: {
      write: (text, done) => io.write(text, done),
      // With --exec, the command's exit status settles a message, not the reader reading it.
      lagBytes: io.stdoutIsPipe && o.exec === undefined ? PIPE_BUFFER_BYTES : 0,
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
  let link: Link;
  try {
    link = await openLink(ctx, "eventlab consume", o.reconnect);
  } catch (err) {
    save?.file.close();
    throw err;
  }
  recover = async (lost) => {
    const next = await link.recover(screen ? screen.unwrap(lost) : lost);
    if (next && save) captureHeaderTypes(next.model);
    return next && screen ? screen.wrap(next) : next;
  };
  try {
    if (save) captureHeaderTypes(link.connection.model);
    const queue = await session.start(screen ? screen.wrap(link.connection) : link.connection);
    const source =
      o.exchange === undefined
        ? `queue ${queue}`
        : `exchange ${o.exchange} (temporary queue ${queue})`;
    if (!o.json || io.stderrIsTTY) {
      const mode = `${noAck ? ", no-ack" : `, prefetch ${prefetch}`}${offsetText(o.offset)}`;
      io.err(theme.dim(`consuming from ${source}${mode}; Ctrl-C to stop`));
    }
    const result = await session.finish();
    await screen?.settled();
    printSummary(ctx, screenedResult(result, screen), noAck);
    concludeScreen(ctx, screen);
    save?.conclude();
    conclude(ctx, result, source, link);
  } finally {
    io.stdout.off("error", session.outputFailed);
    save?.file.close();
    await link.close();
  }
}

/**
 * consume --save: each message is appended to the file as it is formatted, so it is in the
 * file before it is settled. A failed write stops the consumer (what is not settled goes
 * back to the queue) and is the run's error.
 */
function openSave(ctx: Context, path: string) {
  const file = EnvelopeFile.open(resolve(ctx.cwd, path), path);
  let saved = 0;
  let inferred = 0;
  let failure: unknown;
  return {
    file,
    record(n: number, m: ConsumeMessage, stop: () => void): void {
      if (failure !== undefined) return;
      try {
        const { text, wire } = envelopeLine(n, m, new Date());
        file.write(text);
        saved += 1;
        if (!wire && inferred++ === 0)
          ctx.io.err(
            ctx.theme.warn(
              `! header types could not be read from a message; ${path} has them inferred from the values`,
            ),
          );
      } catch (err) {
        failure = err;
        stop();
      }
    },
    conclude(): void {
      if (failure !== undefined) {
        const code = (failure as NodeJS.ErrnoException).code;
        throw new EventlabError(
          "io",
          `cannot write to --save ${path} (${code ?? String(failure)}); ${count(saved)} messages were saved`,
          {
            hint: "check the disk space and the file's permissions; unsaved messages stay in the queue",
          },
        );
      }
      ctx.io.err(
        ctx.theme.dim(`saved ${count(saved)} message${saved === 1 ? "" : "s"} to ${path}`),
      );
    },
  };
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

/**
 * `eventlab consume [queue]`: read a queue, or tap an exchange through a temporary
 * exclusive queue, printing each message (pretty, or NDJSON with --json).
 */

import type { ConsumeMessage } from "amqplib";
import { Command } from "commander";
import type { QueueConsumer as QueueConsumerType } from "../client/consumer.js";
import type { HeadersMatch, SettlePolicy } from "../config/constants.js";
import { parseDuration } from "../config/duration.js";
import type { ConsumerConfig } from "../config/schema.js";
import type { Context } from "../context.js";
import { EventlabError, ExitCode, UsageError } from "../errors.js";
import { count, elapsed, rate } from "../ui/format.js";
import {
  choiceFlag,
  collect,
  durationFlag,
  intFlag,
  keyValueFlags,
  matchFlag,
  typedValue,
} from "./options.js";

export interface ConsumeOptions {
  /** Queue name, or the name of a consumer profile in the config. */
  queue?: string | undefined;
  exchange?: string | undefined;
  routingKey?: string | undefined;
  headers?: Record<string, unknown> | undefined;
  match?: HeadersMatch | undefined;
  prefetch?: number | undefined;
  noAck?: boolean | undefined;
  count?: number | undefined;
  idleTimeoutMs?: number | undefined;
  policy?: SettlePolicy | undefined;
  /** Consumer behaviours (from flags or the profile): run through the playground's runner. */
  behaviour?: BehaviourSettings | undefined;
  json: boolean;
}

/** The behaviour fields of a consumer profile. */
export type BehaviourSettings = Pick<
  ConsumerConfig,
  | "concurrency"
  | "workTime"
  | "failures"
  | "onFailure"
  | "retry"
  | "dedupe"
  | "ordering"
  | "breaker"
  | "crashAt"
>;

const BEHAVIOUR_KEYS = [
  "concurrency",
  "workTime",
  "failures",
  "onFailure",
  "retry",
  "dedupe",
  "ordering",
  "breaker",
  "crashAt",
] as const;

export interface ConsumeSummary {
  queue: string;
  /** Messages printed and settled by the policy (not those put back). */
  consumed: number;
  acked: number;
  rejected: number;
  requeued: number;
  /** Messages that arrived flagged redelivered. */
  redelivered: number;
  /** Printed, then put back (requeued) because the output closed before they were read. */
  putBack: number;
  elapsedMs: number;
  ratePerSecond: number;
  stoppedBy: string;
}

interface RawConsumeFlags {
  exchange?: string;
  key?: string;
  header?: string[];
  match?: string;
  prefetch?: string;
  /** undefined unless --ack or --no-ack was given. */
  ack?: boolean | undefined;
  count?: string;
  idleTimeout?: string;
  reject?: boolean;
  requeue?: boolean;
  json?: boolean;
  concurrency?: string;
  workTime?: string;
  failRate?: string;
  failWhen?: string;
  onFailure?: string;
  retryDelays?: string;
  deadLetterQueue?: string;
  dedupe?: string;
  ordering?: string;
  breaker?: string;
  crashAt?: string;
}

/** The behaviour flags → the same settings a profile gives; undefined when none is given. */
export function behaviourFlags(f: RawConsumeFlags): BehaviourSettings | undefined {
  const b: BehaviourSettings = {};
  const duration = (flag: string, raw: string) => {
    const ms = parseDuration(raw);
    if (ms === undefined) {
      throw new UsageError(
        `${flag} expects a duration like 50ms or 2s, got ${JSON.stringify(raw)}`,
      );
    }
    return ms;
  };
  const concurrency = intFlag("--concurrency", f.concurrency, 1, 64);
  if (concurrency !== undefined) b.concurrency = concurrency;
  if (f.workTime !== undefined) {
    const [lo, hi = lo] = f.workTime.split("..") as [string, string?];
    const minMs = duration("--work-time", lo);
    const maxMs = duration("--work-time", hi);
    if (minMs > maxMs) throw new UsageError(`--work-time ${f.workTime}: low..high, low first`);
    b.workTime = { minMs, maxMs };
  }
  if (f.failRate !== undefined || f.failWhen !== undefined) {
    b.failures = {};
    if (f.failRate !== undefined) {
      const rate = Number(f.failRate);
      if (f.failRate.trim() === "" || !(rate >= 0 && rate <= 1)) {
        throw new UsageError(
          `--fail-rate expects a fraction from 0 to 1, got ${JSON.stringify(f.failRate)}`,
          "for example --fail-rate 0.1",
        );
      }
      b.failures.rate = rate;
    }
    if (f.failWhen !== undefined) {
      const m = /^([^=<>]+)(=|>|<)(.*)$/.exec(f.failWhen);
      if (!m) {
        throw new UsageError(
          `--fail-when expects field=value, field>number or field<number, got ${JSON.stringify(f.failWhen)}`,
          "for example --fail-when body.quantity>4 or --fail-when headers.region=eu",
        );
      }
      const [, field, op, raw] = m as unknown as [string, string, string, string];
      const n = Number(raw);
      if (op !== "=" && !Number.isFinite(n)) {
        throw new UsageError(`--fail-when ${f.failWhen}: ${op} needs a number`);
      }
      b.failures.when =
        op === "="
          ? { field, equals: typedValue(raw) as never }
          : op === ">"
            ? { field, above: n }
            : { field, below: n };
    }
  }
  const onFailure = choiceFlag("--on-failure", f.onFailure, [
    "requeue",
    "reject",
    "retry",
  ] as const);
  if (onFailure !== undefined) b.onFailure = onFailure;
  if (f.retryDelays !== undefined) {
    b.retry = { delays: f.retryDelays.split(",").map((d) => duration("--retry-delays", d.trim())) };
    b.onFailure ??= "retry";
  }
  if (f.deadLetterQueue !== undefined) {
    if (!b.retry) throw new UsageError("--dead-letter-queue goes with --retry-delays");
    b.retry.deadLetterQueue = f.deadLetterQueue;
  }
  if (b.onFailure === "retry" && !b.retry) {
    throw new UsageError(
      "--on-failure retry needs --retry-delays",
      "for example --retry-delays 1s,5s",
    );
  }
  if (f.dedupe !== undefined) b.dedupe = f.dedupe;
  if (f.ordering !== undefined) {
    const [key, sequence] = f.ordering.split(":");
    if (!key || !sequence) {
      throw new UsageError(
        `--ordering expects key-field:sequence-field, got ${JSON.stringify(f.ordering)}`,
        "for example --ordering body.order_id:body.seq",
      );
    }
    b.ordering = { key, sequence };
  }
  if (f.breaker !== undefined) {
    const [n, pause] = f.breaker.split(":");
    const failures = Number(n);
    if (!Number.isInteger(failures) || failures < 1 || pause === undefined) {
      throw new UsageError(
        `--breaker expects failures:pause, got ${JSON.stringify(f.breaker)}`,
        "for example --breaker 5:2s",
      );
    }
    b.breaker = { failures, pause: duration("--breaker", pause) };
  }
  const crashAt = intFlag("--crash-at", f.crashAt, 1);
  if (crashAt !== undefined) b.crashAt = crashAt;
  return Object.keys(b).length > 0 ? b : undefined;
}

export const DEFAULT_PREFETCH = 100;

export function parseConsumeArgs(queue: string | undefined, f: RawConsumeFlags): ConsumeOptions {
  if (queue !== undefined && f.exchange !== undefined) {
    throw new UsageError(
      "give a queue or --exchange, not both",
      "a queue is read as it is; --exchange taps the exchange through a temporary queue",
    );
  }
  if (
    f.exchange === undefined &&
    (f.key !== undefined || f.header !== undefined || f.match !== undefined)
  ) {
    throw new UsageError(
      "--key, --header and --match go with --exchange",
      "for example: eventlab consume --exchange orders --key 'order.#'",
    );
  }
  if (f.reject && f.requeue) throw new UsageError("give either --reject or --requeue, not both");
  const noAck = f.ack === false;
  if (noAck && (f.reject || f.requeue)) {
    throw new UsageError(
      `--${f.reject ? "reject" : "requeue"} needs acknowledgements; it cannot go with --no-ack`,
    );
  }
  const headers = f.header ? keyValueFlags("--header", f.header) : undefined;
  const match = matchFlag(f.match);
  if (match !== undefined && headers === undefined) {
    throw new UsageError(
      "--match needs at least one --header to match on",
      "for example --header region=eu --match all",
    );
  }
  return {
    queue,
    exchange: f.exchange,
    routingKey: f.key,
    headers,
    match,
    prefetch: intFlag("--prefetch", f.prefetch, 0, 65535),
    noAck: noAck ? true : undefined,
    count: intFlag("--count", f.count, 1),
    idleTimeoutMs: durationFlag("--idle-timeout", f.idleTimeout),
    policy: f.reject ? "reject" : f.requeue ? "requeue" : undefined,
    behaviour: behaviourFlags(f),
    json: f.json === true,
  };
}

export function consumeCommand(ctx: Context, run = runConsume): Command {
  return new Command("consume")
    .description("read messages from a queue, or tap an exchange through a temporary queue")
    .argument("[queue]", "queue to read, or a consumer name from the config's consumers: section")
    .option("-e, --exchange <name>", "tap this exchange instead of reading a queue")
    .option(
      "-k, --key <routing-key>",
      "binding key for the tap (default #: everything on a topic or fanout exchange; a direct exchange needs the exact key)",
    )
    .option(
      "-H, --header <key=value>",
      "header to match for a headers-exchange tap, repeatable",
      collect,
    )
    .option("--match <mode>", "headers match mode: all, any, all-with-x, any-with-x (default all)")
    .option("--prefetch <n>", `unacknowledged messages in flight (default ${DEFAULT_PREFETCH})`)
    .option("--ack", "acknowledge each message (default)")
    .option("--no-ack", "no-ack mode: the broker forgets a message as soon as it is sent")
    .option(
      "--reject",
      "reject each message without requeue (it goes to the dead-letter exchange, if any)",
    )
    .option("--requeue", "nack each message with requeue (it comes back, redelivered)")
    .option("-n, --count <n>", "exit after N messages (all settled)")
    .option("--idle-timeout <duration>", "exit when no message arrives for this long, e.g. 5s")
    .option("--json", "print NDJSON: one message per line")
    .option("--concurrency <n>", "behaviour: competing consumers, each on its own channel")
    .option("--work-time <duration>", "behaviour: time per message, e.g. 50ms or 20ms..200ms")
    .option("--fail-rate <fraction>", "behaviour: fraction of messages that fail, 0..1")
    .option("--fail-when <condition>", "behaviour: fail when field=value, field>n or field<n")
    .option("--on-failure <what>", "behaviour: requeue (default), reject, or retry")
    .option("--retry-delays <list>", "behaviour: retry through delay queues, e.g. 1s,5s")
    .option("--dead-letter-queue <name>", "behaviour: after the last retry (default <queue>.dlq)")
    .option("--dedupe <field>", "behaviour: idempotency key, e.g. messageId or body.order_id")
    .option("--ordering <key:sequence>", "behaviour: check order per key, e.g. body.user:body.seq")
    .option("--breaker <failures:pause>", "behaviour: circuit breaker, e.g. 5:2s")
    .option("--crash-at <n>", "behaviour: drop the connection without acking at message n")
    .addHelpText(
      "after",
      `
With a behaviour flag (or a profile with behaviours), consume acts like a service: each
message takes its work time, may fail, and what happens to it is printed instead of the
message itself: ✓ processed, = duplicate, ✗ failed → requeued, rejected, retried or
dead-lettered, with out-of-order and gaps flagged. --count counts messages settled for
good; --idle-timeout stops when nothing arrives.

Examples:
  $ eventlab consume inventory                           # print messages until Ctrl-C
  $ eventlab consume inventory --count 10 --json         # 10 messages as NDJSON, then exit
  $ eventlab consume inventory --idle-timeout 2s --requeue
  $ eventlab consume --exchange orders --key 'order.*.eu'   # tap a topic exchange
  $ eventlab consume --exchange alerts --header region=eu --header priority=high --match any
  $ eventlab consume inventory --concurrency 4 --work-time 20ms..80ms --fail-rate 0.1 \
      --retry-delays 1s,5s --dedupe messageId --idle-timeout 10s

Exit codes: 0 done (count reached, idle, or queue deleted), 1 error, 2 interrupted (Ctrl-C)`,
    )
    .action(async (queue: string | undefined, flags: RawConsumeFlags) => {
      await run(ctx, parseConsumeArgs(queue, flags));
    });
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
      {
        hint: `add queue: <name> (or exchange: <name>) under consumers.${o.queue}`,
      },
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
    behaviour: mergeBehaviour(p, o.behaviour),
    json: o.json,
  };
}

function mergeBehaviour(
  p: ConsumerConfig,
  flags: BehaviourSettings | undefined,
): BehaviourSettings | undefined {
  const b: Record<string, unknown> = {};
  for (const k of BEHAVIOUR_KEYS) if (p[k] !== undefined) b[k] = p[k];
  Object.assign(b, flags ?? {});
  return Object.keys(b).length > 0 ? (b as BehaviourSettings) : undefined;
}

export async function runConsume(ctx: Context, input: ConsumeOptions): Promise<void> {
  const o = await withProfile(ctx, input);
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
  if (o.queue === undefined && o.exchange === undefined) {
    throw new UsageError(
      "name a queue to read, or --exchange to tap",
      "for example: eventlab consume inventory, or eventlab consume --exchange orders --key '#'",
    );
  }
  const [
    { QueueConsumer, toPlain },
    { ndjsonLine, prettyMessage },
    { OutputAcks, PIPE_BUFFER_BYTES },
    { pipeReaderAlive },
  ] = await Promise.all([
    import("../client/consumer.js"),
    import("../ui/message.js"),
    import("../client/output-acks.js"),
    import("../ui/io.js"),
  ]);
  const noAck = o.noAck === true;
  const policy: SettlePolicy = o.policy ?? "ack";
  const limit = o.count ?? Number.POSITIVE_INFINITY;
  // No point holding more in flight than we will take.
  const prefetch = Math.min(o.prefetch ?? DEFAULT_PREFETCH, Number.isFinite(limit) ? limit : 65535);
  const { io, theme } = ctx;

  const connection = await ctx.connect({ connectionName: "eventlab consume" });
  const stats = { consumed: 0, acked: 0, rejected: 0, requeued: 0, redelivered: 0 };
  let stopReason: string | undefined;
  let stopError: Error | undefined;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const stop = (reason: string, error?: Error) => {
    if (stopReason !== undefined) return;
    stopReason = reason;
    stopError = error;
    wake();
  };

  // A message is settled once its text is written through (on a pipe: once the reader must
  // have read it); prefetch bounds what is not written yet, so a slow reader holds the broker
  // back instead of memory growing.
  let self: QueueConsumerType | undefined;
  const acks = new OutputAcks<ConsumeMessage>({
    write: (text, done) => io.write(text, done),
    settle: (m) => {
      self?.settle(m, policy);
      if (policy === "ack") stats.acked += 1;
      else if (policy === "reject") stats.rejected += 1;
      else stats.requeued += 1;
    },
    giveBack: (m) => self?.giveBack(m),
    lagBytes: io.stdoutIsPipe && !noAck ? PIPE_BUFFER_BYTES : 0,
    readerGone: () => {
      const fd = (io.stdout as { fd?: unknown }).fd;
      return typeof fd === "number" && pipeReaderAlive(fd) === false;
    },
    onClosed: () => stop("output-closed"),
    onHeld: (held) => {
      // Messages held for the pipe must not use up the prefetch the user asked for, or the
      // broker would stop delivering before the pipe's worth of text is written.
      if (self && prefetch > 0 && prefetch + held > self.currentPrefetch * 0.75)
        self.widen(Math.min(65_535, Math.ceil((prefetch + held) * 1.5)));
    },
  });
  const onOutputError = () => acks.close();
  io.stdout.on("error", onOutputError);

  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = () => {
    if (o.idleTimeoutMs === undefined) return;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => stop("idle"), o.idleTimeoutMs);
  };
  const loop = new RequeueLoop(policy === "requeue", (text) => io.err(theme.warn(text)));

  let consumer: Awaited<ReturnType<typeof QueueConsumer.start>>;
  const started = performance.now();
  try {
    const routingKey =
      o.routingKey ?? (o.exchange !== undefined && o.headers === undefined ? "#" : "");
    consumer = await QueueConsumer.start(
      connection,
      {
        queue: o.queue,
        tap:
          o.exchange !== undefined
            ? { exchange: o.exchange, routingKey, headers: o.headers, match: o.match }
            : undefined,
        prefetch,
        noAck,
      },
      (message, c) => {
        self = c;
        if (stats.consumed >= limit || stopReason !== undefined) {
          c.giveBack(message);
          return;
        }
        stats.consumed += 1;
        if (message.fields.redelivered) stats.redelivered += 1;
        const n = stats.consumed;
        const plain = toPlain(message);
        acks.push(
          o.json ? ndjsonLine(n, plain) : prettyMessage(n, plain, theme),
          noAck ? undefined : message,
        );
        if (n >= limit) stop("count");
        // With --requeue, what comes back is what this consumer put back: not a new message,
        // so it does not keep --idle-timeout from firing.
        else if (!loop.returned(message.fields.redelivered)) armIdle();
      },
      (reason, error) => stop(reason, error),
    );
  } catch (err) {
    io.stdout.off("error", onOutputError);
    await connection.close();
    throw err;
  }
  const source =
    o.exchange !== undefined
      ? `exchange ${o.exchange} (temporary queue ${consumer.queue})`
      : `queue ${consumer.queue}`;
  if (!o.json || io.stderrIsTTY)
    io.err(
      theme.dim(
        `consuming from ${source}${noAck ? ", no-ack" : `, prefetch ${prefetch}`}; Ctrl-C to stop`,
      ),
    );
  armIdle();
  const onAbort = () => stop("interrupted");
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  if (ctx.signal.aborted) stop("interrupted");

  await stopped;
  ctx.signal.removeEventListener("abort", onAbort);
  if (idleTimer) clearTimeout(idleTimer);
  loop.stop();
  const elapsedMs = performance.now() - started;
  try {
    await consumer.cancel();
    // Write and settle what was printed; a reader that stopped reading gets 5 s.
    await acks.finish(5000);
    await consumer.close();
  } finally {
    io.stdout.off("error", onOutputError);
    await connection.close();
  }

  const summary: ConsumeSummary = {
    queue: consumer.queue,
    consumed: stats.consumed - acks.counts.givenBack,
    acked: stats.acked,
    rejected: stats.rejected,
    requeued: stats.requeued,
    redelivered: stats.redelivered,
    putBack: acks.counts.givenBack,
    elapsedMs: Math.round(elapsedMs),
    ratePerSecond: Math.round((stats.consumed / Math.max(elapsedMs, 1)) * 10_000) / 10,
    stoppedBy: stopReason ?? "unknown",
  };
  printSummary(ctx, summary, noAck);
  if (stopReason === "channel-closed") {
    const { brokerError } = await import("../client/errors.js");
    // A connection closed by the broker (320) closes the channel without an error of its own:
    // the reply is on the connection.
    const reason = stopError ?? connection.closeReason;
    throw reason
      ? brokerError(reason, { op: "consume", queue: consumer.queue }, connection)
      : new EventlabError("connection", `the channel to ${source} closed unexpectedly`, {
          hint: "check that the broker is still running",
        });
  }
  if (stopReason === "interrupted") ctx.setExitCode(ExitCode.interrupted);
  if (stopReason === "cancelled-by-broker") {
    io.err(theme.warn(`! the broker cancelled the consumer: ${source} was deleted`));
  }
}

/**
 * A requeue loop made visible: with --requeue, a message put back comes straight back to the
 * same consumer. Counts those redeliveries, and warns once a second while they go on.
 */
class RequeueLoop {
  private count = 0;
  private lastWarned = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly requeuing: boolean,
    private readonly warn: (text: string) => void,
  ) {}

  /** A message arrived; true when it is one this consumer put back. */
  returned(redelivered: boolean): boolean {
    if (!this.requeuing || !redelivered) return false;
    this.count += 1;
    this.timer ??= setInterval(() => this.report(), 1000);
    return true;
  }

  private report(): void {
    const n = this.count - this.lastWarned;
    this.lastWarned = this.count;
    if (n === 0) return;
    this.warn(
      `! requeue loop: ${count(n)} messages came back in the last second after --requeue put them back; --reject sends them to the dead-letter exchange instead, and --count or --idle-timeout ends the run`,
    );
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function printSummary(ctx: Context, s: ConsumeSummary, noAck: boolean): void {
  const { io, theme } = ctx;
  const settled: string[] = [];
  if (!noAck) {
    if (s.acked > 0 || (s.rejected === 0 && s.requeued === 0))
      settled.push(`acked ${count(s.acked)}`);
    if (s.rejected > 0) settled.push(`rejected ${count(s.rejected)}`);
    if (s.requeued > 0) settled.push(`requeued ${count(s.requeued)}`);
  } else settled.push("no-ack");
  if (s.redelivered > 0) settled.push(`redelivered ${count(s.redelivered)}`);
  if (s.putBack > 0)
    settled.push(
      theme.warn(
        `put back ${count(s.putBack)} (the output closed before they were read: they stay in the queue)`,
      ),
    );
  const why =
    s.stoppedBy === "count"
      ? ""
      : s.stoppedBy === "idle"
        ? " — idle"
        : s.stoppedBy === "interrupted"
          ? theme.warn(" — interrupted")
          : ` — ${s.stoppedBy.replace(/-/g, " ")}`;
  const mark =
    s.stoppedBy === "interrupted" || s.stoppedBy === "channel-closed" || s.putBack > 0
      ? theme.warn("!")
      : theme.ok("✓");
  io.err(
    `${mark} consumed ${theme.bold(count(s.consumed))} from ${s.queue} in ${elapsed(s.elapsedMs)} (${rate(s.ratePerSecond)} msg/s) · ${settled.join(" · ")}${why}`,
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
  const [{ runScenario }, { decisionLine, decisionRecord }] = await Promise.all([
    import("../lab/runner.js"),
    import("../ui/decision-view.js"),
  ]);
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
  io.err(
    `${report.stoppedBy === "interrupted" ? theme.warn(theme.symbols.warn) : theme.ok(theme.symbols.ok)} ${queue}: ${c?.processed ?? 0} processed · ${c?.failed ?? 0} failed · ${c?.retried ?? 0} retried · ${q?.deadLettered ?? 0} dead-lettered · ${q?.duplicates ?? 0} duplicates · ${q?.outOfOrder ?? 0} out of order · ${q?.redelivered ?? 0} redelivered${report.stoppedBy === "idle" ? theme.dim(" — idle") : ""}`,
  );
  if (report.stoppedBy === "interrupted") ctx.setExitCode(ExitCode.interrupted);
}

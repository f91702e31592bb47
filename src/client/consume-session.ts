/**
 * One run of `eventlab consume` (without behaviours): a queue read, or an exchange tapped,
 * until a stop reason comes. A small state machine:
 *
 *   new → start() → consuming → stop(reason) → finish() → done
 *
 * - Each message is formatted and handed to OutputAcks, which writes in batches and settles
 *   a message only once its text was written through (on a pipe: once the reader must have
 *   read it). Prefetch bounds what is not written yet, so a slow reader holds the broker back
 *   instead of memory growing; messages held for a pipe widen the prefetch by as many.
 * - The first stop reason wins: the count reached, idle, interrupted (the signal), the
 *   output closed, the broker cancelled the consumer or closed the channel.
 * - finish() cancels the consumer, writes and settles what was printed (a reader that stopped
 *   reading gets a bounded wait), closes the channel and returns the counts.
 *
 * Knows nothing of the terminal: the caller says how a message reads and where text goes.
 */
import type { ConsumeMessage } from "amqplib";
import type { SettlePolicy } from "../config/constants.js";
import type { Connection } from "./connect.js";
import { type ConsumerSpec, QueueConsumer, type StopReason } from "./consumer.js";
import { OutputAcks, type OutputAcksOptions } from "./output-acks.js";

export type { StopReason } from "./consumer.js";

/** How long finish() waits for the last writes before giving their messages back. */
const FINISH_TIMEOUT_MS = 5000;

export interface ConsumeSessionOptions {
  /** The queue to read, or the exchange to tap; prefetch and no-ack. */
  spec: ConsumerSpec;
  policy: SettlePolicy;
  /** Stop after this many messages; undefined: no limit. */
  count?: number | undefined;
  /** Stop when no new message arrives for this long. */
  idleTimeoutMs?: number | undefined;
  /** The text printed for the n-th message (1-based). */
  format(n: number, message: ConsumeMessage): string;
  /** Where the text goes: the writer, the pipe's size (0 off a pipe), whether its reader left. */
  output: Pick<OutputAcksOptions<ConsumeMessage>, "write" | "lagBytes" | "readerGone">;
  /** Called about once a second while --requeue puts messages back that come straight back. */
  onRequeueLoop?(count: number): void;
  /** Aborted: stop, as interrupted. */
  signal: AbortSignal;
}

export interface ConsumeCounts {
  /** Messages printed and settled by the policy (not those put back). */
  consumed: number;
  acked: number;
  rejected: number;
  requeued: number;
  /** Messages that arrived flagged redelivered. */
  redelivered: number;
  /** Printed, then put back (requeued) because the output closed before they were read. */
  putBack: number;
}

export interface ConsumeResult extends ConsumeCounts {
  /** The queue consumed; for a tap, the server-named temporary queue. */
  queue: string;
  elapsedMs: number;
  ratePerSecond: number;
  stoppedBy: StopReason;
  /** Why the channel closed, when stoppedBy is channel-closed and the broker said. */
  error?: Error | undefined;
}

/** The prefetch to ask for: no point holding more in flight than will be taken. */
export function effectivePrefetch(prefetch: number, count: number | undefined): number {
  return Math.min(prefetch, count ?? 65_535);
}

export class ConsumeSession {
  private readonly acks: OutputAcks<ConsumeMessage>;
  private readonly loop: RequeueLoop;
  private readonly stats = { consumed: 0, acked: 0, rejected: 0, requeued: 0, redelivered: 0 };
  private readonly limit: number;
  private consumer: QueueConsumer | undefined;
  private stopReason: StopReason | undefined;
  private stopError: Error | undefined;
  private wake: () => void = () => {};
  private readonly stopped = new Promise<void>((resolve) => {
    this.wake = resolve;
  });
  private idleTimer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private readonly onAbort = () => this.stop("interrupted");

  constructor(private readonly o: ConsumeSessionOptions) {
    this.limit = o.count ?? Number.POSITIVE_INFINITY;
    this.loop = new RequeueLoop(o.policy === "requeue", (n) => o.onRequeueLoop?.(n));
    this.acks = new OutputAcks<ConsumeMessage>({
      ...o.output,
      lagBytes: o.spec.noAck ? 0 : o.output.lagBytes,
      settle: (m) => this.settle(m),
      giveBack: (m) => this.consumer?.giveBack(m),
      onClosed: () => this.stop("output-closed"),
      onHeld: (held) => this.widenFor(held),
    });
  }

  /** The output failed (EPIPE): what is not settled goes back, and the session stops. */
  readonly outputFailed = (): void => this.acks.close();

  /** Start consuming; resolves with the queue consumed (server-named for a tap). */
  async start(connection: Connection): Promise<string> {
    this.startedAt = performance.now();
    let consumer: QueueConsumer;
    try {
      consumer = await QueueConsumer.start(
        connection,
        this.o.spec,
        (message, self) => this.deliver(message, self),
        (reason, error) => this.stop(reason, error),
      );
    } catch (err) {
      this.stopTimers();
      throw err;
    }
    this.consumer = consumer;
    this.armIdle();
    this.o.signal.addEventListener("abort", this.onAbort, { once: true });
    if (this.o.signal.aborted) this.stop("interrupted");
    return consumer.queue;
  }

  /** Stop for `reason`; the first reason wins. */
  stop(reason: StopReason, error?: Error): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    this.stopError = error;
    this.wake();
  }

  /** Wait for a stop reason, then wind down: cancel, write and settle, close the channel. */
  async finish(): Promise<ConsumeResult> {
    await this.stopped;
    this.o.signal.removeEventListener("abort", this.onAbort);
    this.stopTimers();
    const elapsedMs = performance.now() - this.startedAt;
    const consumer = this.consumer;
    if (consumer) {
      await consumer.cancel();
      await this.acks.finish(FINISH_TIMEOUT_MS);
      await consumer.close();
    }
    const putBack = this.acks.counts.givenBack;
    return {
      queue: consumer?.queue ?? this.o.spec.queue ?? "",
      ...this.stats,
      consumed: this.stats.consumed - putBack,
      putBack,
      elapsedMs: Math.round(elapsedMs),
      ratePerSecond: Math.round((this.stats.consumed / Math.max(elapsedMs, 1)) * 10_000) / 10,
      stoppedBy: this.stopReason ?? "interrupted",
      error: this.stopError,
    };
  }

  /** A delivery; it may come before start() resolves, so the consumer comes with it. */
  private deliver(message: ConsumeMessage, consumer: QueueConsumer): void {
    this.consumer = consumer;
    if (this.stats.consumed >= this.limit || this.stopReason !== undefined) {
      consumer.giveBack(message);
      return;
    }
    this.stats.consumed += 1;
    if (message.fields.redelivered) this.stats.redelivered += 1;
    const n = this.stats.consumed;
    this.acks.push(this.o.format(n, message), this.o.spec.noAck ? undefined : message);
    if (n >= this.limit) this.stop("count");
    // With --requeue, what comes back is what this consumer put back: not a new message,
    // so it does not keep --idle-timeout from firing.
    else if (!this.loop.returned(message.fields.redelivered)) this.armIdle();
  }

  private settle(message: ConsumeMessage): void {
    const { policy } = this.o;
    this.consumer?.settle(message, policy);
    if (policy === "ack") this.stats.acked += 1;
    else if (policy === "reject") this.stats.rejected += 1;
    else this.stats.requeued += 1;
  }

  /**
   * Messages held for the pipe must not use up the prefetch asked for, or the broker would
   * stop delivering before the pipe's worth of text is written.
   */
  private widenFor(held: number): void {
    const consumer = this.consumer;
    const prefetch = this.o.spec.prefetch;
    if (consumer && prefetch > 0 && prefetch + held > consumer.currentPrefetch * 0.75)
      consumer.widen(Math.min(65_535, Math.ceil((prefetch + held) * 1.5)));
  }

  private stopTimers(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.loop.stop();
  }

  private armIdle(): void {
    const ms = this.o.idleTimeoutMs;
    if (ms === undefined || this.stopReason !== undefined) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stop("idle"), ms);
  }
}

/**
 * A requeue loop made visible: with --requeue, a message put back comes straight back to the
 * same consumer. Counts those redeliveries, and reports once a second while they go on.
 */
class RequeueLoop {
  private count = 0;
  private lastReported = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly requeuing: boolean,
    private readonly report: (count: number) => void,
  ) {}

  /** A message arrived; true when it is one this consumer put back. */
  returned(redelivered: boolean): boolean {
    if (!this.requeuing || !redelivered) return false;
    this.count += 1;
    this.timer ??= setInterval(() => this.tick(), 1000);
    return true;
  }

  private tick(): void {
    const n = this.count - this.lastReported;
    this.lastReported = this.count;
    if (n > 0) this.report(n);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

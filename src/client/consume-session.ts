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
 * - With `recover`, a lost connection is not a stop: the consumer starts again on the new
 *   connection (a tap's temporary queue and its binding are declared again). Messages
 *   delivered on the lost channel and not yet settled no longer count: the broker delivers
 *   them again, flagged redelivered, and they are printed again. A redelivered message whose
 *   id was settled already (its ack was lost with the connection) is acked again, not
 *   printed, and counted as a duplicate: --count N still means N distinct messages.
 * - finish() cancels the consumer, writes and settles what was printed (a reader that stopped
 *   reading gets a bounded wait), closes the channel and returns the counts.
 *
 * Knows nothing of the terminal: the caller says how a message reads and where text goes.
 */
import type { ConsumeMessage } from "amqplib";
import type { SettlePolicy } from "../config/constants.js";
import type { Connection } from "./connect.js";
import { type ConsumerSpec, QueueConsumer, type StopReason, streamOffsetOf } from "./consumer.js";
import { OutputAcks, type OutputAcksOptions } from "./output-acks.js";
import { RecentIds } from "./recent-ids.js";
import { isTransient } from "./reconnect.js";
import { StreamPosition } from "./stream-position.js";

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
  /**
   * With the ack policy, ack what a turn settled in one basic.ack (multiple) rather than one
   * per message. Only when this session is the only one settling on the channel (no screen
   * holding messages back to settle later): a multiple ack takes every earlier delivery.
   */
  batchAcks?: boolean | undefined;
  /** Aborted: stop, as interrupted. */
  signal: AbortSignal;
  /**
   * A live connection after `lost` closed (a Link's recover), or undefined to stop: without
   * it, a lost connection stops the session as a closed channel.
   */
  recover?(lost: Connection): Promise<Connection | undefined>;
}

/** A delivery, with the consumer (and so the channel) it came on. */
interface Delivery {
  message: ConsumeMessage;
  consumer: QueueConsumer;
}

/** How many settled message ids are remembered, to recognise a redelivery whose ack was lost. */
const SETTLED_IDS = 65_536;

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
  /**
   * Delivered on a connection that was then lost, before they were settled: the broker
   * delivers them again, and they are printed again.
   */
  lostInFlight: number;
  /** Redelivered after a reconnect though settled before: acked again, not printed or counted. */
  duplicates: number;
  /** Times the consumer started again on a new connection. */
  resumed: number;
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
  private readonly acks: OutputAcks<Delivery>;
  private readonly loop: RequeueLoop;
  private readonly stats = {
    consumed: 0,
    acked: 0,
    rejected: 0,
    requeued: 0,
    redelivered: 0,
    putBack: 0,
    lostInFlight: 0,
    duplicates: 0,
    resumed: 0,
  };
  private readonly limit: number;
  private consumer: QueueConsumer | undefined;
  private connection: Connection | undefined;
  /** Delivered on each consumer and not settled or put back yet. */
  private readonly unsettled = new Map<QueueConsumer, number>();
  /**
   * Ids settled lately. Until a connection is lost they are only written into a ring (a set
   * kept up per message cost more than formatting it); the first loss turns the ring into
   * the set that redeliveries are checked against.
   */
  private settledIds: RecentIds | undefined;
  private settledRing: Array<string | undefined> = new Array<string | undefined>(SETTLED_IDS);
  private settledNext = 0;
  /** With batchAcks: the last message settled this turn, acked (multiple) at its end. */
  private ackTo: Delivery | undefined;
  /** On a stream queue, where a new connection's consumer starts (stream-position.ts). */
  private readonly position = new StreamPosition();
  private resumeOffset: number | undefined;
  /** A connection was lost: from now on a redelivery may be of a message already settled. */
  private lostConnection = false;
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
    this.acks = new OutputAcks<Delivery>({
      ...o.output,
      lagBytes: o.spec.noAck ? 0 : o.output.lagBytes,
      settle: (d) => this.settle(d),
      giveBack: (d) => this.putBack(d),
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
      consumer = await this.subscribe(connection);
    } catch (err) {
      this.stopTimers();
      throw err;
    }
    this.armIdle();
    this.o.signal.addEventListener("abort", this.onAbort, { once: true });
    if (this.o.signal.aborted) this.stop("interrupted");
    return consumer.queue;
  }

  private async subscribe(connection: Connection): Promise<QueueConsumer> {
    this.connection = connection;
    const spec =
      this.resumeOffset === undefined ? this.o.spec : { ...this.o.spec, offset: this.resumeOffset };
    const consumer = await QueueConsumer.start(
      connection,
      spec,
      (message, self) => this.deliver(message, self),
      (reason, error, self) => this.consumerStopped(self, reason, error),
    );
    this.consumer = consumer;
    return consumer;
  }

  /**
   * The consumer stopped on its own. A lost connection (the channel closed without an error
   * of its own) is recovered when it can be; the rest stops the session.
   */
  private consumerStopped(consumer: QueueConsumer, reason: StopReason, error?: Error): void {
    if (consumer !== this.consumer || this.stopReason !== undefined) return;
    const connection = this.connection;
    const lost =
      reason === "channel-closed" &&
      consumer.channelError === undefined &&
      connection !== undefined &&
      this.o.recover !== undefined;
    // A closed channel settles nothing more: the broker has its unsettled messages back.
    if (reason === "channel-closed") this.voidDeliveries(consumer);
    if (!lost) {
      this.stop(reason, error);
      return;
    }
    this.lostConnection = true;
    this.trackSettledIds();
    // Waiting for the broker to come back is not being idle.
    if (this.idleTimer) clearTimeout(this.idleTimer);
    void this.resume(connection);
  }

  /** What the lost channel delivered and was not settled: the broker has it back. */
  private voidDeliveries(consumer: QueueConsumer): void {
    const pending = this.unsettled.get(consumer) ?? 0;
    this.unsettled.delete(consumer);
    this.stats.consumed -= pending;
    this.stats.lostInFlight += pending;
    this.resumeOffset = this.position.resumeAt() ?? this.resumeOffset;
  }

  private async resume(lost: Connection): Promise<void> {
    // A connection closes its channels before it says why it closed.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (!isTransient(lost.closeReason)) {
      this.stop("channel-closed", lost.closeReason);
      return;
    }
    for (let tries = 0; tries < 5 && this.stopReason === undefined; tries++) {
      const next = await this.o.recover?.(lost);
      if (!next || this.stopReason !== undefined) break;
      try {
        await this.subscribe(next);
        this.stats.resumed += 1;
        this.armIdle();
        return;
      } catch (err) {
        // The new connection went too, or the queue is gone (404): try again, or stop.
        if (!next.closed) {
          this.stop("channel-closed", err instanceof Error ? err : new Error(String(err)));
          return;
        }
        lost = next;
      }
    }
    this.stop("channel-closed", lost.closeReason);
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
    return {
      queue: consumer?.queue ?? this.o.spec.queue ?? "",
      ...this.stats,
      elapsedMs: Math.round(elapsedMs),
      ratePerSecond: Math.round((this.stats.consumed / Math.max(elapsedMs, 1)) * 10_000) / 10,
      stoppedBy: this.stopReason ?? "interrupted",
      error: this.stopError,
    };
  }

  /** A delivery; it may come before start() resolves, so the consumer comes with it. */
  private deliver(message: ConsumeMessage, consumer: QueueConsumer): void {
    this.consumer = consumer;
    if (message.fields.redelivered && this.settledBefore(message)) {
      // Settled before the connection was lost, and its ack went with it.
      this.stats.duplicates += 1;
      consumer.settle(message, this.o.policy);
      return;
    }
    if (this.stats.consumed >= this.limit || this.stopReason !== undefined) {
      consumer.giveBack(message);
      return;
    }
    this.stats.consumed += 1;
    if (message.fields.redelivered) this.stats.redelivered += 1;
    const n = this.stats.consumed;
    if (!this.o.spec.noAck) {
      this.unsettled.set(consumer, (this.unsettled.get(consumer) ?? 0) + 1);
      const offset = streamOffsetOf(message);
      if (offset !== undefined) this.position.delivered(offset);
    }
    this.acks.push(
      this.o.format(n, message),
      this.o.spec.noAck ? undefined : { message, consumer },
    );
    if (n >= this.limit) this.stop("count");
    // With --requeue, what comes back is what this consumer put back: not a new message,
    // so it does not keep --idle-timeout from firing.
    else if (!this.loop.returned(message.fields.redelivered)) this.armIdle();
  }

  /** Settle on the channel the message came on; a lost channel's messages were counted out already. */
  private settle(delivery: Delivery): void {
    const { message, consumer } = delivery;
    if (!this.unsettled.has(consumer)) return;
    if (this.o.batchAcks === true && this.o.policy === "ack") {
      if (!consumer.alive) return;
      this.ackLater(delivery);
    } else {
      if (!consumer.settle(message, this.o.policy)) return;
      // Settlements of one turn leave in one socket write.
      this.connection?.corkTurn();
    }
    this.unsettled.set(consumer, (this.unsettled.get(consumer) ?? 1) - 1);
    this.streamSettled(message);
    const { policy } = this.o;
    if (policy === "ack") this.stats.acked += 1;
    else if (policy === "reject") this.stats.rejected += 1;
    else this.stats.requeued += 1;
    const id = message.properties.messageId;
    if (policy !== "requeue" && typeof id === "string") {
      if (this.settledIds) this.settledIds.add(id);
      else {
        this.settledRing[this.settledNext] = id;
        this.settledNext = (this.settledNext + 1) % SETTLED_IDS;
      }
    }
  }

  /**
   * Ack `delivery` with the others settled in this turn: OutputAcks settles in delivery order,
   * so by the end of the turn every delivery up to the last one settled is settled, and one
   * basic.ack (multiple) for that one acks them all. No I/O can come between (a microtask), so
   * the channel cannot close in between.
   */
  private ackLater(delivery: Delivery): void {
    if (this.ackTo !== undefined && this.ackTo.consumer !== delivery.consumer) this.flushAcks();
    if (this.ackTo === undefined) queueMicrotask(this.flushAcks);
    this.ackTo = delivery;
  }

  private readonly flushAcks = (): void => {
    const last = this.ackTo;
    this.ackTo = undefined;
    if (last?.consumer.ackUpTo(last.message)) this.connection?.corkTurn();
  };

  /** From now on, settled ids go into a set: the ring's, oldest first, and every one after. */
  private trackSettledIds(): void {
    if (this.settledIds) return;
    const ids = new RecentIds(SETTLED_IDS);
    for (let i = 0; i < SETTLED_IDS; i++) {
      const id = this.settledRing[(this.settledNext + i) % SETTLED_IDS];
      if (id !== undefined) ids.add(id);
    }
    this.settledIds = ids;
    this.settledRing = [];
  }

  /** Printed, but the output closed before it was read: back to the queue, not counted. */
  private putBack({ message, consumer }: Delivery): void {
    if (!this.unsettled.has(consumer)) return;
    this.unsettled.set(consumer, (this.unsettled.get(consumer) ?? 1) - 1);
    this.streamSettled(message);
    consumer.giveBack(message);
    this.stats.consumed -= 1;
    this.stats.putBack += 1;
  }

  private streamSettled(message: ConsumeMessage): void {
    const offset = streamOffsetOf(message);
    if (offset !== undefined) this.position.settled(offset);
  }

  private settledBefore(message: ConsumeMessage): boolean {
    const id = message.properties.messageId;
    return this.lostConnection && typeof id === "string" && this.settledIds?.has(id) === true;
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

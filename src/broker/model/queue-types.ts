/**
 * What a queue holds and deals with: a queued message, a consumer, the host that owns the
 * queue. Shared by queue.ts, ready.ts, consumers.ts, the journal and the protocol.
 */
import type { MessageEvents } from "./events.js";
import type { Journal } from "./journal.js";
import type { DeathReason, Message } from "./message.js";
import type { Queue } from "./queue.js";
import type { Pager } from "./ready.js";

export interface QueuedMessage {
  readonly message: Message;
  /** Position in arrival order, to put a requeued message back where it was. */
  readonly seq: number;
  readonly priority: number;
  readonly expiresAt: number;
  redelivered: boolean;
  /** Times it came back unacknowledged (the quorum x-delivery-count). */
  returns: number;
  /** The message as stored, when `message` is a delivery copy with extra headers. */
  readonly stored?: Message;
  /** Where storage keeps it: set for a persistent message in a durable queue. */
  id?: number | undefined;
}

/** What a queue delivers to; implemented by the protocol's consumers. */
export interface QueueConsumer {
  readonly tag: string;
  readonly exclusive: boolean;
  /** `x-priority` (0 when not given): higher ones are served first. */
  readonly priority: number;
  /** Deliveries it holds unacknowledged. */
  readonly unacked: number;
  /** Deliveries are settled as they go out (basic.consume no-ack). */
  readonly noAck?: boolean;
  /** Room for one more delivery now (prefetch, flow, socket backpressure). */
  canTake(): boolean;
  deliver(queue: Queue, entry: QueuedMessage): void;
  /** The queue went away under it (basic.cancel from the server). */
  cancelledByServer(queue: Queue): void;
}

/** What a queue needs from its virtual host. */
export interface QueueHost {
  now(): number;
  deadLetter(queue: Queue, entries: QueuedMessage[], reason: DeathReason): void;
  /** x-expires ran out, or the last consumer of an auto-delete queue left. */
  autoDelete(queue: Queue): void;
  /** Bytes of message bodies held, broker-wide (for the memory watermark). */
  adjustStored(delta: number): void;
  /** Durable storage, when the broker has a data directory. */
  readonly journal?: Journal | undefined;
  /** Reads stored messages back, so that long queues keep their bodies on disk. */
  readonly pager?: Pager | undefined;
  /** The message event ledger (events.ts), when it is on. */
  readonly events?: MessageEvents | undefined;
}

export type EnqueueResult = "ok" | "rejected";

/**
 * Messages a queue took and handed out since it was declared (RabbitMQ's message_stats):
 * deliveries to consumers and basic.get, each with and without acknowledgement; `settled`
 * counts acks and no-ack hand-outs together (acks = settled - the no-ack ones).
 */
export interface QueueCounts {
  publish: number;
  deliver: number;
  deliverNoAck: number;
  get: number;
  getNoAck: number;
  getEmpty: number;
  settled: number;
  redeliver: number;
}

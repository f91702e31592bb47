/**
 * What the model tells durable storage (store/): the durable topology as it changes, and the
 * life of each persistent message in a durable queue. The model calls these in the order
 * things happen; the store decides what is worth writing and assigns `QueuedMessage.id`.
 * Without a data directory there is no journal and nothing here runs.
 */
import type { FieldTable } from "../codec/index.js";
import type { DeclaredExchangeType } from "../routing/index.js";
import type { Message } from "./message.js";
import type { QueuedMessage } from "./queue.js";

export interface StoredExchange {
  readonly name: string;
  readonly type: DeclaredExchangeType;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly args: FieldTable;
}

export interface StoredQueue {
  readonly name: string;
  readonly autoDelete: boolean;
  readonly args: FieldTable;
}

export interface StoredBinding {
  readonly source: string;
  readonly destination: string;
  readonly destinationType: "queue" | "exchange";
  readonly routingKey: string;
  readonly args: FieldTable;
}

/** The durable objects, as written at the start of every segment. */
export interface DurableTopology {
  exchanges: StoredExchange[];
  queues: StoredQueue[];
  bindings: StoredBinding[];
}

/**
 * A message as storage gives it back, with where it stood in its queue. Past the head of a
 * long queue, `message` is absent: the body stays on disk until the queue reaches it.
 */
export interface RecoveredEntry {
  readonly id: number;
  readonly seq: number;
  readonly expiresAt: number;
  readonly priority: number;
  readonly redelivered: boolean;
  readonly returns: number;
  readonly size: number;
  readonly message?: Message | undefined;
}

/** What storage needs of a message that leaves: its id (none for one it did not store). */
export interface Stored {
  readonly id?: number | undefined;
}

export interface Journal {
  /** Records appended so far: a publisher's confirm waits until `synced` reaches it. */
  readonly appended: number;
  /** Records known to be on disk (written and fsynced). */
  readonly synced: number;
  /** Everything so far, gathered acks included, as a position for `afterSync`. */
  mark(): number;
  /** Run `done` once `synced >= mark`, or with the error that stops storage. */
  afterSync(mark: number, done: (err?: Error) => void): void;

  exchangeDeclared(x: StoredExchange): void;
  exchangeDeleted(name: string): void;
  queueDeclared(q: StoredQueue): void;
  queueDeleted(name: string): void;
  bound(b: StoredBinding): void;
  unbound(b: StoredBinding): void;

  /** A message entered a durable queue; a persistent one gets its `id` here. */
  enqueued(queue: string, entry: QueuedMessage): void;
  /** First delivery of a stored message: it comes back redelivered after a restart. */
  delivered(queue: string, entry: QueuedMessage): void;
  /** Returned to the queue unacknowledged (its delivery count matters to quorum queues). */
  requeued(queue: string, entries: readonly QueuedMessage[]): void;
  /** Gone from the queue: acked, rejected, expired, dropped, purged or dead-lettered. */
  removed(queue: string, entries: readonly Stored[]): void;
  /** Gone with their deleted queue, whose deletion record covers them: nothing to write. */
  released(entries: readonly Stored[]): void;
}

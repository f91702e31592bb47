/**
 * A queue: ready messages in order (per priority when x-max-priority is set), the
 * consumers it delivers to (who is next, by priority and turn or single active consumer,
 * is consumers.ts's), and the rules RabbitMQ applies to what it holds —
 * TTL, length limits with their overflow modes, dead-lettering, delivery limits, expiry.
 * Unacknowledged messages live on the channel that received them; the queue only counts
 * them. Errors are AmqpErrors; nothing here touches the wire.
 */
import type { FieldTable } from "../codec/index.js";
import { Typed } from "../codec/index.js";
import type { QueueSettings } from "./arguments.js";
import { Consumers } from "./consumers.js";
import type { Journal, RecoveredEntry } from "./journal.js";
import { type DeathReason, type Message, withHeader } from "./message.js";
import type {
  EnqueueResult,
  QueueConsumer,
  QueueCounts,
  QueuedMessage,
  QueueHost,
} from "./queue-types.js";
import { ReadyList, type Row } from "./ready.js";

export type {
  EnqueueResult,
  QueueConsumer,
  QueueCounts,
  QueuedMessage,
  QueueHost,
} from "./queue-types.js";

/** How many deliveries one drain makes before yielding to the event loop. */
const DRAIN_BATCH = 2000;

export class Queue {
  readonly name: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  /** The owning connection's id for an exclusive queue. */
  readonly owner: number | undefined;
  readonly args: FieldTable;
  readonly settings: QueueSettings;
  /** Set when this queue's persistent messages are stored: durable and not exclusive. */
  private readonly journal: Journal | undefined;

  /** Ready messages by priority; long ones keep their bodies on disk (ready.ts). */
  private readonly ready: ReadyList;
  private nextSeq = 1;
  /** Who gets the next message: priorities, turns, single active consumer (consumers.ts). */
  private readonly consumerSet: Consumers<QueueConsumer>;
  private hadConsumer = false;
  private draining = false;
  private drainScheduled: NodeJS.Immediate | undefined;
  private ttlTimer: NodeJS.Timeout | undefined;
  private ttlAt = Number.POSITIVE_INFINITY;
  private expiresTimer: NodeJS.Timeout | undefined;
  deleted = false;
  /** Delivered and not yet settled. */
  unacked = 0;
  /** What passed through since the queue was declared (the management API's message_stats). */
  readonly counts: QueueCounts = {
    publish: 0,
    deliver: 0,
    deliverNoAck: 0,
    get: 0,
    getNoAck: 0,
    getEmpty: 0,
    settled: 0,
    redeliver: 0,
  };

  constructor(
    private readonly host: QueueHost,
    init: {
      name: string;
      durable: boolean;
      autoDelete: boolean;
      owner: number | undefined;
      args: FieldTable;
      settings: QueueSettings;
    },
  ) {
    this.name = init.name;
    this.durable = init.durable;
    this.autoDelete = init.autoDelete;
    this.owner = init.owner;
    this.args = init.args;
    this.settings = init.settings;
    this.journal = init.durable && init.owner === undefined ? host.journal : undefined;
    const levels = (init.settings.maxPriority ?? 0) + 1;
    this.ready = new ReadyList(
      levels,
      (delta) => host.adjustStored(delta),
      this.journal ? host.pager : undefined,
    );
    this.consumerSet = new Consumers({
      type: init.settings.type,
      singleActive: init.settings.singleActiveConsumer === true,
    });
    this.touch();
  }

  get messageCount(): number {
    return this.ready.count;
  }

  private get readyCount(): number {
    return this.ready.count;
  }

  /** Ready messages whose bodies are on disk only. */
  get pagedCount(): number {
    return this.ready.pagedCount;
  }

  get readyBytes(): number {
    return this.ready.bytes;
  }

  /** Every consumer, in registration order (waiting single-active-consumer ones too). */
  get consumers(): readonly QueueConsumer[] {
    return this.consumerSet.list;
  }

  /** The single active consumer's tag, when the queue has one. */
  get activeConsumerTag(): string | undefined {
    return this.consumerSet.active?.tag;
  }

  /** The consumer count of queue.declare-ok, as RabbitMQ counts it for this queue type. */
  get consumerCount(): number {
    return this.consumerSet.declaredCount;
  }

  /** Whether basic.consume with this exclusive flag is refused (in exclusive use). */
  refusesConsumer(exclusive: boolean): boolean {
    return this.consumerSet.refuses(exclusive);
  }

  // ------------------------------------------------------------ arriving

  /** Take a routed message. "rejected" when reject-publish refuses it. */
  enqueue(message: Message): EnqueueResult {
    const s = this.settings;
    const size = message.body.length;
    if (s.overflow !== "drop-head" && this.wouldOverflow(size)) {
      const events = this.host.events;
      if (events) events.inQueue("dropped", this.name, message, `queue full (${s.overflow})`);
      if (s.overflow === "reject-publish-dlx") {
        this.host.deadLetter(this, [this.entry(message, this.host.now())], "maxlen");
      }
      return "rejected";
    }
    const now = this.host.now();
    const entry = this.entry(message, now);
    this.counts.publish += 1;
    this.journal?.enqueued(this.name, entry);
    this.pushReady(entry);
    const events = this.host.events;
    if (events) events.inQueue("enqueued", this.name, message);
    this.drain(now);
    if (s.overflow === "drop-head") this.enforceLimits();
    this.expire(now);
    return "ok";
  }

  /** Storage compaction: ready stored messages that `pick` chooses get the id `move` gives. */
  relocate(pick: (id: number) => boolean, move: (row: Row, priority: number) => number): void {
    this.ready.relocate(pick, move);
  }

  /** Messages read back from storage at start, in their order (by seq). */
  restore(entries: Iterable<RecoveredEntry>): void {
    for (const e of entries) {
      const priority = Math.min(e.priority, this.settings.maxPriority ?? 0);
      if (e.message) this.pushReady({ ...e, message: e.message, priority });
      else {
        this.ready.pushStored(e, priority, e.size);
        if (e.expiresAt !== Number.POSITIVE_INFINITY) this.scheduleExpiry(e.expiresAt);
      }
      if (e.seq >= this.nextSeq) this.nextSeq = e.seq + 1;
    }
    this.expire();
  }

  private entry(message: Message, now: number): QueuedMessage {
    const s = this.settings;
    let expiresAt = Number.POSITIVE_INFINITY;
    if (s.messageTtl !== undefined) expiresAt = now + s.messageTtl;
    const exp = message.properties.expiration;
    // Checked at publish: an optional sign, digits, 0 to 2^32-1.
    if (exp !== undefined) expiresAt = Math.min(expiresAt, now + Number(exp));
    const max = s.maxPriority ?? 0;
    const priority = Math.min(message.properties.priority ?? 0, max);
    return { message, seq: this.nextSeq++, priority, expiresAt, redelivered: false, returns: 0 };
  }

  private wouldOverflow(size: number): boolean {
    const { maxLength, maxLengthBytes } = this.settings;
    return (
      (maxLength !== undefined && this.readyCount >= maxLength) ||
      (maxLengthBytes !== undefined && this.ready.bytes + size > maxLengthBytes)
    );
  }

  private enforceLimits(): void {
    const { maxLength, maxLengthBytes } = this.settings;
    if (maxLength === undefined && maxLengthBytes === undefined) return;
    const dropped: QueuedMessage[] = [];
    while (
      this.readyCount > 0 &&
      ((maxLength !== undefined && this.readyCount > maxLength) ||
        (maxLengthBytes !== undefined && this.ready.bytes > maxLengthBytes))
    ) {
      const head = this.shiftReady();
      if (head) dropped.push(head);
    }
    if (dropped.length > 0) this.gone(dropped, "maxlen");
  }

  private pushReady(entry: QueuedMessage): void {
    this.ready.push(entry);
    if (entry.expiresAt !== Number.POSITIVE_INFINITY) this.scheduleExpiry(entry.expiresAt);
  }

  private shiftReady(): QueuedMessage | undefined {
    return this.ready.shift();
  }

  private peekReady(): QueuedMessage | undefined {
    return this.ready.peek();
  }

  // ------------------------------------------------------------ TTL

  /** Dead-letter expired messages at the head, as RabbitMQ does (not behind the head). */
  expire(now = this.host.now()): void {
    const expired: QueuedMessage[] = [];
    for (;;) {
      const head = this.peekReady();
      if (!head || head.expiresAt > now) break;
      this.shiftReady();
      expired.push(head);
    }
    if (expired.length > 0) this.gone(expired, "expired");
    const head = this.peekReady();
    if (head && head.expiresAt !== Number.POSITIVE_INFINITY) this.scheduleExpiry(head.expiresAt);
  }

  private scheduleExpiry(at: number): void {
    if (this.deleted || at >= this.ttlAt) return;
    if (this.ttlTimer) clearTimeout(this.ttlTimer);
    this.ttlAt = at;
    this.ttlTimer = setTimeout(
      () => {
        this.ttlTimer = undefined;
        this.ttlAt = Number.POSITIVE_INFINITY;
        this.expire();
      },
      Math.max(0, at - this.host.now()),
    );
    this.ttlTimer.unref();
  }

  // ------------------------------------------------------------ x-expires

  /** Use of the queue (declare, consume, get) restarts its x-expires clock. */
  touch(): void {
    const ms = this.settings.expires;
    if (ms === undefined || this.deleted) return;
    if (this.expiresTimer) clearTimeout(this.expiresTimer);
    this.expiresTimer = undefined;
    if (this.consumerSet.size > 0) return;
    this.expiresTimer = setTimeout(() => {
      this.expiresTimer = undefined;
      if (this.consumerSet.size === 0) this.host.autoDelete(this);
    }, ms);
    this.expiresTimer.unref();
  }

  // ------------------------------------------------------------ consumers

  addConsumer(c: QueueConsumer): void {
    this.consumerSet.add(c);
    this.hadConsumer = true;
    if (this.expiresTimer) clearTimeout(this.expiresTimer);
    this.expiresTimer = undefined;
    this.drain();
  }

  /**
   * Remove a consumer; an auto-delete queue goes with its last one. A new single active
   * consumer gets the ready messages (after the current method's reply: not synchronously).
   */
  removeConsumer(c: QueueConsumer): void {
    const outcome = this.consumerSet.remove(c);
    if (outcome === "unknown") return;
    if (this.consumerSet.size === 0) {
      if (this.autoDelete && this.hadConsumer) this.host.autoDelete(this);
      else this.touch();
    } else if (outcome === "handover" && this.readyCount > 0) this.scheduleDrain();
  }

  /**
   * Deliver ready messages to consumers in turn while any has room. Re-entrant calls
   * return at once; a long backlog yields to the event loop every DRAIN_BATCH deliveries.
   */
  drain(now = this.host.now()): void {
    if (this.draining || this.deleted || this.readyCount === 0) return;
    const consumers = this.consumerSet;
    if (consumers.size === 0) return;
    consumers.refresh();
    this.draining = true;
    try {
      let budget = DRAIN_BATCH;
      while (this.readyCount > 0 && consumers.size > 0) {
        if (budget-- === 0) {
          this.scheduleDrain();
          break;
        }
        const consumer = consumers.next();
        if (!consumer) break;
        const entry = this.shiftReady() as QueuedMessage;
        // TTL 0 still reaches a consumer that is waiting, as in RabbitMQ.
        if (entry.expiresAt < now) {
          this.gone([entry], "expired");
          continue;
        }
        this.handOut(consumer, entry);
      }
    } finally {
      this.draining = false;
    }
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = setImmediate(() => {
      this.drainScheduled = undefined;
      this.drain();
    });
  }

  private handOut(consumer: QueueConsumer, entry: QueuedMessage): void {
    this.unacked += 1;
    if (consumer.noAck) this.counts.deliverNoAck += 1;
    else this.counts.deliver += 1;
    if (entry.redelivered) this.counts.redeliver += 1;
    this.markDelivered(entry);
    consumer.deliver(this, this.forDelivery(entry));
  }

  /** Quorum queues tell the consumer how often a message came back. */
  private forDelivery(entry: QueuedMessage): QueuedMessage {
    if (this.settings.type !== "quorum") return entry;
    return {
      ...entry,
      stored: entry.message,
      message: withHeader(entry.message, "x-delivery-count", new Typed("l", entry.returns)),
    };
  }

  /** basic.get: the next ready message, counted as unacked. */
  get(noAck = false): QueuedMessage | undefined {
    this.touch();
    this.expire();
    const entry = this.shiftReady();
    if (!entry) {
      this.counts.getEmpty += 1;
      return undefined;
    }
    if (noAck) this.counts.getNoAck += 1;
    else this.counts.get += 1;
    if (entry.redelivered) this.counts.redeliver += 1;
    this.unacked += 1;
    this.markDelivered(entry);
    return this.forDelivery(entry);
  }

  // ------------------------------------------------------------ settling

  /** Acknowledged (or delivered with no-ack): they leave the queue for good. */
  settle(entries: readonly QueuedMessage[]): void {
    this.unacked -= entries.length;
    this.counts.settled += entries.length;
    if (this.deleted) this.journal?.released(entries);
    else this.journal?.removed(this.name, entries);
  }

  /** Dead-letter entries that leave the queue (when it has a DLX), then forget them. */
  private gone(entries: QueuedMessage[], reason: DeathReason): void {
    // A rejection is the settling client's event (deliveries.ts); the rest are the queue's.
    const events = this.host.events;
    if (events && reason !== "rejected") events.left(this.name, entries, reason);
    this.host.deadLetter(this, entries, reason);
    this.journal?.removed(this.name, entries);
  }

  /** A stored message's first delivery, so that a restart brings it back redelivered. */
  private markDelivered(entry: QueuedMessage): void {
    if (this.journal && entry.id !== undefined && !entry.redelivered) {
      this.journal.delivered(this.name, entry);
    }
  }

  /**
   * Put unacknowledged messages back where they were, flagged redelivered. A quorum queue
   * with x-delivery-limit dead-letters those that came back too often.
   */
  requeue(entries: QueuedMessage[]): void {
    this.unacked -= entries.length;
    if (this.deleted) {
      this.journal?.released(entries);
      return;
    }
    const limit = this.settings.deliveryLimit;
    const over: QueuedMessage[] = [];
    const kept: QueuedMessage[] = [];
    for (const e of entries) {
      const back: QueuedMessage = {
        message: e.stored ?? e.message,
        seq: e.seq,
        priority: e.priority,
        expiresAt: e.expiresAt,
        redelivered: true,
        returns: e.returns + 1,
        id: e.id,
      };
      if (limit !== undefined && back.returns > limit) {
        over.push(back);
        continue;
      }
      this.ready.insert(back);
      if (back.expiresAt !== Number.POSITIVE_INFINITY) this.scheduleExpiry(back.expiresAt);
      kept.push(back);
    }
    if (kept.length > 0) this.journal?.requeued(this.name, kept);
    if (over.length > 0) this.gone(over, "delivery_limit");
    this.drain();
  }

  /** Rejected without requeue: dead-lettered if the queue has a DLX. */
  reject(entries: QueuedMessage[]): void {
    this.unacked -= entries.length;
    if (entries.length > 0) {
      const stored = entries.map((e) => (e.stored ? { ...e, message: e.stored } : e));
      this.gone(stored, "rejected");
    }
  }

  /**
   * The first `count` ready messages, left exactly as they were: same place, same
   * redelivered flag, nothing counted as delivered (the management API's peek).
   */
  peek(count: number): QueuedMessage[] {
    this.expire();
    const out: QueuedMessage[] = [];
    while (out.length < count) {
      const e = this.shiftReady();
      if (!e) break;
      out.push(e);
    }
    for (const e of out) this.ready.insert(e);
    return out.map((e) => this.forDelivery(e));
  }

  /** Drop all ready messages; returns how many. Purged messages are not dead-lettered. */
  purge(): number {
    const n = this.readyCount;
    const entries = this.ready.clear();
    const events = this.host.events;
    if (events && n > 0) {
      const held = entries.filter((e): e is QueuedMessage => "message" in e);
      events.left(this.name, held, this.deleted ? "queue deleted" : "purged");
    }
    if (this.journal && n > 0) {
      // A deleted queue's messages go with its deletion record: nothing more to write.
      if (this.deleted) this.journal.released(entries);
      else this.journal.removed(this.name, entries);
    }
    return n;
  }

  /** Called by the vhost when the queue is deleted: stop timers, cancel consumers. */
  destroy(): number {
    this.deleted = true;
    const n = this.purge();
    if (this.ttlTimer) clearTimeout(this.ttlTimer);
    if (this.expiresTimer) clearTimeout(this.expiresTimer);
    if (this.drainScheduled) clearImmediate(this.drainScheduled);
    const consumers = this.consumerSet.clear();
    for (const c of consumers) c.cancelledByServer(this);
    return n;
  }
}

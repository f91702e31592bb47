/**
 * A queue: ready messages in order (per priority when x-max-priority is set), the
 * consumers it delivers to in turn, and the rules RabbitMQ applies to what it holds —
 * TTL, length limits with their overflow modes, dead-lettering, delivery limits, expiry.
 * Unacknowledged messages live on the channel that received them; the queue only counts
 * them. Errors are AmqpErrors; nothing here touches the wire.
 */
import type { FieldTable } from "../codec/index.js";
import { Typed } from "../codec/index.js";
import type { QueueSettings } from "./arguments.js";
import { Deque } from "./deque.js";
import { type DeathReason, type Message, withHeader } from "./message.js";

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
}

/** What a queue delivers to; implemented by the protocol's consumers. */
export interface QueueConsumer {
  readonly tag: string;
  readonly exclusive: boolean;
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
}

export type EnqueueResult = "ok" | "rejected";

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

  private readonly ready: Deque<QueuedMessage>[];
  private readyCount = 0;
  private readyBytesTotal = 0;
  private nextSeq = 1;
  private consumerList: QueueConsumer[] = [];
  private turn = 0;
  private hadConsumer = false;
  private draining = false;
  private drainScheduled: NodeJS.Immediate | undefined;
  private ttlTimer: NodeJS.Timeout | undefined;
  private ttlAt = Number.POSITIVE_INFINITY;
  private expiresTimer: NodeJS.Timeout | undefined;
  deleted = false;
  /** Delivered and not yet settled. */
  unacked = 0;

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
    const levels = (init.settings.maxPriority ?? 0) + 1;
    this.ready = Array.from({ length: levels }, () => new Deque<QueuedMessage>());
    this.touch();
  }

  get messageCount(): number {
    return this.readyCount;
  }

  get readyBytes(): number {
    return this.readyBytesTotal;
  }

  get consumers(): readonly QueueConsumer[] {
    return this.consumerList;
  }

  get exclusiveConsumer(): boolean {
    return this.consumerList.some((c) => c.exclusive);
  }

  // ------------------------------------------------------------ arriving

  /** Take a routed message. "rejected" when reject-publish refuses it. */
  enqueue(message: Message): EnqueueResult {
    const s = this.settings;
    const size = message.body.length;
    if (s.overflow !== "drop-head" && this.wouldOverflow(size)) {
      if (s.overflow === "reject-publish-dlx") {
        this.host.deadLetter(this, [this.entry(message, this.host.now())], "maxlen");
      }
      return "rejected";
    }
    const now = this.host.now();
    const entry = this.entry(message, now);
    this.pushReady(entry);
    this.drain(now);
    if (s.overflow === "drop-head") this.enforceLimits();
    this.expire(now);
    return "ok";
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
      (maxLengthBytes !== undefined && this.readyBytesTotal + size > maxLengthBytes)
    );
  }

  private enforceLimits(): void {
    const { maxLength, maxLengthBytes } = this.settings;
    if (maxLength === undefined && maxLengthBytes === undefined) return;
    const dropped: QueuedMessage[] = [];
    while (
      this.readyCount > 0 &&
      ((maxLength !== undefined && this.readyCount > maxLength) ||
        (maxLengthBytes !== undefined && this.readyBytesTotal > maxLengthBytes))
    ) {
      const head = this.shiftReady();
      if (head) dropped.push(head);
    }
    if (dropped.length > 0) this.host.deadLetter(this, dropped, "maxlen");
  }

  private pushReady(entry: QueuedMessage): void {
    (this.ready[entry.priority] as Deque<QueuedMessage>).push(entry);
    this.countIn(entry);
  }

  private countIn(entry: QueuedMessage): void {
    this.readyCount += 1;
    const size = entry.message.body.length;
    this.readyBytesTotal += size;
    this.host.adjustStored(size);
    if (entry.expiresAt !== Number.POSITIVE_INFINITY) this.scheduleExpiry(entry.expiresAt);
  }

  private shiftReady(): QueuedMessage | undefined {
    for (let p = this.ready.length - 1; p >= 0; p--) {
      const d = this.ready[p] as Deque<QueuedMessage>;
      if (d.length > 0) {
        const entry = d.shift() as QueuedMessage;
        this.readyCount -= 1;
        const size = entry.message.body.length;
        this.readyBytesTotal -= size;
        this.host.adjustStored(-size);
        return entry;
      }
    }
    return undefined;
  }

  private peekReady(): QueuedMessage | undefined {
    for (let p = this.ready.length - 1; p >= 0; p--) {
      const head = (this.ready[p] as Deque<QueuedMessage>).peek();
      if (head) return head;
    }
    return undefined;
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
    if (expired.length > 0) this.host.deadLetter(this, expired, "expired");
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
    if (this.consumerList.length > 0) return;
    this.expiresTimer = setTimeout(() => {
      this.expiresTimer = undefined;
      if (this.consumerList.length === 0) this.host.autoDelete(this);
    }, ms);
    this.expiresTimer.unref();
  }

  // ------------------------------------------------------------ consumers

  addConsumer(c: QueueConsumer): void {
    this.consumerList.push(c);
    this.hadConsumer = true;
    if (this.expiresTimer) clearTimeout(this.expiresTimer);
    this.expiresTimer = undefined;
    this.drain();
  }

  /** Remove a consumer; an auto-delete queue goes with its last one. */
  removeConsumer(c: QueueConsumer): void {
    const i = this.consumerList.indexOf(c);
    if (i < 0) return;
    this.consumerList.splice(i, 1);
    if (this.turn > i) this.turn -= 1;
    if (this.consumerList.length === 0) {
      if (this.autoDelete && this.hadConsumer) this.host.autoDelete(this);
      else this.touch();
    }
  }

  /**
   * Deliver ready messages to consumers in turn while any has room. Re-entrant calls
   * return at once; a long backlog yields to the event loop every DRAIN_BATCH deliveries.
   */
  drain(now = this.host.now()): void {
    if (this.draining || this.deleted || this.readyCount === 0) return;
    const consumers = this.consumerList;
    if (consumers.length === 0) return;
    this.draining = true;
    try {
      let budget = DRAIN_BATCH;
      while (this.readyCount > 0 && consumers.length > 0) {
        if (budget-- === 0) {
          this.scheduleDrain();
          break;
        }
        const consumer = this.nextConsumer();
        if (!consumer) break;
        const entry = this.shiftReady() as QueuedMessage;
        // TTL 0 still reaches a consumer that is waiting, as in RabbitMQ.
        if (entry.expiresAt < now) {
          this.host.deadLetter(this, [entry], "expired");
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

  private nextConsumer(): QueueConsumer | undefined {
    const consumers = this.consumerList;
    const n = consumers.length;
    for (let i = 0; i < n; i++) {
      const at = (this.turn + i) % n;
      const c = consumers[at] as QueueConsumer;
      if (c.canTake()) {
        this.turn = (at + 1) % n;
        return c;
      }
    }
    return undefined;
  }

  private handOut(consumer: QueueConsumer, entry: QueuedMessage): void {
    this.unacked += 1;
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
  get(): QueuedMessage | undefined {
    this.touch();
    this.expire();
    const entry = this.shiftReady();
    if (!entry) return undefined;
    this.unacked += 1;
    return this.forDelivery(entry);
  }

  // ------------------------------------------------------------ settling

  /** Acknowledged (or delivered with no-ack): they leave the queue for good. */
  settle(entries: readonly QueuedMessage[]): void {
    this.unacked -= entries.length;
  }

  /**
   * Put unacknowledged messages back where they were, flagged redelivered. A quorum queue
   * with x-delivery-limit dead-letters those that came back too often.
   */
  requeue(entries: QueuedMessage[]): void {
    this.unacked -= entries.length;
    if (this.deleted) return;
    const limit = this.settings.deliveryLimit;
    const over: QueuedMessage[] = [];
    for (const e of entries) {
      const back: QueuedMessage = {
        message: e.stored ?? e.message,
        seq: e.seq,
        priority: e.priority,
        expiresAt: e.expiresAt,
        redelivered: true,
        returns: e.returns + 1,
      };
      if (limit !== undefined && back.returns > limit) {
        over.push(back);
        continue;
      }
      (this.ready[back.priority] as Deque<QueuedMessage>).insertByKey(back, (x) => x.seq);
      this.countIn(back);
    }
    if (over.length > 0) this.host.deadLetter(this, over, "delivery_limit");
    this.drain();
  }

  /** Rejected without requeue: dead-lettered if the queue has a DLX. */
  reject(entries: QueuedMessage[]): void {
    this.unacked -= entries.length;
    if (entries.length > 0) {
      const stored = entries.map((e) => (e.stored ? { ...e, message: e.stored } : e));
      this.host.deadLetter(this, stored, "rejected");
    }
  }

  /** Drop all ready messages; returns how many. Purged messages are not dead-lettered. */
  purge(): number {
    const n = this.readyCount;
    for (const d of this.ready) d.clear();
    this.host.adjustStored(-this.readyBytesTotal);
    this.readyCount = 0;
    this.readyBytesTotal = 0;
    return n;
  }

  /** Called by the vhost when the queue is deleted: stop timers, cancel consumers. */
  destroy(): number {
    this.deleted = true;
    const n = this.purge();
    if (this.ttlTimer) clearTimeout(this.ttlTimer);
    if (this.expiresTimer) clearTimeout(this.expiresTimer);
    if (this.drainScheduled) clearImmediate(this.drainScheduled);
    const consumers = this.consumerList;
    this.consumerList = [];
    for (const c of consumers) c.cancelledByServer(this);
    return n;
  }
}

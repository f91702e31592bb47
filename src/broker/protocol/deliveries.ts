/**
 * A channel's delivering side: its consumers, the deliveries it holds unacknowledged,
 * prefetch limits, basic.get, and settlement (ack, nack, reject, recover), which a
 * transactional channel defers to tx.commit.
 */
import { randomBytes } from "node:crypto";
import type { FieldTable } from "../codec/index.js";
import { amqpError } from "../errors.js";
import { consumerPriority } from "../model/arguments.js";
import type { SettleMethod } from "../model/events.js";
import type { Queue, QueueConsumer, QueuedMessage } from "../model/queue.js";
import { notSupported, Stream, type StreamConsumer } from "../model/stream.js";
import { assertConsumerArguments, streamConsumeSpec } from "../model/stream-args.js";
import { AckTimeout } from "./ack-timeout.js";
import type { Channel } from "./channel.js";
import type { QueueTypeTotals, Totals } from "./connection.js";
import { ReplyTo } from "./reply-to.js";
import type { ChannelView } from "./views.js";

/** The broker's counters for this queue's type (Prometheus' queue_type label). */
function typeTotals(totals: Totals, queue: Queue | Stream): QueueTypeTotals {
  if (queue instanceof Stream) return totals.queueTypes.stream;
  return totals.queueTypes[queue.settings.type];
}

/** What becomes of settled deliveries. */
export type Settlement = "ack" | "requeue" | "reject";

interface Unacked {
  readonly tag: number;
  /** A stream's deliveries are settled here too, but only an ack means anything to it. */
  readonly queue: Queue | Stream;
  readonly entry: QueuedMessage;
  readonly consumer: ChannelConsumer | undefined;
  /** When it was sent (for the consumer timeout), ms since the epoch. */
  readonly at: number;
  /** Settled inside an open transaction, applied at commit. */
  tx?: Settlement | undefined;
}

class ChannelConsumer implements QueueConsumer, StreamConsumer {
  unacked = 0;
  constructor(
    readonly deliveries: Deliveries,
    readonly queue: Queue | Stream,
    readonly tag: string,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    readonly prefetch: number,
    readonly priority: number,
  ) {}

  canTake(): boolean {
    return this.deliveries.canDeliver(this);
  }

  deliver(queue: Queue | Stream, entry: QueuedMessage): void {
    this.deliveries.deliver(this, queue, entry);
  }

  cancelledByServer(): void {
    this.deliveries.consumerGone(this);
  }
}

export class Deliveries {
  private readonly consumers = new Map<string, ChannelConsumer>();
  /** By delivery tag; Map order is delivery order. */
  private readonly unacked = new Map<number, Unacked>();
  private deliveryTag = 0;
  private consumerPrefetch = 0;
  private globalPrefetch = 0;
  /** Deliveries settled in the open transaction. */
  private txSettles = 0;
  private readonly ackTimeout: AckTimeout<Unacked>;
  /** The channel's consumer of amq.rabbitmq.reply-to, and its reply_to rewriting. */
  readonly replyTo: ReplyTo;

  constructor(private readonly channel: Channel) {
    this.replyTo = new ReplyTo(channel, () => this.deliveryTag + 1);
    this.ackTimeout = new AckTimeout<Unacked>({
      channelNumber: channel.number,
      oldest: () => this.oldestPending(),
      limitOf: (u) => u.queue.settings.consumerTimeout ?? channel.host.consumerTimeout,
      expire: (err) => channel.host.channelError(channel, err),
    });
  }

  // ------------------------------------------------------------ consumers

  /** The management API's view of this channel's consumers and prefetch. */
  view(): Pick<ChannelView, "prefetch" | "globalPrefetch" | "unacked" | "consumers"> {
    return {
      prefetch: this.consumerPrefetch,
      globalPrefetch: this.globalPrefetch,
      unacked: this.unacked.size,
      consumers: [...this.consumers.values()].map((c) => ({
        tag: c.tag,
        queue: c.queue.name,
        noAck: c.noAck,
        exclusive: c.exclusive,
        prefetch: c.prefetch,
        priority: c.priority,
        unacked: c.unacked,
      })),
    };
  }

  /** basic.qos: the prefetch of consumers started from now on, or of the whole channel. */
  qos(prefetchCount: number, global: boolean): void {
    if (global) this.globalPrefetch = prefetchCount;
    else this.consumerPrefetch = prefetchCount;
  }

  /** basic.consume: checks, then consume-ok (unless nowait), then deliveries may start. */
  consume(
    q: Queue,
    requestedTag: string,
    options: { noAck: boolean; exclusive: boolean; nowait: boolean; args: FieldTable },
  ): void {
    let tag = requestedTag;
    if (tag === "") tag = `amq.ctag-${randomBytes(16).toString("base64url").slice(0, 22)}`;
    else if (this.consumers.has(tag)) {
      throw amqpError("NOT_ALLOWED", `attempt to reuse consumer tag '${tag}'`);
    }
    const priority = consumerPriority(q.name, options.args);
    assertConsumerArguments(q.name, q.settings.type, options.args);
    if (q.refusesConsumer(options.exclusive)) {
      throw amqpError("ACCESS_REFUSED", `queue '${q.name}' in vhost '/' in exclusive use`);
    }
    const c = new ChannelConsumer(
      this,
      q,
      tag,
      options.noAck,
      options.exclusive,
      this.consumerPrefetch,
      priority,
    );
    this.consumers.set(tag, c);
    this.channel.reply(options.nowait, "basic.consume-ok", { consumerTag: tag });
    q.addConsumer(c);
  }

  /**
   * basic.consume on a stream: RabbitMQ's checks (stream-args.ts), then the consumer reads
   * from the offset it asked for, its prefetch its credit.
   */
  consumeStream(
    s: Stream,
    requestedTag: string,
    options: { noAck: boolean; exclusive: boolean; nowait: boolean; args: FieldTable },
  ): void {
    const tag = this.newTag(requestedTag);
    const spec = streamConsumeSpec(s.name, {
      args: options.args,
      prefetch: this.consumerPrefetch,
      noAck: options.noAck,
      nowMs: Date.now(),
    });
    const c = new ChannelConsumer(this, s, tag, false, options.exclusive, this.consumerPrefetch, 0);
    this.consumers.set(tag, c);
    this.channel.reply(options.nowait, "basic.consume-ok", { consumerTag: tag });
    s.attach(c, spec);
  }

  /** basic.consume on amq.rabbitmq.reply-to (reply-to.ts). */
  consumeReplies(requestedTag: string, options: { noAck: boolean; nowait: boolean }): void {
    if (requestedTag !== "") this.newTag(requestedTag);
    this.replyTo.consume(requestedTag, options.noAck, options.nowait);
  }

  private newTag(requested: string): string {
    if (requested === "") return `amq.ctag-${randomBytes(16).toString("base64url").slice(0, 22)}`;
    if (this.consumers.has(requested))
      throw amqpError("NOT_ALLOWED", `attempt to reuse consumer tag '${requested}'`);
    return requested;
  }

  /** basic.cancel: an unknown tag is fine, as in RabbitMQ. */
  cancel(tag: string): void {
    if (this.replyTo.cancel(tag)) return;
    const c = this.consumers.get(tag);
    if (!c) return;
    this.consumers.delete(tag);
    c.queue.removeConsumer(c);
  }

  /** The queue was deleted under a consumer: forget it, and tell a client that listens. */
  consumerGone(c: ChannelConsumer): void {
    if (this.consumers.get(c.tag) !== c) return;
    this.consumers.delete(c.tag);
    if (this.channel.isOpen && this.channel.host.consumerCancelNotify) {
      this.channel.send("basic.cancel", { consumerTag: c.tag, nowait: true });
    }
  }

  /** Let the queues of this channel's consumers try delivering again. */
  redrain(): void {
    for (const c of this.consumers.values()) this.channel.host.markDirty(c.queue);
  }

  // ------------------------------------------------------------ delivering

  canDeliver(c: ChannelConsumer): boolean {
    if (!this.channel.canDeliver) return false;
    if (c.noAck) return true;
    // A stream consumer's credit is its own prefetch; the channel's global one does not count.
    if (c.queue instanceof Stream) return c.unacked < c.prefetch;
    if (c.prefetch > 0 && c.unacked >= c.prefetch) return false;
    return this.globalPrefetch === 0 || this.unacked.size < this.globalPrefetch;
  }

  deliver(c: ChannelConsumer, queue: Queue | Stream, entry: QueuedMessage): void {
    const tag = ++this.deliveryTag;
    this.channel.host.delivered();
    const counted = typeTotals(this.channel.host.totals, queue);
    counted.delivered += 1;
    if (c.noAck) counted.consumeAutoAck += 1;
    else counted.consumeManualAck += 1;
    if (entry.redelivered) counted.redelivered += 1;
    if (c.noAck) queue.settle([entry]);
    else {
      this.unacked.set(tag, { tag, queue, entry, consumer: c, at: Date.now() });
      c.unacked += 1;
      this.ackTimeout.changed();
    }
    this.channel.sendContent(
      "basic.deliver",
      {
        consumerTag: c.tag,
        deliveryTag: tag,
        redelivered: entry.redelivered,
        exchange: entry.message.exchange,
        routingKey: entry.message.routingKey,
      },
      entry.message,
    );
    // After the delivery's own frames: a trace consumer on this channel gets its copy next.
    const { tracer, events } = this.channel.host.vhost;
    if (tracer.enabled)
      tracer.delivered(queue.name, entry.message, entry.redelivered, this.channel);
    if (events) events.delivered(queue.name, entry, tag, this.channel, c.tag, c.noAck);
  }

  /** basic.get: get-ok with the message, or get-empty. */
  get(q: Queue, noAck: boolean): void {
    const entry = q.get(noAck);
    const counted = typeTotals(this.channel.host.totals, q);
    if (!entry) {
      counted.getEmpty += 1;
      this.channel.send("basic.get-empty", { clusterId: "" });
      return;
    }
    const tag = ++this.deliveryTag;
    this.channel.host.delivered();
    counted.delivered += 1;
    if (noAck) counted.getAutoAck += 1;
    else counted.getManualAck += 1;
    if (entry.redelivered) counted.redelivered += 1;
    if (noAck) q.settle([entry]);
    else {
      this.unacked.set(tag, { tag, queue: q, entry, consumer: undefined, at: Date.now() });
      this.ackTimeout.changed();
    }
    this.channel.sendContent(
      "basic.get-ok",
      {
        deliveryTag: tag,
        redelivered: entry.redelivered,
        exchange: entry.message.exchange,
        routingKey: entry.message.routingKey,
        messageCount: q.messageCount,
      },
      entry.message,
    );
    const { tracer, events } = this.channel.host.vhost;
    if (tracer.enabled) tracer.delivered(q.name, entry.message, entry.redelivered, this.channel);
    if (events) events.delivered(q.name, entry, tag, this.channel, undefined, noAck);
  }

  // ------------------------------------------------------------ settling

  /** basic.ack, nack and reject (`method`, for the ledger); in a transaction, kept until commit. */
  settle(tag: number, multiple: boolean, how: Settlement, method?: SettleMethod): void {
    const picked = multiple ? this.pickUpTo(tag) : [this.pickOne(tag)];
    const stream = how === "ack" ? undefined : picked.find((u) => u.queue instanceof Stream);
    if (stream) throw notSupported("basic.nack and basic.reject", stream.queue);
    if (this.channel.mode === "tx") {
      for (const u of picked) u.tx = how;
      this.txSettles += picked.length;
      this.ackTimeout.changed();
      return;
    }
    if (how === "ack") this.countAcks(picked);
    this.apply(picked, how, method);
  }

  /** basic.ack from the client (now, or at tx.commit): RabbitMQ's acknowledged total. */
  private countAcks(picked: Unacked[]): void {
    const totals = this.channel.host.totals;
    for (const u of picked) typeTotals(totals, u.queue).acknowledged += 1;
  }

  private pickOne(tag: number): Unacked {
    const u = this.unacked.get(tag);
    if (!u || u.tx !== undefined) {
      throw amqpError("PRECONDITION_FAILED", `unknown delivery tag ${tag}`);
    }
    return u;
  }

  /** Outstanding deliveries up to `tag`; tag 0 means everything so far. */
  private pickUpTo(tag: number): Unacked[] {
    const picked: Unacked[] = [];
    const upTo = tag === 0 ? Number.POSITIVE_INFINITY : tag;
    for (const u of this.unacked.values()) {
      if (u.tag > upTo) break;
      if (u.tx === undefined) picked.push(u);
    }
    if (tag === 0) return picked;
    // As RabbitMQ: the tag itself must be outstanding.
    const own = this.unacked.get(tag);
    if (own === undefined || own.tx !== undefined || picked.length === 0) {
      throw amqpError("PRECONDITION_FAILED", `unknown delivery tag ${tag}`);
    }
    return picked;
  }

  /** `method` and `reason`, for the ledger: the client's method, or why the broker acts. */
  private apply(picked: Unacked[], how: Settlement, method?: SettleMethod, reason?: string): void {
    const events = this.channel.host.vhost.events;
    if (!events) {
      this.settleNow(picked, how, undefined);
      return;
    }
    // Dead-lettering that a reject causes is on this client's behalf.
    const prev = events.enter(this.channel);
    try {
      this.settleNow(picked, how, (u) => events.settled(how, method, u, this.channel, reason));
    } finally {
      events.leave(prev);
    }
  }

  private settleNow(picked: Unacked[], how: Settlement, note: ((u: Unacked) => void) | undefined) {
    let lastQueue: Queue | Stream | undefined;
    let batch: QueuedMessage[] = [];
    const flush = () => {
      if (!lastQueue || batch.length === 0) return;
      if (how === "ack") lastQueue.settle(batch);
      else if (how === "requeue") lastQueue.requeue(batch);
      else lastQueue.reject(batch);
      this.channel.host.markDirty(lastQueue);
      batch = [];
    };
    for (const u of picked) {
      this.unacked.delete(u.tag);
      if (note) note(u);
      if (u.consumer) {
        u.consumer.unacked -= 1;
        this.channel.host.markDirty(u.consumer.queue);
      }
      if (u.queue !== lastQueue) {
        flush();
        lastQueue = u.queue;
      }
      batch.push(u.entry);
    }
    flush();
    if (this.globalPrefetch > 0) this.redrain();
    this.ackTimeout.changed();
  }

  /** The oldest delivery still waiting for its settlement: the consumer timeout's concern. */
  private oldestPending(): Unacked | undefined {
    for (const u of this.unacked.values()) if (u.tx === undefined) return u;
    return undefined;
  }

  /** Whether it holds stream deliveries, which basic.recover cannot give back. */
  get holdsStreamDeliveries(): boolean {
    for (const u of this.unacked.values()) if (u.queue instanceof Stream) return true;
    return false;
  }

  /** Give back every unacknowledged delivery, as on close or basic.recover. */
  requeueAll(reason = "basic.recover"): void {
    const byQueue = new Map<Queue | Stream, Unacked[]>();
    for (const u of this.unacked.values()) {
      const list = byQueue.get(u.queue);
      if (list) list.push(u);
      else byQueue.set(u.queue, [u]);
    }
    for (const list of byQueue.values()) this.apply(list, "requeue", undefined, reason);
  }

  /** tx.commit: apply the settlements recorded in the transaction, acks first. */
  commit(): void {
    if (this.txSettles === 0) return;
    this.txSettles = 0;
    for (const how of ["ack", "requeue", "reject"] as const) {
      const picked = [...this.unacked.values()].filter((u) => u.tx === how);
      if (how === "ack") this.countAcks(picked);
      if (picked.length > 0) this.apply(picked, how);
    }
  }

  /** tx.rollback: forget the settlements recorded in the transaction. */
  rollback(): void {
    if (this.txSettles === 0) return;
    this.txSettles = 0;
    for (const u of this.unacked.values()) u.tx = undefined;
    this.ackTimeout.changed();
  }

  /** The channel closes: requeue everything it holds and cancel its consumers. */
  close(): void {
    this.ackTimeout.stop();
    this.replyTo.close();
    for (const u of this.unacked.values()) u.tx = undefined;
    this.requeueAll("channel closed");
    const consumers = [...this.consumers.values()];
    this.consumers.clear();
    for (const c of consumers) c.queue.removeConsumer(c);
  }
}

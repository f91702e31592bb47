/**
 * A channel's delivering side: its consumers, the deliveries it holds unacknowledged,
 * prefetch limits, basic.get, and settlement (ack, nack, reject, recover), which a
 * transactional channel defers to tx.commit.
 */
import { randomBytes } from "node:crypto";
import { amqpError } from "../errors.js";
import type { Queue, QueueConsumer, QueuedMessage } from "../model/queue.js";
import type { Channel } from "./channel.js";

/** What becomes of settled deliveries. */
export type Settlement = "ack" | "requeue" | "reject";

interface Unacked {
  readonly tag: number;
  readonly queue: Queue;
  readonly entry: QueuedMessage;
  readonly consumer: ChannelConsumer | undefined;
  /** Settled inside an open transaction, applied at commit. */
  tx?: Settlement | undefined;
}

class ChannelConsumer implements QueueConsumer {
  unacked = 0;
  constructor(
    readonly deliveries: Deliveries,
    readonly queue: Queue,
    readonly tag: string,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    readonly prefetch: number,
  ) {}

  canTake(): boolean {
    return this.deliveries.canDeliver(this);
  }

  deliver(queue: Queue, entry: QueuedMessage): void {
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

  constructor(private readonly channel: Channel) {}

  // ------------------------------------------------------------ consumers

  /** basic.qos: the prefetch of consumers started from now on, or of the whole channel. */
  qos(prefetchCount: number, global: boolean): void {
    if (global) this.globalPrefetch = prefetchCount;
    else this.consumerPrefetch = prefetchCount;
  }

  /** basic.consume: checks, then consume-ok (unless nowait), then deliveries may start. */
  consume(
    q: Queue,
    requestedTag: string,
    options: { noAck: boolean; exclusive: boolean; nowait: boolean },
  ): void {
    let tag = requestedTag;
    if (tag === "") tag = `amq.ctag-${randomBytes(16).toString("base64url").slice(0, 22)}`;
    else if (this.consumers.has(tag)) {
      throw amqpError("NOT_ALLOWED", `attempt to reuse consumer tag '${tag}'`);
    }
    if (q.exclusiveConsumer || (options.exclusive && q.consumers.length > 0)) {
      throw amqpError("ACCESS_REFUSED", `queue '${q.name}' in vhost '/' in exclusive use`);
    }
    const c = new ChannelConsumer(
      this,
      q,
      tag,
      options.noAck,
      options.exclusive,
      this.consumerPrefetch,
    );
    this.consumers.set(tag, c);
    this.channel.reply(options.nowait, "basic.consume-ok", { consumerTag: tag });
    q.addConsumer(c);
  }

  /** basic.cancel: an unknown tag is fine, as in RabbitMQ. */
  cancel(tag: string): void {
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
    if (c.prefetch > 0 && c.unacked >= c.prefetch) return false;
    return this.globalPrefetch === 0 || this.unacked.size < this.globalPrefetch;
  }

  deliver(c: ChannelConsumer, queue: Queue, entry: QueuedMessage): void {
    const tag = ++this.deliveryTag;
    this.channel.host.delivered();
    if (c.noAck) queue.settle([entry]);
    else {
      this.unacked.set(tag, { tag, queue, entry, consumer: c });
      c.unacked += 1;
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
  }

  /** basic.get: get-ok with the message, or get-empty. */
  get(q: Queue, noAck: boolean): void {
    const entry = q.get();
    if (!entry) {
      this.channel.send("basic.get-empty", { clusterId: "" });
      return;
    }
    const tag = ++this.deliveryTag;
    this.channel.host.delivered();
    if (noAck) q.settle([entry]);
    else this.unacked.set(tag, { tag, queue: q, entry, consumer: undefined });
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
  }

  // ------------------------------------------------------------ settling

  /** basic.ack, nack and reject; in a transaction, recorded until commit. */
  settle(tag: number, multiple: boolean, how: Settlement): void {
    const picked = multiple ? this.pickUpTo(tag) : [this.pickOne(tag)];
    if (this.channel.mode === "tx") {
      for (const u of picked) u.tx = how;
      this.txSettles += picked.length;
      return;
    }
    this.apply(picked, how);
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

  private apply(picked: Unacked[], how: Settlement): void {
    let lastQueue: Queue | undefined;
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
  }

  /** Give back every unacknowledged delivery, as on close or basic.recover. */
  requeueAll(): void {
    const byQueue = new Map<Queue, Unacked[]>();
    for (const u of this.unacked.values()) {
      const list = byQueue.get(u.queue);
      if (list) list.push(u);
      else byQueue.set(u.queue, [u]);
    }
    for (const list of byQueue.values()) this.apply(list, "requeue");
  }

  /** tx.commit: apply the settlements recorded in the transaction, acks first. */
  commit(): void {
    if (this.txSettles === 0) return;
    this.txSettles = 0;
    for (const how of ["ack", "requeue", "reject"] as const) {
      const picked = [...this.unacked.values()].filter((u) => u.tx === how);
      if (picked.length > 0) this.apply(picked, how);
    }
  }

  /** tx.rollback: forget the settlements recorded in the transaction. */
  rollback(): void {
    if (this.txSettles === 0) return;
    this.txSettles = 0;
    for (const u of this.unacked.values()) u.tx = undefined;
  }

  /** The channel closes: requeue everything it holds and cancel its consumers. */
  close(): void {
    for (const u of this.unacked.values()) u.tx = undefined;
    this.requeueAll();
    const consumers = [...this.consumers.values()];
    this.consumers.clear();
    for (const c of consumers) c.queue.removeConsumer(c);
  }
}

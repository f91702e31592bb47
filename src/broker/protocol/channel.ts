/**
 * One AMQP channel: its methods, content assembly for basic.publish, consumers, the
 * unacknowledged deliveries it holds, prefetch, publisher confirms and transactions.
 * Model errors (AmqpError) propagate to the connection, which alone closes the channel
 * or the connection for them.
 */
import { randomBytes } from "node:crypto";
import {
  type ArgValue,
  type BasicProperties,
  type DecodedMethod,
  decodeContentHeader,
  type FieldTable,
} from "../codec/index.js";
import { amqpError } from "../errors.js";
import { expirationProblem, type Message, makeMessage } from "../model/message.js";
import type { Queue, QueueConsumer, QueuedMessage } from "../model/queue.js";
import type { VHost } from "../model/vhost.js";

/** What a channel needs from its connection. */
export interface ChannelHost {
  readonly id: number;
  /** The authenticated user name. */
  readonly user: string;
  readonly vhost: VHost;
  readonly maxMessageSize: number;
  /** The socket can take more deliveries (no backpressure, not closing). */
  readonly writable: boolean;
  readonly consumerCancelNotify: boolean;
  sendMethod(channel: number, name: string, args?: Record<string, ArgValue | undefined>): void;
  sendContent(
    channel: number,
    name: string,
    args: Record<string, ArgValue | undefined>,
    message: Message,
  ): void;
  /** A queue that should try delivering again once this input chunk is handled. */
  markDirty(queue: Queue): void;
  /** A message was accepted from the publisher (for the broker's totals). */
  published(): void;
  /** A message went out in basic.deliver or basic.get-ok (for the broker's totals). */
  delivered(): void;
}

interface Unacked {
  readonly tag: number;
  readonly queue: Queue;
  readonly entry: QueuedMessage;
  readonly consumer: ChannelConsumer | undefined;
  /** Settled inside an open transaction, applied at commit. */
  tx?: "ack" | "requeue" | "reject";
}

interface PendingPublish {
  exchange: string;
  routingKey: string;
  mandatory: boolean;
  properties?: BasicProperties;
  header?: Buffer;
  bodySize: number;
  parts: Buffer[];
  received: number;
}

const str = (v: ArgValue | undefined): string => (typeof v === "string" ? v : "");
const bool = (v: ArgValue | undefined): boolean => v === true;
const num = (v: ArgValue | undefined): number => (typeof v === "number" ? v : Number(v ?? 0));
const table = (v: ArgValue | undefined): FieldTable =>
  v !== undefined && typeof v === "object" && !Buffer.isBuffer(v) && !(v instanceof Uint8Array)
    ? (v as FieldTable)
    : {};

class ChannelConsumer implements QueueConsumer {
  unacked = 0;
  constructor(
    readonly channel: Channel,
    readonly queue: Queue,
    readonly tag: string,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    readonly prefetch: number,
  ) {}

  canTake(): boolean {
    return this.channel.canDeliver(this);
  }

  deliver(queue: Queue, entry: QueuedMessage): void {
    this.channel.deliver(this, queue, entry);
  }

  cancelledByServer(): void {
    this.channel.consumerGone(this);
  }
}

export class Channel {
  private open = true;
  private flowActive = true;
  private mode: "plain" | "confirm" | "tx" = "plain";
  private publishSeq = 0;
  private ackFrom = 0;
  private ackTo = 0;
  private txPublishes: Message[] = [];
  private txMandatory: boolean[] = [];
  private txSettles = 0;
  private pending: PendingPublish | undefined;
  private readonly consumers = new Map<string, ChannelConsumer>();
  private readonly unacked = new Map<number, Unacked>();
  private deliveryTag = 0;
  private consumerPrefetch = 0;
  private globalPrefetch = 0;
  private lastQueue: string | undefined;

  constructor(
    readonly number: number,
    private readonly host: ChannelHost,
  ) {}

  get expectingContent(): boolean {
    return this.pending !== undefined;
  }

  // ------------------------------------------------------------ delivering

  canDeliver(c: ChannelConsumer): boolean {
    if (!this.open || !this.flowActive || !this.host.writable) return false;
    if (c.noAck) return true;
    if (c.prefetch > 0 && c.unacked >= c.prefetch) return false;
    return this.globalPrefetch === 0 || this.unacked.size < this.globalPrefetch;
  }

  deliver(c: ChannelConsumer, queue: Queue, entry: QueuedMessage): void {
    const tag = ++this.deliveryTag;
    this.host.delivered();
    if (c.noAck) queue.settle();
    else {
      this.unacked.set(tag, { tag, queue, entry, consumer: c });
      c.unacked += 1;
    }
    this.host.sendContent(
      this.number,
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

  /** The queue was deleted under a consumer: forget it, and tell a client that listens. */
  consumerGone(c: ChannelConsumer): void {
    if (this.consumers.get(c.tag) !== c) return;
    this.consumers.delete(c.tag);
    if (this.open && this.host.consumerCancelNotify) {
      this.host.sendMethod(this.number, "basic.cancel", { consumerTag: c.tag, nowait: true });
    }
  }

  // ------------------------------------------------------------ methods

  handle(m: DecodedMethod): void {
    const a = m.args;
    switch (m.name) {
      case "channel.flow":
        this.flowActive = bool(a.active);
        this.host.sendMethod(this.number, "channel.flow-ok", { active: this.flowActive });
        if (this.flowActive) this.redrain();
        return;
      case "channel.flow-ok":
        return;
      case "access.request":
        this.host.sendMethod(this.number, "access.request-ok", { ticket: 1 });
        return;
      case "exchange.declare":
        this.host.vhost.declareExchange({
          name: str(a.exchange),
          type: str(a.type),
          passive: bool(a.passive),
          durable: bool(a.durable),
          autoDelete: bool(a.autoDelete),
          internal: bool(a.internal),
          args: table(a.arguments),
        });
        this.reply(a, "exchange.declare-ok");
        return;
      case "exchange.delete":
        this.host.vhost.deleteExchange(str(a.exchange), bool(a.ifUnused));
        this.reply(a, "exchange.delete-ok");
        return;
      case "exchange.bind":
      case "exchange.unbind": {
        const unbind = m.name === "exchange.unbind";
        this.host.vhost.bind(
          this.host.id,
          {
            source: str(a.source),
            destination: str(a.destination),
            destinationType: "exchange",
            routingKey: str(a.routingKey),
            args: table(a.arguments),
          },
          unbind,
        );
        this.reply(a, unbind ? "exchange.unbind-ok" : "exchange.bind-ok");
        return;
      }
      case "queue.declare":
        this.queueDeclare(a);
        return;
      case "queue.bind":
      case "queue.unbind": {
        const unbind = m.name === "queue.unbind";
        this.host.vhost.bind(
          this.host.id,
          {
            source: str(a.exchange),
            destination: this.queueName(a.queue),
            destinationType: "queue",
            routingKey: str(a.routingKey),
            args: table(a.arguments),
          },
          unbind,
        );
        // queue.unbind has no nowait
        if (unbind) this.host.sendMethod(this.number, "queue.unbind-ok");
        else this.reply(a, "queue.bind-ok");
        return;
      }
      case "queue.purge": {
        const n = this.host.vhost.purgeQueue(this.host.id, this.queueName(a.queue));
        this.reply(a, "queue.purge-ok", { messageCount: n });
        return;
      }
      case "queue.delete": {
        const n = this.host.vhost.deleteQueue(
          this.host.id,
          this.queueName(a.queue),
          bool(a.ifUnused),
          bool(a.ifEmpty),
        );
        this.reply(a, "queue.delete-ok", { messageCount: n });
        return;
      }
      case "basic.qos":
        if (num(a.prefetchSize) !== 0) {
          throw amqpError("NOT_IMPLEMENTED", `prefetch_size!=0 (${num(a.prefetchSize)})`);
        }
        if (bool(a.global)) this.globalPrefetch = num(a.prefetchCount);
        else this.consumerPrefetch = num(a.prefetchCount);
        this.host.sendMethod(this.number, "basic.qos-ok");
        this.redrain();
        return;
      case "basic.consume":
        this.consume(a);
        return;
      case "basic.cancel": {
        const tag = str(a.consumerTag);
        const c = this.consumers.get(tag);
        if (c) {
          this.consumers.delete(tag);
          c.queue.removeConsumer(c);
        }
        this.reply(a, "basic.cancel-ok", { consumerTag: tag });
        return;
      }
      case "basic.publish":
        this.startPublish(a);
        return;
      case "basic.get":
        this.get(a);
        return;
      case "basic.ack":
        this.settle(num(a.deliveryTag), bool(a.multiple), "ack");
        return;
      case "basic.nack":
        this.settle(num(a.deliveryTag), bool(a.multiple), bool(a.requeue) ? "requeue" : "reject");
        return;
      case "basic.reject":
        this.settle(num(a.deliveryTag), false, bool(a.requeue) ? "requeue" : "reject");
        return;
      case "basic.recover-async":
      case "basic.recover":
        if (!bool(a.requeue)) throw amqpError("NOT_IMPLEMENTED", "requeue=false");
        this.requeueAll();
        if (m.name === "basic.recover") this.host.sendMethod(this.number, "basic.recover-ok");
        return;
      case "confirm.select":
        if (this.mode === "tx") {
          throw amqpError("PRECONDITION_FAILED", "cannot switch from tx to confirm mode");
        }
        this.mode = "confirm";
        this.reply(a, "confirm.select-ok");
        return;
      case "tx.select":
        if (this.mode === "confirm") {
          throw amqpError("PRECONDITION_FAILED", "cannot switch from confirm to tx mode");
        }
        this.mode = "tx";
        this.host.sendMethod(this.number, "tx.select-ok");
        return;
      case "tx.commit":
        this.needTx();
        this.commit();
        this.host.sendMethod(this.number, "tx.commit-ok");
        return;
      case "tx.rollback":
        this.needTx();
        this.rollback();
        this.host.sendMethod(this.number, "tx.rollback-ok");
        return;
      default:
        throw amqpError("COMMAND_INVALID", `unexpected method ${m.name} on a channel`);
    }
  }

  private reply(
    a: Record<string, ArgValue>,
    name: string,
    args?: Record<string, ArgValue | undefined>,
  ): void {
    if (!bool(a.nowait)) this.host.sendMethod(this.number, name, args);
  }

  /** "" means the queue last declared on this channel, as in RabbitMQ. */
  private queueName(v: ArgValue | undefined): string {
    const name = str(v);
    if (name !== "") return name;
    if (this.lastQueue === undefined) throw amqpError("NOT_FOUND", "no previously declared queue");
    return this.lastQueue;
  }

  private queueDeclare(a: Record<string, ArgValue>): void {
    const passive = bool(a.passive);
    const requested = str(a.queue);
    const q = this.host.vhost.declareQueue(this.host.id, {
      name: passive && requested === "" ? this.queueName("") : requested,
      passive,
      durable: bool(a.durable),
      exclusive: bool(a.exclusive),
      autoDelete: bool(a.autoDelete),
      args: table(a.arguments),
    });
    this.lastQueue = q.name;
    this.reply(a, "queue.declare-ok", {
      queue: q.name,
      messageCount: q.messageCount,
      consumerCount: q.consumers.length,
    });
  }

  private consume(a: Record<string, ArgValue>): void {
    const q = this.host.vhost.queue(this.queueName(a.queue), this.host.id);
    let tag = str(a.consumerTag);
    if (tag === "") tag = `amq.ctag-${randomBytes(16).toString("base64url").slice(0, 22)}`;
    else if (this.consumers.has(tag)) {
      throw amqpError("NOT_ALLOWED", `attempt to reuse consumer tag '${tag}'`);
    }
    const exclusive = bool(a.exclusive);
    if (q.exclusiveConsumer || (exclusive && q.consumers.length > 0)) {
      throw amqpError("ACCESS_REFUSED", `queue '${q.name}' in vhost '/' in exclusive use`);
    }
    const c = new ChannelConsumer(this, q, tag, bool(a.noAck), exclusive, this.consumerPrefetch);
    this.consumers.set(tag, c);
    this.reply(a, "basic.consume-ok", { consumerTag: tag });
    q.addConsumer(c);
  }

  private get(a: Record<string, ArgValue>): void {
    const q = this.host.vhost.queue(this.queueName(a.queue), this.host.id);
    const entry = q.get();
    if (!entry) {
      this.host.sendMethod(this.number, "basic.get-empty", { clusterId: "" });
      return;
    }
    const tag = ++this.deliveryTag;
    this.host.delivered();
    if (bool(a.noAck)) q.settle();
    else this.unacked.set(tag, { tag, queue: q, entry, consumer: undefined });
    this.host.sendContent(
      this.number,
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

  private settle(tag: number, multiple: boolean, how: "ack" | "requeue" | "reject"): void {
    const picked: Unacked[] = [];
    if (multiple) {
      // Map order is delivery order; tag 0 with multiple means "everything so far".
      const upTo = tag === 0 ? Number.POSITIVE_INFINITY : tag;
      for (const u of this.unacked.values()) {
        if (u.tag > upTo) break;
        if (u.tx === undefined) picked.push(u);
      }
      // As RabbitMQ: the tag itself must be outstanding.
      if (tag !== 0 && this.unacked.get(tag)?.tx !== undefined) picked.length = 0;
      if (tag !== 0 && (picked.length === 0 || !this.unacked.has(tag))) {
        throw amqpError("PRECONDITION_FAILED", `unknown delivery tag ${tag}`);
      }
    } else {
      const u = this.unacked.get(tag);
      if (!u || u.tx !== undefined) {
        throw amqpError("PRECONDITION_FAILED", `unknown delivery tag ${tag}`);
      }
      picked.push(u);
    }
    if (this.mode === "tx") {
      for (const u of picked) u.tx = how;
      this.txSettles += picked.length;
      return;
    }
    this.apply(picked, how);
  }

  private apply(picked: Unacked[], how: "ack" | "requeue" | "reject"): void {
    let lastQueue: Queue | undefined;
    let batch: QueuedMessage[] = [];
    const flush = () => {
      if (!lastQueue || batch.length === 0) return;
      if (how === "ack") lastQueue.settle(batch.length);
      else if (how === "requeue") lastQueue.requeue(batch);
      else lastQueue.reject(batch);
      this.host.markDirty(lastQueue);
      batch = [];
    };
    for (const u of picked) {
      this.unacked.delete(u.tag);
      if (u.consumer) {
        u.consumer.unacked -= 1;
        this.host.markDirty(u.consumer.queue);
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
  private requeueAll(): void {
    const all = [...this.unacked.values()];
    const byQueue = new Map<Queue, Unacked[]>();
    for (const u of all) {
      const list = byQueue.get(u.queue);
      if (list) list.push(u);
      else byQueue.set(u.queue, [u]);
    }
    for (const list of byQueue.values()) this.apply(list, "requeue");
  }

  private redrain(): void {
    for (const c of this.consumers.values()) this.host.markDirty(c.queue);
  }

  // ------------------------------------------------------------ publishing

  private startPublish(a: Record<string, ArgValue>): void {
    if (bool(a.immediate)) throw amqpError("NOT_IMPLEMENTED", "immediate=true");
    const exchange = str(a.exchange);
    // Fail before the content arrives (its user-id is checked after these, as in RabbitMQ);
    // the content is then ignored.
    this.host.vhost.publishTarget(exchange);
    this.pending = {
      exchange,
      routingKey: str(a.routingKey),
      mandatory: bool(a.mandatory),
      bodySize: -1,
      parts: [],
      received: 0,
    };
  }

  /** A content header frame for the publish in progress. */
  contentHeader(payload: Buffer): void {
    const p = this.pending as PendingPublish;
    const header = decodeContentHeader(payload);
    const size = Number(header.bodySize);
    if (size > this.host.maxMessageSize) {
      this.pending = undefined;
      throw amqpError(
        "PRECONDITION_FAILED",
        `message size ${size} is larger than configured max size ${this.host.maxMessageSize}`,
      );
    }
    p.properties = header.properties;
    p.header = Buffer.from(payload);
    p.bodySize = size;
    if (size === 0) this.completePublish(Buffer.alloc(0));
  }

  get expectingHeader(): boolean {
    return this.pending !== undefined && this.pending.bodySize < 0;
  }

  /** A body frame; false when it overruns the declared size. */
  contentBody(payload: Buffer): boolean {
    const p = this.pending as PendingPublish;
    if (p.received + payload.length > p.bodySize) return false;
    if (p.received === 0 && payload.length === p.bodySize) {
      this.completePublish(Buffer.from(payload));
      return true;
    }
    p.parts.push(Buffer.from(payload));
    p.received += payload.length;
    if (p.received === p.bodySize) this.completePublish(Buffer.concat(p.parts, p.bodySize));
    return true;
  }

  private completePublish(body: Buffer): void {
    const p = this.pending as PendingPublish;
    this.pending = undefined;
    // As RabbitMQ (without the impersonator tag): a user-id must name the connection's user.
    const userId = p.properties?.userId;
    if (userId !== undefined && userId !== this.host.user) {
      throw amqpError(
        "PRECONDITION_FAILED",
        `user_id property set to '${userId}' but authenticated user was '${this.host.user}'`,
      );
    }
    const expiration = p.properties?.expiration;
    const invalid = expiration === undefined ? undefined : expirationProblem(expiration);
    if (invalid !== undefined)
      throw amqpError("PRECONDITION_FAILED", `invalid expiration '${expiration}': ${invalid}`);
    const message = makeMessage(p.exchange, p.routingKey, p.properties ?? {}, body, p.header);
    this.host.published();
    if (this.mode === "tx") {
      this.txPublishes.push(message);
      this.txMandatory.push(p.mandatory);
      return;
    }
    this.publish(message, p.mandatory);
  }

  private publish(message: Message, mandatory: boolean): void {
    const seq = this.mode === "confirm" ? ++this.publishSeq : 0;
    const outcome = this.host.vhost.publish(message.exchange, message);
    if (outcome.routed === 0 && !outcome.rejected && mandatory) {
      this.host.sendContent(
        this.number,
        "basic.return",
        {
          replyCode: 312,
          replyText: "NO_ROUTE",
          exchange: message.exchange,
          routingKey: message.routingKey,
        },
        message,
      );
    }
    if (seq === 0) return;
    if (outcome.rejected) {
      this.flushConfirms();
      this.host.sendMethod(this.number, "basic.nack", {
        deliveryTag: seq,
        multiple: false,
        requeue: false,
      });
    } else {
      if (this.ackTo === 0) this.ackFrom = seq;
      this.ackTo = seq;
    }
  }

  /** Send the confirms gathered while handling one input chunk, as one ack. */
  flushConfirms(): void {
    if (this.ackTo === 0) return;
    this.host.sendMethod(this.number, "basic.ack", {
      deliveryTag: this.ackTo,
      multiple: this.ackTo !== this.ackFrom,
    });
    this.ackFrom = 0;
    this.ackTo = 0;
  }

  // ------------------------------------------------------------ transactions

  private needTx(): void {
    if (this.mode !== "tx") {
      throw amqpError("PRECONDITION_FAILED", "channel is not transactional");
    }
  }

  private commit(): void {
    const publishes = this.txPublishes;
    const mandatory = this.txMandatory;
    this.txPublishes = [];
    this.txMandatory = [];
    publishes.forEach((m, i) => {
      this.publish(m, mandatory[i] === true);
    });
    if (this.txSettles === 0) return;
    this.txSettles = 0;
    for (const how of ["ack", "requeue", "reject"] as const) {
      const picked = [...this.unacked.values()].filter((u) => u.tx === how);
      if (picked.length > 0) this.apply(picked, how);
    }
  }

  private rollback(): void {
    this.txPublishes = [];
    this.txMandatory = [];
    if (this.txSettles === 0) return;
    this.txSettles = 0;
    for (const u of this.unacked.values()) u.tx = undefined;
  }

  // ------------------------------------------------------------ closing

  /** Stop: cancel consumers and give back unacknowledged deliveries. Idempotent. */
  close(): void {
    if (!this.open) return;
    this.flushConfirms();
    this.open = false;
    this.pending = undefined;
    for (const u of this.unacked.values()) u.tx = undefined;
    this.requeueAll();
    const consumers = [...this.consumers.values()];
    this.consumers.clear();
    for (const c of consumers) c.queue.removeConsumer(c);
  }

  get consumerCount(): number {
    return this.consumers.size;
  }

  get unackedCount(): number {
    return this.unacked.size;
  }
}

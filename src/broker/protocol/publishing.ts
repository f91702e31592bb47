/**
 * A channel's publishing side: basic.publish and the content frames that complete it, the
 * checks RabbitMQ makes on a message, routing it (basic.return for an unroutable mandatory
 * one), publisher confirms (confirms.ts), and the publishes a transaction holds until
 * tx.commit.
 */
import { type BasicProperties, decodeContentHeader } from "../codec/index.js";
import { amqpError, REPLY } from "../errors.js";
import { expirationProblem, type Message, makeMessage } from "../model/message.js";
import type { Channel } from "./channel.js";
import { Confirms } from "./confirms.js";

interface PendingPublish {
  readonly exchange: string;
  readonly routingKey: string;
  readonly mandatory: boolean;
  properties?: BasicProperties;
  header?: Buffer;
  /** -1 until the content header arrives. */
  bodySize: number;
  parts: Buffer[];
  received: number;
}

export class Publisher {
  private pending: PendingPublish | undefined;
  /** The last publish sequence number handed out in confirm mode. */
  private publishSeq = 0;
  private readonly confirms: Confirms;
  private txPublishes: { message: Message; mandatory: boolean }[] = [];

  constructor(private readonly channel: Channel) {
    this.confirms = new Confirms(channel, channel.host.vhost.journal);
  }

  /** A basic.publish is waiting for its content header or body. */
  get expectingContent(): boolean {
    return this.pending !== undefined;
  }

  /** A basic.publish is waiting for its content header. */
  get expectingHeader(): boolean {
    return this.pending !== undefined && this.pending.bodySize < 0;
  }

  /** basic.publish: the method frame; the content follows. */
  start(args: {
    exchange: string;
    routingKey: string;
    mandatory: boolean;
    immediate: boolean;
  }): void {
    if (args.immediate) throw amqpError("NOT_IMPLEMENTED", "immediate=true");
    // Fail before the content arrives (its user-id is checked after these, as in RabbitMQ);
    // the content is then ignored.
    this.channel.host.vhost.publishTarget(args.exchange);
    this.pending = {
      exchange: args.exchange,
      routingKey: args.routingKey,
      mandatory: args.mandatory,
      bodySize: -1,
      parts: [],
      received: 0,
    };
  }

  /** A content header frame for the publish in progress. */
  contentHeader(payload: Buffer): void {
    const p = this.pending as PendingPublish;
    const header = decodeContentHeader(payload);
    const max = this.channel.host.maxMessageSize;
    // The size is a uint64 (a bigint past 2^53): compared and printed exactly, as RabbitMQ's
    // ~B does. RabbitMQ says this once the whole body has arrived; refusing at the header
    // spares buffering a body that is refused anyway.
    if (BigInt(header.bodySize) > BigInt(max)) {
      this.pending = undefined;
      throw amqpError(
        "PRECONDITION_FAILED",
        `message size ${header.bodySize} is larger than configured max size ${max}`,
      );
    }
    const size = Number(header.bodySize);
    p.properties = header.properties;
    p.header = Buffer.from(payload);
    p.bodySize = size;
    if (size === 0) this.complete(Buffer.alloc(0));
  }

  /** A body frame; false when it overruns the declared size. */
  contentBody(payload: Buffer): boolean {
    const p = this.pending as PendingPublish;
    if (p.received + payload.length > p.bodySize) return false;
    if (p.received === 0 && payload.length === p.bodySize) {
      this.complete(Buffer.from(payload));
      return true;
    }
    p.parts.push(Buffer.from(payload));
    p.received += payload.length;
    if (p.received === p.bodySize) this.complete(Buffer.concat(p.parts, p.bodySize));
    return true;
  }

  private complete(body: Buffer): void {
    const p = this.pending as PendingPublish;
    this.pending = undefined;
    const host = this.channel.host;
    // reply_to: amq.rabbitmq.reply-to names this channel's reply consumer (protocol/reply-to.ts).
    const replyTo = this.channel.deliveries.replyTo.rewrite(p.properties);
    // As RabbitMQ (without the impersonator tag): a user-id must name the connection's user.
    const userId = p.properties?.userId;
    if (userId !== undefined && userId !== host.user) {
      throw amqpError(
        "PRECONDITION_FAILED",
        `user_id property set to '${userId}' but authenticated user was '${host.user}'`,
      );
    }
    const expiration = p.properties?.expiration;
    const invalid = expiration === undefined ? undefined : expirationProblem(expiration);
    if (invalid !== undefined)
      throw amqpError("PRECONDITION_FAILED", `invalid expiration '${expiration}': ${invalid}`);
    const message = replyTo
      ? makeMessage(p.exchange, p.routingKey, replyTo, body)
      : makeMessage(p.exchange, p.routingKey, p.properties ?? {}, body, p.header);
    host.published();
    if (this.channel.mode === "confirm") host.totals.receivedConfirm += 1;
    if (this.channel.mode === "tx") {
      // RabbitMQ traces a transaction's publish when it arrives, even if rolled back.
      const { tracer } = host.vhost;
      if (tracer.enabled)
        tracer.published(message, host.vhost.route(p.exchange, message).queues, this.channel);
      this.txPublishes.push({ message, mandatory: p.mandatory });
      return;
    }
    this.publish(message, p.mandatory);
  }

  private publish(message: Message, mandatory: boolean): void {
    const seq = this.channel.mode === "confirm" ? ++this.publishSeq : 0;
    const before = this.confirms.position();
    // A transaction's publishes were traced when they arrived, not again at commit.
    const traced = this.channel.mode !== "tx";
    const outcome = this.channel.host.vhost.publish(
      message.exchange,
      message,
      this.channel,
      traced,
    );
    const totals = this.channel.host.totals;
    // As RabbitMQ counts: routed when some queue was picked, even one that refused it.
    if (outcome.routed > 0 || outcome.rejected) totals.routed += 1;
    else if (mandatory) totals.unroutableReturned += 1;
    else totals.unroutableDropped += 1;
    if (outcome.routed === 0 && !outcome.rejected && mandatory) {
      this.channel.sendContent(
        "basic.return",
        {
          replyCode: REPLY.NO_ROUTE,
          replyText: "NO_ROUTE",
          exchange: message.exchange,
          routingKey: message.routingKey,
        },
        message,
      );
    }
    if (seq === 0) return;
    if (outcome.rejected) this.confirms.nack(seq);
    else this.confirms.ack(seq, before);
  }

  /** Send the confirms gathered while handling one input chunk. */
  flushConfirms(): void {
    this.confirms.flush();
  }

  /** tx.commit: publish what the transaction held, in order. */
  commit(): void {
    const publishes = this.txPublishes;
    this.txPublishes = [];
    for (const { message, mandatory } of publishes) this.publish(message, mandatory);
  }

  /** tx.rollback: drop what the transaction held. */
  rollback(): void {
    this.txPublishes = [];
  }

  /** The channel closes: a publish whose content has not all arrived is dropped. */
  abandon(): void {
    this.pending = undefined;
  }
}

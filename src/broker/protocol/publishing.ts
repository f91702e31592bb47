/**
 * A channel's publishing side: basic.publish and the content frames that complete it, the
 * checks RabbitMQ makes on a message, routing it (basic.return for an unroutable mandatory
 * one), publisher confirms gathered into one ack per input chunk, and the publishes a
 * transaction holds until tx.commit.
 */
import { type BasicProperties, decodeContentHeader } from "../codec/index.js";
import { amqpError, REPLY } from "../errors.js";
import { expirationProblem, type Message, makeMessage } from "../model/message.js";
import type { Channel } from "./channel.js";

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
  /** Confirms gathered since the last flush: from ackFrom to ackTo, none when ackTo is 0. */
  private ackFrom = 0;
  private ackTo = 0;
  private txPublishes: { message: Message; mandatory: boolean }[] = [];

  constructor(private readonly channel: Channel) {}

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
    const size = Number(header.bodySize);
    const max = this.channel.host.maxMessageSize;
    if (size > max) {
      this.pending = undefined;
      throw amqpError(
        "PRECONDITION_FAILED",
        `message size ${size} is larger than configured max size ${max}`,
      );
    }
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
    const message = makeMessage(p.exchange, p.routingKey, p.properties ?? {}, body, p.header);
    host.published();
    if (this.channel.mode === "tx") {
      this.txPublishes.push({ message, mandatory: p.mandatory });
      return;
    }
    this.publish(message, p.mandatory);
  }

  private publish(message: Message, mandatory: boolean): void {
    const seq = this.channel.mode === "confirm" ? ++this.publishSeq : 0;
    const outcome = this.channel.host.vhost.publish(message.exchange, message);
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
    if (outcome.rejected) {
      this.flushConfirms();
      this.channel.send("basic.nack", { deliveryTag: seq, multiple: false, requeue: false });
    } else {
      if (this.ackTo === 0) this.ackFrom = seq;
      this.ackTo = seq;
    }
  }

  /** Send the confirms gathered while handling one input chunk, as one ack. */
  flushConfirms(): void {
    if (this.ackTo === 0) return;
    this.channel.send("basic.ack", {
      deliveryTag: this.ackTo,
      multiple: this.ackTo !== this.ackFrom,
    });
    this.ackFrom = 0;
    this.ackTo = 0;
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

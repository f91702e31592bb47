/**
 * One channel's side of direct reply-to (model/reply-to.ts has the registry): its reply
 * consumer on `amq.rabbitmq.reply-to`, the rewrite of `reply_to` on what it publishes, and
 * the replies it is given. As in RabbitMQ 3.10, replies bypass prefetch and flow, are never
 * acknowledged, and carry the channel's next delivery tag without using it up (so they all
 * have the same tag until a real delivery goes out).
 */
import { randomBytes } from "node:crypto";
import type { BasicProperties } from "../codec/index.js";
import { amqpError } from "../errors.js";
import type { Message } from "../model/message.js";
import { REPLY_QUEUE, type ReplyConsumer } from "../model/reply-to.js";
import type { Channel } from "./channel.js";

export class ReplyTo implements ReplyConsumer {
  private current: { tag: string; token: string } | undefined;

  constructor(
    private readonly channel: Channel,
    /** The delivery tag the channel's next delivery will have. */
    private readonly nextTag: () => number,
  ) {}

  /** basic.consume on amq.rabbitmq.reply-to (the tag was checked against the channel's own). */
  consume(requestedTag: string, noAck: boolean, nowait: boolean): void {
    if (!noAck) throw amqpError("PRECONDITION_FAILED", "reply consumer cannot acknowledge");
    if (this.current) throw amqpError("PRECONDITION_FAILED", "reply consumer already set");
    const tag =
      requestedTag === ""
        ? `amq.ctag-${randomBytes(16).toString("base64url").slice(0, 22)}`
        : requestedTag;
    this.current = { tag, token: this.channel.host.vhost.replies.register(this) };
    this.channel.reply(nowait, "basic.consume-ok", { consumerTag: tag });
  }

  /** basic.cancel: true when `tag` was the reply consumer's. */
  cancel(tag: string): boolean {
    if (this.current?.tag !== tag) return false;
    this.close();
    return true;
  }

  /**
   * The properties of a message this channel publishes, with `reply_to: amq.rabbitmq.reply-to`
   * made into this channel's reply-to name; undefined when nothing changes. Without a reply
   * consumer it is RabbitMQ's 406, which closes the channel.
   */
  rewrite(properties: BasicProperties | undefined): BasicProperties | undefined {
    if (properties?.replyTo !== REPLY_QUEUE) return undefined;
    if (!this.current) throw amqpError("PRECONDITION_FAILED", "fast reply consumer does not exist");
    return { ...properties, replyTo: `${REPLY_QUEUE}.${this.current.token}` };
  }

  deliverReply(message: Message): void {
    if (!this.current || !this.channel.isOpen) return;
    this.channel.host.delivered();
    this.channel.sendContent(
      "basic.deliver",
      {
        consumerTag: this.current.tag,
        deliveryTag: this.nextTag(),
        redelivered: false,
        exchange: message.exchange,
        routingKey: message.routingKey,
      },
      message,
    );
  }

  /** The reply consumer goes (cancelled, or the channel closes): replies to it are dropped. */
  close(): void {
    if (!this.current) return;
    this.channel.host.vhost.replies.unregister(this.current.token);
    this.current = undefined;
  }
}

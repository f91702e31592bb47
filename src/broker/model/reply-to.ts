/**
 * RabbitMQ's direct reply-to: a client consumes from the pseudo-queue `amq.rabbitmq.reply-to`
 * (no-ack), publishes requests with `reply_to: amq.rabbitmq.reply-to`, and the broker gives
 * each request the name `amq.rabbitmq.reply-to.<token>` of that channel's reply consumer. A
 * reply published to the default exchange with that routing key goes straight to the
 * consumer: no queue, no ack, no redelivery. This is the registry of the live reply
 * consumers by token; each channel's side is protocol/reply-to.ts.
 *
 * As in RabbitMQ 3.10: a reply to a channel that has gone (or cancelled its reply consumer)
 * is dropped without a word, and since it reaches no queue, a mandatory reply is returned
 * (312 NO_ROUTE) even when it was delivered. A declare of the pseudo-queue, passive or not,
 * answers 0 messages and 1 consumer; of `amq.rabbitmq.reply-to.<token>`, the same while that
 * reply consumer lives, else 404.
 */
import { randomBytes } from "node:crypto";
import { notFound } from "../errors.js";
import type { Message } from "./message.js";
import { crash } from "./stream-args.js";

export const REPLY_QUEUE = "amq.rabbitmq.reply-to";
const PREFIX = `${REPLY_QUEUE}.`;

/** A channel's reply consumer. */
export interface ReplyConsumer {
  deliverReply(message: Message): void;
}

/** Whether queue.declare of `name` is the direct reply-to's (every declare of it is passive). */
export function isReplyQueueName(name: string): boolean {
  return name.startsWith(REPLY_QUEUE);
}

export class DirectReplies {
  private readonly consumers = new Map<string, ReplyConsumer>();

  /**
   * A new reply consumer's token. RabbitMQ's is the channel's encoded pid and a random key,
   * both base64, joined by a dot; this one has the same shape and names nothing.
   */
  register(consumer: ReplyConsumer): string {
    const token = `${randomBytes(30).toString("base64")}.${randomBytes(16).toString("base64")}`;
    this.consumers.set(token, consumer);
    return token;
  }

  unregister(token: string): void {
    this.consumers.delete(token);
  }

  /** A message published to the default exchange: a reply goes to its consumer, if it lives. */
  route(routingKey: string, message: Message): void {
    if (!routingKey.startsWith(PREFIX)) return;
    this.lookup(routingKey.slice(PREFIX.length))?.deliverReply(message);
  }

  /**
   * The consumer a token names, if it lives. RabbitMQ decodes a token of two parts (its
   * channel's pid, then the key): one that does not decode crashes the channel that asked (541).
   */
  private lookup(token: string): ReplyConsumer | undefined {
    const consumer = this.consumers.get(token);
    if (consumer) return consumer;
    // string:lexemes: empty parts do not count.
    const parts = token.split(".").filter((p) => p !== "");
    if (parts.length === 2 && !/^[A-Za-z0-9+/]{40}$/.test(parts[0] as string))
      throw crash(`reply-to token ${token} does not decode`);
    return undefined;
  }

  /**
   * queue.declare of a reply-to name: its name (CR and LF taken out) when it exists, else
   * RabbitMQ's 404 (or the 541 of a token that does not decode).
   */
  declare(name: string): string {
    const plain = name.replace(/[\r\n]/g, "");
    if (plain === REPLY_QUEUE) return plain;
    if (!plain.startsWith(PREFIX)) throw notFound("queue", plain);
    if (this.lookup(plain.slice(PREFIX.length))) return plain;
    throw notFound("queue", plain);
  }
}

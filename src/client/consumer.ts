/**
 * Consuming a queue, or tapping an exchange through a temporary exclusive queue, with
 * prefetch and an explicit settle policy. The caller decides when each message is
 * settled (so output backpressure can hold acks back).
 */

import type { Channel, ConsumeMessage } from "amqplib";
import { BASIC_PROPERTY_NAMES } from "../broker/codec/spec.js";
import type { HeadersMatch, SettlePolicy } from "../config/constants.js";
import type { PrintableMessage } from "../ui/message.js";
import { within } from "./bounded.js";
import type { Connection } from "./connect.js";
import { brokerError } from "./errors.js";

export interface TapSpec {
  exchange: string;
  routingKey: string;
  headers?: Record<string, unknown> | undefined;
  match?: HeadersMatch | undefined;
}

export interface ConsumerSpec {
  queue?: string | undefined;
  tap?: TapSpec | undefined;
  prefetch: number;
  noAck: boolean;
  /** Where to start reading a stream queue (x-stream-offset); the broker's default is next. */
  offset?: StreamOffset | undefined;
}

/** Where a stream consumer starts: a position, an offset, or a time (sent in whole seconds). */
export type StreamOffset = "first" | "last" | "next" | number | Date;

/** The x-stream-offset argument for `offset`. */
export function offsetArgument(offset: StreamOffset): unknown {
  return offset instanceof Date
    ? { "!": "timestamp", value: Math.floor(offset.getTime() / 1000) }
    : offset;
}

/** The offset a stream gave a delivery (its x-stream-offset header); undefined off a stream. */
export function streamOffsetOf(message: ConsumeMessage): number | undefined {
  const o = message.properties.headers?.["x-stream-offset"];
  return typeof o === "number" ? o : undefined;
}

export type StopReason =
  | "count"
  | "idle"
  | "interrupted"
  | "cancelled-by-broker"
  | "channel-closed"
  | "output-closed";

/** How long close() and cancel() wait for the broker. */
const CLOSE_TIMEOUT_MS = 2000;

export class QueueConsumer {
  private consumerTag: string | undefined;
  private closedError: Error | undefined;
  /** The channel closed: nothing can be settled on it any more (the broker requeues). */
  private gone = false;
  private onDelivery: (msg: ConsumeMessage | null) => void = () => {};
  private widening: Promise<void> | undefined;
  private prefetch: number;
  private wanted = 0;
  /** On a stream: the offset of the last delivery (a stream is told by its deliveries). */
  private lastOffset: number | undefined;
  /**
   * Consumers that a wider one replaced on a stream, with the offset the new one started at:
   * what they deliver from there on, the new one delivers too.
   */
  private readonly replaced = new Map<string, number>();

  private constructor(
    readonly channel: Channel,
    private name: string,
    readonly spec: ConsumerSpec,
  ) {
    this.prefetch = spec.prefetch;
  }

  /** The queue consumed; for a tap, the server-named temporary queue. */
  get queue(): string {
    return this.name;
  }

  static async start(
    connection: Connection,
    spec: ConsumerSpec,
    /** Called for each delivery, possibly before start() resolves: settle through `self`. */
    onMessage: (message: ConsumeMessage, self: QueueConsumer) => void,
    onStop: (reason: StopReason, error: Error | undefined, self: QueueConsumer) => void,
  ): Promise<QueueConsumer> {
    const channel = await connection.model.createChannel();
    let stopped = false;
    const stop = (reason: StopReason, error?: Error) => {
      if (stopped) return;
      stopped = true;
      onStop(reason, error, consumer);
    };
    channel.on("error", (err: Error) => {
      consumer.closedError = err;
    });
    channel.on("close", () => {
      consumer.gone = true;
      stop("channel-closed", consumer.closedError);
    });
    const consumer = new QueueConsumer(channel, spec.queue ?? "", spec);
    let queue = consumer.queue;
    try {
      if (spec.tap) {
        const tap = spec.tap;
        const declared = await channel.assertQueue("", {
          exclusive: true,
          autoDelete: true,
          durable: false,
        });
        queue = declared.queue;
        consumer.name = queue;
        const args = tap.headers ? { ...tap.headers, "x-match": tap.match ?? "all" } : undefined;
        try {
          await channel.bindQueue(queue, tap.exchange, tap.routingKey, args);
        } catch (err) {
          throw brokerError(err, { op: "tap", exchange: tap.exchange, queue }, connection);
        }
      }
      if (spec.prefetch > 0 && !spec.noAck) await channel.prefetch(spec.prefetch);
      consumer.onDelivery = (msg) => {
        if (msg === null) stop("cancelled-by-broker");
        else if (consumer.fresh(msg)) onMessage(msg, consumer);
      };
      const args =
        spec.offset === undefined
          ? {}
          : { arguments: { "x-stream-offset": offsetArgument(spec.offset) } };
      const ok = await channel
        .consume(queue, consumer.onDelivery, { noAck: spec.noAck, ...args })
        .catch((err: unknown) => {
          throw brokerError(err, { op: "consume", queue }, connection);
        });
      consumer.consumerTag = ok.consumerTag;
    } catch (err) {
      stopped = true;
      await channel.close().catch(() => {});
      throw err;
    }
    return consumer;
  }

  /** True while the channel is open: settling on it still means something. */
  get alive(): boolean {
    return !this.gone && this.closedError === undefined;
  }

  /** The channel's error, when the broker closed it (404, 406, …) rather than the connection going. */
  get channelError(): Error | undefined {
    return this.closedError;
  }

  /**
   * Whether a delivery is news: on a stream, what a replaced consumer delivers from the offset
   * its replacement started at comes twice, and the replaced one's copy is acked and dropped.
   */
  private fresh(message: ConsumeMessage): boolean {
    const offset = streamOffsetOf(message);
    if (offset === undefined) return true;
    const from = this.replaced.get(message.fields.consumerTag);
    if (from !== undefined && offset >= from) {
      if (this.alive) this.channel.ack(message);
      return false;
    }
    this.lastOffset = Math.max(this.lastOffset ?? offset, offset);
    return true;
  }

  /** Settle on the channel; false when it is gone (the broker requeues the message itself). */
  settle(message: ConsumeMessage, policy: SettlePolicy): boolean {
    if (this.spec.noAck) return true;
    if (!this.alive) return false;
    if (policy === "ack") this.channel.ack(message);
    else if (policy === "reject") this.channel.reject(message, false);
    else this.channel.nack(message, false, true);
    return true;
  }

  /**
   * Ack `message` and every earlier unsettled delivery on the channel (basic.ack, multiple):
   * for a caller that settles in delivery order and is the only one settling here.
   */
  ackUpTo(message: ConsumeMessage): boolean {
    if (this.spec.noAck) return true;
    if (!this.alive) return false;
    this.channel.ack(message, true);
    return true;
  }

  /** The prefetch deliveries are limited by now. */
  get currentPrefetch(): number {
    return this.prefetch;
  }

  /**
   * Let more messages be unacknowledged at once. A consumer's prefetch is fixed when it starts
   * (basic.qos changes only later consumers, on RabbitMQ and here alike), so a new consumer
   * with the larger prefetch takes over on the same channel and the old one is cancelled;
   * unacknowledged messages stay with the channel and are settled as before. On a stream the
   * new consumer starts after the last delivery (else it would start at the end).
   */
  widen(prefetch: number): void {
    this.wanted = Math.max(this.wanted, prefetch);
    if (this.spec.noAck || !this.alive || !this.consumerTag || this.widening) return;
    if (this.wanted <= this.prefetch) return;
    const next = this.wanted;
    this.prefetch = next;
    this.widening = (async () => {
      try {
        await this.channel.prefetch(next);
        const old = this.consumerTag;
        const from = this.lastOffset === undefined ? undefined : this.lastOffset + 1;
        if (old !== undefined && from !== undefined) this.replaced.set(old, from);
        const args = from === undefined ? {} : { arguments: { "x-stream-offset": from } };
        const ok = await this.channel.consume(this.name, this.onDelivery, {
          noAck: false,
          ...args,
        });
        this.consumerTag = ok.consumerTag;
        if (old) await this.channel.cancel(old);
      } catch {
        // the channel closed meanwhile: its close is reported through onStop
      } finally {
        this.widening = undefined;
      }
      // Asked for more while this one was under way.
      this.widen(this.wanted);
    })();
  }

  /**
   * Put a message back without counting it as handled (e.g. past --count). A stream keeps
   * every message anyway, and refuses basic.nack (RabbitMQ closes the connection for it): its
   * deliveries are left to the channel's close.
   */
  giveBack(message: ConsumeMessage): void {
    if (this.spec.noAck || !this.alive || streamOffsetOf(message) !== undefined) return;
    this.channel.nack(message, false, true);
  }

  /** Stop new deliveries. Messages already delivered may still be settled afterwards. */
  async cancel(): Promise<void> {
    await this.widening;
    if (!this.consumerTag || !this.alive) return;
    const tag = this.consumerTag;
    this.consumerTag = undefined;
    await within(this.channel.cancel(tag), CLOSE_TIMEOUT_MS);
  }

  /** Close the channel, waiting for the broker a bounded time. */
  async close(): Promise<void> {
    if (this.gone) return;
    await within(this.channel.close(), CLOSE_TIMEOUT_MS);
  }
}

/** A delivered message as plain data, for printers that know nothing of AMQP. */
export interface PlainMessage extends PrintableMessage {
  deliveryTag: number;
}

/** The basic properties of AMQP 0-9-1 other than headers, in the spec's order. */
const PROPERTY_NAMES = BASIC_PROPERTY_NAMES.filter((name) => name !== "headers");

export function toPlain(message: ConsumeMessage): PlainMessage {
  const p = message.properties as unknown as Record<string, unknown>;
  const { headers } = p;
  const properties: Record<string, unknown> = {};
  for (const k of PROPERTY_NAMES) {
    const v = p[k];
    if (v !== undefined && v !== null) properties[k] = v;
  }
  return {
    exchange: message.fields.exchange,
    routingKey: message.fields.routingKey,
    redelivered: message.fields.redelivered,
    deliveryTag: message.fields.deliveryTag,
    headers: (headers as Record<string, unknown> | undefined) ?? {},
    properties,
    body: message.content,
  };
}

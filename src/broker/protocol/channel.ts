/**
 * One AMQP channel: its state, the dispatch of the methods a client sends on it to the
 * handlers of their class (methods/), and closing. Consumers, deliveries and their
 * settlement are in deliveries.ts; content assembly, publishing, confirms and transactional
 * publishes in publishing.ts. Model errors (AmqpError) propagate to the connection, which
 * alone closes the channel or the connection for them.
 */
import type {
  ArgsParam,
  ContentMethodName,
  DecodedMethod,
  MethodName,
  MethodParams,
} from "../codec/index.js";
import { amqpError } from "../errors.js";
import type { Message } from "../model/message.js";
import type { Queue } from "../model/queue.js";
import type { Stream } from "../model/stream.js";
import type { VHost } from "../model/vhost.js";
import type { Totals } from "./connection.js";
import { Deliveries } from "./deliveries.js";
import { CHANNEL_METHODS, type Handler } from "./methods/index.js";
import { Publisher } from "./publishing.js";
import type { ChannelView } from "./views.js";

/** What a channel needs from its connection. */
export interface ChannelHost {
  readonly id: number;
  /** The authenticated user name. */
  readonly user: string;
  /** As RabbitMQ names a connection (the firehose reports it): `peer:port -> broker:port`. */
  readonly connectionName: string;
  /** The client's connection_name client property, if it sent one. */
  readonly clientName?: string | undefined;
  readonly vhost: VHost;
  readonly maxMessageSize: number;
  /** The socket can take more deliveries (no backpressure, not closing). */
  readonly writable: boolean;
  readonly consumerCancelNotify: boolean;
  /** The delivery acknowledgement timeout, ms (RabbitMQ's consumer_timeout); false for none. */
  readonly consumerTimeout: number | false;
  /** Close `channel` for an error found outside a method (the consumer timeout). */
  channelError(channel: Channel, err: Error): void;
  sendMethod<K extends MethodName>(
    channel: number,
    name: K,
    ...args: ArgsParam<MethodParams[K]>
  ): void;
  sendContent<K extends ContentMethodName>(
    channel: number,
    name: K,
    args: MethodParams[K],
    message: Message,
  ): void;
  /** A queue that should try delivering again once this input chunk is handled. */
  markDirty(queue: Queue | Stream): void;
  /** A message was accepted from the publisher (for the broker's totals). */
  published(): void;
  /** A message went out in basic.deliver or basic.get-ok (for the broker's totals). */
  delivered(): void;
  /** The broker's counters (Prometheus global counters), incremented where events happen. */
  readonly totals: Totals;
}

/** How a channel takes publishes: plainly, with publisher confirms, or in transactions. */
export type PublishMode = "plain" | "confirm" | "tx";

export class Channel {
  private open = true;
  private flowActive = true;
  /** Set once by confirm.select or tx.select; the two modes exclude each other. */
  mode: PublishMode = "plain";
  private lastQueue: string | undefined;
  readonly deliveries: Deliveries;
  readonly publisher: Publisher;

  constructor(
    readonly number: number,
    readonly host: ChannelHost,
  ) {
    this.deliveries = new Deliveries(this);
    this.publisher = new Publisher(this);
  }

  /** Deliveries may go out: the channel is open, its flow is on, the socket takes more. */
  get canDeliver(): boolean {
    return this.open && this.flowActive && this.host.writable;
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** A method the client sent on this channel (channel.open and close are the connection's). */
  handle(m: DecodedMethod): void {
    this.dispatch(m);
  }

  private dispatch<K extends MethodName>(m: { name: K; args: MethodParams[K] }): void {
    const handler: Handler<K> | undefined = CHANNEL_METHODS[m.name];
    if (handler === undefined) {
      throw amqpError("COMMAND_INVALID", `unexpected method ${m.name} on a channel`);
    }
    handler(this, m.args);
  }

  send<K extends MethodName>(name: K, ...args: ArgsParam<MethodParams[K]>): void {
    this.host.sendMethod(this.number, name, ...args);
  }

  /** Answer a method, unless the client asked for no answer (nowait). */
  reply<K extends MethodName>(nowait: boolean, name: K, ...args: ArgsParam<MethodParams[K]>): void {
    if (!nowait) this.send(name, ...args);
  }

  sendContent<K extends ContentMethodName>(name: K, args: MethodParams[K], message: Message): void {
    this.host.sendContent(this.number, name, args, message);
  }

  /** channel.flow: stop or resume deliveries to this channel's consumers. */
  setFlow(active: boolean): void {
    this.flowActive = active;
  }

  /** "" means the queue last declared on this channel, as in RabbitMQ. */
  queueName(name: string): string {
    if (name !== "") return name;
    if (this.lastQueue === undefined) throw amqpError("NOT_FOUND", "no previously declared queue");
    return this.lastQueue;
  }

  /** The queue a queue.declare on this channel named, for later methods that name none. */
  declared(name: string): void {
    this.lastQueue = name;
  }

  /** Stop: cancel consumers and give back unacknowledged deliveries. Idempotent. */
  view(): ChannelView {
    return { number: this.number, mode: this.mode, ...this.deliveries.view() };
  }

  close(): void {
    if (!this.open) return;
    this.publisher.flushConfirms();
    this.open = false;
    this.publisher.abandon();
    this.deliveries.close();
  }
}

/**
 * Publishing with publisher confirms tracked in a window, mandatory returns counted,
 * and write backpressure respected. The publish loop stays synchronous while it may
 * go on, and awaits only when the window is full or the socket buffer is.
 */
import type { Channel, ConfirmChannel, Message, Options } from "amqplib";
import type { PublishProperties, RenderedMessage } from "../config/templates.js";
import type { Connection } from "./connect.js";
import { brokerError } from "./errors.js";

export interface PublisherOptions {
  /** Use publisher confirms (default true). */
  confirm: boolean;
  /** Mark messages mandatory so unroutable ones come back (default true). */
  mandatory: boolean;
  /** Outstanding unconfirmed messages allowed before publishing waits. */
  window: number;
}

export interface ReturnedSample {
  exchange: string;
  routingKey: string;
  replyCode: number;
  replyText: string;
  /** How many returns had this exchange, routing key and reply. */
  count: number;
}

export interface PublisherStats {
  published: number;
  confirmed: number;
  nacked: number;
  returned: number;
  /** Published but neither acked nor nacked yet. */
  outstanding: number;
  /**
   * Published, and the channel closed before the broker answered: they may or may not have
   * been routed. Without confirms, every message sent after the last successful round trip
   * on the channel, when the channel then failed.
   */
  unanswered: number;
}

const MAX_RETURN_SAMPLES = 5;

export class Publisher {
  readonly stats: PublisherStats = {
    published: 0,
    confirmed: 0,
    nacked: 0,
    returned: 0,
    outstanding: 0,
    unanswered: 0,
  };
  readonly returnedSamples: ReturnedSample[] = [];
  private waiters: Array<() => void> = [];
  private writable = true;
  private failure: Error | undefined;
  private closing = false;
  /** Set before amqplib fails the pending confirms of a closing channel. */
  private channelClosed = false;
  /** Without confirms: messages known to have reached the broker (a later round trip came back). */
  private synced = 0;
  private readonly onConfirm: (err: unknown) => void;

  private constructor(
    private readonly channel: Channel | ConfirmChannel,
    private readonly options: PublisherOptions,
    private readonly connection: Connection,
  ) {
    this.onConfirm = (err) => {
      this.stats.outstanding -= 1;
      // amqplib fails every pending confirm when the channel closes: that is no answer from
      // the broker, not a nack.
      if (err && this.channelClosed) this.stats.unanswered += 1;
      else if (err) this.stats.nacked += 1;
      else this.stats.confirmed += 1;
      this.wake();
    };
    channel.on("drain", () => {
      this.writable = true;
      this.wake();
    });
    channel.on("return", (msg: Message) => {
      this.stats.returned += 1;
      const f = msg.fields as unknown as {
        exchange: string;
        routingKey: string;
        replyCode: number;
        replyText: string;
      };
      const same = this.returnedSamples.find(
        (r) =>
          r.exchange === f.exchange && r.routingKey === f.routingKey && r.replyCode === f.replyCode,
      );
      if (same) same.count += 1;
      else if (this.returnedSamples.length < MAX_RETURN_SAMPLES) {
        this.returnedSamples.push({
          exchange: f.exchange,
          routingKey: f.routingKey,
          replyCode: f.replyCode,
          replyText: f.replyText,
          count: 1,
        });
      }
    });
    const fail = (err?: unknown) => {
      this.failure ??= err instanceof Error ? err : new Error("Channel closed");
      this.wake();
    };
    channel.on("error", fail);
    channel.prependListener("close", () => {
      this.channelClosed = true;
    });
    channel.on("close", () => {
      if (!this.closing) fail(this.connection.closeReason);
    });
  }

  static async open(connection: Connection, options: PublisherOptions): Promise<Publisher> {
    const channel = options.confirm
      ? await connection.model.createConfirmChannel()
      : await connection.model.createChannel();
    return new Publisher(channel, options, connection);
  }

  /** The error that ended the channel, if any (e.g. 404 for a missing exchange). */
  get error(): Error | undefined {
    return this.failure;
  }

  /**
   * Publish one message. Returns true when the caller may publish the next one at once,
   * false when it must `await ready()` first (window full or socket buffer full).
   */
  publish(message: RenderedMessage): boolean {
    if (this.failure) throw this.failure;
    const options = toAmqpOptions(message.properties, this.options.mandatory);
    if (this.options.confirm) {
      this.stats.outstanding += 1;
      this.writable = (this.channel as ConfirmChannel).publish(
        message.exchange,
        message.routingKey,
        message.content,
        options,
        this.onConfirm,
      );
    } else {
      this.writable = this.channel.publish(
        message.exchange,
        message.routingKey,
        message.content,
        options,
      );
    }
    this.stats.published += 1;
    return this.canPublish();
  }

  canPublish(): boolean {
    return this.writable && this.stats.outstanding < this.options.window && !this.failure;
  }

  /** Resolve when publishing may go on (or the channel failed: the next publish throws). */
  async ready(signal?: AbortSignal): Promise<void> {
    while (!this.canPublish() && !this.failure && !signal?.aborted) {
      await this.next(signal);
    }
  }

  /**
   * Wait until every published message is confirmed, or the timeout passes. True when all are
   * settled. Without confirms, one round trip on the channel (basic.qos) tells that the broker
   * has taken every message before it and sent back every return, or that the channel failed.
   */
  async settle(timeoutMs: number): Promise<boolean> {
    if (!this.options.confirm) return this.sync(timeoutMs);
    const deadline = Date.now() + timeoutMs;
    while (this.stats.outstanding > 0 && !this.failure) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.next(undefined, left);
    }
    return this.stats.outstanding === 0;
  }

  private async sync(timeoutMs: number): Promise<boolean> {
    if (this.failure) return this.noteUnanswered();
    const sent = this.stats.published;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      const r = await Promise.race([this.channel.prefetch(0).then(() => "ok" as const), timeout]);
      if (r === "timeout") return false;
      this.synced = sent;
      return true;
    } catch (err) {
      this.failure ??= err instanceof Error ? err : new Error(String(err));
      return this.noteUnanswered();
    } finally {
      clearTimeout(timer);
    }
  }

  /** Without confirms, after a channel failure: what was sent since the last sync may be lost. */
  private noteUnanswered(): boolean {
    this.stats.unanswered = this.stats.published - this.synced;
    return false;
  }

  async close(): Promise<void> {
    this.closing = true;
    try {
      await this.channel.close();
    } catch {
      // the channel may already be closed by the broker
    }
  }

  /** The channel failure as a user-facing error; `exchange` when one exchange was published to. */
  describeFailure(exchange: string | undefined) {
    return brokerError(this.failure, { op: "publish", exchange }, this.connection);
  }

  private next(signal?: AbortSignal, timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.waiters.push(done);
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** The rendered properties carry amqplib's names already: only `mandatory` is added. */
export function toAmqpOptions(p: PublishProperties, mandatory: boolean): Options.Publish {
  return { ...p, mandatory };
}

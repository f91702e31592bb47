/**
 * Publishing with publisher confirms tracked in a window, mandatory returns counted,
 * write backpressure and connection.blocked respected. The publish loop stays synchronous
 * while it may go on, and awaits only when the window is full, the socket buffer is, the
 * broker blocked publishing, or the connection is being recovered.
 *
 * With a Link, a lost connection is not the end: messages sent but not confirmed when it
 * dropped are published again on the new connection (at least once: they may arrive twice,
 * and are counted as republished), and publishing goes on. Without one, or when the link
 * gives up, they count as unanswered: they may or may not have arrived.
 */
import type { Channel, ConfirmChannel, Message, Options } from "amqplib";
import type { PublishProperties, RenderedMessage } from "../config/templates.js";
import { within } from "./bounded.js";
import { type Connection, dropConnection } from "./connect.js";
import { brokerError } from "./errors.js";
import type { Link } from "./reconnect.js";

export interface PublisherOptions {
  /** Use publisher confirms (default true). */
  confirm: boolean;
  /** Mark messages mandatory so unroutable ones come back (default true). */
  mandatory: boolean;
  /** Outstanding unconfirmed messages allowed before publishing waits. */
  window: number;
  /** Connect again when the connection is lost, and publish the unconfirmed messages again. */
  link?: Link | undefined;
  /** The broker blocked publishing (with its reason), or unblocked it (undefined). */
  onBlocked?(reason: string | undefined): void;
  /**
   * What became of each message published with a key (publish's `messageId`): confirmed,
   * nacked, uncertain (sent, and no answer will come: the connection was lost and not sent
   * again, or the publisher crashed), or unsent (never sent, so never published).
   */
  onOutcome?(key: string, outcome: PublishOutcome): void;
}

export type PublishOutcome = "confirmed" | "nacked" | "uncertain" | "unsent";

export interface ReturnedSample {
  exchange: string;
  routingKey: string;
  replyCode: number;
  replyText: string;
  /** How many returns had this exchange, routing key and reply. */
  count: number;
}

export interface PublisherStats {
  /** Messages handed to publish(), each counted once however often it was sent. */
  published: number;
  confirmed: number;
  nacked: number;
  returned: number;
  /** Sent on the current channel, neither acked nor nacked yet. */
  outstanding: number;
  /** Sent again after a reconnect, because the first send was never confirmed: possible duplicates. */
  republished: number;
  /**
   * Given up on: sent, and the connection closed before the broker answered, with no reconnect
   * to send them again. They may or may not have been routed. Without confirms, every message
   * sent after the last successful round trip on a channel that then failed.
   */
  unanswered: number;
  /** Times the broker blocked publishing (connection.blocked). */
  blocked: number;
}

interface Outgoing {
  message: RenderedMessage;
  /** The key its outcome is told under, if any. */
  key: string | undefined;
  options: Options.Publish;
  /** Sent at least once already: sending it again is a republish. */
  sent: boolean;
}

/**
 * amqplib's publish options for a message: exactly the fields amqplib reads (api_args.js
 * Args.publish), in one fixed shape, so that the same bytes go out as from a copy of the
 * properties (`{...properties, mandatory}`, which also carried fields amqplib ignores) at a
 * fraction of the cost. A property left undefined is not sent, as when it is missing.
 * `messageId` is the message's own, or the key given.
 */
export function publishOptions(
  properties: PublishProperties,
  mandatory: boolean,
  messageId: string | undefined,
  headers: Record<string, unknown> | undefined = properties.headers,
): Options.Publish {
  // Replayed messages carry recorded properties amqplib also reads (deliveryMode, CC, BCC).
  const p = properties as PublishProperties & {
    deliveryMode?: boolean | number;
    CC?: string | string[];
    BCC?: string | string[];
  };
  const options: { [K in keyof Options.Publish]-?: Options.Publish[K] | undefined } = {
    mandatory,
    contentType: p.contentType,
    contentEncoding: p.contentEncoding,
    headers,
    persistent: p.persistent,
    deliveryMode: p.deliveryMode,
    priority: p.priority,
    correlationId: p.correlationId,
    replyTo: p.replyTo,
    expiration: p.expiration,
    messageId: p.messageId === undefined ? messageId : p.messageId,
    timestamp: p.timestamp,
    type: p.type,
    userId: p.userId,
    appId: p.appId,
    CC: p.CC,
    BCC: p.BCC,
  };
  return options as Options.Publish;
}

/** Headers that differ from the last ones this many times in a row are no longer compared. */
const MAX_HEADER_MISSES = 16;

/**
 * One object for the headers that messages in a row share. amqplib builds each message's
 * header table on top of the headers given (`Object.create(headers)`): an object it has not
 * seen before costs it far more than the same one again (the object becomes a prototype, and
 * the table's encoding loses its caches), and a template hands out a fresh copy with every
 * message. Headers equal to the last ones (the same keys in the same order, each value the
 * same) are sent as the object kept from then: the same bytes, as the encoder reads the same
 * keys, values and order. Messages whose headers change every time stop being compared.
 */
export class StableHeaders {
  private last: Record<string, unknown> | undefined;
  private keys: string[] = [];
  private misses = 0;

  stable(headers: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
    if (headers === undefined || headers === null || this.misses >= MAX_HEADER_MISSES)
      return headers;
    // Plain objects only: with inherited keys, a copy could list its keys in another order.
    const proto: unknown = Object.getPrototypeOf(headers);
    if (proto !== Object.prototype && proto !== null) return headers;
    const last = this.last;
    if (last !== undefined && sameHeaders(headers, this.keys, last)) {
      this.misses = 0;
      return last;
    }
    if (last !== undefined) this.misses += 1;
    // The encoder walks the headers with for…in (inherited keys too): so does the copy.
    const copy: Record<string, unknown> = {};
    const keys: string[] = [];
    for (const key in headers) {
      copy[key] = headers[key];
      keys.push(key);
    }
    this.last = copy;
    this.keys = keys;
    return copy;
  }
}

function sameHeaders(
  headers: Record<string, unknown>,
  keys: readonly string[],
  last: Record<string, unknown>,
): boolean {
  let i = 0;
  for (const key in headers) {
    if (key !== keys[i] || headers[key] !== last[key]) return false;
    i += 1;
  }
  return i === keys.length;
}

const MAX_RETURN_SAMPLES = 5;
/** How long close() waits for the broker's channel.close-ok. */
const CLOSE_TIMEOUT_MS = 2000;
/** Channels opened in a row on a live connection that fail at once: then stop trying. */
const MAX_REOPENS = 5;

export class Publisher {
  readonly stats: PublisherStats = {
    published: 0,
    confirmed: 0,
    nacked: 0,
    returned: 0,
    outstanding: 0,
    republished: 0,
    unanswered: 0,
    blocked: 0,
  };
  readonly returnedSamples: ReturnedSample[] = [];
  /** For each lost connection, the time from the loss to the first confirm after it (ms). */
  readonly resumedAfterMs: number[] = [];
  /** When the channel was lost, until a confirm comes back on a new one. */
  private lostAt: number | undefined;
  private channel!: Channel | ConfirmChannel;
  private connection!: Connection;
  /** Bumped for each channel: events of an older channel are stale. */
  private generation = 0;
  private readonly headers = new StableHeaders();
  private waiters: Array<() => void> = [];
  private writable = true;
  private blocked = false;
  private failure: Error | undefined;
  private closing = false;
  /** The channel is gone (closing, or closed) and no new one is open yet. */
  private down = false;
  /** An error the broker closed the channel with (404, 406, …): no reconnect heals it. */
  private channelError: Error | undefined;
  /** Unconfirmed when their channel closed, or handed in while it was down: sent on the next. */
  private orphans: Outgoing[] = [];
  private recovering: Promise<void> | undefined;
  private lostAgain = false;
  /** The error of a lost connection that did not come back. */
  private lossError: Error | undefined;
  /** Without confirms: sent on this channel, and known to have reached the broker. */
  private sentHere = 0;
  private syncedHere = 0;
  /** The connection whose blocked/unblocked events are watched. */
  private watched: Connection | undefined;

  private constructor(private readonly options: PublisherOptions) {}

  static async open(connection: Connection, options: PublisherOptions): Promise<Publisher> {
    const publisher = new Publisher(options);
    await publisher.attach(connection);
    return publisher;
  }

  /** The error that ended publishing, if any (e.g. 404 for a missing exchange, or the link gave up). */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Published and not known to be confirmed, nacked or given up: in flight, or waiting to be sent again. */
  get pending(): number {
    return this.stats.outstanding + this.orphans.length;
  }

  /** True while the connection is being recovered. */
  get reconnecting(): boolean {
    return this.recovering !== undefined;
  }

  /** Resolves when a reconnect under way has ended, either way. */
  async recovered(): Promise<void> {
    await this.recovering;
  }

  /** Publishing stopped because the connection was lost and did not come back (or was not to). */
  get lostConnection(): boolean {
    return this.failure !== undefined && this.failure === this.lossError;
  }

  /**
   * Publish one message; `messageId` is set on it unless it has its own. Returns true when the
   * caller may publish the next one at once, false when it must `await ready()` first.
   */
  publish(message: RenderedMessage, messageId?: string): boolean {
    if (this.failure) throw this.failure;
    const options = publishOptions(
      message.properties,
      this.options.mandatory,
      messageId,
      this.headers.stable(message.properties.headers),
    );
    this.stats.published += 1;
    const out: Outgoing = { message, key: messageId, options, sent: false };
    if (this.down) this.orphans.push(out);
    else this.send(out);
    return this.canPublish();
  }

  canPublish(): boolean {
    return (
      this.writable &&
      !this.blocked &&
      !this.down &&
      this.stats.outstanding < this.options.window &&
      !this.failure
    );
  }

  /** Resolve when publishing may go on (or it failed: the next publish throws), or on abort. */
  async ready(signal?: AbortSignal): Promise<void> {
    while (!this.canPublish() && !this.failure && !signal?.aborted) {
      await this.next(signal);
    }
  }

  /**
   * Wait until every published message is confirmed (through reconnects), or the timeout
   * passes. True when all are settled. Without confirms, one round trip on the channel
   * (basic.qos) tells that the broker has taken every message before it and sent back every
   * return, or that the channel failed.
   */
  async settle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    if (!this.options.confirm) {
      while (this.recovering && !this.failure) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        await this.next(undefined, left);
      }
      return this.failure ? false : this.sync(deadline - Date.now());
    }
    while (this.pending > 0 && !this.failure) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.next(undefined, left);
    }
    return this.pending === 0;
  }

  /**
   * Stop: what is still waiting to be sent again is given up (counted as unanswered), and
   * the channel closes, waiting for the broker a bounded time.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.giveUpOrphans();
    this.wake();
    if (this.down) return;
    await within(this.channel.close(), CLOSE_TIMEOUT_MS);
  }

  /**
   * The publishing process dies (a fault of the playground): its connection drops at once,
   * with confirms outstanding, and nothing is sent again; each message sent and not confirmed
   * is uncertain. Resolves once every one of them is accounted for (bounded).
   */
  async crash(why: string): Promise<void> {
    this.closing = true;
    this.failure ??= new Error(why);
    this.giveUpOrphans();
    dropConnection(this.connection, why);
    const deadline = Date.now() + CLOSE_TIMEOUT_MS;
    while (this.stats.outstanding > 0 && Date.now() < deadline) {
      await this.next(undefined, deadline - Date.now());
    }
    this.giveUpOrphans();
    this.wake();
  }

  /** The failure as a user-facing error; `exchange` when one exchange was published to. */
  describeFailure(exchange: string | undefined) {
    return brokerError(this.failure, { op: "publish", exchange }, this.connection);
  }

  private async attach(connection: Connection): Promise<void> {
    this.connection = connection;
    const channel = this.options.confirm
      ? await connection.model.createConfirmChannel()
      : await connection.model.createChannel();
    const generation = ++this.generation;
    this.channel = channel;
    this.channelError = undefined;
    this.writable = true;
    this.blocked = false;
    this.sentHere = 0;
    this.syncedHere = 0;
    this.down = false;
    const current = () => generation === this.generation;
    channel.on("drain", () => {
      if (!current()) return;
      this.writable = true;
      this.wake();
    });
    channel.on("return", (msg: Message) => this.noteReturn(msg));
    channel.on("error", (err: Error) => {
      if (current()) this.channelError = err;
    });
    // Before amqplib's own close listener fails the pending confirms: they are then no
    // answer from the broker, not nacks.
    channel.prependListener("close", () => {
      if (current()) this.down = true;
    });
    channel.on("close", () => {
      if (current() && !this.closing) this.lost();
    });
    if (connection !== this.watched) {
      this.watched = connection;
      this.watchBlocked(connection);
    }
  }

  private watchBlocked(connection: Connection): void {
    connection.model.on("blocked", (reason: string) => {
      if (connection !== this.connection) return;
      this.blocked = true;
      this.stats.blocked += 1;
      this.options.onBlocked?.(reason);
    });
    connection.model.on("unblocked", () => {
      if (connection !== this.connection) return;
      this.blocked = false;
      this.options.onBlocked?.(undefined);
      this.wake();
    });
  }

  private send(out: Outgoing): void {
    const { message, options } = out;
    if (out.sent) this.stats.republished += 1;
    out.sent = true;
    try {
      if (this.options.confirm) {
        const generation = this.generation;
        this.stats.outstanding += 1;
        this.writable = (this.channel as ConfirmChannel).publish(
          message.exchange,
          message.routingKey,
          message.content,
          options,
          (err) => this.answered(out, generation, err),
        );
      } else {
        this.sentHere += 1;
        this.writable = this.channel.publish(
          message.exchange,
          message.routingKey,
          message.content,
          options,
        );
      }
      // Messages published in one turn leave in one socket write.
      this.connection.corkTurn();
    } catch {
      // The channel closed under us (amqplib refuses sends on it): send it on the next one.
      if (this.options.confirm) this.stats.outstanding -= 1;
      this.down = true;
      this.orphans.push(out);
    }
  }

  /** A confirm came back, or amqplib failed it because the channel closed. */
  private answered(out: Outgoing, generation: number, err: unknown): void {
    this.stats.outstanding -= 1;
    if (!err && this.lostAt !== undefined && generation === this.generation) {
      this.resumedAfterMs.push(Math.round(performance.now() - this.lostAt));
      this.lostAt = undefined;
    }
    if (!err) {
      this.stats.confirmed += 1;
      this.tell(out, "confirmed");
    } else if (this.down || generation !== this.generation) {
      // No answer from the broker: send it again if the connection comes back.
      this.orphans.push(out);
      if (this.closing) this.giveUpOrphans();
    } else {
      this.stats.nacked += 1;
      this.tell(out, "nacked");
    }
    this.wake();
  }

  /** The channel closed without close() being asked for. */
  private lost(): void {
    this.lostAt ??= performance.now();
    if (this.recovering) {
      this.lostAgain = true;
      return;
    }
    this.recovering = this.recover().finally(() => {
      this.recovering = undefined;
      this.wake();
    });
    this.wake();
  }

  private async recover(): Promise<void> {
    let reopens = 0;
    do {
      this.lostAgain = false;
      // A connection closes its channels before it says why it closed.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (!this.options.confirm) this.noteUnsynced();
      const link = this.options.link;
      if (this.channelError || !link || this.closing) {
        this.fail(this.channelError ?? this.connection.closeReason ?? new Error("Channel closed"));
        return;
      }
      const next = await link.recover(this.connection);
      if (!next) {
        this.lossError =
          link.failure ?? this.connection.closeReason ?? new Error("Connection closed");
        this.fail(this.lossError);
        return;
      }
      if (this.closing) return;
      try {
        await this.attach(next);
      } catch (err) {
        if (!next.closed && ++reopens >= MAX_REOPENS) {
          this.fail(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        this.lostAgain = true;
        continue;
      }
      for (const out of this.orphans.splice(0)) this.send(out);
    } while (this.lostAgain || this.down);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.giveUpOrphans();
  }

  private giveUpOrphans(): void {
    for (const out of this.orphans.splice(0)) {
      // Never sent: not published at all. Sent and unanswered: may be lost.
      if (out.sent) this.stats.unanswered += 1;
      else this.stats.published -= 1;
      this.tell(out, out.sent ? "uncertain" : "unsent");
    }
  }

  private tell(out: Outgoing, outcome: PublishOutcome): void {
    if (out.key !== undefined) this.options.onOutcome?.(out.key, outcome);
  }

  /** Without confirms, a channel lost: what was sent on it since the last sync may be lost. */
  private noteUnsynced(): void {
    this.stats.unanswered += this.sentHere - this.syncedHere;
    this.sentHere = this.syncedHere;
  }

  private async sync(timeoutMs: number): Promise<boolean> {
    const sent = this.sentHere;
    let failed: unknown;
    const roundTrip = this.channel.prefetch(0).catch((err: unknown) => {
      failed = err ?? new Error("Channel closed");
    });
    if ((await within(roundTrip, Math.max(0, timeoutMs))) === "timeout") return false;
    if (failed !== undefined) {
      this.failure ??= failed instanceof Error ? failed : new Error(String(failed));
      this.noteUnsynced();
      return false;
    }
    this.syncedHere = sent;
    return true;
  }

  private noteReturn(msg: Message): void {
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

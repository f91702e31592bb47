/**
 * An in-memory client for scripted-frame tests of the embedded broker: a linked pair of
 * Duplex streams (the transport seam), one end handed to `broker.accept`, the other driven
 * by a tiny client that writes encoded frames and reads the broker's frames with FrameReader.
 * Every wait is bounded (default 2 s).
 */
import { Duplex } from "node:stream";
import { expect } from "vitest";
import {
  type ArgsParam,
  type BasicProperties,
  type ContentHeader,
  type ContentMethodName,
  type DecodedMethod,
  decodeContentHeader,
  decodeMethod,
  encodeBodyFrame,
  encodeHeaderFrame,
  encodeMethodFrameByName,
  FRAME_HEADER,
  FRAME_METHOD,
  type Frame,
  FrameReader,
  type MethodInput,
  type MethodName,
  type MethodOf,
  PROTOCOL_HEADER,
} from "../../src/broker/codec/index.js";
import { Broker, type BrokerOptions } from "../../src/broker/server.js";

export const WAIT_MS = 2000;

/** A linked pair: what one end writes, the other reads; ending or destroying one ends the other. */
export function duplexPair(): [Duplex, Duplex] {
  const make = (peer: () => Duplex): Duplex =>
    new Duplex({
      allowHalfOpen: false,
      read() {},
      write(chunk: Buffer, _enc, cb) {
        // Deliver asynchronously, in order, like a socket: no re-entrant handlers.
        process.nextTick(() => {
          const p = peer();
          if (!p.destroyed && !p.readableEnded) p.push(Buffer.from(chunk));
          cb();
        });
      },
      final(cb) {
        process.nextTick(() => {
          const p = peer();
          if (!p.destroyed) p.push(null);
          cb();
        });
      },
      destroy(err, cb) {
        const p = peer();
        process.nextTick(() => {
          if (!p.destroyed) p.destroy();
        });
        cb(err);
      },
    });
  const a: Duplex = make(() => b);
  const b: Duplex = make(() => a);
  return [a, b];
}

/** Wait until `cond()` holds, polling on timers; throws after `ms`. */
export async function waitFor(cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface InFrame extends Frame {
  /** Decoded when the frame is a method frame. */
  readonly method?: DecodedMethod | undefined;
  /** Decoded when the frame is a content header frame. */
  readonly header?: ContentHeader | undefined;
}

/** The reply text of a close frame, to show beside an unexpected method. */
function closeText(m: DecodedMethod | undefined): string {
  return m?.name === "connection.close" || m?.name === "channel.close"
    ? ` (${m.args.replyText})`
    : "";
}

export class TestClient {
  readonly frames: InFrame[] = [];
  /** Every byte the broker sent, in order. */
  readonly raw: Buffer[] = [];
  closed = false;
  readError: Error | undefined;
  private readonly reader = new FrameReader({ frameMax: 0xffffffff });
  private wake: (() => void) | undefined;

  constructor(readonly stream: Duplex) {
    stream.on("data", (chunk: Buffer) => {
      this.raw.push(chunk);
      if (this.readError) return;
      try {
        for (const ev of this.reader.push(chunk)) {
          if (ev.kind !== "frame") continue;
          const f = ev.frame;
          const payload = Buffer.from(f.payload);
          let method: DecodedMethod | undefined;
          let header: ContentHeader | undefined;
          if (f.type === FRAME_METHOD) method = decodeMethod(payload);
          else if (f.type === FRAME_HEADER) header = decodeContentHeader(payload);
          this.frames.push({ type: f.type, channel: f.channel, payload, method, header });
        }
      } catch (err) {
        this.readError = err as Error;
      }
      this.poke();
    });
    stream.on("close", () => {
      this.closed = true;
      this.poke();
    });
    stream.on("error", () => {});
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Resolve when something arrives or the stream closes, or after `ms`. */
  private async changed(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  get rawBytes(): Buffer {
    return Buffer.concat(this.raw);
  }

  send(...bufs: Buffer[]): void {
    if (this.stream.destroyed || this.stream.writableEnded) return;
    for (const b of bufs) this.stream.write(b);
  }

  sendHeader(): void {
    this.send(PROTOCOL_HEADER);
  }

  /** A method frame; arguments the spec gives a default may be left out. */
  sendMethod<K extends MethodName>(
    channel: number,
    name: K,
    ...args: ArgsParam<MethodInput<K>>
  ): void {
    this.send(encodeMethodFrameByName(channel, name, ...args));
  }

  /** basic.publish with its header and one body frame (none for an empty body). */
  publish(
    channel: number,
    exchange: string,
    routingKey: string,
    body: Buffer | string,
    properties: BasicProperties = {},
    extra: Partial<MethodInput<"basic.publish">> = {},
  ): void {
    const b = Buffer.from(body);
    this.sendMethod(channel, "basic.publish", { exchange, routingKey, ...extra });
    this.send(encodeHeaderFrame(channel, b.length, properties));
    if (b.length > 0) this.send(encodeBodyFrame(channel, b));
  }

  /** The next frame not yet consumed, waiting up to `ms`. */
  async next(ms = WAIT_MS): Promise<InFrame> {
    const until = Date.now() + ms;
    for (;;) {
      const f = this.frames.shift();
      if (f) return f;
      if (this.readError)
        throw new Error(`client could not read the broker's bytes: ${this.readError.message}`);
      if (this.closed) throw new Error("connection closed while waiting for a frame");
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no frame within ${ms} ms`);
      await this.changed(left);
    }
  }

  /** The next frame, which must be the method `name` (on `channel` when given). */
  async expect<K extends MethodName>(
    name: K,
    channel?: number,
    ms = WAIT_MS,
  ): Promise<MethodOf<K>> {
    const f = await this.next(ms);
    const got = f.method ? f.method.name : `frame type ${f.type}`;
    expect(got, `${got}${closeText(f.method)} on channel ${f.channel}`).toBe(name);
    if (channel !== undefined) expect(f.channel, `the channel of ${name}`).toBe(channel);
    return f.method as MethodOf<K>;
  }

  /** Skip frames until the method `name` arrives; returns it. */
  async until<K extends MethodName>(name: K, ms = WAIT_MS): Promise<MethodOf<K>> {
    const until = Date.now() + ms;
    for (;;) {
      const f = await this.next(Math.max(1, until - Date.now()));
      if (f.method?.name === name) return f.method as MethodOf<K>;
    }
  }

  /** A method plus its content header and body (basic.deliver, get-ok, return). */
  async expectContent<K extends ContentMethodName>(
    name: K,
    ms = WAIT_MS,
  ): Promise<{ method: MethodOf<K>; header: ContentHeader; body: Buffer }> {
    const method = await this.expect(name, undefined, ms);
    const h = await this.next(ms);
    if (!h.header) throw new Error(`expected a content header after ${name}`);
    const size = Number(h.header.bodySize);
    const parts: Buffer[] = [];
    let got = 0;
    while (got < size) {
      const b = await this.next(ms);
      parts.push(b.payload);
      got += b.payload.length;
    }
    return { method, header: h.header, body: Buffer.concat(parts) };
  }

  /** connection.close from the broker, answered with close-ok; returns its code and text. */
  async expectConnectionClose(
    code: number,
    ms = WAIT_MS,
  ): Promise<{ replyCode: number; replyText: string }> {
    const m = await this.until("connection.close", ms);
    const { replyCode, replyText } = m.args;
    expect({ replyCode, replyText }).toMatchObject({ replyCode: code });
    this.sendMethod(0, "connection.close-ok");
    await this.waitClosed(ms);
    return { replyCode, replyText };
  }

  /** channel.close from the broker on `channel`, answered with close-ok. */
  async expectChannelClose(
    channel: number,
    code: number,
    ms = WAIT_MS,
  ): Promise<{ replyCode: number; replyText: string; classId: number; methodId: number }> {
    const m = await this.expect("channel.close", channel, ms);
    const out = { ...m.args };
    expect(out).toMatchObject({ replyCode: code });
    this.sendMethod(channel, "channel.close-ok");
    return out;
  }

  async waitClosed(ms = WAIT_MS): Promise<void> {
    const until = Date.now() + ms;
    while (!this.closed) {
      const left = until - Date.now();
      if (left <= 0) throw new Error(`connection still open after ${ms} ms`);
      await this.changed(left);
    }
  }

  /** Nothing more than what is buffered arrives within `ms` (a bounded negative check). */
  async quiet(ms = 100): Promise<void> {
    const before = this.frames.length;
    await this.changed(ms);
    const extra = this.frames[before];
    expect(extra, `unexpected frame: ${extra?.method?.name ?? "non-method"}`).toBeUndefined();
  }

  /**
   * The whole handshake with PLAIN guest/guest (or the given credentials); returns the
   * connection.start and connection.tune arguments.
   */
  async handshake(
    opts: {
      username?: string;
      password?: string;
      heartbeat?: number;
      frameMax?: number;
      channelMax?: number;
      capabilities?: Record<string, boolean>;
    } = {},
  ): Promise<{ start: MethodOf<"connection.start">; tune: MethodOf<"connection.tune"> }> {
    const { start, tune } = await this.toTune(opts);
    this.sendMethod(0, "connection.tune-ok", {
      channelMax: opts.channelMax ?? tune.args.channelMax,
      frameMax: opts.frameMax ?? tune.args.frameMax,
      heartbeat: opts.heartbeat ?? 0,
    });
    this.sendMethod(0, "connection.open", { virtualHost: "/" });
    await this.expect("connection.open-ok", 0);
    return { start, tune };
  }

  /** The handshake up to connection.tune, which the caller answers. */
  async toTune(
    opts: Parameters<TestClient["startOk"]>[0] = {},
  ): Promise<{ start: MethodOf<"connection.start">; tune: MethodOf<"connection.tune"> }> {
    this.sendHeader();
    const start = await this.expect("connection.start", 0);
    this.startOk(opts);
    const tune = await this.expect("connection.tune", 0);
    return { start, tune };
  }

  startOk(
    opts: {
      username?: string;
      password?: string;
      mechanism?: string;
      response?: Buffer;
      capabilities?: Record<string, boolean>;
    } = {},
  ): void {
    const user = opts.username ?? "guest";
    const password = opts.password ?? "guest";
    this.sendMethod(0, "connection.start-ok", {
      clientProperties: {
        product: "broker-helpers",
        capabilities: opts.capabilities ?? {
          consumer_cancel_notify: true,
          "connection.blocked": true,
        },
      },
      mechanism: opts.mechanism ?? "PLAIN",
      response: opts.response ?? Buffer.from(`\u0000${user}\u0000${password}`),
      locale: "en_US",
    });
  }

  async openChannel(n: number): Promise<void> {
    this.sendMethod(n, "channel.open");
    await this.expect("channel.open-ok", n);
  }

  /** connection.close from the client, close-ok expected, then the stream closes. */
  async close(): Promise<void> {
    this.sendMethod(0, "connection.close", {
      replyCode: 200,
      replyText: "bye",
      classId: 0,
      methodId: 0,
    });
    await this.until("connection.close-ok");
    await this.waitClosed();
  }

  destroy(): void {
    this.stream.destroy();
  }
}

/** A Broker plus the clients connected to it, for one test. */
export class BrokerHarness {
  readonly broker: Broker;
  readonly clients: TestClient[] = [];

  constructor(options: BrokerOptions = {}) {
    this.broker = new Broker(options);
  }

  /** A client whose other end the broker accepted; `loopback` as for a local socket. */
  connect(loopback = true): TestClient {
    const [clientEnd, brokerEnd] = duplexPair();
    this.broker.accept(brokerEnd, loopback);
    const c = new TestClient(clientEnd);
    this.clients.push(c);
    return c;
  }

  /** A client after a full handshake. */
  async open(opts: Parameters<TestClient["handshake"]>[0] = {}): Promise<TestClient> {
    const c = this.connect();
    await c.handshake(opts);
    return c;
  }

  /**
   * Teardown: drop the clients a test left open, check the broker forgot every connection
   * (bounded wait), then shut it down.
   */
  async teardown(): Promise<void> {
    for (const c of this.clients) if (!c.closed) c.destroy();
    try {
      await waitFor(() => this.broker.stats().connections === 0, "no connections left");
    } finally {
      this.broker.shutdown();
    }
    expect(this.broker.stats().connections).toBe(0);
  }
}

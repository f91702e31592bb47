/**
 * Conformance harness: what a scenario gets (`Ctx`), how its outcome is normalized so it can be
 * compared across runs and brokers, and how a run is cleaned up.
 *
 * Every wait here is bounded by a count and a time; nothing sleeps to wait for an outcome. Where a
 * scenario must wait for something *not* to happen it says so and uses a short explicit window.
 */
import { randomBytes } from "node:crypto";
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type Message } from "amqplib";

/** A plain JSON value: what a client could observe. */
export type Outcome = null | boolean | number | string | Outcome[] | { [key: string]: Outcome };

export interface Scenario {
  name: string;
  run(ctx: Ctx): Promise<Outcome>;
}

/** How a failed operation ended: which side closed, and the server's close reply. */
export interface ErrorOutcome {
  [key: string]: Outcome;
  closed: "channel" | "connection" | "none";
  code: number | null;
  text: string | null;
  /** "class.method" ids of the method the server blamed, e.g. "50.10" for queue.declare. */
  method: string | null;
}

/** AMQP method ids amqplib has no API for (class << 16 | method). */
export const METHOD = {
  TxSelect: (90 << 16) | 10,
  TxSelectOk: (90 << 16) | 11,
  TxCommit: (90 << 16) | 20,
  TxCommitOk: (90 << 16) | 21,
  TxRollback: (90 << 16) | 30,
  TxRollbackOk: (90 << 16) | 31,
  ConfirmSelect: (85 << 16) | 10,
  ConfirmSelectOk: (85 << 16) | 11,
} as const;

interface ServerError extends Error {
  code?: number;
  classId?: number;
  methodId?: number;
}

export interface TrackedChannel<C extends Channel = Channel> {
  ch: C;
  /** Set when the server closed the channel (the channel's 'error' event). */
  error: ServerError | undefined;
  /** Resolves on the channel's 'close' event. */
  closed: Promise<void>;
}

export interface Session {
  conn: ChannelModel;
  /** Set when the server closed the connection (the connection's 'error' event). */
  error: ServerError | undefined;
  closed: Promise<void>;
  channel(): Promise<TrackedChannel>;
  confirmChannel(): Promise<TrackedChannel<ConfirmChannel>>;
}

function track<C extends Channel>(ch: C): TrackedChannel<C> {
  const t: TrackedChannel<C> = {
    ch,
    error: undefined,
    closed: new Promise<void>((resolve) => ch.once("close", () => resolve())),
  };
  ch.on("error", (e: ServerError) => {
    t.error = e;
  });
  return t;
}

export function timeout(ms: number): Promise<"timeout"> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve("timeout"), ms);
    t.unref?.();
  });
}

/** amqplib puts the server's reply text only in the message: `... with message "TEXT"`. */
export function replyText(e: Error | undefined): string | null {
  if (!e) return null;
  const m = /with message "([\s\S]*)"$/.exec(e.message);
  return m ? m[1]! : null;
}

export function describeError(
  closed: ErrorOutcome["closed"],
  e: ServerError | undefined,
): ErrorOutcome {
  return {
    closed,
    code: e?.code ?? null,
    text: replyText(e),
    method: e?.classId !== undefined ? `${e.classId}.${e.methodId}` : null,
  };
}

export function summarize(m: Message | false | null): Outcome {
  if (!m) return m === null ? null : false;
  const f = m.fields as Message["fields"] & { redelivered?: boolean };
  const p = m.properties;
  const headers = p.headers ?? {};
  return {
    body: m.content.toString(),
    redelivered: f.redelivered === true,
    exchange: f.exchange,
    routingKey: f.routingKey,
    ...(p.expiration !== undefined ? { expiration: String(p.expiration) } : {}),
    ...(p.priority !== undefined ? { priority: p.priority } : {}),
    ...(Object.keys(headers).length > 0 ? { headers: plain(headers) } : {}),
  };
}

/** A JSON-safe copy: Buffers become strings, x-death `time` becomes "<time>", keys sorted. */
export function plain(v: unknown, key = ""): Outcome {
  if (v === null || v === undefined) return null;
  if (key === "time") return "<time>";
  if (Buffer.isBuffer(v)) return v.toString();
  if (v instanceof Date) return "<time>";
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map((x) => plain(x));
  if (typeof v === "object") {
    const o = v as { value?: unknown; [key: string]: unknown };
    // amqplib's typed field values: { '!': type, value }
    if ("!" in o && "value" in o) return plain(o.value, key);
    const out: { [key: string]: Outcome } = {};
    for (const k of Object.keys(o).sort()) out[k] = plain(o[k], k);
    return out;
  }
  if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  return String(v);
}

export class Ctx {
  readonly url: string;
  readonly prefix: string;
  private readonly sessions: Session[] = [];
  private readonly queues = new Set<string>();
  private readonly exchanges = new Set<string>();

  constructor(url: string) {
    this.url = url;
    this.prefix = `cf-${randomBytes(5).toString("hex")}`;
  }

  /** A unique object name; normalized to `cf-<id>-<suffix>` in outcomes. */
  name(suffix: string): string {
    return `${this.prefix}-${suffix}`;
  }
  /** A unique queue name that the runner deletes after the scenario. */
  q(suffix: string): string {
    const n = this.name(suffix);
    this.queues.add(n);
    return n;
  }
  /** A unique exchange name that the runner deletes after the scenario. */
  x(suffix: string): string {
    const n = this.name(suffix);
    this.exchanges.add(n);
    return n;
  }
  /** Delete this (server-named) queue after the scenario too. */
  ownQueue(name: string): string {
    this.queues.add(name);
    return name;
  }

  async connect(): Promise<Session> {
    const conn = await amqp.connect(this.url);
    const s: Session = {
      conn,
      error: undefined,
      closed: new Promise<void>((resolve) => conn.once("close", () => resolve())),
      channel: async () => track(await conn.createChannel()),
      confirmChannel: async () => track(await conn.createConfirmChannel()),
    };
    conn.on("error", (e: ServerError) => {
      s.error = e;
    });
    this.sessions.push(s);
    return s;
  }

  /**
   * Run `op` and report how it failed: which side the server closed (bounded wait of 3 s for the
   * close to arrive), with the reply code and text; or `closed: "none"` when nothing closed.
   */
  async failure(s: Session, t: TrackedChannel, op: () => unknown): Promise<ErrorOutcome> {
    let rejected: ServerError | undefined;
    try {
      await op();
    } catch (e) {
      rejected = e as ServerError;
    }
    if (!rejected && !t.error && !s.error) {
      // The operation succeeded; a round trip on the same channel tells whether the server
      // closed it afterwards (e.g. for a publish), without waiting for a time window.
      try {
        await t.ch.checkExchange("amq.direct");
        return describeError("none", undefined);
      } catch {
        // closed: fall through and report how
      }
    }
    const first = await Promise.race([t.closed, s.closed, timeout(3000)]);
    if (first === "timeout") return { ...describeError("none", rejected), rejected: true };
    // The connection's 'error' is emitted before its channels close; a channel close that
    // came first is a channel error. Give the connection close a bounded moment to land.
    if (!s.error) await Promise.race([s.closed, timeout(50)]);
    if (s.error) return describeError("connection", s.error);
    return describeError("channel", t.error ?? rejected);
  }

  /** Take up to `max` messages with basic.get (no-ack) until the queue answers get-empty. */
  async drain(ch: Channel, queue: string, max = 20): Promise<Outcome[]> {
    const out: Outcome[] = [];
    for (let i = 0; i <= max; i++) {
      const m = await ch.get(queue, { noAck: true });
      if (!m) break;
      out.push(summarize(m));
    }
    return out;
  }

  /** Just the bodies, in order. */
  async bodies(ch: Channel, queue: string, max = 20): Promise<string[]> {
    return (await this.drain(ch, queue, max)).map((m) => (m as { body: string }).body);
  }

  /**
   * Consume (no-ack) until `n` messages have arrived or `ms` passed; cancels the consumer.
   * Used to wait for messages the broker moves by itself (TTL, dead-lettering).
   */
  async collect(ch: Channel, queue: string, n: number, ms = 3000): Promise<Outcome[]> {
    const got: Outcome[] = [];
    let done: () => void = () => {};
    const enough = new Promise<void>((resolve) => {
      done = resolve;
    });
    const { consumerTag } = await ch.consume(
      queue,
      (m) => {
        got.push(summarize(m));
        if (got.length >= n) done();
      },
      { noAck: true },
    );
    if (got.length < n) await Promise.race([enough, timeout(ms)]);
    await ch.cancel(consumerTag);
    return got;
  }

  /** Poll `probe` until `until` holds or `ms` passed; returns the last value. */
  async poll<T>(probe: () => Promise<T>, until: (v: T) => boolean, ms = 3000): Promise<T> {
    const deadline = Date.now() + ms;
    let v = await probe();
    while (!until(v) && Date.now() < deadline) {
      await timeout(10);
      v = await probe();
    }
    return v;
  }

  /** Whether a queue exists, by passive declare on a throwaway channel. */
  async queueExists(s: Session, queue: string): Promise<boolean | number> {
    const t = await s.channel();
    try {
      const ok = await t.ch.checkQueue(queue);
      await t.ch.close();
      return ok.messageCount >= 0;
    } catch (e) {
      return (e as ServerError).code ?? -1;
    }
  }

  /** Close every connection and delete every named object, ignoring errors. */
  async cleanup(): Promise<void> {
    for (const s of this.sessions) {
      if (!s.error) await s.conn.close().catch(() => {});
    }
    if (this.queues.size === 0 && this.exchanges.size === 0) return;
    const conn = await amqp.connect(this.url);
    conn.on("error", () => {});
    try {
      for (const q of this.queues) {
        const ch = await conn.createChannel();
        ch.on("error", () => {});
        await ch.deleteQueue(q).catch(() => {});
        await ch.close().catch(() => {});
      }
      for (const x of this.exchanges) {
        const ch = await conn.createChannel();
        ch.on("error", () => {});
        await ch.deleteExchange(x).catch(() => {});
        await ch.close().catch(() => {});
      }
    } finally {
      await conn.close().catch(() => {});
    }
  }

  /** Replace everything run-specific in an outcome with stable tokens. */
  normalize(v: Outcome): Outcome {
    if (typeof v === "string") {
      return v
        .split(this.prefix)
        .join("cf-<id>")
        .replace(/amq\.gen-[A-Za-z0-9_-]{22}/g, "amq.gen-<id>")
        .replace(/amq\.ctag-[A-Za-z0-9_-]{22}/g, "amq.ctag-<id>");
    }
    if (Array.isArray(v)) return v.map((x) => this.normalize(x));
    if (v !== null && typeof v === "object") {
      const out: { [key: string]: Outcome } = {};
      for (const [k, x] of Object.entries(v)) out[this.normalize(k) as string] = this.normalize(x);
      return out;
    }
    return v;
  }
}

/** Run one scenario against `url`: a fresh context, cleaned up whatever happens. */
export async function runScenario(s: Scenario, url: string): Promise<Outcome> {
  const ctx = new Ctx(url);
  try {
    return ctx.normalize(await s.run(ctx));
  } finally {
    await ctx.cleanup();
  }
}

/** Any channel's raw RPC, for methods amqplib has no API for (tx.*, confirm.select). */
export function rpc(ch: Channel, method: number, expect: number): Promise<unknown> {
  const raw = ch as unknown as {
    rpc(method: number, fields: Record<string, unknown>, expect: number): Promise<unknown>;
  };
  return raw.rpc(method, method === METHOD.ConfirmSelect ? { nowait: false } : {}, expect);
}

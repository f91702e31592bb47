/**
 * The embedded broker as a unit-test fixture: what `RunningBroker` adds for tests —
 * `reset()`, `queue(name).peek()` / `.messages()`, `published()` and `waitFor()`. Nothing
 * here runs unless a test asks: the publish record is off unless the broker was started
 * with `record` (the `eventlab/broker` entry turns it on), and waitFor's checks run only
 * while someone waits.
 */
import type { Socket } from "node:net";
import type { BasicProperties, FieldTable } from "./codec/index.js";
import type { Message } from "./model/message.js";
import type { QueuedMessage } from "./model/queue.js";
import type { PublishObserver, VHost } from "./model/vhost.js";

/** Bounds of the publish record. */
export interface RecordOptions {
  /** Most messages kept (default 10,000); older ones are dropped first. */
  limit?: number;
  /** Most body bytes kept (default 64 MiB); older messages are dropped first. */
  maxBytes?: number;
}

export const RECORD_LIMIT = 10_000;
export const RECORD_MAX_BYTES = 64 * 1024 * 1024;

/** A message as a test sees it. `body` is the broker's own copy: do not change it. */
export interface FixtureMessage {
  exchange: string;
  routingKey: string;
  properties: BasicProperties;
  /** `properties.headers`, or `{}`. */
  headers: FieldTable;
  body: Buffer;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON (throws SyntaxError when it is not JSON). */
  json<T = unknown>(): T;
}

/** A message waiting in a queue. */
export interface QueuedFixtureMessage extends FixtureMessage {
  /** Delivered before and given back (nack/reject with requeue, or its channel closed). */
  redelivered: boolean;
}

/** A message a client published, and where it went. */
export interface PublishedMessage extends FixtureMessage {
  /** 1 for the first message since start or reset; a gap at the start means trimming. */
  seq: number;
  /** The queues it was routed to, in routing order; empty when unroutable. */
  queues: string[];
  /** Held by an x-delayed-message exchange (`queues` is then empty until it is released). */
  delayed: boolean;
}

/** `published()`: the record, oldest first; `trimmed` counts older messages dropped. */
export type PublishedList = PublishedMessage[] & { readonly trimmed: number };

/** A queue seen from a test: nothing here consumes or changes a message. */
export interface FixtureQueue {
  readonly name: string;
  /** Ready messages (not the unacknowledged ones). */
  readonly messageCount: number;
  /** The first `n` ready messages (default 1), in the order consumers would get them. */
  peek(n?: number): QueuedFixtureMessage[];
  /** Every ready message, in the order consumers would get them. */
  messages(): QueuedFixtureMessage[];
}

/** What `waitFor` resolves with: the predicate's value, never a falsy one. */
export type Truthy<T> = Exclude<T, false | 0 | 0n | "" | null | undefined>;

export interface WaitForOptions {
  /** Give up after this many ms (default 5,000). */
  timeout?: number;
}

/** A fixture call that cannot be answered: an unknown queue or vhost, no record, a timeout. */
export class BrokerFixtureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BrokerFixtureError";
  }
}

interface Recorded {
  seq: number;
  exchange: string;
  message: Message;
  queues: readonly string[];
  delayed: boolean;
}

/** The publish record: a bounded ring, oldest dropped first. */
class Recorder implements PublishObserver {
  private ring: (Recorded | undefined)[] = [];
  private head = 0;
  private count = 0;
  private bytes = 0;
  private seq = 0;
  private readonly limit: number;
  private readonly maxBytes: number;

  constructor(options: RecordOptions) {
    this.limit = Math.max(1, options.limit ?? RECORD_LIMIT);
    this.maxBytes = Math.max(0, options.maxBytes ?? RECORD_MAX_BYTES);
  }

  published(
    exchange: string,
    message: Message,
    queues: readonly string[],
    from?: unknown,
    held = false,
  ): void {
    // The broker's own publishes (a delayed message released) were recorded when they came.
    if (from === undefined) return;
    this.seq += 1;
    if (this.count === this.limit) this.dropOldest();
    const entry: Recorded = {
      seq: this.seq,
      exchange,
      message,
      // The routing result is the broker's and not changed later; copied when read.
      queues,
      delayed: held,
    };
    this.ring[(this.head + this.count) % this.limit] = entry;
    this.count += 1;
    this.bytes += message.body.length;
    while (this.bytes > this.maxBytes && this.count > 1) this.dropOldest();
  }

  private dropOldest(): void {
    const e = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.limit;
    this.count -= 1;
    if (e) this.bytes -= e.message.body.length;
  }

  list(): PublishedList {
    const out: PublishedMessage[] = [];
    for (let i = 0; i < this.count; i++) {
      const e = this.ring[(this.head + i) % this.limit];
      if (!e) continue;
      out.push({
        ...view(e.exchange, e.message),
        seq: e.seq,
        queues: [...e.queues],
        delayed: e.delayed,
      });
    }
    // Not enumerable: a test comparing the list with toEqual([...]) sees only the messages.
    Object.defineProperty(out, "trimmed", { value: this.seq - this.count, enumerable: false });
    return out as PublishedList;
  }

  clear(): void {
    this.ring = [];
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
    this.seq = 0;
  }
}

function view(exchange: string, m: Message): FixtureMessage {
  const body = m.body;
  return {
    exchange,
    routingKey: m.routingKey,
    properties: m.properties,
    headers: m.properties.headers ?? {},
    body,
    text: () => body.toString("utf8"),
    json: <T = unknown>() => JSON.parse(body.toString("utf8")) as T,
  };
}

function queued(e: QueuedMessage): QueuedFixtureMessage {
  return { ...view(e.message.exchange, e.message), redelivered: e.redelivered };
}

/** What the fixture needs of the broker (server.ts's Broker). */
export interface FixtureHost {
  readonly vhost: VHost;
  onChange: (() => void) | undefined;
  closeConnections(reason: string): void;
}

interface Waiter {
  check(): void;
  abort(err: Error): void;
}

/** How long reset waits for clients to answer connection.close before dropping them. */
const RESET_DROP_AFTER_MS = 500;

export class BrokerFixture {
  private readonly recorder: Recorder | undefined;
  private readonly waiters = new Set<Waiter>();
  private scheduled: NodeJS.Immediate | undefined;
  private closed = false;

  constructor(
    private readonly host: FixtureHost,
    record: boolean | RecordOptions | undefined,
  ) {
    if (record !== undefined && record !== false) {
      this.recorder = new Recorder(record === true ? {} : record);
      host.vhost.observer = this.recorder;
    }
  }

  /**
   * Something happened (a client's frames were handled, a message entered or left a queue):
   * waiters check again once, after what is already scheduled (deliveries) has run.
   */
  readonly activity = (): void => {
    if (this.waiters.size === 0 || this.scheduled) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      for (const w of [...this.waiters]) w.check();
    });
  };

  async reset(sockets: readonly Socket[]): Promise<void> {
    this.host.closeConnections("broker forced connection closure with reason 'reset'");
    // Clients answer connection.close at once; one that does not is dropped.
    await Promise.all(sockets.map((s) => socketClosed(s, RESET_DROP_AFTER_MS)));
    this.host.vhost.reset();
    this.recorder?.clear();
    this.activity();
  }

  queue(name: string, options: { vhost?: string } = {}): FixtureQueue {
    const vhost = this.host.vhost;
    const vhostName = options.vhost ?? vhost.name;
    if (vhostName !== vhost.name) {
      throw new BrokerFixtureError(
        `no vhost '${vhostName}': the embedded broker has one vhost, '${vhost.name}'`,
      );
    }
    const find = () => {
      const q = vhost.queues.get(name);
      if (q) return q;
      if (vhost.streams.has(name)) {
        throw new BrokerFixtureError(
          `queue '${name}' in vhost '${vhost.name}' is a stream: peek and messages read classic and quorum queues`,
        );
      }
      const known = [...vhost.queues.keys(), ...vhost.streams.keys()];
      throw new BrokerFixtureError(
        `no queue '${name}' in vhost '${vhost.name}' (${
          known.length === 0 ? "it has no queues" : `its queues: ${known.join(", ")}`
        })`,
      );
    };
    find();
    return {
      name,
      get messageCount() {
        return find().messageCount;
      },
      peek: (n = 1) =>
        find()
          .peek(Math.max(0, Math.floor(n)))
          .map(queued),
      messages: () => {
        const q = find();
        return q.peek(q.messageCount).map(queued);
      },
    };
  }

  published(): PublishedList {
    if (!this.recorder) {
      throw new BrokerFixtureError(
        "published() needs the publish record: start the broker with startBroker({ record: true }), or import startBroker from 'eventlab/broker', which turns it on",
      );
    }
    return this.recorder.list();
  }

  waitFor<T>(predicate: () => T, options: WaitForOptions = {}): Promise<Truthy<T>> {
    const timeout = options.timeout ?? 5000;
    return new Promise<Truthy<T>>((resolve, reject) => {
      let lastError: unknown;
      let checks = 0;
      const finish = () => {
        this.waiters.delete(waiter);
        clearTimeout(timer);
      };
      const waiter: Waiter = {
        check: () => {
          checks += 1;
          let value: T;
          try {
            value = predicate();
          } catch (err) {
            lastError = err;
            return;
          }
          lastError = undefined;
          if (value) {
            finish();
            resolve(value as Truthy<T>);
          }
        },
        abort: (err) => {
          finish();
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        finish();
        const why =
          lastError instanceof Error
            ? `; last check threw: ${lastError.message}`
            : lastError !== undefined
              ? `; last check threw: ${String(lastError)}`
              : "; the predicate never returned a truthy value";
        reject(
          new BrokerFixtureError(
            `broker.waitFor timed out after ${timeout} ms (${checks} checks${why})`,
          ),
        );
      }, timeout);
      if (this.closed) {
        clearTimeout(timer);
        reject(new BrokerFixtureError("broker.waitFor: the broker is closed"));
        return;
      }
      this.waiters.add(waiter);
      this.host.onChange = this.activity;
      waiter.check();
    });
  }

  /** The broker closes: nothing more will happen, so waiting stops with an error. */
  close(): void {
    this.closed = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    // A last look: what the predicate waits for may have happened since the last check.
    for (const w of [...this.waiters]) w.check();
    const closed = new BrokerFixtureError("broker.waitFor: the broker was closed while waiting");
    for (const w of [...this.waiters]) w.abort(closed);
  }
}

function socketClosed(s: Socket, ms: number): Promise<void> {
  if (s.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      s.destroy();
      resolve();
    }, ms);
    s.once("close", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/**
 * A stream queue (`x-queue-type: stream`), as RabbitMQ 3.10 keeps one: an append-only log that
 * consuming does not change. Every consumer reads the whole log from where it asked to start
 * (`x-stream-offset`, stream-args.ts) at its own pace, limited by its prefetch; an ack only
 * gives that credit back. A stream is a sibling of Queue, not a kind of it: the vhost keeps
 * streams apart, and the channel's deliveries settle stream deliveries in their own way.
 *
 * Chunks, segments and retention follow osiris, RabbitMQ's log:
 * - RabbitMQ writes the messages that reach its writer together as one chunk (one timestamp,
 *   one position for `last`); here every message is a chunk of its own. So `last` starts at
 *   the last message, where RabbitMQ may start a few messages earlier, at the start of the
 *   last batch it wrote; a timestamp finds the first message written at or after it.
 * - A chunk's size is estimated as RabbitMQ's on disk: a 48-byte chunk header, a 4-byte
 *   record header, the message as AMQP 1.0 (its annotations carry the exchange and routing
 *   key) and the 44-byte writer trailer: 138 bytes + exchange + routing key + properties +
 *   body. It matches RabbitMQ to the byte for a message without properties.
 * - A segment is full once it holds x-stream-max-segment-size-bytes (500,000,000 by default)
 *   or 256,000 chunks; the next write starts a new one, whose first entry is a writer-tracking
 *   snapshot: it takes an offset that no consumer is given, as in RabbitMQ.
 * - Retention (x-max-length-bytes, x-max-age) deletes whole segments, and only when a new
 *   segment starts, as osiris does: the newest segment always stays, so a stream may hold
 *   more, and older, messages than its limits until its segment fills. A full segment rolls
 *   over at the next publish, or as soon as a consumer attaches or catches up.
 * Where RabbitMQ 3.10 loops forever (x-stream-max-segment-size-bytes 0 never finishes a
 * write), each message gets a segment of its own here.
 */
import type { BasicProperties, FieldTable, FieldValue } from "../codec/index.js";
import { Decimal, Typed } from "../codec/index.js";
import { amqpError, resource } from "../errors.js";
import type { MessageEvents } from "./events.js";
import { type Message, makeMessage, withProperties } from "./message.js";
import type { EnqueueResult, QueuedMessage } from "./queue.js";
import {
  assertStreamProperties,
  crash,
  type OffsetSpec,
  type StreamSettings,
  streamSettings,
} from "./stream-args.js";
import { MemoryStreamLog, type StreamEntry, type StreamLog } from "./stream-log.js";

/** What a stream needs from its virtual host. */
export interface StreamHost {
  now(): number;
  /** Bytes of message bodies held, broker-wide (for the memory watermark). */
  adjustStored(delta: number): void;
  /** The message event ledger (events.ts), when it is on. */
  readonly events?: MessageEvents | undefined;
}

/** A stream's consumer, implemented by the channel's deliveries. */
export interface StreamConsumer {
  readonly tag: string;
  /** Credit left for one more delivery now (prefetch, flow, socket backpressure). */
  canTake(): boolean;
  deliver(stream: Stream, entry: QueuedMessage): void;
  /** The stream was deleted under it. */
  cancelledByServer(stream: Stream): void;
}

interface Reader {
  /** The next offset to read. */
  next: number;
  /** Entries before this offset are skipped: a numeric x-stream-offset filters, as RabbitMQ. */
  readonly from: number;
}

const CHUNK_OVERHEAD = 138;
const TRACKING_BYTES = 104;
const SEGMENT_MAX_CHUNKS = 256_000;
/** How many deliveries one reader makes before yielding to the event loop. */
const PUMP_BATCH = 2000;

export class Stream {
  readonly name: string;
  readonly durable = true;
  readonly autoDelete = false;
  readonly owner: number | undefined = undefined;
  readonly args: FieldTable;
  readonly settings: StreamSettings;
  private readonly log: StreamLog;
  private readonly readers = new Map<StreamConsumer, Reader>();
  private pumping = false;
  private pumpScheduled: NodeJS.Immediate | undefined;
  deleted = false;

  constructor(
    private readonly host: StreamHost,
    init: { name: string; args: FieldTable; settings: StreamSettings; log?: StreamLog },
  ) {
    this.name = init.name;
    this.args = init.args;
    this.settings = init.settings;
    this.log = init.log ?? new MemoryStreamLog();
  }

  /** Messages in the log (RabbitMQ reports the same count, refreshed every few seconds). */
  get messageCount(): number {
    let n = 0;
    for (const s of this.log.segments()) n += s.messages;
    return n;
  }

  /** queue.declare-ok's consumer count: RabbitMQ 3.10 reports 0 for a stream. */
  get consumerCount(): number {
    return 0;
  }

  get consumers(): readonly StreamConsumer[] {
    return [...this.readers.keys()];
  }

  /** A declare or consume uses the queue: nothing to restart for a stream (no x-expires). */
  touch(): void {}

  // ------------------------------------------------------------ writing

  /** Append a routed message; every reader with credit gets it. */
  enqueue(message: Message): EnqueueResult {
    const now = this.host.now();
    this.roll(now);
    const stored = storedForm(message);
    this.log.append({
      timestamp: now,
      message: withOffset(stored, this.log.nextOffset),
      bytes: chunkBytes(stored),
    });
    this.host.adjustStored(message.body.length);
    const events = this.host.events;
    if (events) events.inQueue("enqueued", this.name, message);
    this.drain();
    return "ok";
  }

  /**
   * osiris's writer, before anything it handles (a write, a consumer attaching, a reader that
   * caught up asking to hear of the next write), starts a new segment when its segment is
   * full: a writer-tracking snapshot opens it, then retention runs. A full segment thus rolls
   * over, and old segments go, as soon as a consumer attaches, with no new message at all.
   */
  private roll(now: number): void {
    if (!this.full()) return;
    this.log.roll();
    // RabbitMQ tracks its writers from the first write on.
    if (this.log.nextOffset > 0) {
      this.log.append({ timestamp: now, message: undefined, bytes: TRACKING_BYTES });
      if (this.full()) this.log.roll();
    }
    this.retain(now);
  }

  private full(): boolean {
    const newest = this.log.newest();
    return newest.bytes >= this.settings.segmentBytes || newest.entries >= SEGMENT_MAX_CHUNKS;
  }

  /**
   * osiris's retention: by size, the newest segment stays and older ones stay while they fit
   * in what is left; by age, old segments go (never the last one) while their last message is
   * older than the limit.
   */
  private retain(now: number): void {
    const { maxBytes, maxAgeMs } = this.settings;
    const segs = this.log.segments();
    let drop = 0;
    if (maxBytes !== undefined) {
      let room = maxBytes - (segs.at(-1)?.bytes ?? 0);
      for (let i = segs.length - 2; i >= 0; i--) {
        const bytes = (segs[i] as { bytes: number }).bytes;
        if (bytes > room) {
          drop = i + 1;
          break;
        }
        room -= bytes;
      }
    }
    if (maxAgeMs !== undefined) {
      while (drop < segs.length - 1 && (segs[drop]?.lastTimestamp ?? now) < now - maxAgeMs)
        drop += 1;
    }
    if (drop === 0) return;
    const kept = segs[drop]?.firstOffset ?? this.log.nextOffset;
    this.host.adjustStored(-this.bodyBytes(this.log.firstOffset, kept));
    this.log.dropOldest(drop);
  }

  private bodyBytes(from: number, to: number): number {
    let n = 0;
    for (let o = from; o < to; o++) n += this.log.read(o)?.message?.body.length ?? 0;
    return n;
  }

  // ------------------------------------------------------------ reading

  /** Start a consumer where `spec` says; deliveries begin at once. */
  attach(consumer: StreamConsumer, spec: OffsetSpec): void {
    this.roll(this.host.now());
    const log = this.log;
    let next = log.nextOffset;
    let from = Number.NEGATIVE_INFINITY;
    if (spec.kind === "first") next = log.firstOffset;
    else if (spec.kind === "last") next = this.lastMessageOffset() ?? log.nextOffset;
    else if (spec.kind === "timestamp") next = this.offsetAt(spec.ms);
    else if (spec.kind === "offset") {
      // osiris: past the end is `next`; before the start is the start.
      from = spec.offset;
      next = spec.offset >= log.nextOffset ? log.nextOffset : Math.max(log.firstOffset, from);
    }
    this.readers.set(consumer, { next, from });
    this.pump(consumer);
  }

  removeConsumer(consumer: StreamConsumer): void {
    this.readers.delete(consumer);
  }

  /** The first entry written at or after `ms`, or the end of the log. */
  private offsetAt(ms: number): number {
    let lo = this.log.firstOffset;
    let hi = this.log.nextOffset;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if ((this.log.read(mid)?.timestamp ?? ms) < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** RabbitMQ's `last`: the last chunk that holds messages (not a tracking snapshot). */
  private lastMessageOffset(): number | undefined {
    for (let o = this.log.nextOffset - 1; o >= this.log.firstOffset; o--) {
      if (this.log.read(o)?.message !== undefined) return o;
    }
    return undefined;
  }

  /** Deliver to every reader that has credit (after acks, flow, or the socket draining). */
  drain(): void {
    for (const c of this.readers.keys()) this.pump(c);
  }

  private pump(consumer: StreamConsumer): void {
    const r = this.readers.get(consumer);
    if (!r || this.deleted || this.pumping) return;
    this.pumping = true;
    try {
      let budget = PUMP_BATCH;
      const start = r.next;
      // A reader behind what retention deleted goes on from the oldest entry kept (RabbitMQ's
      // reader first finishes the segment file it has open).
      if (r.next < this.log.firstOffset) r.next = this.log.firstOffset;
      while (r.next < this.log.nextOffset && consumer.canTake()) {
        if (budget-- === 0) {
          this.schedulePump();
          break;
        }
        const entry = this.log.read(r.next) as StreamEntry;
        r.next += 1;
        if (entry.message === undefined || entry.offset < r.from) continue;
        consumer.deliver(this, {
          message: entry.message,
          seq: entry.offset,
          priority: 0,
          expiresAt: Number.POSITIVE_INFINITY,
          redelivered: false,
          returns: 0,
        });
        if (!this.readers.has(consumer)) break;
      }
      if (r.next > start && r.next === this.log.nextOffset) this.roll(this.host.now());
    } finally {
      this.pumping = false;
    }
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = setImmediate(() => {
      this.pumpScheduled = undefined;
      this.drain();
    });
  }

  // ------------------------------------------------------------ settling

  /** An ack frees its consumer's credit (the channel counts it); the log keeps the message. */
  settle(_entries: readonly QueuedMessage[]): void {}

  /** Nothing goes back: a closing channel's unacknowledged stream deliveries just end. */
  requeue(_entries: readonly QueuedMessage[]): void {}

  /** basic.nack and basic.reject are refused before they get here (notSupported). */
  reject(_entries: readonly QueuedMessage[]): void {}

  /** Deleted: consumers are cancelled and the log is gone. queue.delete-ok says 0. */
  destroy(): number {
    if (this.deleted) return 0;
    this.deleted = true;
    if (this.pumpScheduled) clearImmediate(this.pumpScheduled);
    this.host.adjustStored(-this.bodyBytes(this.log.firstOffset, this.log.nextOffset));
    this.log.close();
    const consumers = [...this.readers.keys()];
    this.readers.clear();
    for (const c of consumers) c.cancelledByServer(this);
    return 0;
  }
}

/** RabbitMQ's 540 for what a stream does not do: "basic.get not supported by stream queues …". */
export function notSupported(what: string, stream: { name: string }): Error {
  return amqpError(
    "NOT_IMPLEMENTED",
    `${what} not supported by stream queues ${resource("queue", stream.name)}`,
  );
}

/** queue.declare of a stream that does not exist yet. */
export function newStream(
  host: StreamHost,
  d: {
    name: string;
    serverNamed: boolean;
    durable: boolean;
    exclusive: boolean;
    autoDelete: boolean;
    args: FieldTable;
  },
): Stream {
  if (d.serverNamed)
    throw amqpError(
      "PRECONDITION_FAILED",
      "Cannot declare a server-named queue for type rabbit_stream_queue",
    );
  const settings = streamSettings(d.name, d.args);
  assertStreamProperties(d.name, d, settings);
  return new Stream(host, { name: d.name, args: d.args, settings });
}

/**
 * The message as a stream gives it back. RabbitMQ stores it as AMQP 1.0 and converts it back
 * on delivery: array and table headers are dropped (x-death with them) and a decimal header
 * crashes the publishing channel. Everything else comes back as it was. (Its move of ids over
 * 256 bytes into headers cannot happen: an AMQP 0-9-1 shortstr holds 255.)
 */
function storedForm(m: Message): Message {
  const p = m.properties;
  let changed = false;
  const headers: FieldTable = {};
  for (const [k, v] of Object.entries(p.headers ?? {})) {
    if (v instanceof Decimal) throw crash(`decimal header ${k} in a stream message`);
    if (isCompound(v)) changed = true;
    else if (v !== undefined) headers[k] = v;
  }
  if (!changed) return m;
  const props: BasicProperties = { ...p, headers };
  if (Object.keys(headers).length === 0) delete props.headers;
  return makeMessage(m.exchange, m.routingKey, props, m.body);
}

function isCompound(v: FieldValue | undefined): boolean {
  return (
    Array.isArray(v) ||
    (typeof v === "object" &&
      v !== null &&
      !Buffer.isBuffer(v) &&
      !(v instanceof Uint8Array) &&
      !(v instanceof Typed) &&
      !(v instanceof Decimal) &&
      v.constructor === Object)
  );
}

/** Deliveries carry their offset in an x-stream-offset header (a long). */
function withOffset(m: Message, offset: number): Message {
  const headers = { ...(m.properties.headers ?? {}), "x-stream-offset": new Typed("l", offset) };
  return withProperties(m, { ...m.properties, headers });
}

/** RabbitMQ's on-disk size of a one-message chunk (see the comment at the top). */
function chunkBytes(m: Message): number {
  const long = (n: number) => (n > 255 ? 3 : 0);
  const ex = Buffer.byteLength(m.exchange);
  const rk = Buffer.byteLength(m.routingKey);
  const properties = Math.max(0, m.header.length - 14);
  return (
    CHUNK_OVERHEAD +
    ex +
    rk +
    long(ex) +
    long(rk) +
    properties +
    m.body.length +
    long(m.body.length)
  );
}

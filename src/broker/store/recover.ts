/**
 * Reading a data directory back at start: every segment in order, each record checked by
 * its CRC. The topology record that opens a segment is the state at that point; the changes
 * and message records after it are applied in order. A record that is torn or damaged ends
 * its segment: in the last segment that is the write a crash interrupted (never confirmed),
 * and the file is cut there so that appending resumes on a clean end.
 */
import { closeSync, ftruncateSync, openSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { decodeContentHeader, encodeTable } from "../codec/index.js";
import { DELAYED_QUEUE_PREFIX, delayedQueueName } from "../model/delayed.js";
import type {
  DurableTopology,
  RecoveredEntry,
  StoredBinding,
  StoredExchange,
  StoredQueue,
} from "../model/journal.js";
import { type Message, makeMessage } from "../model/message.js";
import { PAGE_AFTER_BYTES, PAGE_AFTER_MESSAGES } from "../model/ready.js";
import { DELAYED_EXCHANGE_TYPE } from "../routing/index.js";
import { crc32 } from "./crc32.js";
import { segmentName } from "./log.js";
import { Placements } from "./placements.js";
import {
  headerProblem,
  In,
  idOf,
  KIND,
  offsetOf,
  type Placement,
  RECORD_OVERHEAD,
  readJson,
  readMessage,
  readPlacement,
  SEGMENT_HEADER,
  segmentOf,
  type TopologyChange,
} from "./records.js";

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreError";
  }
}

export interface Damage {
  segment: number;
  offset: number;
  /** Bytes from the damaged record to the end of its segment, now ignored. */
  bytes: number;
}

export interface Recovered {
  topology: DurableTopology;
  /** Each durable queue's messages, in queue order. */
  entries: Map<string, Iterable<RecoveredEntry>>;
  /** Live placements per segment: a segment with none left can be deleted. */
  live: Map<number, number>;
  /** Message records per segment (compaction compares the live ones with them). */
  written: Map<number, number>;
  /** Bytes per segment file. */
  sizes: Map<number, number>;
  /** The segment to append to (0: none yet) and its valid length. */
  segment: number;
  offset: number;
  damage: Damage[];
  messages: number;
}

const bindingKey = (b: StoredBinding): string =>
  JSON.stringify([b.source, b.destinationType, b.destination, b.routingKey]) +
  encodeTable(b.args).toString("base64");

export function segmentFiles(dir: string): number[] {
  return readdirSync(dir)
    .filter((f) => /^\d{12}\.seg$/.test(f))
    .map((f) => Number(f.slice(0, 12)))
    .sort((a, b) => a - b);
}

class Replay {
  readonly exchanges = new Map<string, StoredExchange>();
  readonly queues = new Map<string, StoredQueue>();
  readonly bindings = new Map<string, StoredBinding>();
  /** Live placements by queue, then id. */
  readonly placed = new Map<string, Placements>();
  readonly written = new Map<number, number>();
  /**
   * The last message record: a place record always names it, since a message routed to
   * several queues is written once and placed at once.
   */
  private last = { id: -1, size: 0 };

  topology(t: DurableTopology): void {
    for (const name of this.exchanges.keys()) {
      if (!t.exchanges.some((x) => x.name === name)) this.dropHeld(name);
    }
    this.exchanges.clear();
    for (const x of t.exchanges) this.declareExchange(x);
    const keep = new Set(t.queues.map((q) => q.name));
    for (const name of [...this.queues.keys()]) if (!keep.has(name)) this.dropQueue(name);
    for (const q of t.queues) this.declareQueue(q);
    this.bindings.clear();
    for (const b of t.bindings) this.bindings.set(bindingKey(b), b);
  }

  /** A delayed-message exchange holds messages as if in a queue of its own (delayed.ts). */
  private declareExchange(x: StoredExchange): void {
    this.exchanges.set(x.name, x);
    const held = x.type === DELAYED_EXCHANGE_TYPE ? delayedQueueName(x.name) : undefined;
    if (held && !this.placed.has(held)) this.placed.set(held, new Placements());
  }

  private dropHeld(exchange: string): void {
    const held = delayedQueueName(exchange);
    if (held) this.placed.delete(held);
  }

  private declareQueue(q: StoredQueue): void {
    this.queues.set(q.name, q);
    if (!this.placed.has(q.name)) this.placed.set(q.name, new Placements());
  }

  private dropQueue(name: string): void {
    this.queues.delete(name);
    this.placed.delete(name);
    for (const [k, b] of this.bindings) {
      if (b.destinationType === "queue" && b.destination === name) this.bindings.delete(k);
    }
  }

  change(c: TopologyChange): void {
    switch (c.op) {
      case "exchange.declare":
        this.declareExchange(c.exchange);
        return;
      case "exchange.delete":
        this.exchanges.delete(c.name);
        this.dropHeld(c.name);
        for (const [k, b] of this.bindings) {
          if (b.source === c.name || (b.destinationType === "exchange" && b.destination === c.name))
            this.bindings.delete(k);
        }
        return;
      case "queue.declare":
        this.declareQueue(c.queue);
        return;
      case "queue.delete":
        this.dropQueue(c.name);
        return;
      case "bind":
        this.bindings.set(bindingKey(c.binding), c.binding);
        return;
      case "unbind":
        this.bindings.delete(bindingKey(c.binding));
        return;
    }
  }

  place(id: number, size: number, p: Placement): void {
    this.placed.get(p.queue)?.add(id, size, p);
  }

  record(id: number, payload: Buffer): void {
    const kind = payload[0];
    switch (kind) {
      case KIND.topology:
        this.topology(readJson<DurableTopology>(payload));
        return;
      case KIND.change:
        this.change(readJson<TopologyChange>(payload));
        return;
      case KIND.message:
      case KIND.moved: {
        const m = readMessage(payload);
        const s = segmentOf(id);
        this.written.set(s, (this.written.get(s) ?? 0) + 1);
        if (m.movedFrom !== undefined) this.placed.get(m.placement.queue)?.remove(m.movedFrom);
        this.last = { id, size: m.bodySize };
        this.place(id, m.bodySize, m.placement);
        return;
      }
      case KIND.place:
      case KIND.movedPlace: {
        const r = new In(payload);
        const target = r.f64();
        const movedFrom = kind === KIND.movedPlace ? r.f64() : undefined;
        const p = readPlacement(r);
        if (movedFrom !== undefined) this.placed.get(p.queue)?.remove(movedFrom);
        if (target === this.last.id) this.place(target, this.last.size, p);
        return;
      }
      case KIND.remove:
      case KIND.delivered:
      case KIND.requeued: {
        const r = new In(payload);
        const queue = this.placed.get(r.short());
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const id = r.f64();
          const returns = kind === KIND.requeued ? r.u32() : 0;
          if (kind === KIND.remove) queue?.remove(id);
          else queue?.mark(id, kind === KIND.requeued ? returns : undefined);
        }
        return;
      }
      default:
        throw new RangeError(`unknown record kind ${kind}`);
    }
  }
}

/** Scan one segment's records; returns the end of the last good one. */
function scan(
  buf: Buffer,
  segment: number,
  apply: (id: number, payload: Buffer) => void,
): { end: number; damaged: boolean } {
  let o = SEGMENT_HEADER;
  while (o < buf.length) {
    if (o + RECORD_OVERHEAD > buf.length) return { end: o, damaged: true };
    const length = buf.readUInt32LE(o);
    const crc = buf.readUInt32LE(o + 4);
    const start = o + RECORD_OVERHEAD;
    if (length === 0 || start + length > buf.length) return { end: o, damaged: true };
    const payload = buf.subarray(start, start + length);
    if (crc32(payload) !== crc) return { end: o, damaged: true };
    try {
      apply(idOf(segment, o), payload);
    } catch {
      return { end: o, damaged: true };
    }
    o = start + length;
  }
  return { end: o, damaged: false };
}

export function recover(dir: string): Recovered {
  const files = segmentFiles(dir);
  const replay = new Replay();
  const damage: Damage[] = [];
  const sizes = new Map<number, number>();
  let segment = 0;
  let offset = 0;
  for (const [i, n] of files.entries()) {
    const path = join(dir, segmentName(n));
    const buf = readFileSync(path);
    const last = i === files.length - 1;
    if (buf.length < SEGMENT_HEADER && last) {
      // Created, then the crash came before its header reached the disk: it holds nothing.
      unlinkSync(path);
      continue;
    }
    const problem = headerProblem(buf);
    if (problem) throw new StoreError(`${path}: ${problem}`);
    const { end, damaged } = scan(buf, n, (id, payload) => replay.record(id, payload));
    if (damaged) {
      damage.push({ segment: n, offset: end, bytes: buf.length - end });
      if (last) {
        const fd = openSync(path, "r+");
        ftruncateSync(fd, end);
        closeSync(fd);
      }
    }
    sizes.set(n, last ? end : buf.length);
    segment = n;
    offset = end;
  }
  const { entries, live, messages } = materialize(dir, replay);
  return {
    topology: {
      exchanges: [...replay.exchanges.values()],
      queues: [...replay.queues.values()],
      bindings: [...replay.bindings.values()],
    },
    entries,
    live,
    written: replay.written,
    sizes,
    segment,
    offset,
    damage,
    messages,
  };
}

/**
 * Read the bodies of the messages at the head of each queue (each segment once, in order);
 * the rest stay on disk. Entries are made one at a time as the queue takes them, so that
 * millions of queued messages never exist as objects all at once.
 */
function materialize(dir: string, replay: Replay) {
  const live = new Map<number, number>();
  const needed = new Map<number, number[]>();
  const orders = new Map<string, Uint32Array>();
  let count = 0;
  for (const [name, queue] of replay.placed) {
    const order = queue.order();
    orders.set(name, order);
    count += order.length;
    let bytes = 0;
    for (const [k, i] of order.entries()) {
      const id = queue.idAt(i);
      const s = segmentOf(id);
      live.set(s, (live.get(s) ?? 0) + 1);
      // Only a long queue's head comes back into memory; its tail stays on disk. What a
      // delayed-message exchange holds is read by the holder itself.
      bytes += queue.sizeAt(i);
      const head = k < PAGE_AFTER_MESSAGES && bytes <= PAGE_AFTER_BYTES;
      if (!head && !name.startsWith(DELAYED_QUEUE_PREFIX)) continue;
      const ids = needed.get(s);
      if (ids) ids.push(id);
      else needed.set(s, [id]);
    }
  }
  const messages = new Map<number, Message>();
  for (const [segment, ids] of needed) {
    // One read per segment; bodies and headers are copied out so the segment can go.
    const buf = readFileSync(join(dir, segmentName(segment)));
    for (const id of ids) {
      if (messages.has(id)) continue;
      const at = offsetOf(id) + RECORD_OVERHEAD;
      const payload = buf.subarray(at, at + buf.readUInt32LE(offsetOf(id)));
      const m = readMessage(payload);
      const header = Buffer.from(m.header);
      const body = Buffer.from(payload.subarray(m.bodyAt, m.bodyAt + m.bodySize));
      const { properties } = decodeContentHeader(header);
      messages.set(id, makeMessage(m.exchange, m.routingKey, properties, body, header));
    }
  }
  const entries = new Map<string, Iterable<RecoveredEntry>>();
  for (const [name, queue] of replay.placed) {
    const order = orders.get(name) as Uint32Array;
    entries.set(name, {
      *[Symbol.iterator]() {
        let paged = false;
        for (const i of order) {
          const row = queue.row(i);
          // Once one is left on disk, the rest follow it (the queue keeps its order).
          const message: Message | undefined = paged ? undefined : messages.get(row.id);
          paged = message === undefined;
          yield { ...row, message };
        }
      },
    });
  }
  return { entries, live, messages: count };
}

/**
 * Durable storage for the embedded broker: a data directory holding one append-only log
 * (log.ts) of the durable topology and of every persistent message in a durable queue, with
 * what became of it. It implements the model's Journal. Acks and delivery marks are gathered
 * and written with the next batch; they need no fsync of their own (a crash may bring back
 * what was acked in the last few milliseconds, as in RabbitMQ). Segments whose messages are
 * all gone are deleted from the oldest on; a few left in the oldest are moved on (compaction).
 * It is also the Pager that reads bodies back for long queues (reader.ts).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type {
  DurableTopology,
  Journal,
  Stored,
  StoredBinding,
  StoredExchange,
  StoredQueue,
} from "../model/journal.js";
import type { Message } from "../model/message.js";
import type { QueuedMessage } from "../model/queue.js";
import type { Pager, Row } from "../model/ready.js";
import { lock, storeError, unlock } from "./lock.js";
import { Log, segmentName } from "./log.js";
import { SegmentReader } from "./reader.js";
import {
  idsRecord,
  jsonRecord,
  KIND,
  messageRecord,
  placeRecord,
  requeuedRecord,
  segmentOf,
  type TopologyChange,
} from "./records.js";
import { type Damage, type Recovered, recover } from "./recover.js";

export { StoreError } from "./recover.js";

export interface StoreOptions {
  /** Bytes after which a segment is closed and the next one begun (default 16 MiB). */
  segmentSize?: number;
  /** Told when writing fails (disk full, I/O error); confirms stop from then on. */
  onError?: (err: Error) => void;
}

export interface RecoveryReport {
  exchanges: number;
  queues: number;
  bindings: number;
  messages: number;
  ms: number;
  /** Records that could not be read (a torn last write is normal after a crash). */
  damage: Damage[];
}

const EMPTY: DurableTopology = { exchanges: [], queues: [], bindings: [] };
/** Compaction starts once there are this many segments... */
const COMPACT_AFTER_SEGMENTS = 4;
/** ...and moves the oldest one's messages on when at most this share of them is left. */
const COMPACT_LIVE_SHARE = 0.25;

/** Visits every ready stored message that `pick` chooses; `move` gives it a new id. */
export type Relocator = (
  pick: (id: number) => boolean,
  move: (queue: string, row: Row, priority: number) => number,
) => void;

export class Store implements Journal, Pager {
  readonly dir: string;
  readonly recovery: RecoveryReport;
  private recovered: Recovered | undefined;
  private readonly log: Log;
  /** Live placements per segment, and bytes per segment file. */
  private readonly live: Map<number, number>;
  private readonly sizes: Map<number, number>;
  /** Message records written per segment. */
  private readonly written: Map<number, number>;
  private oldest: number;
  private relocator: Relocator | undefined;
  /** The last segment compaction has worked on (once each). */
  private compacted = 0;
  private topology: () => DurableTopology = () => EMPTY;
  /** The last message written, to store a message routed to several queues once. */
  private lastMessage: Message | undefined;
  private lastId = 0;
  private readonly pendingDelivered = new Map<string, number[]>();
  private readonly pendingRemoved = new Map<string, number[]>();
  private pending = false;
  /** Messages appended but perhaps not yet written, by id (a paged read may want one). */
  private readonly unwritten = new Map<number, Message>();
  private appendedIds: number[] = [];
  private writingIds: number[] = [];
  private readonly reader: SegmentReader;

  constructor(dir: string, options: StoreOptions = {}) {
    const started = performance.now();
    this.dir = dir;
    this.reader = new SegmentReader(dir);
    let r: Recovered;
    try {
      mkdirSync(dir, { recursive: true });
      lock(dir);
      r = recover(dir);
    } catch (err) {
      throw storeError(dir, err);
    }
    this.recovered = r;
    this.live = r.live;
    this.sizes = r.sizes;
    this.written = r.written;
    this.oldest = r.sizes.size > 0 ? Math.min(...r.sizes.keys()) : r.segment + 1;
    this.log = new Log({
      dir,
      segmentSize: options.segmentSize ?? 16 * 1024 * 1024,
      segment: r.segment,
      offset: r.offset,
      onRoll: (segment) => this.rolled(segment),
      onError: options.onError ?? (() => {}),
      beforeFlush: () => {
        this.writePending();
        this.writingIds.push(...this.appendedIds);
        this.appendedIds = [];
      },
      onCommit: () => {
        for (const id of this.writingIds) this.unwritten.delete(id);
        this.writingIds = [];
        this.collect();
      },
    });
    this.recovery = {
      exchanges: r.topology.exchanges.length,
      queues: r.topology.queues.length,
      bindings: r.topology.bindings.length,
      messages: r.messages,
      ms: performance.now() - started,
      damage: r.damage,
    };
  }

  /** What was read back at start, once (the broker restores it into its virtual host). */
  takeRecovered(): Recovered {
    const r = this.recovered;
    if (!r) throw new Error("recovered state already taken");
    this.recovered = undefined;
    return r;
  }

  /** How compaction finds the ready messages of an old segment (the vhost's queues). */
  relocateWith(relocator: Relocator): void {
    this.relocator = relocator;
  }

  /** Where new segments get the durable topology from. */
  describeWith(topology: () => DurableTopology): void {
    this.topology = topology;
  }

  /** Messages kept (each queue's copy counts), unacknowledged ones included. */
  get messages(): number {
    let n = 0;
    for (const v of this.live.values()) n += v;
    return n;
  }

  get diskBytes(): number {
    let n = 0;
    for (const b of this.sizes.values()) n += b;
    return n;
  }

  get failed(): Error | undefined {
    return this.log.failed;
  }

  // ------------------------------------------------------------ Journal

  get appended(): number {
    return this.log.appended;
  }

  get synced(): number {
    return this.log.synced;
  }

  mark(): number {
    this.flushPending();
    return this.log.appended;
  }

  afterSync(mark: number, done: (err?: Error) => void): void {
    this.log.afterSync(mark, done);
  }

  exchangeDeclared(x: StoredExchange): void {
    this.change({ op: "exchange.declare", exchange: x });
  }
  exchangeDeleted(name: string): void {
    this.change({ op: "exchange.delete", name });
  }
  queueDeclared(q: StoredQueue): void {
    this.change({
      op: "queue.declare",
      queue: { name: q.name, autoDelete: q.autoDelete, args: q.args },
    });
  }
  queueDeleted(name: string): void {
    this.change({ op: "queue.delete", name });
  }
  bound(b: StoredBinding): void {
    this.change({ op: "bind", binding: b });
  }
  unbound(b: StoredBinding): void {
    this.change({ op: "unbind", binding: b });
  }

  enqueued(queue: string, entry: QueuedMessage): void {
    const m = entry.message;
    if (m.properties.deliveryMode !== 2 || this.log.failed) return;
    const placement = {
      queue,
      seq: entry.seq,
      expiresAt: entry.expiresAt,
      priority: entry.priority,
      redelivered: entry.redelivered,
      returns: entry.returns,
    };
    let id: number;
    if (m === this.lastMessage && (this.live.get(segmentOf(this.lastId)) ?? 0) > 0) {
      this.flushPending();
      id = this.lastId;
      this.append([placeRecord(id, placement)]);
    } else {
      this.flushPending();
      id = this.append(messageRecord(placement, m.exchange, m.routingKey, m.header, m.body));
      this.countWritten(id);
      this.lastMessage = m;
      this.lastId = id;
      this.unwritten.set(id, m);
      this.appendedIds.push(id);
    }
    entry.id = id;
    const s = segmentOf(id);
    this.live.set(s, (this.live.get(s) ?? 0) + 1);
  }

  delivered(queue: string, entry: QueuedMessage): void {
    if (entry.id === undefined) return;
    this.gather(this.pendingDelivered, queue, entry.id);
  }

  requeued(queue: string, entries: readonly QueuedMessage[]): void {
    const stored = entries.filter((e): e is QueuedMessage & { id: number } => e.id !== undefined);
    if (stored.length === 0) return;
    this.flushPending();
    this.append([
      requeuedRecord(
        queue,
        stored.map((e) => ({ id: e.id, returns: e.returns })),
      ),
    ]);
  }

  removed(queue: string, entries: readonly Stored[]): void {
    for (const e of entries) {
      if (e.id === undefined) continue;
      this.gather(this.pendingRemoved, queue, e.id);
      this.release(e.id);
    }
  }

  released(entries: readonly Stored[]): void {
    for (const e of entries) if (e.id !== undefined) this.release(e.id);
  }

  // ------------------------------------------------------------ Pager

  /** A stored message, read back from its segment (its CRC checked again). */
  read(id: number): Message {
    return this.unwritten.get(id) ?? this.reader.read(id);
  }

  // ------------------------------------------------------------ writing

  private append(parts: Buffer[]): number {
    const id = this.log.append(parts);
    const s = segmentOf(id);
    let size = 8;
    for (const p of parts) size += p.length;
    this.sizes.set(s, (this.sizes.get(s) ?? 0) + size);
    return id;
  }

  private change(c: TopologyChange): void {
    if (this.log.failed) return;
    this.flushPending();
    this.append([jsonRecord(KIND.change, c)]);
  }

  private rolled(segment: number): void {
    this.sizes.set(segment, 8);
    this.append([jsonRecord(KIND.topology, this.topology())]);
  }

  private gather(into: Map<string, number[]>, queue: string, id: number): void {
    const ids = into.get(queue);
    if (ids) ids.push(id);
    else into.set(queue, [id]);
    if (!this.pending) {
      this.pending = true;
      this.log.wake();
    }
  }

  /** Write gathered marks and acks now: before any other record, so the order holds. */
  private flushPending(): void {
    if (!this.pending) return;
    this.writePending();
  }

  private writePending(): void {
    if (!this.pending) return;
    this.pending = false;
    if (this.log.failed) return;
    // Delivery marks first: an id delivered then acked must not come back as delivered only.
    for (const [queue, ids] of this.pendingDelivered)
      this.append([idsRecord(KIND.delivered, queue, ids)]);
    for (const [queue, ids] of this.pendingRemoved)
      this.append([idsRecord(KIND.remove, queue, ids)]);
    this.pendingDelivered.clear();
    this.pendingRemoved.clear();
  }

  private countWritten(id: number): void {
    const s = segmentOf(id);
    this.written.set(s, (this.written.get(s) ?? 0) + 1);
  }

  private release(id: number): void {
    const s = segmentOf(id);
    const n = (this.live.get(s) ?? 0) - 1;
    if (n > 0) this.live.set(s, n);
    else this.live.delete(s);
  }

  /**
   * After a batch is on disk: delete the oldest segments that hold no message any more. Only
   * segments older than the last one on disk go, since the next one's first record must be
   * there to take over the topology they described; the directory is synced after each, so
   * that a crash never leaves an older segment without the newer ones that cancel it.
   */
  private collect(): void {
    while (this.oldest < this.log.syncedSegment && !this.live.has(this.oldest)) {
      const path = join(this.dir, segmentName(this.oldest));
      try {
        unlinkSync(path);
        const dir = openSync(this.dir, "r");
        fsyncSync(dir);
        closeSync(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") return;
      }
      this.sizes.delete(this.oldest);
      this.reader.forget(this.oldest);
      this.written.delete(this.oldest);
      this.oldest += 1;
    }
    this.compact();
  }

  /**
   * A few messages left in the oldest segment would keep it, and every later one, on disk:
   * once there are a few segments, its ready messages are written again at the end (each
   * record says which id it replaces, so a crash half way never doubles a message) and the
   * segment goes at a later commit. Unacknowledged ones keep it until they are settled.
   */
  private compact(): void {
    const s = this.oldest;
    const live = this.live.get(s) ?? 0;
    if (
      !this.relocator ||
      s <= this.compacted ||
      s >= this.log.syncedSegment ||
      this.sizes.size < COMPACT_AFTER_SEGMENTS ||
      live === 0 ||
      live > (this.written.get(s) ?? 0) * COMPACT_LIVE_SHARE
    ) {
      return;
    }
    this.compacted = s;
    this.flushPending();
    const moved = new Map<number, number>();
    this.relocator(
      (id) => segmentOf(id) === s,
      (queue, row, priority) => this.move(moved, queue, row, priority),
    );
    this.lastMessage = undefined;
  }

  private move(moved: Map<number, number>, queue: string, row: Row, priority: number): number {
    const old = row.id as number;
    const placement = {
      queue,
      seq: row.seq,
      expiresAt: row.expiresAt,
      priority,
      redelivered: row.redelivered,
      returns: row.returns,
    };
    let id = moved.get(old);
    if (id === undefined) {
      const m = this.read(old);
      id = this.append(messageRecord(placement, m.exchange, m.routingKey, m.header, m.body, old));
      this.countWritten(id);
      moved.set(old, id);
      this.unwritten.set(id, m);
      this.appendedIds.push(id);
    } else this.append([placeRecord(id, placement, old)]);
    this.release(old);
    const s = segmentOf(id);
    this.live.set(s, (this.live.get(s) ?? 0) + 1);
    return id;
  }

  /** Write what is pending, wait for the disk, release the directory. */
  async close(): Promise<void> {
    await this.log.close();
    this.reader.close();
    unlock(this.dir);
  }
}

/**
 * A queue's ready messages: one FIFO per priority level, in arrival order (a requeued message
 * goes back to its place by seq). With durable storage, a level that holds many messages keeps
 * only its head in memory: later persistent arrivals wait as compact rows (id, seq, deadline,
 * size, counts) in typed arrays, and their bodies stay on disk until the head runs low, as in
 * RabbitMQ's classic queues v2. A transient message that arrives behind paged ones waits in
 * the same FIFO, whole, so order holds.
 */
import { Deque } from "./deque.js";
import type { Stored } from "./journal.js";
import type { Message } from "./message.js";
import type { QueuedMessage } from "./queue.js";

/** Reads stored messages back (the store implements it). */
export interface Pager {
  /** The stored message with this id (from memory if it is not written yet). */
  read(id: number): Message;
}

/** Past either of these, a level keeps new persistent arrivals on disk. */
export const PAGE_AFTER_MESSAGES = 20_000;
export const PAGE_AFTER_BYTES = 16 * 1024 * 1024;
/** Rows read back from disk at a time. */
const LOAD_BATCH = 512;
const CHUNK = 4096;

/** What a row keeps of a message. */
export interface Row {
  readonly id?: number | undefined;
  readonly seq: number;
  readonly expiresAt: number;
  readonly redelivered: boolean;
  readonly returns: number;
}

/** A fixed-size block of rows; `whole` holds messages kept whole (transient ones). */
class Chunk {
  readonly id = new Float64Array(CHUNK);
  readonly seq = new Float64Array(CHUNK);
  readonly expiresAt = new Float64Array(CHUNK);
  readonly size = new Uint32Array(CHUNK);
  readonly returns = new Uint32Array(CHUNK);
  readonly redelivered = new Uint8Array(CHUNK);
  whole: (QueuedMessage | undefined)[] | undefined;
}

/** A FIFO of rows in chunks: memory per message is ~40 bytes instead of a whole message. */
class Rows {
  private chunks: Chunk[] = [];
  private head = 0;
  private tail = 0;

  get length(): number {
    return this.tail - this.head;
  }

  /** A row; `whole` keeps a message that storage does not have (a transient one). */
  push(e: Row, size: number, whole?: QueuedMessage): void {
    const at = this.tail % CHUNK;
    if (at === 0) this.chunks.push(new Chunk());
    const c = this.chunks[this.chunks.length - 1] as Chunk;
    c.id[at] = e.id ?? -1;
    c.seq[at] = e.seq;
    c.expiresAt[at] = e.expiresAt;
    c.size[at] = size;
    c.returns[at] = e.returns;
    c.redelivered[at] = e.redelivered ? 1 : 0;
    if (whole) {
      c.whole ??= [];
      c.whole[at] = whole;
    } else if (c.whole) c.whole[at] = undefined;
    this.tail += 1;
  }

  /** The first row's deadline and size, without loading it. */
  peekSize(): number {
    const c = this.chunks[0] as Chunk;
    return c.size[this.head % CHUNK] as number;
  }

  shift(priority: number, pager: Pager): QueuedMessage {
    const c = this.chunks[0] as Chunk;
    const at = this.head % CHUNK;
    const kept = c.whole?.[at];
    let e: QueuedMessage;
    if (kept) e = kept;
    else {
      const id = c.id[at] as number;
      e = {
        message: pager.read(id),
        seq: c.seq[at] as number,
        priority,
        expiresAt: c.expiresAt[at] as number,
        redelivered: c.redelivered[at] === 1,
        returns: c.returns[at] as number,
        id,
      };
    }
    this.head += 1;
    if (this.head % CHUNK === 0 || this.head === this.tail) {
      if (this.head === this.tail) {
        this.chunks = [];
        this.head = 0;
        this.tail = 0;
      } else this.chunks.shift();
    }
    return e;
  }

  /** Give the stored rows that `pick` chooses a new id (compaction moved them). */
  relocate(pick: (id: number) => boolean, move: (row: Row) => number): void {
    for (let i = this.head; i < this.tail; i++) {
      const c = this.chunks[Math.floor(i / CHUNK) - Math.floor(this.head / CHUNK)] as Chunk;
      const at = i % CHUNK;
      const id = c.id[at] as number;
      if (id < 0 || c.whole?.[at] || !pick(id)) continue;
      c.id[at] = move({
        id,
        seq: c.seq[at] as number,
        expiresAt: c.expiresAt[at] as number,
        redelivered: c.redelivered[at] === 1,
        returns: c.returns[at] as number,
      });
    }
  }

  /** Every row's id (stored ones), emptying the FIFO. */
  clear(): Stored[] {
    const out: Stored[] = [];
    for (let i = this.head; i < this.tail; i++) {
      const c = this.chunks[Math.floor(i / CHUNK) - Math.floor(this.head / CHUNK)] as Chunk;
      const at = i % CHUNK;
      const kept = c.whole?.[at];
      out.push(kept ?? { id: c.id[at] as number });
    }
    this.chunks = [];
    this.head = 0;
    this.tail = 0;
    return out;
  }
}

interface Level {
  readonly memory: Deque<QueuedMessage>;
  readonly paged: Rows;
  memoryBytes: number;
}

export class ReadyList {
  private readonly levels: Level[];
  private total = 0;
  private totalBytes = 0;

  constructor(
    levels: number,
    /** Told of bytes of bodies held in memory (the broker's memory watermark). */
    private readonly adjustStored: (delta: number) => void,
    private readonly pager: Pager | undefined,
  ) {
    this.levels = Array.from({ length: levels }, () => ({
      memory: new Deque<QueuedMessage>(),
      paged: new Rows(),
      memoryBytes: 0,
    }));
  }

  get count(): number {
    return this.total;
  }

  /** Bytes of all ready bodies, in memory or not (x-max-length-bytes counts them all). */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Messages whose bodies are on disk only. */
  get pagedCount(): number {
    let n = 0;
    for (const l of this.levels) n += l.paged.length;
    return n;
  }

  /** A new arrival (or a recovered one), at the tail of its level. */
  push(e: QueuedMessage): void {
    const level = this.levels[e.priority] as Level;
    const size = e.message.body.length;
    this.total += 1;
    this.totalBytes += size;
    const full =
      level.memory.length >= PAGE_AFTER_MESSAGES || level.memoryBytes >= PAGE_AFTER_BYTES;
    if (this.pager && (level.paged.length > 0 || (full && e.id !== undefined))) {
      // Behind paged rows everything waits in the FIFO; only stored messages drop their body.
      const keepWhole = e.id === undefined;
      level.paged.push(e, size, keepWhole ? e : undefined);
      if (keepWhole) this.adjustStored(size);
      return;
    }
    this.toMemory(level, e, size);
  }

  /** A stored message read back at start whose body stays on disk until it is needed. */
  pushStored(row: Row & { id: number }, priority: number, size: number): void {
    const level = this.levels[priority] as Level;
    level.paged.push(row, size);
    this.total += 1;
    this.totalBytes += size;
  }

  private toMemory(level: Level, e: QueuedMessage, size: number): void {
    level.memory.push(e);
    level.memoryBytes += size;
    this.adjustStored(size);
  }

  /** A requeued message goes back to its place by seq (always within the memory head). */
  insert(e: QueuedMessage): void {
    const level = this.levels[e.priority] as Level;
    const size = e.message.body.length;
    level.memory.insertByKey(e, (x) => x.seq);
    level.memoryBytes += size;
    this.total += 1;
    this.totalBytes += size;
    this.adjustStored(size);
  }

  /** Refill a level's memory head from its rows when it runs low. */
  private load(level: Level, priority: number): void {
    if (level.memory.length > 0 || level.paged.length === 0) return;
    const pager = this.pager as Pager;
    for (let i = 0; i < LOAD_BATCH && level.paged.length > 0; i++) {
      const whole = level.paged.peekSize();
      const e = level.paged.shift(priority, pager);
      level.memory.push(e);
      level.memoryBytes += whole;
      // A stored message's body joins memory now (a whole one was counted already).
      if (e.id !== undefined) this.adjustStored(whole);
    }
  }

  peek(): QueuedMessage | undefined {
    for (let p = this.levels.length - 1; p >= 0; p--) {
      const level = this.levels[p] as Level;
      this.load(level, p);
      const head = level.memory.peek();
      if (head) return head;
    }
    return undefined;
  }

  shift(): QueuedMessage | undefined {
    for (let p = this.levels.length - 1; p >= 0; p--) {
      const level = this.levels[p] as Level;
      this.load(level, p);
      const e = level.memory.shift();
      if (!e) continue;
      const size = e.message.body.length;
      level.memoryBytes -= size;
      this.total -= 1;
      this.totalBytes -= size;
      this.adjustStored(-size);
      return e;
    }
    return undefined;
  }

  /**
   * Storage compaction: every ready stored message that `pick` chooses is written again
   * further on, and takes the id `move` returns (with its level as priority).
   */
  relocate(pick: (id: number) => boolean, move: (row: Row, priority: number) => number): void {
    for (const [p, level] of this.levels.entries()) {
      for (const e of level.memory) {
        if (e.id !== undefined && pick(e.id)) e.id = move(e, p);
      }
      level.paged.relocate(pick, (row) => move(row, p));
    }
  }

  /** Empty every level; returns what was there (paged rows as their ids). */
  clear(): Stored[] {
    const out: Stored[] = [];
    let inMemory = 0;
    for (const level of this.levels) {
      for (const e of level.memory.clear()) out.push(e);
      inMemory += level.memoryBytes;
      level.memoryBytes = 0;
      for (const row of level.paged.clear()) {
        out.push(row);
        if ("message" in row) inMemory += (row as QueuedMessage).message.body.length;
      }
    }
    this.adjustStored(-inMemory);
    this.total = 0;
    this.totalBytes = 0;
    return out;
  }
}

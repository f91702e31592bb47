/**
 * The append-only log with group commit. Records are appended in memory and given their id
 * (segment and offset) at once; everything appended while the previous write was on its way
 * goes to disk as one batch: one writev per segment, then one fdatasync per segment. Only
 * then does `synced` move, so a publisher confirm that waits for it means "on disk".
 * A segment is closed at `segmentSize` and the next one opened; `onRoll` writes the first
 * record of the new one (the durable topology).
 */
import { closeSync, fdatasync, fsyncSync, openSync, writev } from "node:fs";
import { join } from "node:path";
import { frame, idOf, RECORD_OVERHEAD, SEGMENT_HEADER, segmentHeader } from "./records.js";

export const segmentName = (n: number): string => `${String(n).padStart(12, "0")}.seg`;

interface Part {
  readonly segment: number;
  readonly fd: number;
  readonly position: number;
  readonly buffers: Buffer[];
  /** The segment file is new: its directory entry must reach the disk too. */
  readonly created: boolean;
}

interface Waiter {
  readonly mark: number;
  readonly done: (err?: Error) => void;
}

export interface LogOptions {
  dir: string;
  segmentSize: number;
  /** The segment to append to and its length, as recovery left them. */
  segment: number;
  offset: number;
  /** Write the first record of a new segment (append to the log from here). */
  onRoll: (segment: number) => void;
  /** Storage failed (disk full, I/O error): nothing more is confirmed. */
  onError: (err: Error) => void;
  /** Append what was gathered in memory (acks, delivery marks) before a batch goes out. */
  beforeFlush: () => void;
  /** A batch is on disk. */
  onCommit: () => void;
}

export class Log {
  appended = 0;
  synced = 0;
  /** Bytes appended to the current segment so far. */
  private offset: number;
  segment: number;
  /** The segment of the last record on disk: older segments are complete. */
  syncedSegment = 0;
  private fd: number;
  private batch: Part[] = [];
  private writing = false;
  private scheduled = false;
  private waiters: Waiter[] = [];
  private failure: Error | undefined;
  /** Open descriptors by segment, for writing (the current one) and for fsync. */
  private readonly fds = new Map<number, number>();
  private rolling = false;

  constructor(private readonly options: LogOptions) {
    this.segment = options.segment;
    this.offset = options.offset;
    if (this.segment === 0) {
      // An empty directory: the first segment is created with the first record.
      this.fd = -1;
    } else {
      this.fd = openSync(this.path(this.segment), "r+");
      this.fds.set(this.segment, this.fd);
    }
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  path(segment: number): string {
    return join(this.options.dir, segmentName(segment));
  }

  /** Append one record (given as payload parts); returns its id. */
  append(parts: readonly Buffer[]): number {
    let size = RECORD_OVERHEAD;
    for (const p of parts) size += p.length;
    if (
      this.fd === -1 ||
      (!this.rolling &&
        this.offset > SEGMENT_HEADER &&
        this.offset + size > this.options.segmentSize)
    ) {
      this.openNext();
    }
    const id = idOf(this.segment, this.offset);
    this.push(frame(parts), size, false);
    this.appended += 1;
    this.schedule();
    return id;
  }

  private push(buffers: Buffer[], size: number, created: boolean): void {
    const last = this.batch[this.batch.length - 1];
    if (last && last.segment === this.segment && !created) last.buffers.push(...buffers);
    else {
      this.batch.push({
        segment: this.segment,
        fd: this.fd,
        position: this.offset,
        buffers,
        created,
      });
    }
    this.offset += size;
  }

  private openNext(): void {
    this.segment += 1;
    this.offset = 0;
    this.fd = openSync(this.path(this.segment), "wx");
    this.fds.set(this.segment, this.fd);
    this.push([segmentHeader()], SEGMENT_HEADER, true);
    this.rolling = true;
    try {
      this.options.onRoll(this.segment);
    } finally {
      this.rolling = false;
    }
  }

  /** Run `done` once every record appended up to `mark` is on disk. */
  afterSync(mark: number, done: (err?: Error) => void): void {
    if (this.failure) done(this.failure);
    else if (this.synced >= mark) done();
    else this.waiters.push({ mark, done });
  }

  /** Make sure a batch goes out soon (records appended from `beforeFlush`). */
  wake(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    // Everything appended while this I/O turn runs joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.writing || this.failure) return;
    this.options.beforeFlush();
    if (this.batch.length === 0) return;
    const parts = this.batch;
    const mark = this.appended;
    this.batch = [];
    this.writing = true;
    let i = 0;
    const next = (err: Error | null): void => {
      if (err) {
        this.fail(err);
        return;
      }
      const part = parts[i++];
      if (part) {
        writev(part.fd, part.buffers, part.position, (e) => next(e));
        return;
      }
      const fds = [...new Set(parts.map((p) => p.fd))];
      let left = fds.length;
      for (const fd of fds) {
        fdatasync(fd, (e) => {
          if (e) this.fail(e);
          else if (--left === 0) this.committed(mark, parts);
        });
      }
    };
    next(null);
  }

  private committed(mark: number, parts: Part[]): void {
    // A new segment's name must survive a crash as well as its bytes.
    if (parts.some((p) => p.created)) {
      try {
        const dir = openSync(this.options.dir, "r");
        fsyncSync(dir);
        closeSync(dir);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
    }
    // Closed segments are complete on disk now: their descriptors can go.
    for (const [segment, fd] of this.fds) {
      if (segment === this.segment || this.batch.some((p) => p.segment === segment)) continue;
      this.fds.delete(segment);
      closeSync(fd);
    }
    this.synced = mark;
    this.syncedSegment = Math.max(...parts.map((p) => p.segment));
    this.writing = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      if (w.mark <= mark) w.done();
      else this.waiters.push(w);
    }
    this.options.onCommit();
    if (this.batch.length > 0) this.flush();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.writing = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.done(err);
    this.options.onError(err);
  }

  /** Wait for what was appended to be on disk, then close the files. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        for (const fd of this.fds.values()) closeSync(fd);
        this.fds.clear();
        resolve();
      };
      if (!this.failure) this.options.beforeFlush();
      if (this.failure || this.appended === 0) return finish();
      this.afterSync(this.appended, () => finish());
      this.flush();
    });
  }
}

/**
 * Acknowledgements that follow the output: a consumed message is settled only once the text
 * printed for it has been written through, so a reader that goes away early (`consume q |
 * head -2`) takes no message with it that it did not get.
 *
 * - Text is written in batches (a write per message costs more than formatting it).
 * - A batch's messages are settled in the write's callback, never on the synchronous return
 *   value: a write to a closed pipe fails after it returned.
 * - On a pipe, a written message may still sit in the pipe's buffer, unread. It is settled
 *   only when as many bytes as the pipe holds (`lagBytes`) were written after it: then the
 *   reader must have taken it off the pipe. Until then it counts as held; `onHeld` lets the
 *   caller raise the prefetch by as many, so the broker keeps delivering meanwhile.
 * - When the output closes, everything not yet settled is given back (requeued) and counted.
 *
 * Knows nothing of AMQP: the caller says how to settle and how to give back.
 */

export interface OutputAcksOptions<T> {
  /** Write text; call `done` once it has been written through (or with the error). */
  write(text: string, done: (err?: Error | null) => void): void;
  /** Settle a message for good (ack, reject or requeue, as the policy says). */
  settle(item: T): void;
  /** Put a message back, unsettled by us (nack with requeue). */
  giveBack(item: T): void;
  /** Bytes written after a message before it counts as read: the pipe's size; 0 off a pipe. */
  lagBytes: number;
  /** Written messages held back because the reader may not have read them yet. */
  onHeld?(held: number): void;
  /**
   * Whether the pipe's reader has gone (when it can tell). Asked once a second while messages
   * are held and nothing is written, and before the last held ones are settled: a reader that
   * exits is otherwise seen only on the next write.
   */
  readerGone?(): boolean;
  /** The output closed: the reader went away (EPIPE, or `readerGone`). */
  onClosed?(): void;
}

/** Linux's default pipe size: a write completes once its bytes are in a buffer this big. */
export const PIPE_BUFFER_BYTES = 65_536;
/** A batch is written at once past this size, else at the end of the event-loop turn. */
const BATCH_BYTES = 65_536;

export class OutputAcks<T> {
  /** Messages settled, and messages given back because the output closed first. */
  readonly counts = { settled: 0, givenBack: 0 };
  private text = "";
  private batch: T[] = [];
  private scheduled = false;
  /** Batches handed to write whose callback has not come yet. */
  private readonly inFlight = new Set<T[]>();
  private idle: Array<() => void> = [];
  /** Written, not yet known to be read: with the byte count written up to their end. */
  private readonly unread: Array<{ item: T; end: number }> = [];
  private written = 0;
  private closed = false;
  private watch: NodeJS.Timeout | undefined;

  constructor(private readonly o: OutputAcksOptions<T>) {}

  /** The output is gone: nothing more is written or settled. */
  get outputClosed(): boolean {
    return this.closed;
  }

  /** Messages written but not yet known to be read. */
  get held(): number {
    return this.unread.length;
  }

  /** Print `text` for `item` (undefined: nothing to settle, e.g. no-ack). */
  push(text: string, item: T | undefined): void {
    if (this.closed) {
      if (item !== undefined) this.giveBack(item);
      return;
    }
    this.text += text;
    if (item !== undefined) this.batch.push(item);
    if (this.text.length >= BATCH_BYTES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Write what is batched now. */
  flush(): void {
    this.scheduled = false;
    if (this.text === "" && this.batch.length === 0) return;
    const text = this.text;
    const items = this.batch;
    this.text = "";
    this.batch = [];
    if (this.closed) {
      for (const item of items) this.giveBack(item);
      return;
    }
    this.inFlight.add(items);
    this.o.write(text, (err) => {
      // Gone already: given back when the output closed.
      if (!this.inFlight.delete(items)) return;
      if (err || this.closed) {
        for (const item of items) this.giveBack(item);
        this.close();
      } else {
        this.written += Buffer.byteLength(text);
        if (this.o.lagBytes === 0) for (const item of items) this.settle(item);
        else {
          for (const item of items) this.unread.push({ item, end: this.written });
          this.release();
        }
      }
      if (this.inFlight.size === 0) for (const resolve of this.idle.splice(0)) resolve();
    });
  }

  /** The output closed (EPIPE): what is held and what comes later goes back. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unwatch();
    for (const { item } of this.unread.splice(0)) this.giveBack(item);
    for (const items of this.inFlight) for (const item of items) this.giveBack(item);
    this.inFlight.clear();
    for (const resolve of this.idle.splice(0)) resolve();
    this.o.onHeld?.(0);
    this.o.onClosed?.();
  }

  /**
   * The end of a run: write what is batched, wait (bounded) for the writes, then settle what
   * the pipe still holds: its reader is there, and gets it. Returns false when the writes did
   * not finish in time (the reader stopped reading); those messages go back.
   */
  async finish(timeoutMs: number): Promise<boolean> {
    this.flush();
    const done = await this.drained(timeoutMs);
    this.unwatch();
    if (!done || (this.unread.length > 0 && this.o.readerGone?.() === true)) this.close();
    if (!this.closed) for (const { item } of this.unread.splice(0)) this.settle(item);
    return done;
  }

  private drained(timeoutMs: number): Promise<boolean> {
    if (this.inFlight.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Settle what lies a pipe's size or more behind the written end. */
  private release(): void {
    const before = this.unread.length;
    while (this.unread.length > 0 && this.written - this.unread[0]!.end >= this.o.lagBytes)
      this.settle(this.unread.shift()!.item);
    if (this.unread.length !== before || before > 0) this.o.onHeld?.(this.unread.length);
    if (this.unread.length > 0 && this.o.readerGone && !this.watch) {
      let writtenThen = this.written;
      this.watch = setInterval(() => {
        const quiet = this.written === writtenThen && this.inFlight.size === 0;
        writtenThen = this.written;
        if (quiet && this.o.readerGone?.() === true) this.close();
      }, 1000);
      this.watch.unref();
    } else if (this.unread.length === 0) this.unwatch();
  }

  private unwatch(): void {
    if (this.watch) clearInterval(this.watch);
    this.watch = undefined;
  }

  private settle(item: T): void {
    this.counts.settled += 1;
    this.o.settle(item);
  }

  private giveBack(item: T): void {
    this.counts.givenBack += 1;
    this.o.giveBack(item);
  }
}

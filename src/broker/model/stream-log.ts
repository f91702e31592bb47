/**
 * Where a stream keeps its entries: an append-only log of segments, as RabbitMQ's osiris keeps
 * one on disk (a segment file per run of chunks). The stream (stream.ts) decides when a new
 * segment starts and which old segments retention deletes; the log only stores, reads and
 * forgets. MemoryStreamLog keeps it in memory; a disk-backed log (the broker's data directory)
 * implements the same interface.
 */
import type { Message } from "./message.js";

/** What the stream appends: the offset is the log's to give. */
export interface NewStreamEntry {
  /** When it was written, ms since the epoch (osiris stamps each chunk). */
  readonly timestamp: number;
  /**
   * The message as consumers get it, or undefined for a writer-tracking entry: RabbitMQ
   * writes one at the start of each segment after the first; it takes an offset and is never
   * delivered.
   */
  readonly message: Message | undefined;
  /** Bytes it takes in its segment (the size of RabbitMQ's chunk on disk). */
  readonly bytes: number;
}

export interface StreamEntry extends NewStreamEntry {
  readonly offset: number;
}

export interface SegmentInfo {
  readonly firstOffset: number;
  /** One past its last entry. */
  readonly nextOffset: number;
  /** Its size, its 8-byte header included (a segment file's size in RabbitMQ). */
  readonly bytes: number;
  /** Entries (chunks), tracking entries included. */
  readonly entries: number;
  /** Entries that carry a message. */
  readonly messages: number;
  /** The timestamp of its last entry; -Infinity when it has none. */
  readonly lastTimestamp: number;
}

export interface StreamLog {
  /** The oldest offset kept; equal to nextOffset when the log is empty. */
  readonly firstOffset: number;
  /** The offset the next appended entry gets. */
  readonly nextOffset: number;
  /** Add an entry to the newest segment. */
  append(entry: NewStreamEntry): StreamEntry;
  /** Close the newest segment: later entries go to a new one. */
  roll(): void;
  /** The entry at `offset`, or undefined when it was deleted or is not written yet. */
  read(offset: number): StreamEntry | undefined;
  /** The segments, oldest first; the last is the one appended to. */
  segments(): readonly SegmentInfo[];
  /** The segment appended to (the last of segments(), asked before every write). */
  newest(): SegmentInfo;
  /** Delete the `count` oldest segments (retention); the newest one always stays. */
  dropOldest(count: number): void;
  /** The stream is deleted. */
  close(): void;
}

/** osiris writes this header at the start of every segment file. */
export const SEGMENT_HEADER_BYTES = 8;

interface Segment {
  readonly first: number;
  readonly entries: StreamEntry[];
  bytes: number;
  messages: number;
}

export class MemoryStreamLog implements StreamLog {
  private segs: Segment[] = [newSegment(0)];
  private next = 0;

  get firstOffset(): number {
    return (this.segs[0] as Segment).first;
  }

  get nextOffset(): number {
    return this.next;
  }

  append(e: NewStreamEntry): StreamEntry {
    const seg = this.segs[this.segs.length - 1] as Segment;
    const entry: StreamEntry = {
      offset: this.next,
      timestamp: e.timestamp,
      message: e.message,
      bytes: e.bytes,
    };
    seg.entries.push(entry);
    seg.bytes += e.bytes;
    if (e.message !== undefined) seg.messages += 1;
    this.next += 1;
    return entry;
  }

  roll(): void {
    this.segs.push(newSegment(this.next));
  }

  read(offset: number): StreamEntry | undefined {
    if (offset < this.firstOffset || offset >= this.next) return undefined;
    // The last segment whose first offset is at or before `offset`.
    let lo = 0;
    let hi = this.segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.segs[mid] as Segment).first <= offset) lo = mid;
      else hi = mid - 1;
    }
    const seg = this.segs[lo] as Segment;
    return seg.entries[offset - seg.first];
  }

  segments(): readonly SegmentInfo[] {
    return this.segs.map(info);
  }

  newest(): SegmentInfo {
    return info(this.segs[this.segs.length - 1] as Segment);
  }

  dropOldest(count: number): void {
    this.segs = this.segs.slice(Math.min(count, this.segs.length - 1));
  }

  close(): void {
    this.segs = [newSegment(this.next)];
  }
}

function info(s: Segment): SegmentInfo {
  return {
    firstOffset: s.first,
    nextOffset: s.first + s.entries.length,
    bytes: s.bytes,
    entries: s.entries.length,
    messages: s.messages,
    lastTimestamp: s.entries[s.entries.length - 1]?.timestamp ?? Number.NEGATIVE_INFINITY,
  };
}

function newSegment(first: number): Segment {
  return { first, entries: [], bytes: SEGMENT_HEADER_BYTES, messages: 0 };
}

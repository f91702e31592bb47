/**
 * Reading stored messages back from their segments, for queues whose bodies wait on disk: a
 * message's id says where its record starts. Reads go through a 1 MiB window, since a queue
 * takes its messages back in order and neighbours usually follow; each record's CRC is checked
 * again. Read descriptors stay open per segment until the segment is deleted.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { decodeContentHeader } from "../codec/index.js";
import { type Message, makeMessage } from "../model/message.js";
import { crc32 } from "./crc32.js";
import { segmentName } from "./log.js";
import { offsetOf, RECORD_OVERHEAD, readMessage, segmentOf } from "./records.js";
import { StoreError } from "./recover.js";

/** Bytes read at once (neighbours usually follow). */
const READ_WINDOW = 1024 * 1024;

export class SegmentReader {
  private readonly fds = new Map<number, number>();
  private window: { segment: number; start: number; buf: Buffer } | undefined;

  constructor(private readonly dir: string) {}

  read(id: number): Message {
    const segment = segmentOf(id);
    const offset = offsetOf(id);
    let head = this.bytesAt(segment, offset, RECORD_OVERHEAD);
    const length = head.readUInt32LE(0);
    const crc = head.readUInt32LE(4);
    head = this.bytesAt(segment, offset, RECORD_OVERHEAD + length);
    const payload = head.subarray(RECORD_OVERHEAD);
    if (crc32(payload) !== crc) {
      throw new StoreError(`${segmentName(segment)}: the message at ${offset} is damaged`);
    }
    const r = readMessage(payload);
    // Copies: the window is reused, and a message may stay in memory for long.
    const header = Buffer.from(r.header);
    const body = Buffer.from(payload.subarray(r.bodyAt, r.bodyAt + r.bodySize));
    const { properties } = decodeContentHeader(header);
    return makeMessage(r.exchange, r.routingKey, properties, body, header);
  }

  /** `length` bytes at `offset` of a segment, from the last window read or a new one. */
  private bytesAt(segment: number, offset: number, length: number): Buffer {
    const w = this.window;
    if (
      w &&
      w.segment === segment &&
      offset >= w.start &&
      offset + length <= w.start + w.buf.length
    ) {
      return w.buf.subarray(offset - w.start, offset - w.start + length);
    }
    let fd = this.fds.get(segment);
    if (fd === undefined) {
      fd = openSync(join(this.dir, segmentName(segment)), "r");
      this.fds.set(segment, fd);
    }
    const buf = Buffer.allocUnsafe(Math.max(READ_WINDOW, length));
    const n = readSync(fd, buf, 0, buf.length, offset);
    if (n < length) {
      throw new StoreError(`${segmentName(segment)}: the record at ${offset} is cut short`);
    }
    this.window = { segment, start: offset, buf: buf.subarray(0, n) };
    return buf.subarray(0, length);
  }

  /** The segment was deleted: forget its descriptor and window. */
  forget(segment: number): void {
    const fd = this.fds.get(segment);
    if (fd !== undefined) closeSync(fd);
    this.fds.delete(segment);
    if (this.window?.segment === segment) this.window = undefined;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
    this.window = undefined;
  }
}

/**
 * The on-disk format, version 1. A segment file starts with an 8-byte header ("EVLG", the
 * format version as uint16, two spare bytes) and holds records:
 *
 *   uint32 payload length · uint32 CRC-32 of the payload · payload (its first byte is the kind)
 *
 * A message's id is where its record starts: segment number × 2^32 + byte offset, so that
 * storage needs no index to find a body again. Integers are little-endian; names are
 * short strings (a length byte, then UTF-8), as in AMQP.
 */
import { decodeTableBody, encodeTable, type FieldTable } from "../codec/index.js";
import type {
  DurableTopology,
  StoredBinding,
  StoredExchange,
  StoredQueue,
} from "../model/journal.js";
import { crc32 } from "./crc32.js";

export const FORMAT_VERSION = 1;
export const MAGIC = "EVLG";
export const SEGMENT_HEADER = 8;
/** Length and CRC before each payload. */
export const RECORD_OVERHEAD = 8;
const SEGMENT_SPAN = 2 ** 32;

export const KIND = {
  /** JSON: the whole durable topology, first in every segment. */
  topology: 1,
  /** JSON: one change of the durable topology. */
  change: 2,
  /** A message and its first queue. */
  message: 16,
  /** A message already stored entering one more queue. */
  place: 17,
  /** A message copied forward from an old segment (compaction): it replaces the old id. */
  moved: 18,
  /** The same for each further queue of a moved message. */
  movedPlace: 19,
  /** Ids gone from a queue. */
  remove: 32,
  /** Ids delivered once from a queue: they come back redelivered. */
  delivered: 33,
  /** Ids returned to a queue, with their delivery counts. */
  requeued: 34,
} as const;

export type TopologyChange =
  | { op: "exchange.declare"; exchange: StoredExchange }
  | { op: "exchange.delete"; name: string }
  | { op: "queue.declare"; queue: StoredQueue }
  | { op: "queue.delete"; name: string }
  | { op: "bind"; binding: StoredBinding }
  | { op: "unbind"; binding: StoredBinding };

/** Where a message stands in one queue. */
export interface Placement {
  queue: string;
  seq: number;
  expiresAt: number;
  priority: number;
  redelivered: boolean;
  returns: number;
}

export const idOf = (segment: number, offset: number): number => segment * SEGMENT_SPAN + offset;
export const segmentOf = (id: number): number => Math.floor(id / SEGMENT_SPAN);
export const offsetOf = (id: number): number => id % SEGMENT_SPAN;

export function segmentHeader(): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER);
  b.write(MAGIC, 0, "latin1");
  b.writeUInt16LE(FORMAT_VERSION, 4);
  return b;
}

/** Why a segment's header is not ours, or undefined. */
export function headerProblem(b: Buffer): string | undefined {
  if (b.length < SEGMENT_HEADER || b.toString("latin1", 0, 4) !== MAGIC) {
    return "not an eventlab segment file";
  }
  const version = b.readUInt16LE(4);
  if (version !== FORMAT_VERSION) {
    return `format version ${version}, this eventlab reads version ${FORMAT_VERSION}`;
  }
  return undefined;
}

// ---------------------------------------------------------------- framing

/** Frame a payload given in parts (the last may be a body that is not copied). */
export function frame(parts: readonly Buffer[]): Buffer[] {
  let length = 0;
  let crc = 0;
  for (const p of parts) {
    length += p.length;
    crc = crc32(p, crc);
  }
  const head = Buffer.allocUnsafe(RECORD_OVERHEAD);
  head.writeUInt32LE(length, 0);
  head.writeUInt32LE(crc, 4);
  return [head, ...parts];
}

// ---------------------------------------------------------------- JSON records

const tableJson = (t: FieldTable): string => encodeTable(t).subarray(4).toString("base64");
const tableOf = (s: string): FieldTable => decodeTableBody(Buffer.from(s, "base64"));

/** Field tables keep their AMQP types on disk: they travel as encoded tables in base64. */
function replacer(key: string, value: unknown): unknown {
  return key === "args" ? tableJson(value as FieldTable) : value;
}
function reviver(key: string, value: unknown): unknown {
  return key === "args" && typeof value === "string" ? tableOf(value) : value;
}

export function jsonRecord(kind: number, value: DurableTopology | TopologyChange): Buffer {
  const text = Buffer.from(JSON.stringify(value, replacer), "utf8");
  const b = Buffer.allocUnsafe(1 + text.length);
  b[0] = kind;
  text.copy(b, 1);
  return b;
}

export function readJson<T>(payload: Buffer): T {
  return JSON.parse(payload.toString("utf8", 1), reviver) as T;
}

// ---------------------------------------------------------------- binary records

class Out {
  private readonly b: Buffer;
  private o = 0;
  constructor(size: number) {
    this.b = Buffer.allocUnsafe(size);
  }
  u8(v: number): this {
    this.b[this.o++] = v;
    return this;
  }
  u32(v: number): this {
    this.b.writeUInt32LE(v, this.o);
    this.o += 4;
    return this;
  }
  f64(v: number): this {
    this.b.writeDoubleLE(v, this.o);
    this.o += 8;
    return this;
  }
  short(s: string): this {
    const n = this.b.write(s, this.o + 1, "utf8");
    this.b[this.o] = n;
    this.o += 1 + n;
    return this;
  }
  bytes(src: Buffer): this {
    src.copy(this.b, this.o);
    this.o += src.length;
    return this;
  }
  done(): Buffer {
    return this.o === this.b.length ? this.b : this.b.subarray(0, this.o);
  }
}

/** A reader over one payload; any overrun throws, and recovery treats it as damage. */
export class In {
  o = 1;
  constructor(readonly b: Buffer) {}
  u8(): number {
    const v = this.b[this.o];
    if (v === undefined) throw new RangeError("record ends early");
    this.o += 1;
    return v;
  }
  u32(): number {
    const v = this.b.readUInt32LE(this.o);
    this.o += 4;
    return v;
  }
  f64(): number {
    const v = this.b.readDoubleLE(this.o);
    this.o += 8;
    return v;
  }
  short(): string {
    const n = this.u8();
    if (this.o + n > this.b.length) throw new RangeError("record ends early");
    const s = this.b.toString("utf8", this.o, this.o + n);
    this.o += n;
    return s;
  }
  bytes(n: number): Buffer {
    if (this.o + n > this.b.length) throw new RangeError("record ends early");
    const s = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return s;
  }
}

const PLACEMENT_FIXED = 8 + 8 + 1 + 1 + 4;
const shortLength = (s: string) => 1 + Buffer.byteLength(s, "utf8");

function writePlacement(out: Out, p: Placement): void {
  out
    .short(p.queue)
    .f64(p.seq)
    .f64(p.expiresAt)
    .u8(p.priority)
    .u8(p.redelivered ? 1 : 0)
    .u32(p.returns);
}

export function readPlacement(r: In): Placement {
  return {
    queue: r.short(),
    seq: r.f64(),
    expiresAt: r.f64(),
    priority: r.u8(),
    redelivered: r.u8() === 1,
    returns: r.u32(),
  };
}

/**
 * A message record's parts: everything up to the body length in one buffer, then the body
 * itself, so that a large body is never copied on its way to disk.
 */
export function messageRecord(
  p: Placement,
  exchange: string,
  routingKey: string,
  header: Buffer,
  body: Buffer,
  movedFrom?: number,
): Buffer[] {
  const size =
    (movedFrom === undefined ? 1 : 9) +
    shortLength(p.queue) +
    PLACEMENT_FIXED +
    shortLength(exchange) +
    shortLength(routingKey) +
    4 +
    header.length +
    4;
  const out = new Out(size);
  if (movedFrom === undefined) out.u8(KIND.message);
  else out.u8(KIND.moved).f64(movedFrom);
  writePlacement(out, p);
  out.short(exchange).short(routingKey).u32(header.length).bytes(header).u32(body.length);
  return [out.done(), body];
}

export interface MessageRecord {
  /** For a moved copy: the id it replaces. */
  movedFrom: number | undefined;
  placement: Placement;
  exchange: string;
  routingKey: string;
  header: Buffer;
  /** Where the body starts within the payload, and its length. */
  bodyAt: number;
  bodySize: number;
}

export function readMessage(payload: Buffer): MessageRecord {
  const r = new In(payload);
  const movedFrom = payload[0] === KIND.moved ? r.f64() : undefined;
  const placement = readPlacement(r);
  const exchange = r.short();
  const routingKey = r.short();
  const header = r.bytes(r.u32());
  const bodySize = r.u32();
  const bodyAt = r.o;
  if (bodyAt + bodySize !== payload.length) throw new RangeError("message record size mismatch");
  return { movedFrom, placement, exchange, routingKey, header, bodyAt, bodySize };
}

export function placeRecord(id: number, p: Placement, movedFrom?: number): Buffer {
  const extra = movedFrom === undefined ? 0 : 8;
  const out = new Out(1 + 8 + extra + shortLength(p.queue) + PLACEMENT_FIXED);
  if (movedFrom === undefined) out.u8(KIND.place).f64(id);
  else out.u8(KIND.movedPlace).f64(id).f64(movedFrom);
  writePlacement(out, p);
  return out.done();
}

/** remove and delivered: a queue and ids. */
export function idsRecord(kind: number, queue: string, ids: readonly number[]): Buffer {
  const out = new Out(1 + shortLength(queue) + 4 + 8 * ids.length).u8(kind).short(queue);
  out.u32(ids.length);
  for (const id of ids) out.f64(id);
  return out.done();
}

export function requeuedRecord(
  queue: string,
  entries: readonly { id: number; returns: number }[],
): Buffer {
  const out = new Out(1 + shortLength(queue) + 4 + 12 * entries.length).u8(KIND.requeued);
  out.short(queue).u32(entries.length);
  for (const e of entries) out.f64(e.id).u32(e.returns);
  return out.done();
}

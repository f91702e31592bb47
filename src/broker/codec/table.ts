import { isUtf8 } from "node:buffer";
import { syntaxError } from "./errors.js";
import { narrow, Reader, Writer } from "./reader.js";

/**
 * Field tables and arrays with every value type RabbitMQ uses (its errata list, which is
 * what clients and RabbitMQ actually put on the wire, not the 0-9-1 document's tags).
 *
 * Decoding, tag → JavaScript:
 *   t → boolean; b B s u I i → number; l → number when it is a safe integer, else bigint;
 *   f d → number; D → Decimal; T → Timestamp; S → string when the bytes are valid UTF-8,
 *   else Buffer; x → Buffer; A → array; F → table; V → null.
 * The S policy agrees with amqplib (which decodes S as UTF-8 text) for every valid UTF-8
 * value; where amqplib would replace invalid bytes with U+FFFD, these bytes are kept.
 * Decoded Buffers share memory with the input.
 *
 * Encoding, JavaScript → tag:
 *   boolean → t; string → S; Buffer/Uint8Array → x; null/undefined-in-array → V;
 *   integer number → I when it fits int32, else l when it fits int64, else d;
 *   any other number (fractions, NaN, ±Infinity, -0) → d; bigint → l;
 *   Decimal → D; Timestamp → T; Typed → the tag it names; array → A; other object → F.
 * Keys whose value is undefined are skipped, as amqplib does.
 *
 * Decoding a value and encoding it again therefore keeps the value but not always the tag
 * (b, B, s, u, i, f become I, l or d). A broker that relays content headers should relay
 * their bytes, not a re-encoding.
 */

/** AMQP decimal: value × 10^-scale, scale an octet, value a uint32 (as RabbitMQ reads it). */
export class Decimal {
  constructor(
    readonly scale: number,
    readonly value: number,
  ) {}
}

/** AMQP timestamp: seconds since the epoch, uint64. */
export class Timestamp {
  constructor(readonly value: number | bigint) {}
}

export type NumericTag = "b" | "B" | "s" | "u" | "I" | "i" | "l" | "f" | "d" | "T";

/** A number with an explicit wire tag, for callers that need e.g. a uint8 or a float32. */
export class Typed {
  constructor(
    readonly tag: NumericTag,
    readonly value: number | bigint,
  ) {}
}

export type FieldValue =
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Uint8Array
  | null
  | Decimal
  | Timestamp
  | Typed
  | readonly FieldValue[]
  | FieldTable;

export interface FieldTable {
  [key: string]: FieldValue | undefined;
}

const MAX_DEPTH = 64;

/**
 * The value of `key` in a field table: the table's own, never one inherited from
 * Object.prototype. Undefined when `t` is not a plain table (an array, bytes, a number…).
 */
export function tableField(t: FieldValue | undefined, key: string): FieldValue | undefined {
  if (t === null || typeof t !== "object" || Array.isArray(t) || t instanceof Uint8Array) {
    return undefined;
  }
  if (t instanceof Decimal || t instanceof Timestamp || t instanceof Typed) return undefined;
  const table = t as FieldTable;
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

// ---------------------------------------------------------------- decode

/** Decode a table body (the bytes after its uint32 length). */
export function decodeTableBody(buf: Buffer, depth = 0): FieldTable {
  return readTableBody(new Reader(buf), buf.length, depth);
}

/** Read a length-prefixed table at the reader's position. */
export function readTable(r: Reader, depth = 0): FieldTable {
  const len = r.u32("table length");
  r.need(len, `table of ${len} bytes`);
  return readTableBody(r, r.offset + len, depth);
}

function readTableBody(r: Reader, end: number, depth: number): FieldTable {
  if (depth > MAX_DEPTH) throw syntaxError(`field table nested deeper than ${MAX_DEPTH}`);
  const inner = new Reader(r.buf, r.offset, end);
  const out: FieldTable = {};
  // Each pass consumes at least two bytes (key length and tag), so this ends.
  while (inner.remaining > 0) {
    const key = inner.shortstr("field name");
    const value = readValue(inner, depth);
    if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true });
    else out[key] = value;
  }
  r.offset = end;
  return out;
}

function readArrayBody(r: Reader, end: number, depth: number): FieldValue[] {
  if (depth > MAX_DEPTH) throw syntaxError(`field array nested deeper than ${MAX_DEPTH}`);
  const inner = new Reader(r.buf, r.offset, end);
  const out: FieldValue[] = [];
  while (inner.remaining > 0) out.push(readValue(inner, depth));
  r.offset = end;
  return out;
}

function readValue(r: Reader, depth: number): FieldValue {
  const at = r.offset;
  const tag = r.u8("field type");
  switch (tag) {
    case 0x74: // t
      return r.u8("bool") !== 0;
    case 0x62: // b
      return r.i8("int8");
    case 0x42: // B
      return r.u8("uint8");
    case 0x73: // s
      return r.i16("int16");
    case 0x75: // u
      return r.u16("uint16");
    case 0x49: // I
      return r.i32("int32");
    case 0x69: // i
      return r.u32("uint32");
    case 0x6c: // l
      return narrow(r.i64("int64"));
    case 0x66: // f
      return r.f32("float");
    case 0x64: // d
      return r.f64("double");
    case 0x44: {
      // D
      const scale = r.u8("decimal scale");
      return new Decimal(scale, r.u32("decimal value"));
    }
    case 0x53: {
      // S
      const bytes = r.longstr("long string");
      return isUtf8(bytes) ? bytes.toString("utf8") : bytes;
    }
    case 0x78: // x
      return r.longstr("byte array");
    case 0x54: // T
      return new Timestamp(narrow(r.u64("timestamp")));
    case 0x56: // V
      return null;
    case 0x41: {
      // A
      const len = r.u32("array length");
      r.need(len, `array of ${len} bytes`);
      return readArrayBody(r, r.offset + len, depth + 1);
    }
    case 0x46: {
      // F
      const len = r.u32("table length");
      r.need(len, `table of ${len} bytes`);
      return readTableBody(r, r.offset + len, depth + 1);
    }
    default:
      throw syntaxError(
        `unknown field type 0x${tag.toString(16).padStart(2, "0")} at offset ${at}`,
      );
  }
}

// ---------------------------------------------------------------- encode

export function encodeTable(table: FieldTable): Buffer {
  const w = new Writer(64);
  writeTable(w, table);
  return Buffer.from(w.result());
}

/** Write a length-prefixed table. */
export function writeTable(w: Writer, table: FieldTable, depth = 0): void {
  if (depth > MAX_DEPTH) throw new RangeError(`field table nested deeper than ${MAX_DEPTH}`);
  const done = w.lengthPrefix();
  for (const key of Object.keys(table)) {
    const value = table[key];
    if (value === undefined) continue;
    w.shortstr(key, "field name");
    writeValue(w, value, depth);
  }
  done();
}

function isInt32(n: number): boolean {
  return Number.isInteger(n) && n >= -0x80000000 && n <= 0x7fffffff && !Object.is(n, -0);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function checkInt(tag: string, v: number | bigint, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`field value ${String(v)} does not fit tag ${tag}`);
  }
  return v;
}

function checkBig(tag: string, v: number | bigint, min: bigint, max: bigint): bigint {
  if (typeof v === "number" && !Number.isInteger(v)) {
    throw new RangeError(`field value ${v} does not fit tag ${tag}`);
  }
  const b = BigInt(v);
  if (b < min || b > max) throw new RangeError(`field value ${String(v)} does not fit tag ${tag}`);
  return b;
}

function writeNumber(w: Writer, n: number): void {
  if (isInt32(n)) {
    w.u8(0x49);
    w.i32(n);
  } else if (Number.isInteger(n) && !Object.is(n, -0) && n >= -(2 ** 63) && n < 2 ** 63) {
    w.u8(0x6c);
    w.i64(BigInt(n));
  } else {
    w.u8(0x64);
    w.f64(n);
  }
}

function writeTyped(w: Writer, { tag, value: v }: Typed): void {
  w.u8(tag.charCodeAt(0));
  switch (tag) {
    case "b":
      w.i8(checkInt(tag, v, -128, 127));
      return;
    case "B":
      w.u8(checkInt(tag, v, 0, 255));
      return;
    case "s":
      w.i16(checkInt(tag, v, -0x8000, 0x7fff));
      return;
    case "u":
      w.u16(checkInt(tag, v, 0, 0xffff));
      return;
    case "I":
      w.i32(checkInt(tag, v, -0x80000000, 0x7fffffff));
      return;
    case "i":
      w.u32(checkInt(tag, v, 0, 0xffffffff));
      return;
    case "l":
      w.i64(checkBig(tag, v, INT64_MIN, INT64_MAX));
      return;
    case "T":
      w.u64(checkBig(tag, v, 0n, UINT64_MAX));
      return;
    case "f":
      w.f32(Number(v));
      return;
    case "d":
      w.f64(Number(v));
      return;
  }
}

function writeValue(w: Writer, v: FieldValue, depth: number): void {
  switch (typeof v) {
    case "boolean":
      w.u8(0x74);
      w.u8(v ? 1 : 0);
      return;
    case "number":
      writeNumber(w, v);
      return;
    case "bigint":
      w.u8(0x6c);
      w.i64(checkBig("l", v, INT64_MIN, INT64_MAX));
      return;
    case "string":
      w.u8(0x53);
      w.longstr(v);
      return;
    case "object":
      break;
    default:
      throw new TypeError(`cannot encode a ${typeof v} in a field table`);
  }
  if (v === null) {
    w.u8(0x56);
  } else if (v instanceof Uint8Array) {
    w.u8(0x78);
    w.longstr(v);
  } else if (v instanceof Typed) {
    writeTyped(w, v);
  } else if (v instanceof Decimal) {
    w.u8(0x44);
    w.u8(checkInt("D scale", v.scale, 0, 255));
    w.u32(checkInt("D value", v.value, 0, 0xffffffff));
  } else if (v instanceof Timestamp) {
    writeTyped(w, new Typed("T", v.value));
  } else if (Array.isArray(v)) {
    if (depth >= MAX_DEPTH) throw new RangeError(`field array nested deeper than ${MAX_DEPTH}`);
    w.u8(0x41);
    const done = w.lengthPrefix();
    for (const item of v as readonly FieldValue[]) writeValue(w, item ?? null, depth + 1);
    done();
  } else {
    w.u8(0x46);
    writeTable(w, v as FieldTable, depth + 1);
  }
}

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

/**
 * How deep tables and arrays may nest. RabbitMQ sets no bound (3.10 takes headers nested
 * 18,000 deep, as many as fit in a 131072-byte frame: 26,000 for arrays); decoding and
 * encoding here use a stack of their own, not the call stack, so depth costs no recursion.
 * The bound only stops a broker given a far larger frame_max from building values deeper
 * than any client could read.
 */
export const MAX_DEPTH = 100_000;

const tooDeep = (what: "table" | "array") =>
  `field ${what} nested deeper than ${MAX_DEPTH.toLocaleString("en-US")} levels`;

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

/** A table or array being filled, its bytes read with a reader that stops at its end. */
interface Open {
  readonly r: Reader;
  readonly table: FieldTable | undefined;
  readonly array: FieldValue[] | undefined;
}

function open(buf: Buffer, start: number, end: number, tag: 0x41 | 0x46): Open {
  const r = new Reader(buf, start, end);
  return tag === 0x46 ? { r, table: {}, array: undefined } : { r, table: undefined, array: [] };
}

function put(into: Open, key: string, value: FieldValue): void {
  if (into.array) into.array.push(value);
  // A key named __proto__ is data, never the object's prototype.
  else if (key === "__proto__") Object.defineProperty(into.table, key, { value, enumerable: true });
  else (into.table as FieldTable)[key] = value;
}

/**
 * A table body from the reader's position to `end`, with whatever it nests, read with an
 * explicit stack: a nested table or array is put in its parent empty, then filled.
 */
function readTableBody(r: Reader, end: number, depth: number): FieldTable {
  if (depth > MAX_DEPTH) throw syntaxError(tooDeep("table"));
  const root = open(r.buf, r.offset, end, 0x46);
  const stack: Open[] = [root];
  for (let top = root; ; top = stack[stack.length - 1] as Open) {
    // Each pass consumes at least one byte (a tag), or closes a container, so this ends.
    if (top.r.remaining === 0) {
      stack.pop();
      const parent = stack[stack.length - 1];
      if (parent === undefined) break;
      parent.r.offset = top.r.end;
      continue;
    }
    const key = top.table ? top.r.shortstr("field name") : "";
    const at = top.r.offset;
    const tag = top.r.u8("field type");
    if (tag !== 0x41 && tag !== 0x46) {
      put(top, key, readValue(top.r, tag, at));
      continue;
    }
    const what = tag === 0x46 ? "table" : "array";
    const len = top.r.u32(`${what} length`);
    top.r.need(len, `${what} of ${len} bytes`);
    if (depth + stack.length > MAX_DEPTH) throw syntaxError(tooDeep(what));
    const child = open(top.r.buf, top.r.offset, top.r.offset + len, tag);
    put(top, key, child.table ?? (child.array as FieldValue[]));
    stack.push(child);
  }
  r.offset = end;
  return root.table as FieldTable;
}

/** A value other than a table or an array, its tag already read at `at`. */
function readValue(r: Reader, tag: number, at: number): FieldValue {
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

/** A table or array being written: what is left of it, and how to fill in its length. */
interface Writing {
  readonly keys: string[] | undefined;
  readonly values: readonly (FieldValue | undefined)[];
  next: number;
  readonly done: () => void;
}

function startWriting(w: Writer, v: FieldTable | readonly FieldValue[]): Writing {
  const done = w.lengthPrefix();
  if (Array.isArray(v)) return { keys: undefined, values: v, next: 0, done };
  const table = v as FieldTable;
  const keys = Object.keys(table);
  return { keys, values: keys.map((k) => table[k]), next: 0, done };
}

/**
 * Write a length-prefixed table, with whatever it nests, using an explicit stack (see
 * MAX_DEPTH): a nested table or array is opened, written, then its length filled in.
 */
export function writeTable(w: Writer, table: FieldTable, depth = 0): void {
  if (depth > MAX_DEPTH) throw new RangeError(tooDeep("table"));
  const stack: Writing[] = [startWriting(w, table)];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as Writing;
    if (top.next === top.values.length) {
      top.done();
      stack.pop();
      continue;
    }
    const i = top.next++;
    let v = top.values[i];
    if (top.keys) {
      // Keys whose value is undefined are skipped, as amqplib does; in an array, void.
      if (v === undefined) continue;
      w.shortstr(top.keys[i] as string, "field name");
    }
    v ??= null;
    if (!isContainer(v)) {
      writeValue(w, v);
      continue;
    }
    const what = Array.isArray(v) ? "array" : "table";
    if (depth + stack.length > MAX_DEPTH) throw new RangeError(tooDeep(what));
    w.u8(what === "array" ? 0x41 : 0x46);
    stack.push(startWriting(w, v));
  }
}

/** An array or a plain object (a table), the values that nest. */
function isContainer(v: FieldValue): v is FieldTable | readonly FieldValue[] {
  return (
    typeof v === "object" &&
    v !== null &&
    !(v instanceof Uint8Array) &&
    !(v instanceof Typed) &&
    !(v instanceof Decimal) &&
    !(v instanceof Timestamp)
  );
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

/** A value that does not nest (see isContainer), with its tag. */
function writeValue(w: Writer, v: FieldValue): void {
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
  } else {
    throw new TypeError("cannot encode a table or an array as a single value");
  }
}

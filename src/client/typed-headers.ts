/**
 * Header field tables with their AMQP field types kept: captured as they arrive, written to
 * JSON, and sent back with the same types.
 *
 * Why this is needed: amqplib decodes a field table into plain JavaScript values. An int8, an
 * int16, an int32 and an int64 all become numbers, a float becomes a number like a double, an
 * int64 past 2^53 loses digits, and a long string that is not UTF-8 is mangled. Sending such
 * values again lets amqplib guess the types from the numbers, which is not what was sent.
 *
 * Capture (captureHeaderTypes). amqplib 2.3 reads frames in one place: Connection#recvFrame
 * parses the frame at the start of Connection#rest (the unread bytes), decodes it and returns
 * it; the reader loop calls it as `self.recvFrame()`. For a content header frame the decoded
 * `fields` object is the very object a delivery carries as `message.properties` (channel.js,
 * acceptMessage: `message.properties = f.fields`). So an own `recvFrame` on the connection
 * instance that looks at `rest` before calling the original sees exactly the bytes amqplib is
 * about to decode: when a whole content header frame (type 2) is at the start of `rest`, the
 * original parses that frame and no other. The headers table is found in the frame by the AMQP
 * 0-9-1 layout alone (class, weight, body size, property flags, then content-type and
 * content-encoding as short strings, then the table), copied, and hung on the decoded
 * properties under a symbol; decodeTypedTable reads it with every tag kept. When `rest` holds
 * only part of a frame, the original reads more and calls `this.recvFrame()` again, which is
 * this function again, now with the whole frame; so no frame is missed. Nothing is changed for
 * amqplib: the frame it returns is its own, plus one symbol-keyed property. Only connections
 * that ask for it (consume --save) are touched, never amqplib's modules.
 *
 * Depends on amqplib 2.3.x internals: ChannelModel#connection, Connection#recvFrame and
 * Connection#rest, and properties being the decoded header fields. captureHeaderTypes checks
 * the first three and fails with a clear error; test/unit/typed-headers.test.ts fails loudly
 * when an upgrade changes any of them.
 *
 * Sending (toAmqplibHeaders). amqplib 2.3's encoder (lib/codec.js, encodeFieldValue) takes
 * `{ "!": type, value }` for: int8 (b), uint8 (B), int16 (s), uint16 (u), int32 (I), uint32
 * (i), int64 (l, value through BigInt()), float (f), double (d), decimal (D, {places, digits}),
 * timestamp (T, through BigInt()); plain booleans, strings, null, Buffers, arrays and objects
 * are t, S, V, x, A and F. Every type RabbitMQ uses is covered, so each captured value goes out
 * with the tag it came with. Two limits of that encoder: a nested table with a key named "!"
 * reads as a typed value, and a long string must be text (S bytes that are not UTF-8 cannot be
 * sent); both are refused when a recording is checked, before anything is published.
 */
import { isUtf8 } from "node:buffer";
import type { ChannelModel, ConsumeMessage } from "amqplib";
import { EventlabError } from "../errors.js";

export type IntegerType = "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32";

/** One header value with its AMQP field type, as it is written to a recording. */
export type TypedValue =
  | { type: "bool"; value: boolean }
  | { type: IntegerType; value: number }
  /** A number when it is a safe integer, else its decimal digits as a string. */
  | { type: "int64" | "timestamp"; value: number | string }
  /** A number; NaN, Infinity, -Infinity and -0 (which JSON has no number for) as strings. */
  | { type: "float" | "double"; value: number | string }
  | { type: "decimal"; value: { places: number; digits: number } }
  /** Text; a long string whose bytes are not UTF-8 has `base64` instead of `value`. */
  | { type: "string"; value: string }
  | { type: "string"; base64: string }
  /** The bytes, base64. */
  | { type: "bytes"; value: string }
  | { type: "void"; value: null }
  | { type: "array"; value: TypedValue[] }
  | { type: "table"; value: TypedTable };

export type TypedTable = Record<string, TypedValue>;

const TAGS: Record<string, TypedValue["type"]> = {
  t: "bool",
  b: "int8",
  B: "uint8",
  s: "int16",
  u: "uint16",
  I: "int32",
  i: "uint32",
  l: "int64",
  f: "float",
  d: "double",
  D: "decimal",
  T: "timestamp",
  S: "string",
  x: "bytes",
  V: "void",
  A: "array",
  F: "table",
};

/** The field types a recording may name. */
export const FIELD_TYPES: readonly string[] = Object.values(TAGS);

/** How deep tables and arrays may nest in a header before it is refused. */
const MAX_DEPTH = 1000;

// ------------------------------------------------------------------ decode, tags kept

class TableReader {
  offset: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.offset = start;
  }
  need(n: number, what: string): void {
    if (this.offset + n > this.end) throw new RangeError(`field table ends inside ${what}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.offset++] as number;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
}

function wide(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v.toString();
}

function floating(v: number): number | string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "Infinity";
  if (v === Number.NEGATIVE_INFINITY) return "-Infinity";
  if (Object.is(v, -0)) return "-0";
  return v;
}

function readTyped(r: TableReader, depth: number): TypedValue {
  const at = r.offset;
  const tag = String.fromCharCode(r.u8("a field type"));
  const type = TAGS[tag];
  switch (type) {
    case "bool":
      return { type, value: r.u8("a bool") !== 0 };
    case "int8":
      return { type, value: r.bytes(1, type).readInt8(0) };
    case "uint8":
      return { type, value: r.u8(type) };
    case "int16":
      return { type, value: r.bytes(2, type).readInt16BE(0) };
    case "uint16":
      return { type, value: r.bytes(2, type).readUInt16BE(0) };
    case "int32":
      return { type, value: r.bytes(4, type).readInt32BE(0) };
    case "uint32":
      return { type, value: r.u32(type) };
    case "int64":
      return { type, value: wide(r.bytes(8, type).readBigInt64BE(0)) };
    case "timestamp":
      return { type, value: wide(r.bytes(8, type).readBigUInt64BE(0)) };
    case "float":
      return { type, value: floating(r.bytes(4, type).readFloatBE(0)) };
    case "double":
      return { type, value: floating(r.bytes(8, type).readDoubleBE(0)) };
    case "decimal": {
      const places = r.u8("a decimal");
      return { type, value: { places, digits: r.u32("a decimal") } };
    }
    case "string": {
      const bytes = r.bytes(r.u32("a long string"), "a long string");
      return isUtf8(bytes)
        ? { type, value: bytes.toString("utf8") }
        : { type, base64: bytes.toString("base64") };
    }
    case "bytes":
      return { type, value: r.bytes(r.u32("a byte array"), "a byte array").toString("base64") };
    case "void":
      return { type, value: null };
    case "array": {
      if (depth >= MAX_DEPTH) throw new RangeError(`headers nested deeper than ${MAX_DEPTH}`);
      const len = r.u32("an array");
      r.need(len, "an array");
      const inner = new TableReader(r.buf, r.offset, r.offset + len);
      const value: TypedValue[] = [];
      while (inner.offset < inner.end) value.push(readTyped(inner, depth + 1));
      r.offset += len;
      return { type, value };
    }
    case "table": {
      if (depth >= MAX_DEPTH) throw new RangeError(`headers nested deeper than ${MAX_DEPTH}`);
      const len = r.u32("a table");
      r.need(len, "a table");
      const value = readTable(new TableReader(r.buf, r.offset, r.offset + len), depth + 1);
      r.offset += len;
      return { type, value };
    }
    default:
      throw new RangeError(`unknown field type "${tag}" at byte ${at}`);
  }
}

function readTable(r: TableReader, depth: number): TypedTable {
  const table: TypedTable = {};
  while (r.offset < r.end) {
    const key = r.bytes(r.u8("a field name"), "a field name").toString("utf8");
    const value = readTyped(r, depth);
    // A key named __proto__ is data, never the object's prototype.
    Object.defineProperty(table, key, { value, enumerable: true, writable: true });
  }
  return table;
}

/** A field table's body (the bytes after its length), every value with its type. */
export function decodeTypedTable(body: Buffer): TypedTable {
  return readTable(new TableReader(body, 0, body.length), 0);
}

// ------------------------------------------------------------------ capture on receive

const CAPTURED = Symbol("eventlab.headerTable");
const HOOKED = Symbol("eventlab.headerCapture");

/** What a delivery's content header held: its headers table's bytes, or none. */
interface Captured {
  table: Buffer | undefined;
}

/** The parts of amqplib's Connection the capture relies on (amqplib 2.3, lib/connection.js). */
interface AmqplibConnection {
  rest: unknown;
  recvFrame: (this: AmqplibConnection) => unknown;
  [HOOKED]?: true;
}

const FRAME_HEADER = 2;
const FRAME_END = 0xce;

/**
 * The headers table (its body, copied) of a content header frame's payload, or undefined
 * when the properties carry none. Layout (AMQP 0-9-1 4.2.6.1): class-id u16, weight u16,
 * body-size u64, property flags u16, then the present properties in order: content-type and
 * content-encoding (short strings), headers (table), …
 */
export function headersTableOf(payload: Buffer): Buffer | undefined {
  let at = 12;
  const flags = payload.readUInt16BE(at);
  at += 2;
  if ((flags & 0x2000) === 0) return undefined;
  if (flags & 0x8000) at += 1 + (payload[at] as number);
  if (flags & 0x4000) at += 1 + (payload[at] as number);
  const len = payload.readUInt32BE(at);
  at += 4;
  if (at + len > payload.length) throw new RangeError("headers table longer than its frame");
  return Buffer.from(payload.subarray(at, at + len));
}

function unsupported(what: string): EventlabError {
  return new EventlabError(
    "internal",
    `cannot capture header types with this version of amqplib (${what})`,
    {
      hint: "--save needs amqplib 2.3.x; consume --json records the same messages without header types",
    },
  );
}

/**
 * Capture the wire types of headers on every delivery this connection receives from now on
 * (see the top of this file). Idempotent; throws when amqplib's internals are not the ones
 * this relies on.
 */
export function captureHeaderTypes(model: ChannelModel): void {
  const conn = (model as unknown as { connection?: AmqplibConnection }).connection;
  if (!conn || typeof conn !== "object") throw unsupported("no ChannelModel#connection");
  if (conn[HOOKED]) return;
  if (typeof conn.recvFrame !== "function") throw unsupported("no Connection#recvFrame");
  if (!Buffer.isBuffer(conn.rest)) throw unsupported("Connection#rest is not a Buffer");
  const original = conn.recvFrame;
  conn.recvFrame = function recvFrame(this: AmqplibConnection) {
    const rest = this.rest;
    let payload: Buffer | undefined;
    if (Buffer.isBuffer(rest) && rest.length >= 8 && rest[0] === FRAME_HEADER) {
      const size = rest.readUInt32BE(3);
      // The whole frame is here: the original parses exactly this one.
      if (size >= 14 && rest.length >= 8 + size && rest[7 + size] === FRAME_END)
        payload = rest.subarray(7, 7 + size);
    }
    const frame = original.call(this) as { fields?: unknown; size?: unknown } | false;
    if (payload && frame && typeof frame.fields === "object" && frame.fields !== null) {
      let captured: Captured;
      try {
        captured = { table: headersTableOf(payload) };
      } catch {
        return frame;
      }
      Object.defineProperty(frame.fields, CAPTURED, { value: captured });
    }
    return frame;
  };
  conn[HOOKED] = true;
}

/**
 * The headers of a delivery with their wire types: a table (empty when it had none), or
 * undefined when its types were not captured (the connection was not set up for it) or the
 * table could not be read.
 */
export function typedHeadersOf(message: ConsumeMessage): TypedTable | undefined {
  const captured = (message.properties as unknown as Record<symbol, Captured | undefined>)[
    CAPTURED
  ];
  if (captured === undefined) return undefined;
  if (captured.table === undefined) return {};
  try {
    return decodeTypedTable(captured.table);
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ inference (no types known)

/**
 * Types for plain header values, as amqplib would send them: integers the smallest signed
 * width that holds them (int8, int16, int32, int64), other numbers double, text a long
 * string, Buffers bytes, null void, arrays and objects arrays and tables; amqplib's own
 * typed values (timestamps, decimals in x-death) keep their type.
 */
export function inferTyped(v: unknown): TypedValue {
  if (v === null || v === undefined) return { type: "void", value: null };
  if (typeof v === "boolean") return { type: "bool", value: v };
  if (typeof v === "string") return { type: "string", value: v };
  if (typeof v === "bigint") return { type: "int64", value: wide(v) };
  if (typeof v === "number") return inferNumber(v);
  if (Buffer.isBuffer(v)) return { type: "bytes", value: v.toString("base64") };
  if (Array.isArray(v)) return { type: "array", value: v.map(inferTyped) };
  if (typeof v === "object") return inferObject(v as Record<string, unknown>);
  return { type: "string", value: String(v) };
}

function inferNumber(v: number): TypedValue {
  if (!Number.isInteger(v) || Math.abs(v) >= 2 ** 63) return { type: "double", value: floating(v) };
  if (v >= -128 && v < 128) return { type: "int8", value: v };
  if (v >= -0x8000 && v < 0x8000) return { type: "int16", value: v };
  if (v >= -0x80000000 && v < 0x80000000) return { type: "int32", value: v };
  return { type: "int64", value: wide(BigInt(v)) };
}

function inferObject(o: Record<string, unknown>): TypedValue {
  if (Object.hasOwn(o, "!") && Object.hasOwn(o, "value")) {
    const inner = o["value"];
    if (o["!"] === "timestamp" && typeof inner === "number")
      return { type: "timestamp", value: inner };
    if (o["!"] === "decimal" && inner && typeof inner === "object")
      return { type: "decimal", value: inner as { places: number; digits: number } };
  }
  const out: TypedTable = {};
  for (const [k, x] of Object.entries(o))
    Object.defineProperty(out, k, { value: inferTyped(x), enumerable: true, writable: true });
  return { type: "table", value: out };
}

// ------------------------------------------------------------------ check and send

/** A value read from a recording that is not a typed header value: what is wrong, where. */
export class HeaderError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

const INT_RANGES: Record<IntegerType, [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
};

function bigOf(v: unknown, path: string, min: bigint, max: bigint, type: string): bigint {
  let b: bigint;
  if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
  else if (typeof v === "string" && /^-?\d+$/.test(v)) b = BigInt(v);
  else throw new HeaderError(path, `${type} needs a whole number (or its digits as a string)`);
  if (b < min || b > max) throw new HeaderError(path, `${v} does not fit ${type}`);
  return b;
}

function floatOf(v: unknown, path: string, type: string): number {
  if (typeof v === "number") return v;
  if (v === "NaN") return Number.NaN;
  if (v === "Infinity") return Number.POSITIVE_INFINITY;
  if (v === "-Infinity") return Number.NEGATIVE_INFINITY;
  if (v === "-0") return -0;
  throw new HeaderError(path, `${type} needs a number (or "NaN", "Infinity", "-Infinity", "-0")`);
}

function isBase64(s: unknown): s is string {
  return typeof s === "string" && /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0;
}

/**
 * One typed value of a recording → what amqplib's encoder sends with that very tag.
 * Throws HeaderError naming the path when it is not a typed value amqplib can send.
 */
export function toAmqplibValue(v: unknown, path: string, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new HeaderError(path, `nested deeper than ${MAX_DEPTH}`);
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new HeaderError(path, 'expected {"type": …, "value": …}');
  const o = v as Record<string, unknown>;
  const { type, value } = o;
  switch (type) {
    case "bool":
      if (typeof value !== "boolean") throw new HeaderError(path, "bool needs true or false");
      return value;
    case "int8":
    case "uint8":
    case "int16":
    case "uint16":
    case "int32":
    case "uint32": {
      const [min, max] = INT_RANGES[type];
      if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
        throw new HeaderError(path, `${type} needs a whole number from ${min} to ${max}`);
      return { "!": type, value };
    }
    case "int64":
      return { "!": "int64", value: bigOf(value, path, -(2n ** 63n), 2n ** 63n - 1n, type) };
    case "timestamp":
      return { "!": "timestamp", value: bigOf(value, path, 0n, 2n ** 64n - 1n, type) };
    case "float":
    case "double":
      return { "!": type, value: floatOf(value, path, type) };
    case "decimal": {
      const d = value as { places?: unknown; digits?: unknown } | null;
      const ok =
        d !== null &&
        typeof d === "object" &&
        Number.isInteger(d.places) &&
        (d.places as number) >= 0 &&
        (d.places as number) <= 255 &&
        Number.isInteger(d.digits) &&
        (d.digits as number) >= 0 &&
        (d.digits as number) <= 0xffffffff;
      if (!ok) throw new HeaderError(path, "decimal needs {places: 0..255, digits: 0..4294967295}");
      return { "!": "decimal", value: { places: d.places, digits: d.digits } };
    }
    case "string":
      if (typeof value === "string") return value;
      if (isBase64(o["base64"]))
        throw new HeaderError(
          path,
          "a long string whose bytes are not UTF-8 text cannot be sent again (the AMQP client sends text only)",
        );
      throw new HeaderError(path, "string needs a text value");
    case "bytes":
      if (!isBase64(value)) throw new HeaderError(path, "bytes needs base64 text");
      return Buffer.from(value, "base64");
    case "void":
      if (value !== null && value !== undefined) throw new HeaderError(path, "void needs null");
      return null;
    case "array":
      if (!Array.isArray(value)) throw new HeaderError(path, "array needs a list of typed values");
      return value.map((x, i) => toAmqplibValue(x, `${path}[${i}]`, depth + 1));
    case "table":
      if (value === null || typeof value !== "object" || Array.isArray(value))
        throw new HeaderError(path, "table needs an object of typed values");
      return toAmqplibTable(value as Record<string, unknown>, path, depth + 1, true);
    default:
      throw new HeaderError(
        path,
        `unknown type ${JSON.stringify(type)} (one of ${FIELD_TYPES.join(", ")})`,
      );
  }
}

function toAmqplibTable(
  table: Record<string, unknown>,
  path: string,
  depth: number,
  nested: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(table)) {
    const at = `${path}.${k}`;
    if (Buffer.byteLength(k) > 255) throw new HeaderError(at, "a field name is at most 255 bytes");
    // amqplib reads an object with a "!" key as a typed value, not a table.
    if (nested && k === "!") throw new HeaderError(at, 'a nested table key "!" cannot be sent');
    Object.defineProperty(out, k, {
      value: toAmqplibValue(x, at, depth),
      enumerable: true,
      writable: true,
    });
  }
  return out;
}

/** A recording's typed headers → amqplib headers that go out with the same types. */
export function toAmqplibHeaders(table: Record<string, unknown>): Record<string, unknown> {
  return toAmqplibTable(table, "headers", 0, false);
}

/**
 * Plain header values (consume --json, no types) → amqplib headers: sent as amqplib infers
 * them (see inferTyped). Only what amqplib would misread is refused.
 */
export function plainHeaders(table: Record<string, unknown>): Record<string, unknown> {
  const check = (v: unknown, path: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new HeaderError(path, `nested deeper than ${MAX_DEPTH}`);
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) check(x, `${path}[${i}]`, depth + 1);
    } else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (depth > 0 && k === "!")
          throw new HeaderError(`${path}.${k}`, 'a nested table key "!" cannot be sent');
        check(x, `${path}.${k}`, depth + 1);
      }
    }
  };
  check(table, "headers", 0);
  return table;
}

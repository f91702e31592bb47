import { COMMAND_INVALID, CodecError, syntaxError } from "./errors.js";
import type {
  ArgsParam,
  BasicProperties,
  DecodedMethod,
  MethodInput,
  MethodName,
} from "./params.js";
import { narrow, Reader, Writer } from "./reader.js";
import {
  type AmqpType,
  type ArgSpec,
  BASIC_CLASS_ID,
  BASIC_PROPERTIES,
  type MethodSpec,
  methodById,
  methodByName,
} from "./spec.js";
import { type FieldTable, readTable, writeTable } from "./table.js";

/**
 * Method and content-header codecs, driven by the table in spec.ts. Argument values:
 *   bit → boolean; octet, short, long → number; longlong, timestamp → number when it is
 *   a safe integer, else bigint (either is accepted when encoding); shortstr → string;
 *   longstr → Buffer (a string is accepted when encoding, as UTF-8); table → FieldTable.
 * Consecutive bit arguments share octets, first bit in the lowest position, eight to an octet.
 * The exact argument type of each method is in params.ts (MethodParams); the functions that
 * take a method by name are typed with it. Those that take class and method ids take any
 * argument object and check it against the table at run time.
 */

export type ArgValue = boolean | number | bigint | string | Buffer | Uint8Array | FieldTable;
/** Arguments of a method chosen at run time (by ids); checked against the table when encoded. */
export type MethodArgs = Readonly<Record<string, ArgValue | undefined>>;

function lookup(classId: number, methodId: number): MethodSpec {
  const spec = methodById(classId, methodId);
  if (spec === undefined) {
    throw new CodecError(COMMAND_INVALID, `unknown method class ${classId} method ${methodId}`);
  }
  return spec;
}

// ---------------------------------------------------------------- values

function uint(v: unknown, max: number, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`${what}: expected an integer 0..${max}, got ${String(v)}`);
  }
  return v;
}

function uint64(v: unknown, what: string): bigint {
  if (
    !(typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v))) ||
    v < 0 ||
    BigInt(v) > 0xffffffffffffffffn
  ) {
    throw new RangeError(`${what}: expected an unsigned 64-bit integer, got ${String(v)}`);
  }
  return BigInt(v);
}

function writeArg(w: Writer, type: AmqpType, v: unknown, what: string): void {
  switch (type) {
    case "octet":
      w.u8(uint(v, 0xff, what));
      return;
    case "short":
      w.u16(uint(v, 0xffff, what));
      return;
    case "long":
      w.u32(uint(v, 0xffffffff, what));
      return;
    case "longlong":
    case "timestamp":
      w.u64(uint64(v, what));
      return;
    case "shortstr":
      if (typeof v !== "string") throw new TypeError(`${what}: expected a string`);
      w.shortstr(v, what);
      return;
    case "longstr":
      if (typeof v !== "string" && !(v instanceof Uint8Array)) {
        throw new TypeError(`${what}: expected a Buffer or a string`);
      }
      w.longstr(v);
      return;
    case "table":
      if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array) {
        throw new TypeError(`${what}: expected a field table`);
      }
      writeTable(w, v as FieldTable);
      return;
    case "bit":
      throw new Error("bits are packed by the caller");
  }
}

function readArg(r: Reader, type: AmqpType, what: string): ArgValue {
  switch (type) {
    case "octet":
      return r.u8(what);
    case "short":
      return r.u16(what);
    case "long":
      return r.u32(what);
    case "longlong":
    case "timestamp":
      return narrow(r.u64(what));
    case "shortstr":
      return r.shortstr(what);
    case "longstr":
      return r.longstr(what);
    case "table":
      return readTable(r);
    case "bit":
      throw new Error("bits are unpacked by the caller");
  }
}

function argOrDefault(arg: ArgSpec, args: MethodArgs, method: string): unknown {
  const v = args[arg.key];
  if (v !== undefined) return v;
  if (arg.hasDefault) return arg.defaultValue;
  throw new TypeError(`${method}: missing argument ${arg.key}`);
}

// ---------------------------------------------------------------- methods

/** Write class id, method id and arguments of one method (a method frame's payload). */
export function writeMethod(w: Writer, spec: MethodSpec, args: MethodArgs): void {
  w.u16(spec.classId);
  w.u16(spec.methodId);
  let bitAt = -1; // offset of the octet collecting bits, or -1
  let bit = 0;
  for (const arg of spec.args) {
    const v = argOrDefault(arg, args, spec.name);
    if (arg.type === "bit") {
      if (typeof v !== "boolean")
        throw new TypeError(`${spec.name}.${arg.key}: expected a boolean`);
      if (bitAt < 0 || bit === 8) {
        bitAt = w.offset;
        bit = 0;
        w.u8(0);
      }
      if (v) w.buf[bitAt]! |= 1 << bit;
      bit++;
    } else {
      bitAt = -1;
      writeArg(w, arg.type, v, `${spec.name}.${arg.key}`);
    }
  }
}

export function encodeMethod(classId: number, methodId: number, args: MethodArgs = {}): Buffer {
  const spec = methodById(classId, methodId);
  if (spec === undefined) throw new RangeError(`unknown method ${classId}/${methodId}`);
  const w = new Writer(64);
  writeMethod(w, spec, args);
  return Buffer.from(w.result());
}

/** The table entry of a method named by the type system. */
export function methodSpec(name: MethodName): MethodSpec {
  const spec = methodByName(name);
  if (spec === undefined) throw new RangeError(`unknown method ${name}`);
  return spec;
}

/** A method's payload by name; arguments with a spec default may be left out. */
export function encodeMethodByName<K extends MethodName>(
  name: K,
  ...[args]: ArgsParam<MethodInput<K>>
): Buffer {
  const spec = methodSpec(name);
  return encodeMethod(spec.classId, spec.methodId, (args ?? {}) as MethodArgs);
}

/**
 * Decode a method frame's payload. Trailing bytes after the last argument are an error.
 * The result's `args` are built from the same table the types are derived from.
 */
export function decodeMethod(payload: Buffer): DecodedMethod {
  const r = new Reader(payload);
  const classId = r.u16("class id");
  const methodId = r.u16("method id");
  const spec = lookup(classId, methodId);
  const args: Record<string, ArgValue> = {};
  let bits = 0;
  let bit = 8;
  for (const arg of spec.args) {
    const what = `${spec.name} ${arg.name}`;
    if (arg.type === "bit") {
      if (bit === 8) {
        bits = r.u8(what);
        bit = 0;
      }
      args[arg.key] = (bits & (1 << bit)) !== 0;
      bit++;
    } else {
      bit = 8;
      args[arg.key] = readArg(r, arg.type, what);
    }
  }
  if (r.remaining !== 0) {
    throw syntaxError(`${spec.name}: ${r.remaining} unexpected bytes after the arguments`);
  }
  return { classId, methodId, name: spec.name, spec, args } as DecodedMethod;
}

// ---------------------------------------------------------------- content headers

export interface ContentHeader {
  classId: number;
  /** Always 0 in 0-9-1; kept so a header decodes and encodes unchanged. */
  weight: number;
  /** Body size in bytes: a number when it is a safe integer, else a bigint. */
  bodySize: number | bigint;
  properties: BasicProperties;
}

/** What encoding a content header takes; class (basic) and weight (0) have defaults. */
export interface ContentHeaderInput {
  classId?: number | undefined;
  weight?: number | undefined;
  bodySize: number | bigint;
  properties?: BasicProperties | undefined;
}

export function writeContentHeader(w: Writer, header: ContentHeaderInput): void {
  const classId = header.classId ?? BASIC_CLASS_ID;
  if (classId !== BASIC_CLASS_ID)
    throw new RangeError(`no content properties for class ${classId}`);
  w.u16(classId);
  w.u16(uint(header.weight ?? 0, 0xffff, "weight"));
  w.u64(uint64(header.bodySize, "body size"));
  const props: Readonly<Record<string, unknown>> = header.properties ?? {};
  const flagsAt = w.offset;
  w.u16(0);
  let flags = 0;
  for (const p of BASIC_PROPERTIES) {
    const v = props[p.key];
    if (v === undefined) continue;
    flags |= p.flag;
    writeArg(w, p.type, v, `basic properties ${p.key}`);
  }
  w.buf.writeUInt16BE(flags, flagsAt);
}

export function encodeContentHeader(header: ContentHeaderInput): Buffer {
  const w = new Writer(64);
  writeContentHeader(w, header);
  return Buffer.from(w.result());
}

/** Bit 0 of a flags word says another flags word follows; 0-9-1 basic never needs one. */
const KNOWN_FLAGS = BASIC_PROPERTIES.reduce((acc, p) => acc | p.flag, 0);

export function decodeContentHeader(payload: Buffer): ContentHeader {
  const r = new Reader(payload);
  const classId = r.u16("content class id");
  if (classId !== BASIC_CLASS_ID) {
    throw new CodecError(COMMAND_INVALID, `content header for class ${classId}, expected basic`);
  }
  const weight = r.u16("content weight");
  const bodySize = narrow(r.u64("content body size"));
  const flags = r.u16("property flags");
  if ((flags & ~KNOWN_FLAGS) !== 0) {
    throw syntaxError(`property flags 0x${flags.toString(16)} set unknown bits`);
  }
  const properties: Record<string, ArgValue> = {};
  for (const p of BASIC_PROPERTIES) {
    if ((flags & p.flag) !== 0) properties[p.key] = readArg(r, p.type, `property ${p.name}`);
  }
  if (r.remaining !== 0) {
    throw syntaxError(`content header: ${r.remaining} unexpected bytes after the properties`);
  }
  return { classId, weight, bodySize, properties: properties as BasicProperties };
}

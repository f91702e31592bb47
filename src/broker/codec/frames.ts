import { CodecError, frameError } from "./errors.js";
import { type MethodArgs, methodSpec, writeContentHeader, writeMethod } from "./methods.js";
import type { ArgsParam, BasicProperties, MethodInput, MethodName } from "./params.js";
import { Writer } from "./reader.js";
import {
  FRAME_BODY,
  FRAME_END,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_OVERHEAD,
  methodById,
} from "./spec.js";

/**
 * Frames: type octet, channel short, payload size long, payload, frame-end octet 0xCE.
 * `frameMax` counts the whole frame, header and frame-end included, as AMQP's frame-max does.
 */

export type FrameType =
  | typeof FRAME_METHOD
  | typeof FRAME_HEADER
  | typeof FRAME_BODY
  | typeof FRAME_HEARTBEAT;

export interface Frame {
  readonly type: FrameType;
  readonly channel: number;
  /** Shares memory with the received chunk when the frame arrived whole; copy to keep it long. */
  readonly payload: Buffer;
}

/** "AMQP" 0 0 9 1: the only protocol header this codec speaks. */
export const PROTOCOL_HEADER: Buffer = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

const HEADER_SIZE = 7;

function checkChannel(channel: number): void {
  if (!Number.isInteger(channel) || channel < 0 || channel > 0xffff) {
    throw new RangeError(`channel ${channel} is not a short`);
  }
}

export function encodeFrame(type: FrameType, channel: number, payload: Uint8Array): Buffer {
  checkChannel(channel);
  const out = Buffer.allocUnsafe(payload.length + FRAME_OVERHEAD);
  out[0] = type;
  out.writeUInt16BE(channel, 1);
  out.writeUInt32BE(payload.length, 3);
  out.set(payload, HEADER_SIZE);
  out[HEADER_SIZE + payload.length] = FRAME_END;
  return out;
}

function framed(type: FrameType, channel: number, body: (w: Writer) => void): Buffer {
  checkChannel(channel);
  const w = new Writer(128);
  w.u8(type);
  w.u16(channel);
  w.u32(0);
  body(w);
  w.u8(FRAME_END);
  w.buf.writeUInt32BE(w.offset - FRAME_OVERHEAD, 3);
  return Buffer.from(w.result());
}

export function encodeMethodFrame(
  channel: number,
  classId: number,
  methodId: number,
  args: MethodArgs = {},
): Buffer {
  const spec = methodById(classId, methodId);
  if (spec === undefined) throw new RangeError(`unknown method ${classId}/${methodId}`);
  return framed(FRAME_METHOD, channel, (w) => writeMethod(w, spec, args));
}

/** A method frame by name, its arguments typed by the table (see params.ts). */
export function encodeMethodFrameByName<K extends MethodName>(
  channel: number,
  name: K,
  ...[args]: ArgsParam<MethodInput<K>>
): Buffer {
  const spec = methodSpec(name);
  // The type of `args` was checked against the table above; the writer walks the table.
  const values = (args ?? {}) as MethodArgs;
  return framed(FRAME_METHOD, channel, (w) => writeMethod(w, spec, values));
}

export function encodeHeaderFrame(
  channel: number,
  bodySize: number | bigint,
  properties: BasicProperties = {},
  classId = 60,
): Buffer {
  return framed(FRAME_HEADER, channel, (w) =>
    writeContentHeader(w, { classId, bodySize, properties }),
  );
}

export function encodeBodyFrame(channel: number, body: Uint8Array): Buffer {
  return encodeFrame(FRAME_BODY, channel, body);
}

export const HEARTBEAT_FRAME: Buffer = encodeFrame(FRAME_HEARTBEAT, 0, Buffer.alloc(0));

/** What FrameReader.push produces, in order of arrival. */
export type ReadEvent =
  | { readonly kind: "frame"; readonly frame: Frame }
  /** The expected "AMQP" 0 0 9 1. */
  | { readonly kind: "protocol-header" }
  /**
   * Anything else where the protocol header belongs. The connection should answer with
   * PROTOCOL_HEADER and close; the reader ignores all further input.
   */
  | { readonly kind: "bad-protocol-header"; readonly received: Buffer };

export interface FrameReaderOptions {
  /** Largest acceptable frame, header and frame-end included. */
  frameMax: number;
  /** Expect the 8-byte protocol header before any frame (a server's side of a connection). */
  protocolHeader?: boolean;
}

const MAX_FRAME_MAX = 0xffffffff + FRAME_OVERHEAD;

function checkFrameMax(n: number): number {
  if (!Number.isInteger(n) || n < FRAME_OVERHEAD || n > MAX_FRAME_MAX) {
    throw new RangeError(`frameMax ${n} must be an integer from ${FRAME_OVERHEAD}`);
  }
  return n;
}

/**
 * Splits a byte stream into frames, whatever the chunking. A frame that arrives inside one
 * chunk is returned as a view of it; only a frame that spans chunks is copied, once, into a
 * buffer of exactly its size. A frame's declared size is checked against frameMax from its
 * 7 header bytes, before anything is buffered for it, so a hostile size costs nothing.
 * Malformed input throws CodecError (501 FRAME_ERROR); after that the reader stays failed.
 */
export class FrameReader {
  #frameMax: number;
  #wantHeader: boolean;
  #pending: Buffer[] = [];
  #pendingLen = 0;
  /** Full size of the frame being assembled across chunks, 0 while its header is incomplete. */
  #need = 0;
  #failed: CodecError | undefined;
  #closed = false;

  constructor(options: FrameReaderOptions) {
    this.#frameMax = checkFrameMax(options.frameMax);
    this.#wantHeader = options.protocolHeader === true;
  }

  get frameMax(): number {
    return this.#frameMax;
  }

  /** Change the limit, e.g. after connection.tune-ok; applies to frames not yet started. */
  set frameMax(n: number) {
    this.#frameMax = checkFrameMax(n);
  }

  /** Bytes held for an incomplete frame (never more than frameMax). */
  get buffered(): number {
    return this.#pendingLen;
  }

  push(chunk: Buffer): ReadEvent[] {
    if (this.#failed) throw this.#failed;
    const out: ReadEvent[] = [];
    if (this.#closed || chunk.length === 0) return out;
    try {
      let rest: Buffer | undefined = chunk;
      if (this.#wantHeader) rest = this.#protocolHeader(rest, out);
      if (rest !== undefined && this.#pendingLen > 0) rest = this.#assemble(rest, out);
      if (rest !== undefined && rest.length > 0) this.#scan(rest, out);
    } catch (err) {
      if (err instanceof CodecError) {
        this.#failed = err;
        this.#pending = [];
        this.#pendingLen = 0;
      }
      throw err;
    }
    return out;
  }

  #protocolHeader(chunk: Buffer, out: ReadEvent[]): Buffer | undefined {
    const have = this.#pendingLen;
    const take = Math.min(PROTOCOL_HEADER.length - have, chunk.length);
    const head = chunk.subarray(0, take);
    // Fail on the first wrong byte rather than wait for eight.
    if (!head.equals(PROTOCOL_HEADER.subarray(have, have + take))) {
      const received = Buffer.concat([...this.#pending, head]);
      this.#pending = [];
      this.#pendingLen = 0;
      this.#closed = true;
      out.push({ kind: "bad-protocol-header", received });
      return undefined;
    }
    if (have + take < PROTOCOL_HEADER.length) {
      this.#pending.push(head);
      this.#pendingLen += take;
      return undefined;
    }
    this.#pending = [];
    this.#pendingLen = 0;
    this.#wantHeader = false;
    out.push({ kind: "protocol-header" });
    return chunk.subarray(take);
  }

  /** Size of the frame whose 7 header bytes are at `at`, checked against frameMax. */
  #frameSize(buf: Buffer, at: number): number {
    const type = buf[at]!;
    if (
      type !== FRAME_METHOD &&
      type !== FRAME_HEADER &&
      type !== FRAME_BODY &&
      type !== FRAME_HEARTBEAT
    ) {
      throw frameError(`unknown frame type ${type}`);
    }
    const size = buf.readUInt32BE(at + 3) + FRAME_OVERHEAD;
    if (size > this.#frameMax) {
      throw frameError(`frame of ${size} bytes is larger than frame_max ${this.#frameMax}`);
    }
    return size;
  }

  #frame(buf: Buffer, at: number, size: number): Frame {
    const endAt = at + size - 1;
    if (buf[endAt] !== FRAME_END) {
      throw frameError(`frame end octet is 0x${buf[endAt]!.toString(16)}, expected 0xce`);
    }
    return {
      type: buf[at] as FrameType,
      channel: buf.readUInt16BE(at + 1),
      payload: buf.subarray(at + HEADER_SIZE, endAt),
    };
  }

  /** Continue a frame that began in an earlier chunk; returns what is left of the chunk. */
  #assemble(chunk: Buffer, out: ReadEvent[]): Buffer | undefined {
    let used = 0;
    if (this.#need === 0) {
      const missing = HEADER_SIZE - this.#pendingLen;
      if (chunk.length < missing) {
        this.#pending.push(chunk);
        this.#pendingLen += chunk.length;
        return undefined;
      }
      const head = Buffer.concat([...this.#pending, chunk.subarray(0, missing)], HEADER_SIZE);
      this.#need = this.#frameSize(head, 0);
      this.#pending = [head];
      this.#pendingLen = HEADER_SIZE;
      used = missing;
    }
    const missing = this.#need - this.#pendingLen;
    if (chunk.length - used < missing) {
      const part = chunk.subarray(used);
      if (part.length > 0) this.#pending.push(part);
      this.#pendingLen += part.length;
      return undefined;
    }
    const whole = Buffer.concat(
      [...this.#pending, chunk.subarray(used, used + missing)],
      this.#need,
    );
    const size = this.#need;
    this.#pending = [];
    this.#pendingLen = 0;
    this.#need = 0;
    out.push({ kind: "frame", frame: this.#frame(whole, 0, size) });
    return chunk.subarray(used + missing);
  }

  /** Frames wholly inside `buf` are returned as views; a partial tail is kept. */
  #scan(buf: Buffer, out: ReadEvent[]): void {
    let at = 0;
    // Each pass consumes at least FRAME_OVERHEAD bytes, so this ends.
    while (buf.length - at >= HEADER_SIZE) {
      const size = this.#frameSize(buf, at);
      if (buf.length - at < size) {
        this.#need = size;
        break;
      }
      out.push({ kind: "frame", frame: this.#frame(buf, at, size) });
      at += size;
    }
    if (at < buf.length) {
      this.#pending = [buf.subarray(at)];
      this.#pendingLen = buf.length - at;
    }
  }
}

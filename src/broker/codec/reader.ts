import { syntaxError } from "./errors.js";

/**
 * A bounds-checked cursor over one buffer. Every read checks what remains before touching
 * the bytes, so a declared length can never make the codec slice or allocate past the input.
 * Slices share memory with the input (no copies).
 */
export class Reader {
  offset: number;
  constructor(
    readonly buf: Buffer,
    offset = 0,
    readonly end = buf.length,
  ) {
    this.offset = offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  need(n: number, what: string): void {
    if (n > this.end - this.offset) {
      throw syntaxError(
        `${what}: needs ${n} bytes but only ${this.end - this.offset} remain at offset ${this.offset}`,
      );
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.offset++]!;
  }
  i8(what: string): number {
    this.need(1, what);
    const v = this.buf.readInt8(this.offset);
    this.offset += 1;
    return v;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  i16(what: string): number {
    this.need(2, what);
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  i32(what: string): number {
    this.need(4, what);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  u64(what: string): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
  i64(what: string): bigint {
    this.need(8, what);
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
  f32(what: string): number {
    this.need(4, what);
    const v = this.buf.readFloatBE(this.offset);
    this.offset += 4;
    return v;
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.buf.readDoubleBE(this.offset);
    this.offset += 8;
    return v;
  }
  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
  shortstr(what: string): string {
    const n = this.u8(what);
    this.need(n, `${what} (shortstr of ${n} bytes)`);
    const v = this.buf.toString("utf8", this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
  longstr(what: string): Buffer {
    const n = this.u32(what);
    return this.bytes(n, `${what} (longstr of ${n} bytes)`);
  }
}

/** A uint64 / int64 as a number when it is exactly representable, else a bigint. */
export function narrow(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(v)
    : v;
}

/** A growable output buffer for encoders. */
export class Writer {
  buf: Buffer;
  offset = 0;
  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }
  ensure(n: number): void {
    if (this.offset + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.offset + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.offset);
    this.offset += 1;
  }
  i8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.offset);
    this.offset += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.offset);
    this.offset += 2;
  }
  i16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.offset);
    this.offset += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.offset);
    this.offset += 4;
  }
  i32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.offset);
    this.offset += 4;
  }
  u64(v: bigint | number): void {
    this.ensure(8);
    this.buf.writeBigUInt64BE(BigInt(v), this.offset);
    this.offset += 8;
  }
  i64(v: bigint | number): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(BigInt(v), this.offset);
    this.offset += 8;
  }
  f32(v: number): void {
    this.ensure(4);
    this.buf.writeFloatBE(v, this.offset);
    this.offset += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.offset);
    this.offset += 8;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.offset);
    this.offset += b.length;
  }
  utf8(s: string): number {
    const n = Buffer.byteLength(s, "utf8");
    this.ensure(n);
    this.buf.write(s, this.offset, n, "utf8");
    this.offset += n;
    return n;
  }
  shortstr(s: string, what: string): void {
    const n = Buffer.byteLength(s, "utf8");
    if (n > 255) throw new RangeError(`${what}: shortstr is ${n} bytes, at most 255 allowed`);
    this.u8(n);
    this.utf8(s);
  }
  longstr(v: string | Uint8Array): void {
    if (typeof v === "string") {
      const at = this.offset;
      this.u32(0);
      const n = this.utf8(v);
      this.buf.writeUInt32BE(n, at);
    } else {
      this.u32(v.length);
      this.bytes(v);
    }
  }
  /** Reserve a uint32 length and return a function that fills it with the bytes written since. */
  lengthPrefix(): () => void {
    const at = this.offset;
    this.u32(0);
    return () => this.buf.writeUInt32BE(this.offset - at - 4, at);
  }
  result(): Buffer {
    return this.buf.subarray(0, this.offset);
  }
}

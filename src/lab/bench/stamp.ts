/**
 * The stamp every bench message carries: when it was sent and which (producer, sequence) it
 * is, so a consumer measures publish-to-receive latency and finds missing and duplicated
 * messages. It is the first STAMP_BYTES of a sized body, or the STAMP_HEADER header of a
 * templated one (whose body stays as the template renders it).
 *
 * Layout (big-endian): float64 send time (epoch ms, sub-millisecond), uint32 run tag,
 * uint32 producer, uint32 sequence.
 */
export const STAMP_BYTES = 20;
export const STAMP_HEADER = "x-eventlab-bench";

/**
 * Epoch milliseconds with sub-millisecond precision, comparable across worker threads
 * (each thread's performance.now() has its own origin; origin + now is wall time).
 */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

export function writeStamp(
  buf: Buffer,
  sentAt: number,
  runTag: number,
  producer: number,
  seq: number,
): void {
  buf.writeDoubleBE(sentAt, 0);
  buf.writeUInt32BE(runTag, 8);
  buf.writeUInt32BE(producer, 12);
  buf.writeUInt32BE(seq, 16);
}

export interface Stamp {
  sentAt: number;
  producer: number;
  seq: number;
}

/** The stamp of this run in `buf`, or undefined (too short, or another run's). */
export function readStamp(buf: Buffer | undefined, runTag: number): Stamp | undefined {
  if (buf === undefined || buf.length < STAMP_BYTES) return undefined;
  if (buf.readUInt32BE(8) !== runTag) return undefined;
  return { sentAt: buf.readDoubleBE(0), producer: buf.readUInt32BE(12), seq: buf.readUInt32BE(16) };
}

/** A growable set of sequence numbers (one bit each): add() says whether it was new. */
export class SeenSet {
  bits = new Uint8Array(1024);

  add(seq: number): boolean {
    const byte = seq >>> 3;
    if (byte >= this.bits.length) {
      let size = this.bits.length * 2;
      while (size <= byte) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (seq & 7);
    const cur = this.bits[byte] as number;
    if (cur & mask) return false;
    this.bits[byte] = cur | mask;
    return true;
  }
}

/** Set bits of a byte, 0–255. */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => {
  let n = 0;
  for (let v = i; v; v >>= 1) n += v & 1;
  return n;
});

/**
 * Merge the bitsets several consumers kept for one producer: how many distinct sequence
 * numbers arrived, and how many arrived at more than one of them (duplicates).
 */
export function mergeSeen(sets: readonly Uint8Array[]): { distinct: number; overlap: number } {
  const size = Math.max(0, ...sets.map((s) => s.length));
  const acc = new Uint8Array(size);
  let overlap = 0;
  for (const s of sets) {
    for (let i = 0; i < s.length; i++) {
      const b = s[i] as number;
      if (b === 0) continue;
      const a = acc[i] as number;
      overlap += POPCOUNT[a & b] as number;
      acc[i] = a | b;
    }
  }
  let distinct = 0;
  for (let i = 0; i < size; i++) distinct += POPCOUNT[acc[i] as number] as number;
  return { distinct, overlap };
}

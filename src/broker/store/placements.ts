/**
 * One queue's messages as recovery replays the log: columns of typed arrays rather than an
 * object per message, so that reading back millions of queued messages costs tens of bytes
 * each. A queue's placements arrive in log order, so their ids ascend and a removal finds its
 * id by binary search; removed ones are only marked.
 */
import type { Placement } from "./records.js";

const REDELIVERED = 1;
const REMOVED = 2;

/** One placement, as `forEach` shows it. */
export interface PlacementRow {
  id: number;
  seq: number;
  expiresAt: number;
  priority: number;
  redelivered: boolean;
  returns: number;
  size: number;
}

export class Placements {
  private n = 0;
  live = 0;
  private id = new Float64Array(256);
  private seq = new Float64Array(256);
  private expiresAt = new Float64Array(256);
  private size = new Uint32Array(256);
  private returns = new Uint32Array(256);
  private priority = new Uint8Array(256);
  private flags = new Uint8Array(256);

  private grow(): void {
    const cap = this.id.length * 2;
    const more = <T extends Float64Array | Uint32Array | Uint8Array>(
      a: T,
      make: new (n: number) => T,
    ): T => {
      const b = new make(cap);
      b.set(a);
      return b;
    };
    this.id = more(this.id, Float64Array);
    this.seq = more(this.seq, Float64Array);
    this.expiresAt = more(this.expiresAt, Float64Array);
    this.size = more(this.size, Uint32Array);
    this.returns = more(this.returns, Uint32Array);
    this.priority = more(this.priority, Uint8Array);
    this.flags = more(this.flags, Uint8Array);
  }

  add(id: number, size: number, p: Placement): void {
    if (this.n === this.id.length) this.grow();
    let at = this.n;
    // Ids ascend in log order; anything else is placed where it belongs (never expected).
    if (at > 0 && (this.id[at - 1] as number) >= id) {
      const i = this.find(id);
      if (i >= 0) {
        if ((this.flags[i] as number) & REMOVED) this.live += 1;
        this.write(i, id, size, p);
        return;
      }
      at = this.lowerBound(id);
      for (const a of [
        this.id,
        this.seq,
        this.expiresAt,
        this.size,
        this.returns,
        this.priority,
        this.flags,
      ]) {
        a.copyWithin(at + 1, at, this.n);
      }
    }
    this.write(at, id, size, p);
    this.n += 1;
    this.live += 1;
  }

  private write(i: number, id: number, size: number, p: Placement): void {
    this.id[i] = id;
    this.seq[i] = p.seq;
    this.expiresAt[i] = p.expiresAt;
    this.size[i] = size;
    this.returns[i] = p.returns;
    this.priority[i] = p.priority;
    this.flags[i] = p.redelivered ? REDELIVERED : 0;
  }

  private lowerBound(id: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.id[mid] as number) < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The index of a placement still there, or -1. */
  private find(id: number): number {
    for (let i = this.lowerBound(id); i < this.n && this.id[i] === id; i++) {
      if (!((this.flags[i] as number) & REMOVED)) return i;
    }
    return -1;
  }

  remove(id: number): void {
    const i = this.find(id);
    if (i < 0) return;
    this.flags[i] = (this.flags[i] as number) | REMOVED;
    this.live -= 1;
  }

  /** Delivered once (and, for a requeue, its delivery count). */
  mark(id: number, returns?: number): void {
    const i = this.find(id);
    if (i < 0) return;
    this.flags[i] = (this.flags[i] as number) | REDELIVERED;
    if (returns !== undefined) this.returns[i] = returns;
  }

  /** Indexes of the placements still there, in queue order (by seq). */
  order(): Uint32Array {
    const out = new Uint32Array(this.live);
    let k = 0;
    let sorted = true;
    for (let i = 0; i < this.n; i++) {
      if ((this.flags[i] as number) & REMOVED) continue;
      if (k > 0 && (this.seq[out[k - 1] as number] as number) > (this.seq[i] as number))
        sorted = false;
      out[k++] = i;
    }
    // Compaction appends moved messages with their old seq: only then is a sort needed.
    if (!sorted) out.sort((a, b) => (this.seq[a] as number) - (this.seq[b] as number));
    return out;
  }

  row(i: number): PlacementRow {
    return {
      id: this.id[i] as number,
      seq: this.seq[i] as number,
      expiresAt: this.expiresAt[i] as number,
      priority: this.priority[i] as number,
      redelivered: ((this.flags[i] as number) & REDELIVERED) !== 0,
      returns: this.returns[i] as number,
      size: this.size[i] as number,
    };
  }

  idAt(i: number): number {
    return this.id[i] as number;
  }

  sizeAt(i: number): number {
    return this.size[i] as number;
  }
}

/**
 * A FIFO over a plain array with a moving head: O(1) push and shift, compacted as the head
 * advances. Requeued items go back by their sequence number, which for the usual case
 * (older than everything ready) is an O(1) unshift.
 */
export class Deque<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head] as T;
    (this.items as Array<T | undefined>)[this.head] = undefined;
    this.head += 1;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Insert keeping the order of `key` (ascending), scanning from the front. */
  insertByKey(item: T, key: (t: T) => number): void {
    const k = key(item);
    const first = this.items[this.head];
    if (first === undefined || k < key(first)) {
      if (this.head > 0) {
        this.head -= 1;
        this.items[this.head] = item;
      } else this.items.unshift(item);
      return;
    }
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (key(this.items[mid] as T) < k) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, item);
  }

  /** Remove and return everything. */
  clear(): T[] {
    const out = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return out;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}

/**
 * Where a consume session reading a stream queue picks up after a lost connection. A queue
 * gives back what was delivered and not settled; a stream gives back nothing, but keeps every
 * message: the new consumer starts at the oldest delivery not settled yet (those are
 * delivered and printed again, as a queue's would be), or after the last one.
 */
export class StreamPosition {
  private readonly unsettled = new Set<number>();
  private next: number | undefined;

  delivered(offset: number): void {
    this.unsettled.add(offset);
    this.next = Math.max(this.next ?? 0, offset + 1);
  }

  settled(offset: number): void {
    this.unsettled.delete(offset);
  }

  /** The offset to start at on a new connection; undefined when no stream delivery came. */
  resumeAt(): number | undefined {
    let oldest = this.next;
    for (const o of this.unsettled) if (oldest === undefined || o < oldest) oldest = o;
    this.unsettled.clear();
    return oldest;
  }
}

/**
 * Ids of messages settled lately, to recognise a redelivery whose ack was lost with its
 * connection: the broker delivers such a message again, flagged redelivered.
 */

/** The last `size` ids added, for membership: a set with a ring that forgets the oldest. */
export class RecentIds {
  private readonly set = new Set<string>();
  private readonly ring: Array<string | undefined>;
  private next = 0;

  constructor(size: number) {
    this.ring = new Array<string | undefined>(size);
  }

  add(id: string): void {
    if (this.set.has(id)) return;
    const old = this.ring[this.next];
    if (old !== undefined) this.set.delete(old);
    this.ring[this.next] = id;
    this.next = (this.next + 1) % this.ring.length;
    this.set.add(id);
  }

  has(id: string): boolean {
    return this.set.has(id);
  }
}

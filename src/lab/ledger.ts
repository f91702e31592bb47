/**
 * The playground's accounting: how many copies of each message every consumed queue should
 * get, how each was settled for good (processed, duplicate, dead-lettered, dropped), and the
 * per-queue counters the dashboard shows. `lost` is what was expected and never settled.
 * Messages from before the run are counted apart (`preexisting`), never as the run's copies.
 */

export type Settled = "processed" | "duplicate" | "dead-lettered" | "dropped";

/** What happened to every copy, and the counters the dashboard shows. */
export class Ledger {
  /** Copies expected per queue, and per message id within it. */
  readonly expected = new Map<string, number>();
  private readonly expectedById = new Map<string, Map<string, number>>();
  private readonly settledById = new Map<string, Map<string, number>>();
  private readonly settledHow = new Map<string, Record<Settled, number>>();
  private readonly settledTotal = new Map<string, number>();
  readonly counters = new Map<
    string,
    {
      redelivered: number;
      deadLettered: number;
      duplicates: number;
      outOfOrder: number;
      /** Messages from before the run, settled for good here (not copies of this run). */
      preexisting: number;
      in: number;
      out: number;
    }
  >();
  readonly latencies: number[] = [];
  /** Copies settled for good, counting repeats of an id (consume without producers). */
  finals = 0;

  queue(name: string) {
    let c = this.counters.get(name);
    if (!c) {
      c = {
        redelivered: 0,
        deadLettered: 0,
        duplicates: 0,
        outOfOrder: 0,
        preexisting: 0,
        in: 0,
        out: 0,
      };
      this.counters.set(name, c);
    }
    return c;
  }

  /** A copy of message `id` will reach `queue` (again, when dead-lettering loops back). */
  expect(queue: string, id: string): void {
    this.expected.set(queue, (this.expected.get(queue) ?? 0) + 1);
    const m = this.expectedById.get(queue) ?? new Map<string, number>();
    m.set(id, (m.get(id) ?? 0) + 1);
    this.expectedById.set(queue, m);
    this.queue(queue).in += 1;
  }

  /**
   * A copy handled for good. False when no copy of `id` was still expected in `queue`:
   * one processed twice (at-least-once after a lost ack) or one nobody announced.
   */
  settle(queue: string, id: string, how: Settled): boolean {
    this.finals += 1;
    const expected = this.expectedById.get(queue)?.get(id) ?? 0;
    const m = this.settledById.get(queue) ?? new Map<string, number>();
    this.settledById.set(queue, m);
    const done = m.get(id) ?? 0;
    if (done >= expected) return false;
    m.set(id, done + 1);
    const how$ = this.settledHow.get(queue) ?? {
      processed: 0,
      duplicate: 0,
      "dead-lettered": 0,
      dropped: 0,
    };
    how$[how] += 1;
    this.settledHow.set(queue, how$);
    this.settledTotal.set(queue, (this.settledTotal.get(queue) ?? 0) + 1);
    this.queue(queue).out += 1;
    return true;
  }

  /**
   * A copy of a message the run did not publish (it was in the queue before the run) settled
   * for good in `queue`. Counted apart, by copies like the run's own: one that a dead-letter
   * exchange brings back to the queue is another copy there.
   */
  settleOlder(queue: string): void {
    this.finals += 1;
    this.queue(queue).preexisting += 1;
  }

  count(queue: string, how: Settled): number {
    return this.settledHow.get(queue)?.[how] ?? 0;
  }

  settledIn(queue: string): number {
    return this.settledTotal.get(queue) ?? 0;
  }

  outstanding(queues: Iterable<string>): number {
    let n = 0;
    for (const q of queues) n += (this.expected.get(q) ?? 0) - this.settledIn(q);
    return n;
  }
}

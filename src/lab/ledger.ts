/**
 * The playground's accounting: how many copies of each message every consumed queue should
 * get, how each was settled for good, and the per-queue counters the dashboard shows. The
 * ledger decides `lost`, and it tells whoever watches it when anything changes, so a run
 * ends when the last expected copy is accounted for rather than when a poll notices.
 *
 * What each copy counts as:
 * - routed to a queue the run consumes: expected there (`routed`), until it is settled;
 * - settled for good as processed, duplicate (acknowledged, not processed again),
 *   dead-lettered (rejected into a dead-letter exchange, or parked after its last retry), or
 *   dropped (rejected from a queue without a dead-letter exchange, on purpose): not lost;
 * - dead-lettered back into a consumed queue (directly or through a delay queue): expected
 *   there once more, as another copy;
 * - expected and never settled when the run ends (never delivered, nacked or returned by the
 *   broker although the routing sends it somewhere, requeued forever, left unacked): `lost`;
 * - settled again (at-least-once after a lost ack), or settled where it was not expected:
 *   not counted, neither as settled nor against `lost`;
 * - routed to a queue no consumer of the run reads: `unconsumed`, never lost;
 * - routed nowhere (the broker returns it as unroutable): neither expected nor lost;
 * - from before the run: `preexisting`, never the run's, never lost.
 */

import type { PublishOutcome } from "../client/publisher.js";

export type Settled = "processed" | "duplicate" | "dead-lettered" | "dropped";

/** The counters of one queue that the dashboard shows. */
export interface QueueCounters {
  redelivered: number;
  deadLettered: number;
  duplicates: number;
  outOfOrder: number;
  /** Messages from before the run, settled for good here (not copies of this run). */
  preexisting: number;
  /** Copies expected here, and copies settled for good here: the flow the rates come from. */
  in: number;
  out: number;
}

const noneSettled = (): Record<Settled, number> => ({
  processed: 0,
  duplicate: 0,
  "dead-lettered": 0,
  dropped: 0,
});

export class Ledger {
  /** The queues the run's consumers read: copies routed elsewhere are unconsumed. */
  readonly consumed: ReadonlySet<string>;
  /** Copies expected per queue. */
  readonly expected = new Map<string, number>();
  /** Copies routed to queues the run does not consume, per queue. */
  readonly unconsumed: Record<string, number> = {};
  readonly counters = new Map<string, QueueCounters>();
  /** Publish-to-processed times of processed copies, in milliseconds. */
  readonly latencies: number[] = [];
  /** Copies settled for good, counting repeats of an id (consume without producers). */
  finals = 0;
  private readonly expectedById = new Map<string, Map<string, number>>();
  private readonly settledIds = new Map<string, Map<string, number>>();
  private readonly settledHow = new Map<string, Record<Settled, number>>();
  private readonly settledTotal = new Map<string, number>();
  private expectedAll = 0;
  private settledAll = 0;
  private readonly watchers = new Set<() => void>();
  /** What the broker answered for each message published (the delivery checker's input). */
  readonly outcomes = new Map<string, PublishOutcome>();
  /** Messages published transient (delivery mode 1): a broker restart drops them. */
  readonly transient = new Set<string>();
  /** Times each copy was processed (worked on to the end), per queue: more than once is a duplicate. */
  readonly processedById = new Map<string, Map<string, number>>();
  /** Messages of this run processed in a queue where no copy of them was expected, per queue. */
  readonly unexpected = new Map<string, string[]>();

  constructor(consumed: Iterable<string>) {
    this.consumed = new Set(consumed);
  }

  queue(name: string): QueueCounters {
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

  /** Message `id` was published, and the routing sends a copy to each of `queues`. */
  routed(id: string, queues: Iterable<string>): void {
    for (const q of queues) {
      if (this.consumed.has(q)) this.expect(q, id);
      else this.leave(q);
    }
  }

  /** A copy of message `id` will reach `queue` (again, when dead-lettering loops back). */
  expect(queue: string, id: string): void {
    this.expected.set(queue, (this.expected.get(queue) ?? 0) + 1);
    const m = this.expectedById.get(queue) ?? new Map<string, number>();
    m.set(id, (m.get(id) ?? 0) + 1);
    this.expectedById.set(queue, m);
    this.queue(queue).in += 1;
    this.expectedAll += 1;
    this.changed();
  }

  /** The broker's answer to the publish of message `id`. */
  answered(id: string, outcome: PublishOutcome): void {
    this.outcomes.set(id, outcome);
    this.changed();
  }

  /**
   * A consumer worked on a copy of message `id` in `queue` to the end (whether or not its ack
   * reaches the broker): what the delivery checker counts as consumed.
   */
  processed(queue: string, id: string): void {
    const m = this.processedById.get(queue) ?? new Map<string, number>();
    this.processedById.set(queue, m);
    m.set(id, (m.get(id) ?? 0) + 1);
    if (!this.expectedById.get(queue)?.has(id)) {
      const ids = this.unexpected.get(queue) ?? [];
      ids.push(id);
      this.unexpected.set(queue, ids);
    }
  }

  /** Copies expected per message id in `queue`. */
  expectedIn(queue: string): ReadonlyMap<string, number> {
    return this.expectedById.get(queue) ?? new Map();
  }

  /** Copies settled for good per message id in `queue`. */
  settledById(queue: string): ReadonlyMap<string, number> {
    return this.settledIds.get(queue) ?? new Map();
  }

  /** A copy went to `queue`, which no consumer of the run reads: it stays there. */
  leave(queue: string): void {
    this.unconsumed[queue] = (this.unconsumed[queue] ?? 0) + 1;
  }

  /**
   * A copy handled for good. False when no copy of `id` was still expected in `queue`:
   * one processed twice (at-least-once after a lost ack) or one nobody announced.
   */
  settle(queue: string, id: string, how: Settled): boolean {
    this.finals += 1;
    const expected = this.expectedById.get(queue)?.get(id) ?? 0;
    const m = this.settledIds.get(queue) ?? new Map<string, number>();
    this.settledIds.set(queue, m);
    const done = m.get(id) ?? 0;
    if (done >= expected) {
      this.changed();
      return false;
    }
    m.set(id, done + 1);
    const counts = this.settledHow.get(queue) ?? noneSettled();
    counts[how] += 1;
    this.settledHow.set(queue, counts);
    this.settledTotal.set(queue, (this.settledTotal.get(queue) ?? 0) + 1);
    this.queue(queue).out += 1;
    this.settledAll += 1;
    this.changed();
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
    this.changed();
  }

  count(queue: string, how: Settled): number {
    return this.settledHow.get(queue)?.[how] ?? 0;
  }

  settledIn(queue: string): number {
    return this.settledTotal.get(queue) ?? 0;
  }

  /** Copies expected in `queue` and not settled for good (yet). */
  lost(queue: string): number {
    return Math.max(0, (this.expected.get(queue) ?? 0) - this.settledIn(queue));
  }

  /** Copies expected anywhere and not settled for good (yet): 0 when the run is done. */
  outstanding(): number {
    return this.expectedAll - this.settledAll;
  }

  /** Call `listener` after every change; returns the function that stops the calls. */
  watch(listener: () => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  private changed(): void {
    for (const w of this.watchers) w();
  }
}

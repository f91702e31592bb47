/**
 * The decision engine one consumer instance runs per delivered message: how long to work,
 * and whether to ack, fail (requeue, reject, retry, dead-letter), skip a duplicate, hold
 * back behind an open circuit breaker, or crash. Pure and deterministic: no AMQP, no timers,
 * no I/O; time and randomness are injected, so a seeded run decides the same way every time.
 *
 * Order of checks in `decide`, first match wins:
 *  1. crashAt: the K-th call (every delivery counts) crashes, once. Nothing else is touched.
 *  2. breaker: while open, every delivery is `breaker-open` (no work, no other state change).
 *     After the pause the breaker is half-open and the next processed message is the trial.
 *  3. dedupe: a key already processed successfully is a `duplicate` (no work, no failure, not
 *     a breaker trial, not ordering-checked).
 *  4. ordering check, then work time, then the failure rule, then the outcome.
 */
import { previousRetries } from "./deaths.js";
import { type Delivery, deepEqual, fieldValue, keyOf, numeric, sequenceOf } from "./fields.js";
import type { Behaviour, BreakerState } from "./types.js";

export type Outcome =
  /** Processed fine. */
  | { kind: "ack" }
  /** Already seen (dedupe): ack it, count it. */
  | { kind: "duplicate" }
  /** Failure → nack with requeue. */
  | { kind: "requeue" }
  /** Failure → nack/reject without requeue (dead-lettered if the queue has a DLX). */
  | { kind: "reject" }
  /** Failure → the runner republishes a copy to this TTL'd retry queue and acks. */
  | { kind: "retry"; attempt: number; queue: string; delayMs: number }
  /** Failure past the last retry → republish to the dead-letter queue and ack. */
  | { kind: "dead-letter"; attempt: number; queue: string }
  /** Breaker open: do not process; requeue (the runner waits before taking more). */
  | { kind: "breaker-open" }
  /** The runner drops the connection without acking. */
  | { kind: "crash" };

export interface Decision {
  workMs: number;
  outcome: Outcome;
  outOfOrder: boolean;
  /** Missing sequence numbers right before this one (0 when none). */
  gap: number;
}

export interface BehaviourStats {
  /** Acks (successful processing); duplicates are not counted here. */
  processed: number;
  /** Failures of any kind: requeue, reject, retry, dead-letter. */
  failed: number;
  retried: number;
  deadLettered: number;
  duplicates: number;
  /** Deliveries whose sequence was not above the last one seen for their key. */
  outOfOrder: number;
  /** Deliveries that arrived after a gap (their `gap` > 0); not the sum of missing numbers. */
  gaps: number;
}

export interface RetryQueue {
  name: string;
  ttlMs: number;
  /** Where an expired message goes back to: the work queue, via the default exchange. */
  deadLetterTo: string;
}

export interface RetryTopology {
  retryQueues: RetryQueue[];
  /** Only with onFailure "retry". */
  deadLetterQueue?: string;
}

export interface BehaviourOptions {
  /** A number in [0, 1); pass a seeded stream (config/random.ts) for repeatable runs. */
  random: () => number;
  /** Milliseconds, any monotonic origin. */
  now: () => number;
}

/** How many successfully processed dedupe keys an instance remembers (oldest dropped first). */
export const DEDUPE_MEMORY = 100_000;

function matchesWhen(d: Delivery, when: NonNullable<NonNullable<Behaviour["failures"]>["when"]>) {
  const v = fieldValue(d, when.field);
  let tested = false;
  if (when.equals !== undefined) {
    tested = true;
    if (!deepEqual(v, when.equals)) return false;
  }
  if (when.in !== undefined) {
    tested = true;
    if (!when.in.some((x) => deepEqual(v, x))) return false;
  }
  if (when.above !== undefined || when.below !== undefined) {
    tested = true;
    const n = numeric(v);
    if (n === undefined) return false;
    if (when.above !== undefined && !(n > when.above)) return false;
    if (when.below !== undefined && !(n < when.below)) return false;
  }
  return tested;
}

export class ConsumerBehaviour {
  private readonly random: () => number;
  private readonly now: () => number;
  private calls = 0;
  private state: BreakerState = "closed";
  private openedAt = 0;
  private consecutiveFailures = 0;
  private transitions: BreakerState[] = [];
  /** Successfully processed dedupe keys, oldest first (a Set keeps insertion order). */
  private readonly seen = new Set<string>();
  /** Per ordering key, the highest sequence seen so far. */
  private readonly lastSequence = new Map<string, number>();
  private readonly counters: BehaviourStats = {
    processed: 0,
    failed: 0,
    retried: 0,
    deadLettered: 0,
    duplicates: 0,
    outOfOrder: 0,
    gaps: 0,
  };

  constructor(
    private readonly queue: string,
    private readonly b: Behaviour,
    options: BehaviourOptions,
  ) {
    this.random = options.random;
    this.now = options.now;
  }

  /** The breaker's state now: an open breaker whose pause is over reads (and becomes) half-open. */
  get breaker(): BreakerState {
    const br = this.b.breaker;
    if (this.state === "open" && br !== undefined && this.now() >= this.openedAt + br.pauseMs) {
      this.moveTo("half-open");
    }
    return this.state;
  }

  /** A copy of the counters so far. */
  get stats(): Readonly<BehaviourStats> {
    return { ...this.counters };
  }

  /** Breaker state changes since the last call, oldest first, for the event log. */
  takeTransitions(): BreakerState[] {
    const out = this.transitions;
    this.transitions = [];
    return out;
  }

  /**
   * What the runner must declare for onFailure "retry": one retry queue per delay
   * (`${queue}.retry.N`, message TTL = the delay, dead-lettering back to the work queue via
   * the default exchange) and the dead-letter queue. Empty for requeue and reject.
   */
  static retryTopology(queue: string, b: Behaviour): RetryTopology {
    if (b.onFailure !== "retry") return { retryQueues: [] };
    const delays = b.retry?.delaysMs ?? [];
    return {
      retryQueues: delays.map((ttlMs, i) => ({
        name: `${queue}.retry.${i + 1}`,
        ttlMs,
        deadLetterTo: queue,
      })),
      deadLetterQueue: b.retry?.deadLetterQueue ?? `${queue}.dlq`,
    };
  }

  decide(d: Delivery): Decision {
    this.calls++;
    // The call count only grows, so this happens once.
    if (this.calls === this.b.crashAt) {
      return { workMs: 0, outcome: { kind: "crash" }, outOfOrder: false, gap: 0 };
    }

    if (this.breaker === "open") {
      return { workMs: 0, outcome: { kind: "breaker-open" }, outOfOrder: false, gap: 0 };
    }

    const dedupeKey = this.b.dedupe !== undefined ? keyOf(fieldValue(d, this.b.dedupe)) : undefined;
    if (dedupeKey !== undefined && this.seen.has(dedupeKey)) {
      this.counters.duplicates++;
      return { workMs: 0, outcome: { kind: "duplicate" }, outOfOrder: false, gap: 0 };
    }

    const retries = previousRetries(d, this.queue);
    const { outOfOrder, gap } = this.checkOrder(d, d.redelivered || retries > 0);
    const workMs = this.workTime();

    if (!this.fails(d)) {
      this.counters.processed++;
      this.succeeded();
      if (dedupeKey !== undefined) this.remember(dedupeKey);
      return { workMs, outcome: { kind: "ack" }, outOfOrder, gap };
    }

    this.counters.failed++;
    this.failedOnce();
    return { workMs, outcome: this.failureOutcome(retries), outOfOrder, gap };
  }

  private moveTo(state: BreakerState): void {
    if (state === this.state) return;
    this.state = state;
    this.transitions.push(state);
  }

  private succeeded(): void {
    this.consecutiveFailures = 0;
    if (this.state === "half-open") this.moveTo("closed");
  }

  private failedOnce(): void {
    const br = this.b.breaker;
    if (br === undefined) return;
    this.consecutiveFailures++;
    if (this.state === "half-open" || this.consecutiveFailures >= br.failures) {
      this.openedAt = this.now();
      this.consecutiveFailures = 0;
      this.moveTo("open");
    }
  }

  private remember(key: string): void {
    this.seen.add(key);
    if (this.seen.size > DEDUPE_MEMORY) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }

  /**
   * Ordering, per key: a sequence must be the last one + 1. Not above the last → out of order;
   * above last + 1 → a gap of the numbers in between. The first message of a key sets the
   * baseline (a consumer may join mid-stream). A copy (redelivered, or back from a retry
   * queue) whose sequence was already passed is not counted again; a copy this instance has
   * not passed yet (it was bounced by the breaker, or held by a crashed instance) is checked
   * like a first sight. Messages without a key or a numeric sequence are not checked.
   */
  private checkOrder(d: Delivery, isCopy: boolean): { outOfOrder: boolean; gap: number } {
    const none = { outOfOrder: false, gap: 0 };
    const o = this.b.ordering;
    if (o === undefined) return none;
    const key = keyOf(fieldValue(d, o.key));
    const seq = sequenceOf(fieldValue(d, o.sequence));
    if (key === undefined || seq === undefined) return none;
    const last = this.lastSequence.get(key);
    if (last === undefined) {
      this.lastSequence.set(key, seq);
      return none;
    }
    if (seq <= last) {
      if (isCopy) return none;
      this.counters.outOfOrder++;
      return { outOfOrder: true, gap: 0 };
    }
    this.lastSequence.set(key, seq);
    const gap = seq - last - 1;
    if (gap > 0) this.counters.gaps++;
    return { outOfOrder: false, gap };
  }

  private workTime(): number {
    const w = this.b.workTime;
    if (w === undefined) return 0;
    if (w.maxMs <= w.minMs) return w.minMs;
    // Whole milliseconds, each of min..max equally likely.
    return Math.min(w.maxMs, w.minMs + Math.floor(this.random() * (w.maxMs - w.minMs + 1)));
  }

  /**
   * The failure rule: `when` matches, or a draw under `rate`. The draw is made for every
   * processed message when a rate is set, whatever `when` says, so one message's content
   * does not shift the random stream of the ones after it.
   */
  private fails(d: Delivery): boolean {
    const f = this.b.failures;
    if (f === undefined) return false;
    const byRate = f.rate !== undefined && this.random() < f.rate;
    const byWhen = f.when !== undefined && matchesWhen(d, f.when);
    return byRate || byWhen;
  }

  private failureOutcome(retries: number): Outcome {
    switch (this.b.onFailure) {
      case "reject":
        return { kind: "reject" };
      case "retry": {
        const attempt = retries + 1;
        const delays = this.b.retry?.delaysMs ?? [];
        const delayMs = delays[attempt - 1];
        if (delayMs !== undefined) {
          this.counters.retried++;
          return { kind: "retry", attempt, queue: `${this.queue}.retry.${attempt}`, delayMs };
        }
        this.counters.deadLettered++;
        const queue = this.b.retry?.deadLetterQueue ?? `${this.queue}.dlq`;
        return { kind: "dead-letter", attempt, queue };
      }
      default:
        return { kind: "requeue" };
    }
  }
}

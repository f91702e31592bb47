/**
 * The shapes the playground passes around: what a consumer profile asks of its consumers
 * (behaviours), and the snapshot of a running scenario that the dashboard and the report
 * show. Plain data, no AMQP.
 */

/** Where a value lives in a delivery: messageId, correlationId, headers.<name>, body.<path>. */
export type FieldPath = string;

export interface FailureRule {
  /** Fraction of messages that fail, 0..1. */
  rate?: number;
  /** Fail when a field compares so. */
  when?: {
    field: FieldPath;
    equals?: unknown;
    in?: unknown[];
    above?: number;
    below?: number;
  };
}

export interface Behaviour {
  /** Processing time per message: fixed when min = max. */
  workTime?: { minMs: number; maxMs: number };
  failures?: FailureRule;
  /** What a failure does (default requeue). */
  onFailure: "requeue" | "reject" | "retry";
  /** With onFailure retry: one TTL'd retry queue per delay, then the dead-letter queue. */
  retry?: { delaysMs: number[]; deadLetterQueue?: string };
  /** Idempotency: the key that identifies a message; repeats are duplicates (acked, counted). */
  dedupe?: FieldPath;
  /** Ordering check: per key, the sequence must grow by one. */
  ordering?: { key: FieldPath; sequence: FieldPath };
  /** Circuit breaker: opens after `failures` consecutive failures, half-open after `pauseMs`. */
  breaker?: { failures: number; pauseMs: number };
  /** Drop the connection without acking when this instance reaches message K (1-based). */
  crashAt?: number;
}

export type BreakerState = "closed" | "open" | "half-open";

export interface QueueRow {
  name: string;
  /** Ready messages, when known. */
  depth?: number | undefined;
  /** Messages per second, over the last second. */
  inRate: number;
  outRate: number;
  unacked?: number | undefined;
  redelivered: number;
  deadLettered: number;
  duplicates: number;
  outOfOrder: number;
  /**
   * Messages from before the run (left in the queue, kept with --keep) settled here so far;
   * the other counters are this run's only. Absent means 0.
   */
  preexisting?: number | undefined;
}

export interface ConsumerRow {
  name: string;
  queue: string;
  instances: number;
  /** This run's messages, acknowledged. */
  processed: number;
  /** This run's messages that failed (requeued, rejected, retried or dead-lettered). */
  failed: number;
  retried: number;
  /** Messages from before the run this consumer settled, counted apart. Absent means 0. */
  preexisting?: number | undefined;
  breaker: BreakerState;
  state: "running" | "paused" | "killed" | "crashed" | "done";
}

export interface Snapshot {
  scenario: string;
  elapsedMs: number;
  /** The scenario's time limit, if any. */
  durationMs?: number | undefined;
  published: number;
  planned: number;
  confirmed: number;
  /** Messages from before the run settled so far, over all queues. Absent means 0. */
  preexisting?: number | undefined;
  queues: QueueRow[];
  consumers: ConsumerRow[];
  /** Recent happenings, newest last: breaker changes, faults, crashes. */
  events: string[];
}

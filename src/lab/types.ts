import type { CheckerReport } from "./checker.js";

/**
 * The shapes the playground passes around: what a consumer profile asks of its consumers
 * (behaviours), and the snapshot of a running scenario that the dashboard and the report
 * show, the decisions consumers report, and the report at the end. Plain data, no AMQP.
 */

/** Where a value lives in a delivery: messageId, correlationId, headers.<name>, body.<path>. */
export type FieldPath = string;

export interface FailureRule {
  /** Fraction of messages that fail, 0..1. */
  rate?: number | undefined;
  /** Fail when a field compares so. */
  when?:
    | {
        field: FieldPath;
        equals?: unknown;
        in?: unknown[] | undefined;
        above?: number | undefined;
        below?: number | undefined;
      }
    | undefined;
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
  /** Ack each message as it arrives, before the work (an at-least-once bug, on purpose). */
  ackBeforeWork?: boolean;
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
  /** Messages that broke the consumer's schema (only for a consumer with a `schema:`). */
  violations?: number | undefined;
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
  /** Faults so far, and the ones in effect now. Absent: none. */
  faults?: { count: number; now: string[] } | undefined;
  /** Connections lost and back so far. */
  reconnects?: number | undefined;
  /** Time publishers spent blocked by the broker so far, ms. */
  blockedMs?: number | undefined;
  /** The delivery checker so far: copies consumed ok, duplicated, recovered, not consumed yet. */
  checker?: { ok: number; duplicated: number; recovered: number; waiting: number } | undefined;
}

/** One entry of a message's x-death header: a queue it was dead-lettered from, why, how often. */
export interface DeathEntry {
  queue: string;
  reason: string;
  count: number;
}

/** A decision a consumer made about one delivery, as it is carried out. Plain data. */
export interface DecisionEvent {
  consumer: string;
  instance: number;
  routingKey: string;
  messageId?: string | undefined;
  redelivered: boolean;
  /** What the behaviour decided: ack, duplicate, requeue, reject, retry, dead-letter, crash. */
  outcome: string;
  workMs: number;
  /** For retry and dead-letter: which attempt failed, and where the copy went. */
  attempt?: number | undefined;
  to?: string | undefined;
  outOfOrder: boolean;
  gap: number;
  /** The broker's x-death entries of the message, when it has been dead-lettered before. */
  xDeath?: DeathEntry[] | undefined;
  /** Ms from the producer's publish (its sent header) to this decision, when known. */
  latencyMs?: number | undefined;
}

export interface QueueReport {
  name: string;
  /** Copies the routing rules sent here (to queues the scenario consumes). */
  routed: number;
  /** Copies consumed and acknowledged: processed, plus duplicates acknowledged unprocessed. */
  consumed: number;
  processed: number;
  duplicates: number;
  retried: number;
  deadLettered: number;
  redelivered: number;
  outOfOrder: number;
  gaps: number;
  /** Copies never settled for good. */
  lost: number;
  /** Messages from before the run settled here (kept with "keep"), not counted above. */
  preexisting: number;
}

/** Messages that broke their consumer's schema: how many, per consumer, and the first few. */
export interface ViolationsReport {
  total: number;
  byConsumer: Record<string, number>;
  examples: Array<{
    consumer: string;
    messageId: string | undefined;
    errors: Array<{ path: string; message: string }>;
  }>;
}

export type StoppedBy = "done" | "duration" | "interrupted" | "idle" | "connection-lost";

export interface PlayReport {
  scenario: string;
  stoppedBy: StoppedBy;
  /** With "connection-lost": whose connection, and why. */
  error?: string | undefined;
  /** Connections of the run that were lost and came back. */
  reconnects: number;
  elapsedMs: number;
  published: number;
  confirmed: number;
  nacked: number;
  returned: number;
  routed: number;
  consumed: number;
  retried: number;
  deadLettered: number;
  /** Rejected to a queue without a dead-letter exchange: dropped, on purpose. */
  dropped: number;
  duplicates: number;
  outOfOrder: number;
  gaps: number;
  redelivered: number;
  /** Copies routed to queues no consumer of the scenario reads, left there. */
  unconsumed: Record<string, number>;
  /** Messages from before the run consumed and settled (with "keep"), apart from the above. */
  preexisting: number;
  /** Messages from before the run deleted before it started, per queue (with "purge"). */
  purged: Record<string, number>;
  /** Copies confirmed by the broker and never consumed (the delivery checker's `lost`). */
  lost: number;
  /** Why lost may be above 0 on purpose, when it may. */
  lostNote?: string | undefined;
  /** The loss was caused on purpose by the scenario (see lostNote): not a failure. */
  lostIntended?: boolean | undefined;
  /** Messages sent whose confirm never came (a fault took it): their outcome is unknown. */
  uncertain: number;
  /** The delivery checker: every copy in one of Jepsen's total-queue categories. */
  checker: CheckerReport;
  /** The faults as they happened, in ms from the start of producing. */
  faults: Array<{ atMs: number; what: string; endMs?: number | undefined }>;
  /** Time publishers were blocked by the broker (memory alarm), ms. */
  blockedMs: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number } | undefined;
  queues: QueueReport[];
  consumers: ConsumerRow[];
  events: string[];
  /** Messages that broke their consumer's schema; present when a consumer has a `schema:`. */
  violations?: ViolationsReport | undefined;
}

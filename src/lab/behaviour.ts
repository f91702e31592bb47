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
import type { Behaviour, BreakerState, FieldPath } from "./types.js";

export interface Delivery {
  messageId?: string;
  correlationId?: string;
  headers: Record<string, unknown>;
  /** Parsed JSON when the body is JSON, else the text. */
  body: unknown;
  routingKey: string;
  redelivered: boolean;
}

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

const hasOwn = (o: object, k: string): boolean => Object.hasOwn(o, k);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

function walk(value: unknown, segments: string[]): unknown {
  let v = value;
  for (const s of segments) {
    if (Array.isArray(v)) {
      if (!/^(0|[1-9]\d*)$/.test(s)) return undefined;
      v = v[Number(s)];
    } else if (isRecord(v) && !ArrayBuffer.isView(v) && hasOwn(v, s)) {
      v = v[s];
    } else {
      return undefined;
    }
  }
  return v;
}

/**
 * The value at `path` in a delivery, or undefined when it is not there: `messageId`,
 * `correlationId`, `routingKey`, `headers.<name>` (a header whose name contains dots is found
 * whole first; otherwise the rest is a path into a nested table), `body` itself, or
 * `body.<a>.<b>` (array elements by index: `body.items.0.sku`).
 */
export function fieldValue(d: Delivery, path: FieldPath): unknown {
  if (path === "messageId") return d.messageId;
  if (path === "correlationId") return d.correlationId;
  if (path === "routingKey") return d.routingKey;
  if (path === "body") return d.body;
  if (path === "headers") return d.headers;
  if (path.startsWith("headers.")) {
    const name = path.slice("headers.".length);
    if (hasOwn(d.headers, name)) return d.headers[name];
    return walk(d.headers, name.split("."));
  }
  if (path.startsWith("body.")) return walk(d.body, path.slice("body.".length).split("."));
  return undefined;
}

/** A number from a number or bigint (AMQP integers may arrive as either); else undefined. */
function numeric(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isNaN(v) ? undefined : v;
  if (typeof v === "bigint") return Number(v);
  return undefined;
}

function bytesEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * Deep, typed equality: no coercion between strings, numbers and booleans ("1" ≠ 1), except
 * that a number and a bigint of the same value are equal (an AMQP integer's JS type depends
 * on its wire width and on the client). Arrays element-wise, tables key by key, bytes by byte.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  const na = numeric(a);
  const nb = numeric(b);
  if (na !== undefined || nb !== undefined) return na !== undefined && na === nb;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    return ArrayBuffer.isView(a) && ArrayBuffer.isView(b) && bytesEqual(a, b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => hasOwn(rb, k) && deepEqual(ra[k], rb[k]));
}

/** Text from a string or bytes (a header string may arrive as either). */
function text(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString();
  return undefined;
}

/** An x-death count: number, bigint, or a typed wrapper `{ value }` from a raw codec table. */
function deathCount(v: unknown): number {
  const n = numeric(v) ?? (isRecord(v) && "value" in v ? numeric(v.value) : undefined);
  return n !== undefined && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/**
 * How many times a message has already been through `${queue}.retry.*`, from its x-death
 * header: the sum of those entries' counts, or the highest retry index among them when that
 * is larger. The second rule matters on RabbitMQ ≥ 4.0 (and 3.13.0–3.13.2), which does not
 * interpret an x-death header a client republishes: after expiring from retry.2 the header
 * only tells of retry.2, and the sum alone would send the message to retry.2 forever.
 */
export function previousRetries(d: Delivery, queue: string): number {
  const deaths = d.headers["x-death"];
  if (!Array.isArray(deaths)) return 0;
  const prefix = `${queue}.retry.`;
  let sum = 0;
  let highest = 0;
  for (const entry of deaths) {
    if (!isRecord(entry)) continue;
    const q = text(entry.queue);
    if (q === undefined || !q.startsWith(prefix)) continue;
    sum += deathCount(entry.count);
    const index = q.slice(prefix.length);
    if (/^[1-9]\d*$/.test(index)) highest = Math.max(highest, Number(index));
  }
  return Math.max(sum, highest);
}

/** A Map key for a field value: typed, so "1" and 1 are different keys. */
function keyOf(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  switch (typeof v) {
    case "string":
      return `s:${v}`;
    case "number":
    case "bigint":
      return `n:${String(v)}`;
    case "boolean":
      return `b:${v}`;
    default: {
      const t = text(v);
      if (t !== undefined) return `s:${t}`;
      try {
        return `j:${JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x))}`;
      } catch {
        return undefined;
      }
    }
  }
}

/** A sequence number: a finite number or bigint, or a string holding a whole number. */
function sequenceOf(v: unknown): number | undefined {
  const n = numeric(v) ?? (typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : undefined);
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}

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

/**
 * What a scenario promises, for `eventlab play --ci` and `eventlab test`: `expect:` entries and
 * `thresholds:`. One entry names what it is about by its key:
 *
 *   {queue: billing, count: 40, within: 2s}          40 of the run's messages reached billing by 2 s
 *   {consumer: shipping, processed: ">= 39"}         a consumer profile's counters
 *   {message: {queue: audit, match: "body.total > 0"}, schema: schemas/order.json, count: ">= 1"}
 *
 *   thresholds: {lost: 0, duplicated: 0, p99: 500ms, deadLettered: "<= 1"}
 *
 * A count is a number or a comparison (">= 39", "< 5", "== 0", "!= 3"). In `expect:` a bare
 * number means exactly that many; in `thresholds:` it is a ceiling (`lost: 0` is "<= 0").
 * Parsed here to plain data; the rest of the code never sees the written form.
 */
import { z } from "zod";
import { parseDuration } from "./duration.js";
import { type Rule, refineWith, whenMapping } from "./rules.js";
import { durationSchema, name, text } from "./schema-fields.js";

export const COMPARISON_OPS = [">=", "<=", "==", "!=", ">", "<"] as const;
export type ComparisonOp = (typeof COMPARISON_OPS)[number];

/** A comparison with a number (a count, or milliseconds for a latency). */
export interface Comparison {
  op: ComparisonOp;
  value: number;
  /** Milliseconds: shown as a duration. */
  duration?: true | undefined;
}

export function compare(actual: number, c: Comparison): boolean {
  switch (c.op) {
    case ">=":
      return actual >= c.value;
    case "<=":
      return actual <= c.value;
    case "==":
      return actual === c.value;
    case "!=":
      return actual !== c.value;
    case ">":
      return actual > c.value;
    case "<":
      return actual < c.value;
  }
}

/** `>= 39`, `500 ms` as written back: for messages. */
export function showComparison(c: Comparison): string {
  const v = c.duration ? `${c.value} ms` : String(c.value);
  return c.op === "==" ? v : `${c.op} ${v}`;
}

const CMP = /^\s*(>=|<=|==|!=|=|>|<)?\s*(.+?)\s*$/;

/** A comparison schema: counts, or durations; `bare` is what a bare value means. */
function comparison(kind: "count" | "duration", bare: ComparisonOp) {
  const hint =
    kind === "count"
      ? `a whole number, or a comparison like ">= 39", "< 5", "== 0"`
      : `a duration like 500ms, or a comparison like "< 500ms"`;
  return z
    .union([z.number(), z.string()], { error: `expected ${hint}` })
    .transform((v, ctx): Comparison => {
      const m = typeof v === "number" ? ["", "", String(v)] : CMP.exec(v);
      const op = (m?.[1] === "=" ? "==" : m?.[1] || bare) as ComparisonOp;
      const raw = m?.[2] ?? "";
      const value =
        kind === "duration"
          ? typeof v === "number"
            ? v
            : parseDuration(raw)
          : /^\d+$/.test(raw)
            ? Number(raw)
            : undefined;
      if (value === undefined || !Number.isFinite(value) || value < 0) {
        ctx.addIssue({
          code: "custom",
          message: `expected ${hint}, got ${JSON.stringify(v)}`,
          input: v,
        });
        return z.NEVER;
      }
      return kind === "duration" ? { op, value, duration: true } : { op, value };
    })
    .meta({ description: hint });
}

const count = comparison("count", "==");

/** The counters of a consumer profile an expectation may compare. */
export const CONSUMER_COUNTERS = ["processed", "failed", "retried", "outOfOrder", "gaps"] as const;
export type ConsumerCounter = (typeof CONSUMER_COUNTERS)[number];

const KINDS = ["queue", "consumer", "message"] as const;

const expectFields = {
  name: text().optional().meta({ description: "What it checks, as reports and JUnit name it" }),
  queue: name("queue")
    .optional()
    .meta({ description: "A queue expectation: how many of the run's messages reached it" }),
  count: count.optional().meta({
    description:
      'queue: messages that reached it (confirmed and routed there); message: messages that match (default ">= 1")',
  }),
  within: durationSchema
    .optional()
    .meta({ description: "queue: counted by this time from the start of producing" }),
  consumer: name("consumer")
    .optional()
    .meta({ description: "A consumer expectation: a profile of the scenario's consumers" }),
  ...Object.fromEntries(
    CONSUMER_COUNTERS.map((c) => [
      c,
      count.optional().meta({ description: `consumer: its ${c} count` }),
    ]),
  ),
  message: z
    .strictObject({
      queue: name("queue").meta({ description: "Messages the run sent that reach this queue" }),
      match: text()
        .optional()
        .meta({ description: "Only those this filter expression selects, e.g. body.total > 0" }),
    })
    .optional()
    .meta({ description: "A message expectation: the run's messages that reach a queue" }),
  schema: z
    .union([text(), z.record(z.string(), z.unknown())], {
      error: "expected the path of a JSON Schema file, or a schema",
    })
    .optional()
    .meta({ description: "message: each selected message's body must validate against it" }),
} as Record<string, z.ZodType>;

/** Fields that belong to one kind only, for the message that says where they belong. */
const ONLY: Record<string, (typeof KINDS)[number][]> = {
  count: ["queue", "message"],
  within: ["queue"],
  schema: ["message"],
  ...Object.fromEntries(CONSUMER_COUNTERS.map((c) => [c, ["consumer"]])),
};

const expectRules: Rule = (o, add) => {
  const kinds = KINDS.filter((k) => o[k] !== undefined);
  if (kinds.length !== 1) {
    add([], () =>
      kinds.length === 0
        ? `an expectation names what it is about: one of ${KINDS.join(", ")} (for example {queue: billing, count: 40})`
        : `an expectation is about one thing, not ${kinds.join(" and ")}: split it`,
    );
    return;
  }
  const kind = kinds[0] as (typeof KINDS)[number];
  for (const [key, kindsOf] of Object.entries(ONLY)) {
    if (o[key] !== undefined && !kindsOf.includes(kind)) {
      add([key], () => `\`${key}\` does not apply to a ${kind} expectation: remove it`);
    }
  }
  if (kind === "queue" && o["count"] === undefined)
    add(["count"], () => 'a queue expectation needs `count`, such as 40 or ">= 40"');
  if (kind === "consumer" && !CONSUMER_COUNTERS.some((c) => o[c] !== undefined)) {
    add(
      [],
      () =>
        `a consumer expectation compares at least one of ${CONSUMER_COUNTERS.join(", ")}, such as processed: ">= 39"`,
    );
  }
};

export const expectSchema = z
  .strictObject(expectFields)
  .superRefine(refineWith(expectRules), whenMapping)
  .meta({ description: "An expectation: one of queue, consumer, message" });

/** What thresholds may bound: the report's counts and the delivery checker's. */
export const THRESHOLD_COUNTS = [
  "lost",
  "duplicated",
  "unexpected",
  "recovered",
  "unconfirmedLost",
  "uncertain",
  "nacked",
  "returned",
  "deadLettered",
  "retried",
  "redelivered",
  "duplicates",
  "outOfOrder",
  "gaps",
  "dropped",
  "violations",
] as const;
export const THRESHOLD_LATENCIES = ["p50", "p90", "p99", "max"] as const;
export type ThresholdKey = (typeof THRESHOLD_COUNTS)[number] | (typeof THRESHOLD_LATENCIES)[number];

export const thresholdsSchema = z
  .strictObject({
    ...Object.fromEntries(
      THRESHOLD_COUNTS.map((k) => [
        k,
        comparison("count", "<=")
          .optional()
          .meta({ description: `at most this many ${k} (or a comparison)` }),
      ]),
    ),
    ...Object.fromEntries(
      THRESHOLD_LATENCIES.map((k) => [
        k,
        comparison("duration", "<=")
          .optional()
          .meta({ description: `publish-to-processed latency ${k}: at most this long` }),
      ]),
    ),
  } as unknown as Record<ThresholdKey, z.ZodOptional<z.ZodType<Comparison>>>)
  .meta({
    description:
      "Bounds on the run's report: a bare number is a ceiling (lost: 0), or a comparison; latencies as durations (p99: 500ms)",
  });

/** One expectation as the rest of the code sees it. */
export type Expectation =
  | {
      kind: "queue";
      name?: string | undefined;
      queue: string;
      count: Comparison;
      withinMs?: number | undefined;
    }
  | {
      kind: "consumer";
      name?: string | undefined;
      consumer: string;
      counters: Partial<Record<ConsumerCounter, Comparison>>;
    }
  | {
      kind: "message";
      name?: string | undefined;
      queue: string;
      match?: string | undefined;
      schema?: string | Record<string, unknown> | undefined;
      count: Comparison;
    };

export type Thresholds = Partial<Record<ThresholdKey, Comparison>>;

/** The written entry (already checked by expectSchema) as an Expectation. */
export function expectationOf(e: Record<string, unknown>): Expectation {
  const label = e["name"] as string | undefined;
  if (e["queue"] !== undefined) {
    return {
      kind: "queue",
      name: label,
      queue: e["queue"] as string,
      count: e["count"] as Comparison,
      withinMs: e["within"] as number | undefined,
    };
  }
  if (e["consumer"] !== undefined) {
    const counters: Partial<Record<ConsumerCounter, Comparison>> = {};
    for (const c of CONSUMER_COUNTERS) {
      if (e[c] !== undefined) counters[c] = e[c] as Comparison;
    }
    return { kind: "consumer", name: label, consumer: e["consumer"] as string, counters };
  }
  const m = e["message"] as { queue: string; match?: string };
  return {
    kind: "message",
    name: label,
    queue: m.queue,
    match: m.match,
    schema: e["schema"] as string | Record<string, unknown> | undefined,
    count: (e["count"] as Comparison | undefined) ?? { op: ">=", value: 1 },
  };
}

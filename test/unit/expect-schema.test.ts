/** The written form of expect: and thresholds:, parsed (and refused) as the config loader does. */
import { describe, expect, it } from "vitest";
import {
  compare,
  expectationOf,
  expectSchema,
  showComparison,
  thresholdsSchema,
} from "../../src/config/expect-schema.js";

const parse = (v: unknown) => expectSchema.safeParse(v);
const messages = (v: unknown) =>
  (parse(v).error?.issues ?? []).map((i) => `${i.path.join(".")}: ${i.message}`);

describe("expect entries", () => {
  it.each([
    [
      { queue: "billing", count: 40, within: "2s" },
      { kind: "queue", queue: "billing", count: { op: "==", value: 40 }, withinMs: 2000 },
    ],
    [
      { queue: "q", count: ">= 3" },
      { kind: "queue", queue: "q", count: { op: ">=", value: 3 } },
    ],
    [
      { consumer: "shipping", processed: ">= 39", failed: "0" },
      {
        kind: "consumer",
        consumer: "shipping",
        counters: { processed: { op: ">=", value: 39 }, failed: { op: "==", value: 0 } },
      },
    ],
    [
      { message: { queue: "audit", match: "body.total > 0" }, schema: "schemas/order.json" },
      {
        kind: "message",
        queue: "audit",
        match: "body.total > 0",
        schema: "schemas/order.json",
        count: { op: ">=", value: 1 },
      },
    ],
    [
      { message: { queue: "audit" }, count: "= 0", name: "no audit" },
      { kind: "message", name: "no audit", queue: "audit", count: { op: "==", value: 0 } },
    ],
  ])("%j", (written, parsed) => {
    const r = parse(written);
    expect(r.error?.issues).toBeUndefined();
    expect(expectationOf(r.data as Record<string, unknown>)).toMatchObject(parsed);
  });

  it.each([
    [
      {},
      ": an expectation names what it is about: one of queue, consumer, message (for example {queue: billing, count: 40})",
    ],
    [
      { queue: "q", consumer: "c", processed: 1 },
      ": an expectation is about one thing, not queue and consumer: split it",
    ],
    [{ queue: "q" }, 'count: a queue expectation needs `count`, such as 40 or ">= 40"'],
    [
      { queue: "q", count: 1, processed: 2 },
      "processed: `processed` does not apply to a queue expectation: remove it",
    ],
    [
      { consumer: "c" },
      ': a consumer expectation compares at least one of processed, failed, retried, outOfOrder, gaps, such as processed: ">= 39"',
    ],
    [
      { consumer: "c", processed: 1, within: "1s" },
      "within: `within` does not apply to a consumer expectation: remove it",
    ],
    [
      { queue: "q", count: "about 40" },
      'count: expected a whole number, or a comparison like ">= 39", "< 5", "== 0", got "about 40"',
    ],
    [
      { queue: "q", count: -1 },
      'count: expected a whole number, or a comparison like ">= 39", "< 5", "== 0", got -1',
    ],
    [
      { queue: "q", count: 1.5 },
      'count: expected a whole number, or a comparison like ">= 39", "< 5", "== 0", got 1.5',
    ],
    [{ message: { queue: "a", filter: "x" } }, 'message: Unrecognized key: "filter"'],
  ])("refused: %j", (written, message) => {
    expect(messages(written)).toContain(message);
  });
});

describe("thresholds", () => {
  it("a bare number is a ceiling; latencies are durations; comparisons as written", () => {
    const r = thresholdsSchema.parse({
      lost: 0,
      duplicated: "< 2",
      p99: "500ms",
      max: "<= 1s",
      deadLettered: ">= 1",
    });
    expect(r).toEqual({
      lost: { op: "<=", value: 0 },
      duplicated: { op: "<", value: 2 },
      p99: { op: "<=", value: 500, duration: true },
      max: { op: "<=", value: 1000, duration: true },
      deadLettered: { op: ">=", value: 1 },
    });
    expect(showComparison(r.p99!)).toBe("<= 500 ms");
    expect(showComparison({ op: "==", value: 4 })).toBe("4");
  });

  it("unknown keys and bad values are refused with the key", () => {
    const bad = thresholdsSchema.safeParse({ lsot: 0, p99: "fast" });
    const text = (bad.error?.issues ?? []).map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(text).toContain(
      'p99: expected a duration like 500ms, or a comparison like "< 500ms", got "fast"',
    );
    expect(text.join("\n")).toMatch(/Unrecognized key: "lsot"/);
  });

  it.each([
    [5, ">=", 5, true],
    [4, ">=", 5, false],
    [5, ">", 5, false],
    [5, "<=", 5, true],
    [6, "<", 5, false],
    [5, "==", 5, true],
    [5, "!=", 5, false],
  ] as const)("compare %d %s %d → %s", (actual, op, value, ok) => {
    expect(compare(actual, { op, value })).toBe(ok);
  });
});

/**
 * The pure parts of `eventlab bench`: the message stamp, the seen-sets that find missing and
 * duplicated messages, the --size parser, how clients are dealt to threads, and --compare.
 */
import { describe, expect, it } from "vitest";
import { sizeArg } from "../../src/commands/bench.js";
import { compareReports } from "../../src/lab/bench/compare.js";
import { assign } from "../../src/lab/bench/engine.js";
import { LatencySamples, MAX_SAMPLE_US } from "../../src/lab/bench/histogram.js";
import type { BenchReport } from "../../src/lab/bench/report.js";
import {
  mergeSeen,
  readStamp,
  SeenSet,
  STAMP_BYTES,
  writeStamp,
} from "../../src/lab/bench/stamp.js";

describe("bench stamp", () => {
  it("round-trips send time, producer and sequence, and ignores other runs", () => {
    const b = Buffer.alloc(STAMP_BYTES + 5);
    writeStamp(b, 1_700_000_000_123.456, 77, 3, 4_000_000_000);
    expect(readStamp(b, 77)).toEqual({
      sentAt: 1_700_000_000_123.456,
      producer: 3,
      seq: 4_000_000_000,
    });
    expect(readStamp(b, 78)).toBeUndefined();
    expect(readStamp(b.subarray(0, STAMP_BYTES - 1), 77)).toBeUndefined();
  });

  it("a seen-set says whether a sequence is new, and grows", () => {
    const s = new SeenSet();
    expect(s.add(5)).toBe(true);
    expect(s.add(5)).toBe(false);
    expect(s.add(100_000)).toBe(true);
    expect(s.bits.length).toBeGreaterThan(100_000 / 8);
  });

  it("merging consumers' sets counts distinct messages and overlaps (duplicates)", () => {
    const a = new SeenSet();
    const b = new SeenSet();
    for (let i = 0; i < 10; i++) a.add(i);
    for (let i = 8; i < 20; i++) b.add(i);
    expect(mergeSeen([a.bits, b.bits])).toEqual({ distinct: 20, overlap: 2 });
    expect(mergeSeen([])).toEqual({ distinct: 0, overlap: 0 });
  });
});

describe("--size", () => {
  it.each([
    ["100", 100],
    ["0", 0],
    ["1kb", 1000],
    ["1KiB", 1024],
    ["2mb", 2_000_000],
  ])("%s → %d bytes", (raw, bytes) => {
    expect(sizeArg(raw)).toBe(bytes);
  });
  it.each(["-1", "x", "1.5.2", "1tb", "200mib"])("%s is refused", (raw) => {
    expect(() => sizeArg(raw)).toThrow(/Expected a size in bytes/);
  });
});

describe("dealing clients to threads", () => {
  it("gives every producer and consumer to exactly one group, mixed", () => {
    const groups = assign(3, 3, 2);
    expect(groups).toHaveLength(2);
    expect(groups.flatMap((g) => g.producers).sort()).toEqual([0, 1, 2]);
    expect(groups.flatMap((g) => g.consumers).sort()).toEqual([0, 1, 2]);
    expect(groups.every((g) => g.producers.length + g.consumers.length === 3)).toBe(true);
  });
  it("leaves no group empty", () => {
    expect(assign(1, 0, 4)).toEqual([{ producers: [0], consumers: [] }]);
  });
});

describe("--compare", () => {
  const report = (sent: number, p99: number): BenchReport =>
    ({
      rates: { sentPerSecond: sent, receivedPerSecond: sent, confirmedPerSecond: 0 },
      latencyMs: { p50: 1, p75: 1, p95: 1, p99, p999: p99, max: p99, min: 0, mean: 1, count: 1 },
      confirmLatencyMs: null,
      totals: { missing: 0, duplicated: 0 },
    }) as unknown as BenchReport;
  it("gives b ÷ a, and no ratio where a figure is missing or a is 0", () => {
    const rows = compareReports(report(1000, 4), report(1500, 2));
    expect(rows.find((r) => r.figure === "sent msg/s")).toMatchObject({
      a: 1000,
      b: 1500,
      ratio: 1.5,
    });
    expect(rows.find((r) => r.figure === "latency p99 ms")).toMatchObject({
      ratio: 0.5,
      better: "lower",
    });
    expect(rows.find((r) => r.figure === "confirmed msg/s")?.ratio).toBeNull();
    expect(rows.find((r) => r.figure === "confirm p50 ms")?.ratio).toBeNull();
  });
});

describe("latency samples a client thread hands to the coordinator", () => {
  it("keeps every value in order past its first allocation, then starts empty", () => {
    const s = new LatencySamples();
    expect(s.take()).toBeNull();
    for (let i = 0; i < 5000; i++) s.record(i * 7);
    const got = s.take();
    expect(got?.length).toBe(5000);
    expect(got?.[0]).toBe(0);
    expect(got?.[4999]).toBe(4999 * 7);
    expect(s.take()).toBeNull();
    s.record(42);
    expect(Array.from(s.take() ?? [])).toEqual([42]);
  });

  it("keeps a latency above 2^32 µs (a backlog over 71 minutes old) as the largest, not wrapped", () => {
    const s = new LatencySamples();
    s.record(2 ** 32 + 5);
    s.record(MAX_SAMPLE_US);
    expect(Array.from(s.take() ?? [])).toEqual([MAX_SAMPLE_US, MAX_SAMPLE_US]);
  });
});

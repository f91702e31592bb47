/**
 * The exposition writer (src/broker/http/exposition.ts) against the strict 0.0.4 parser of
 * test/helpers/prometheus-text.ts, and the parser itself: it reads what RabbitMQ writes and
 * refuses each kind of broken line, so that "it parses" in the other tests means something.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  Buckets,
  Exposition,
  escapeHelp,
  escapeLabelValue,
  formatValue,
} from "../../src/broker/http/exposition.js";
import { familiesByName, parseExposition, sampleValue } from "../helpers/prometheus-text.js";

const fixtures = path.resolve(import.meta.dirname, "../fixtures/metrics");

describe("the exposition writer", () => {
  it("writes TYPE then HELP, escapes help and label values, and round-trips through the parser", () => {
    const text = new Exposition()
      .family("a_total", "counter", 'help with \\ and\na newline and "quotes"', [
        { labels: { queue: 'we\\ird "name"\nhere', vhost: "/" }, value: 3 },
        { labels: { queue: "plain", vhost: "/" }, value: 0 },
      ])
      .family("b", "gauge", "a gauge", [
        { value: Number.POSITIVE_INFINITY },
        { labels: { x: "1" }, value: Number.NaN },
      ])
      .family("c_info", "untyped", "info", [{ labels: { v: "1.2.3" }, value: 1 }])
      .text();
    expect(text.split("\n").slice(0, 2)).toEqual([
      "# TYPE a_total counter",
      '# HELP a_total help with \\\\ and\\na newline and "quotes"',
    ]);
    expect(text).toContain('a_total{queue="we\\\\ird \\"name\\"\\nhere",vhost="/"} 3\n');
    const f = familiesByName(text);
    expect(f.get("a_total")?.help).toBe('help with \\ and\na newline and "quotes"');
    expect(sampleValue(f, "a_total", { queue: 'we\\ird "name"\nhere' })).toBe(3);
    expect(f.get("b")?.samples.map((s) => s.value)).toEqual([Number.POSITIVE_INFINITY, Number.NaN]);
    expect(f.get("c_info")?.type).toBe("untyped");
  });

  it("writes histograms cumulatively, ending in +Inf, with _sum and _count", () => {
    const b = new Buckets([0.01, 0.1, 1]);
    for (const v of [0.005, 0.01, 0.05, 0.5, 0.5, 7]) b.observe(v);
    expect(b.counts).toEqual([2, 1, 2, 1]);
    expect(b.count).toBe(6);
    const text = new Exposition()
      .histogram("lat_seconds", "latency", b.bounds, [
        { labels: { consumer: "c1" }, counts: b.counts, sum: b.sum },
        { labels: { consumer: "c2" }, counts: [0, 0, 0, 0], sum: 0 },
      ])
      .text();
    const f = familiesByName(text).get("lat_seconds");
    expect(f?.type).toBe("histogram");
    const c1 = f?.samples.filter((s) => s.labels["consumer"] === "c1");
    expect(c1?.map((s) => [s.name, s.labels["le"], s.value])).toEqual([
      ["lat_seconds_bucket", "0.01", 2],
      ["lat_seconds_bucket", "0.1", 3],
      ["lat_seconds_bucket", "1", 5],
      ["lat_seconds_bucket", "+Inf", 6],
      ["lat_seconds_sum", undefined, 0.005 + 0.01 + 0.05 + 0.5 + 0.5 + 7],
      ["lat_seconds_count", undefined, 6],
    ]);
  });

  it("refuses what would break a scrape: bad names, a family twice, bad bounds, le as a label", () => {
    expect(() => new Exposition().family("1bad", "gauge", "", [])).toThrow(/bad metric name/);
    expect(() =>
      new Exposition().family("ok", "gauge", "", [{ labels: { "a-b": "x" }, value: 1 }]),
    ).toThrow(/bad label name/);
    const twice = new Exposition().family("x", "gauge", "", []);
    expect(() => twice.family("x", "gauge", "", [])).toThrow(/twice/);
    expect(() => new Exposition().histogram("h", "", [1, 1], [])).toThrow(/ascend/);
    expect(() =>
      new Exposition().histogram("h", "", [1], [{ labels: { le: "1" }, counts: [0, 0], sum: 0 }]),
    ).toThrow(/reserved/);
    expect(() => new Exposition().histogram("h", "", [1], [{ counts: [0], sum: 0 }])).toThrow(
      /counts/,
    );
  });

  it("formats values and escapes as the format says", () => {
    expect([
      formatValue(1),
      formatValue(0.25),
      formatValue(-Infinity),
      formatValue(Number.NaN),
    ]).toEqual(["1", "0.25", "-Inf", "NaN"]);
    expect(escapeHelp('a\\b\n"c"')).toBe('a\\\\b\\n"c"');
    expect(escapeLabelValue('a\\b\n"c"')).toBe('a\\\\b\\n\\"c\\"');
    expect(new Exposition().text()).toBe("");
  });
});

describe("the strict 0.0.4 parser of the tests", () => {
  it("reads RabbitMQ 3.10's own output, both endpoints", () => {
    for (const file of ["rabbitmq-3.10.txt", "rabbitmq-3.10-per-object.txt"]) {
      const families = parseExposition(readFileSync(path.join(fixtures, file), "utf8"));
      expect(families.length).toBeGreaterThan(100);
    }
  });

  const broken: Array<[string, string, RegExp]> = [
    ["an unterminated label value", 'x{a="b} 1\n', /unterminated/],
    ["a value that is not a number", "x abc\n", /bad sample value/],
    ["no value", "x\n", /expected a value/],
    ["an unknown type", "# TYPE x foo\nx 1\n", /unknown type/],
    ["a second TYPE", "# TYPE x gauge\n# TYPE x gauge\nx 1\n", /second TYPE/],
    ["a second HELP", "# HELP x a\n# HELP x b\nx 1\n", /second HELP/],
    ["TYPE after the samples", "x 1\n# TYPE x gauge\n", /after its samples/],
    ["the same series twice", 'x{a="1"} 1\nx{a="1"} 2\n', /twice/],
    ["a family in two groups", 'x 1\ny 1\nx{a="1"} 2\n', /appears again/],
    ["a bad metric name", "1x 2\n", /bad metric name/],
    ["a bad escape", 'x{a="\\t"} 1\n', /bad escape/],
    ["a reserved label", 'x{__name__="y"} 1\n', /reserved/],
    ["a label twice", 'x{a="1",a="2"} 1\n', /twice/],
    ["a negative counter", "# TYPE x counter\nx -1\n", /counter/],
    ["no newline at the end", "x 1", /newline/],
    ["a bad timestamp", "x 1 soon\n", /timestamp/],
    ["a bucket without le", "# TYPE h histogram\nh_bucket 1\n", /without 'le'/],
    [
      "buckets that go down",
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      /cumulative/,
    ],
    ["no +Inf bucket", '# TYPE h histogram\nh_bucket{le="1"} 2\nh_sum 1\nh_count 2\n', /\+Inf/],
    [
      "a count that is not the +Inf bucket",
      '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
      /_count/,
    ],
  ];
  it.each(broken)("refuses %s", (_what, text, error) => {
    expect(() => parseExposition(text)).toThrow(error);
  });

  it("accepts what the format allows: comments, blank lines, timestamps, a trailing comma, +Inf", () => {
    const f = familiesByName(
      '# a comment\n\n# HELP x some help\n# TYPE x gauge\nx{a="1",} +Inf 1700000000000\nx{a="2"} -1.5e3\n',
    );
    expect(f.get("x")?.samples.map((s) => [s.labels["a"], s.value, s.timestampMs])).toEqual([
      ["1", Number.POSITIVE_INFINITY, 1_700_000_000_000],
      ["2", -1500, undefined],
    ]);
  });
});

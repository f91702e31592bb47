/**
 * Message contracts in the playground's views: the live view gets an `invalid` column (and
 * the one-line summary an `invalid` count) only when a consumer checks a schema, and the
 * final report names the violations per consumer with the first examples.
 */
import { describe, expect, it } from "vitest";
import { CHECKER_CATEGORIES } from "../../src/lab/checker.js";
import type { ConsumerRow, PlayReport, Snapshot } from "../../src/lab/types.js";
import { renderDashboard, summaryLine } from "../../src/ui/dashboard.js";
import { renderPlayReport } from "../../src/ui/play-report.js";
import { createTheme } from "../../src/ui/theme.js";

const plain = createTheme(false);

function consumer(name: string, over: Partial<ConsumerRow> = {}): ConsumerRow {
  return {
    name,
    queue: "ledger",
    instances: 1,
    processed: 19,
    failed: 0,
    retried: 0,
    breaker: "closed",
    state: "running",
    ...over,
  };
}

function snapshot(consumers: ConsumerRow[]): Snapshot {
  return {
    scenario: "contract",
    elapsedMs: 1_000,
    published: 19,
    planned: 19,
    confirmed: 19,
    queues: [],
    consumers,
    events: [],
  };
}

describe("the live view", () => {
  it("shows an invalid column and count when a consumer checks a schema", () => {
    const s = snapshot([consumer("ledger-service", { violations: 7 }), consumer("auditor")]);
    const lines = renderDashboard(s, plain, 100, 30);
    const header = lines.find((l) => /\bconsumer\b/.test(l) && /\bprocessed\b/.test(l));
    expect(header).toMatch(/\binvalid\b/);
    const row = lines.find((l) => l.startsWith("ledger-service") || l.includes(" ledger-service "));
    expect(row).toMatch(/\b7\b/);
    expect(summaryLine(s)).toContain("invalid 7");
  });

  it("has no invalid column without schemas", () => {
    const s = snapshot([consumer("auditor")]);
    expect(renderDashboard(s, plain, 100, 30).join("\n")).not.toMatch(/\binvalid\b/);
    expect(summaryLine(s)).not.toContain("invalid");
  });
});

describe("the report", () => {
  const base = {
    scenario: "contract",
    stoppedBy: "done",
    reconnects: 0,
    elapsedMs: 49,
    published: 19,
    confirmed: 19,
    nacked: 0,
    returned: 0,
    routed: 19,
    consumed: 19,
    retried: 0,
    deadLettered: 0,
    dropped: 0,
    duplicates: 0,
    outOfOrder: 0,
    gaps: 0,
    redelivered: 0,
    unconsumed: {},
    preexisting: 0,
    purged: {},
    lost: 0,
    uncertain: 0,
    checker: {
      counts: Object.fromEntries(CHECKER_CATEGORIES.map((c) => [c, c === "ok" ? 19 : 0])),
      samples: Object.fromEntries(CHECKER_CATEGORIES.map((c) => [c, []])),
      lostIn: {},
    },
    faults: [],
    blockedMs: 0,
    latencyMs: undefined,
    queues: [],
    consumers: [consumer("ledger-service", { violations: 2 })],
    events: [],
  } as unknown as PlayReport;

  it("names each consumer's violations and the first examples", () => {
    const text = renderPlayReport(
      {
        ...base,
        violations: {
          total: 2,
          byConsumer: { "ledger-service": 2 },
          examples: [
            {
              consumer: "ledger-service",
              messageId: "bad-1",
              errors: [{ path: "/amount", message: "must be >= 1" }],
            },
            {
              consumer: "ledger-service",
              messageId: "bad-2",
              errors: [{ path: "/", message: "not JSON" }],
            },
          ],
        },
      },
      plain,
    );
    expect(text).toContain("✗ contracts: 2 messages broke a consumer's schema (ledger-service 2)");
    expect(text).toContain("  ledger-service: bad-1: /amount must be >= 1");
    expect(text).toContain("  ledger-service: bad-2: / not JSON");
  });

  it("says every message conformed when none broke it, and nothing without schemas", () => {
    const clean = renderPlayReport(
      { ...base, violations: { total: 0, byConsumer: { "ledger-service": 0 }, examples: [] } },
      plain,
    );
    expect(clean).toContain("contracts: every message conformed (ledger-service 0)");
    expect(renderPlayReport(base, plain)).not.toContain("contracts:");
  });
});

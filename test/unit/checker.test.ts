/**
 * The delivery checker: a Ledger built by hand (what the broker answered for each publish,
 * where each copy was routed, what the consumers worked on and settled) and the categories
 * `check()` puts every expected copy in. Each row states the whole report: counts of every
 * category, the samples, lost per queue, and whether the loss was intended.
 */
import { describe, expect, it } from "vitest";
import type { PublishOutcome } from "../../src/client/publisher.js";
import {
  CHECKER_CATEGORIES,
  type CheckerCategory,
  type CheckerReport,
  type CheckOptions,
  check,
  type Restart,
} from "../../src/lab/checker.js";
import { Ledger, type Settled } from "../../src/lab/ledger.js";

type Step =
  /** Published and routed to these queues (consumed or not), with the broker's answer. */
  | { publish: string; to: string[]; answer?: PublishOutcome; transient?: boolean }
  /** A consumer worked on a copy to the end, and settled it (processed) for good. */
  | { work: string; in: string }
  /** Settled for good without being worked on (dead-lettered, dropped). */
  | { settle: string; in: string; as: Settled };

function ledgerOf(consumed: string[], steps: Step[]): Ledger {
  const l = new Ledger(consumed);
  for (const s of steps) {
    if ("publish" in s) {
      if (s.transient) l.transient.add(s.publish);
      l.routed(s.publish, s.to);
      if (s.answer) l.answered(s.publish, s.answer);
    } else if ("work" in s) {
      l.processed(s.in, s.work);
      l.settle(s.in, s.work, "processed");
    } else {
      l.settle(s.in, s.settle, s.as);
    }
  }
  return l;
}

const noRestarts: CheckOptions = { restarts: [], durable: () => true };

/** A full report: every category 0 and no samples unless given. */
function report(
  counts: Partial<Record<CheckerCategory, number>>,
  samples: Partial<Record<CheckerCategory, string[]>> = {},
  lostIn: Record<string, number> = {},
  intended?: string,
): CheckerReport {
  const all = <T>(v: (c: CheckerCategory) => T) =>
    Object.fromEntries(CHECKER_CATEGORIES.map((c) => [c, v(c)])) as Record<CheckerCategory, T>;
  return {
    counts: all((c) => counts[c] ?? 0),
    samples: all((c) => samples[c] ?? []),
    lostIn,
    ...(intended !== undefined ? { intended } : {}),
  };
}

const ok = (id: string, q = "orders"): Step[] => [
  { publish: id, to: [q], answer: "confirmed" },
  { work: id, in: q },
];

const cases: Array<[string, string[], Step[], CheckerReport]> = [
  ["confirmed and processed: ok", ["orders"], ok("a"), report({ ok: 1 }, { ok: ["a"] })],
  [
    "confirmed and never consumed: lost, per queue, with its id",
    ["orders"],
    [...ok("a"), { publish: "b", to: ["orders"], answer: "confirmed" }],
    report({ ok: 1, lost: 1 }, { ok: ["a"], lost: ["b"] }, { orders: 1 }),
  ],
  [
    "processed twice where one copy was expected: duplicated",
    ["orders"],
    [...ok("a"), { work: "a", in: "orders" }],
    report({ duplicated: 1 }, { duplicated: ["a"] }),
  ],
  [
    "two copies expected (dead-lettered back into the queue) and processed twice: ok, not duplicated",
    ["orders"],
    [
      { publish: "a", to: ["orders", "orders"], answer: "confirmed" },
      { work: "a", in: "orders" },
      { work: "a", in: "orders" },
    ],
    report({ ok: 1 }, { ok: ["a"] }),
  ],
  [
    "uncertain and processed three times, one expected: duplicated wins over recovered",
    ["orders"],
    [
      { publish: "a", to: ["orders"], answer: "uncertain" },
      { work: "a", in: "orders" },
      { work: "a", in: "orders" },
      { work: "a", in: "orders" },
    ],
    report({ duplicated: 1 }, { duplicated: ["a"] }),
  ],
  [
    "processed where no copy was expected: unexpected (the run's id, not announced there)",
    ["orders"],
    [...ok("a"), { work: "zz", in: "orders" }],
    report({ ok: 1, unexpected: 1 }, { ok: ["a"], unexpected: ["zz"] }),
  ],
  [
    "uncertain (confirm lost in a fault) and processed: recovered",
    ["orders"],
    [
      { publish: "a", to: ["orders"], answer: "uncertain" },
      { work: "a", in: "orders" },
    ],
    report({ recovered: 1 }, { recovered: ["a"] }),
  ],
  [
    "uncertain and never consumed: unconfirmed-lost, not lost",
    ["orders"],
    [{ publish: "a", to: ["orders"], answer: "uncertain" }],
    report({ "unconfirmed-lost": 1 }, { "unconfirmed-lost": ["a"] }),
  ],
  [
    "nacked and never consumed: unconfirmed-lost",
    ["orders"],
    [{ publish: "a", to: ["orders"], answer: "nacked" }],
    report({ "unconfirmed-lost": 1 }, { "unconfirmed-lost": ["a"] }),
  ],
  [
    "nacked and consumed all the same: recovered",
    ["orders"],
    [
      { publish: "a", to: ["orders"], answer: "nacked" },
      { work: "a", in: "orders" },
    ],
    report({ recovered: 1 }, { recovered: ["a"] }),
  ],
  [
    "unsent (given up before a connection came back): not counted at all",
    ["orders"],
    [{ publish: "a", to: ["orders"], answer: "unsent" }, ...ok("b")],
    report({ ok: 1 }, { ok: ["b"] }),
  ],
  [
    "dead-lettered on purpose, never worked on: consumed, ok",
    ["orders"],
    [
      { publish: "a", to: ["orders"], answer: "confirmed" },
      { settle: "a", in: "orders", as: "dead-lettered" },
    ],
    report({ ok: 1 }, { ok: ["a"] }),
  ],
  [
    "dropped on purpose, never worked on: consumed, ok",
    ["orders"],
    [
      { publish: "a", to: ["orders"], answer: "confirmed" },
      { settle: "a", in: "orders", as: "dropped" },
    ],
    report({ ok: 1 }, { ok: ["a"] }),
  ],
  [
    "routed to a queue no consumer of the run reads: not expected, not counted",
    ["orders"],
    [{ publish: "a", to: ["audit"], answer: "confirmed" }],
    report({}),
  ],
  [
    "two queues: one copy each; the samples say which queue",
    ["orders", "billing"],
    [
      { publish: "a", to: ["orders", "billing"], answer: "confirmed" },
      { work: "a", in: "orders" },
      { publish: "b", to: ["orders", "billing"], answer: "uncertain" },
      { work: "b", in: "billing" },
      { work: "zz", in: "billing" },
    ],
    report(
      { ok: 1, lost: 1, recovered: 1, "unconfirmed-lost": 1, unexpected: 1 },
      {
        ok: ["a in orders"],
        "unconfirmed-lost": ["b in orders"],
        lost: ["a in billing"],
        recovered: ["b in billing"],
        unexpected: ["zz in billing"],
      },
      { billing: 1 },
    ),
  ],
  [
    "a message processed in the other queue than the one it was routed to: lost there, unexpected here",
    ["orders", "billing"],
    [
      { publish: "a", to: ["orders"], answer: "confirmed" },
      { work: "a", in: "billing" },
    ],
    report(
      { lost: 1, unexpected: 1 },
      { lost: ["a in orders"], unexpected: ["a in billing"] },
      { orders: 1 },
    ),
  ],
];

describe("check(): every expected copy in one category", () => {
  it.each(cases)("%s", (_, consumed, steps, want) => {
    expect(check(ledgerOf(consumed, steps), noRestarts)).toEqual(want);
  });
});

describe("samples", () => {
  const ids = Array.from({ length: 8 }, (_, i) => `m${i + 1}`);
  const eightLost: Step[] = ids.map((id) => ({ publish: id, to: ["orders"], answer: "confirmed" }));

  it("keeps the first 5 ids of a category, counts them all", () => {
    const r = check(ledgerOf(["orders"], eightLost), noRestarts);
    expect(r.counts.lost).toBe(8);
    expect(r.samples.lost).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    expect(r.lostIn).toEqual({ orders: 8 });
  });

  it("keeps as many as asked", () => {
    const r = check(ledgerOf(["orders"], eightLost), { ...noRestarts, samples: 2 });
    expect(r.counts.lost).toBe(8);
    expect(r.samples.lost).toEqual(["m1", "m2"]);
  });

  it("lost per queue counts every lost copy, beyond the samples", () => {
    const steps: Step[] = ids.map((id, i) => ({
      publish: id,
      to: [i % 2 === 0 ? "orders" : "billing"],
      answer: "confirmed",
    }));
    const r = check(ledgerOf(["orders", "billing"], steps), noRestarts);
    expect(r.counts.lost).toBe(8);
    expect(r.lostIn).toEqual({ orders: 4, billing: 4 });
    expect(r.samples.lost).toEqual([
      "m1 in orders",
      "m3 in orders",
      "m5 in orders",
      "m7 in orders",
      "m2 in billing",
    ]);
  });
});

describe("intended: a loss the scenario causes on purpose", () => {
  const withoutData: Restart = { atMs: 1500, dataDir: false };
  const withData: Restart = { atMs: 2000, dataDir: true };
  const WITHOUT_DATA =
    "the broker restarted (at 1.5s) without a data directory: every message it held was in memory only, and went with it (give play --data-dir to keep durable queues' persistent messages)";
  const WITH_DATA =
    "the broker restarted (at 2.0s): transient messages (delivery mode 1) and messages in non-durable queues do not survive a restart, by design; publish them persistent to durable queues to keep them";
  const lostPersistent: Step[] = [
    ...ok("a"),
    { publish: "p1", to: ["orders"], answer: "confirmed" },
    { publish: "p2", to: ["orders"], answer: "confirmed" },
  ];

  it("a restart without a data directory: every lost copy is intended, persistent or not", () => {
    const r = check(ledgerOf(["orders"], lostPersistent), {
      restarts: [withoutData],
      durable: () => true,
    });
    expect(r.counts.lost).toBe(2);
    expect(r.intended).toBe(WITHOUT_DATA);
  });

  it("two restarts, one without a data directory: intended, and both times are named", () => {
    const r = check(ledgerOf(["orders"], lostPersistent), {
      restarts: [withData, withoutData],
      durable: () => true,
    });
    expect(r.intended).toBe(WITHOUT_DATA.replace("(at 1.5s)", "(at 2.0s, 1.5s)"));
  });

  it("with a data directory, lost transient messages are intended", () => {
    const steps: Step[] = [
      ...ok("a"),
      { publish: "t1", to: ["orders"], answer: "confirmed", transient: true },
      { publish: "t2", to: ["orders"], answer: "confirmed", transient: true },
    ];
    const r = check(ledgerOf(["orders"], steps), { restarts: [withData], durable: () => true });
    expect(r.counts.lost).toBe(2);
    expect(r.intended).toBe(WITH_DATA);
  });

  it("with a data directory, persistent messages lost from a non-durable queue are intended", () => {
    const r = check(
      ledgerOf(
        ["orders", "scratch"],
        [
          { publish: "a", to: ["orders", "scratch"], answer: "confirmed" },
          { work: "a", in: "orders" },
        ],
      ),
      { restarts: [withData], durable: (q) => q !== "scratch" },
    );
    expect(r.counts.lost).toBe(1);
    expect(r.lostIn).toEqual({ scratch: 1 });
    expect(r.intended).toBe(WITH_DATA);
  });

  it("with a data directory, one persistent message lost from a durable queue: not intended", () => {
    const steps: Step[] = [
      ...ok("a"),
      { publish: "t1", to: ["orders"], answer: "confirmed", transient: true },
      { publish: "t2", to: ["orders"], answer: "confirmed", transient: true },
      { publish: "p1", to: ["orders"], answer: "confirmed" },
    ];
    const r = check(ledgerOf(["orders"], steps), { restarts: [withData], durable: () => true });
    expect(r.counts.lost).toBe(3);
    expect(r.intended).toBeUndefined();
    expect("intended" in r).toBe(false);
  });

  it("no restart: a loss is never intended", () => {
    const steps: Step[] = [{ publish: "t1", to: ["orders"], answer: "confirmed", transient: true }];
    const r = check(ledgerOf(["orders"], steps), { restarts: [], durable: () => false });
    expect(r.counts.lost).toBe(1);
    expect(r.intended).toBeUndefined();
  });

  it("a restart and nothing lost: nothing to explain", () => {
    const r = check(ledgerOf(["orders"], ok("a")), {
      restarts: [withoutData],
      durable: () => true,
    });
    expect(r).toEqual(report({ ok: 1 }, { ok: ["a"] }));
  });

  it("unconfirmed-lost copies do not make a loss intended or not", () => {
    const steps: Step[] = [
      { publish: "t1", to: ["orders"], answer: "confirmed", transient: true },
      { publish: "u1", to: ["orders"], answer: "uncertain" },
    ];
    const r = check(ledgerOf(["orders"], steps), { restarts: [withData], durable: () => true });
    expect(r.counts).toMatchObject({ lost: 1, "unconfirmed-lost": 1 });
    expect(r.intended).toBe(WITH_DATA);
  });
});

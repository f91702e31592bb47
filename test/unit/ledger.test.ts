/**
 * The ledger decides `lost`: each row is what happened to the copies of a run's messages
 * (published and routed, confirmed or not, consumed, dead-lettered, returned, dropped, …)
 * and what the ledger makes of it. Every row states all the numbers, so a change to what any
 * of these counts as fails here.
 */
import { describe, expect, it } from "vitest";
import { Ledger, type Settled } from "../../src/lab/ledger.js";

/** The queues the run consumes; `audit` is bound but no consumer of the run reads it. */
const CONSUMED = ["orders", "billing"];

type Step =
  /** Published (and confirmed or not, which the ledger does not see); routed to these queues. */
  | { publish: string; to: string[] }
  /** A copy of message `id` settled for good in `queue`. */
  | { settle: string; in: string; as: Settled; counted?: boolean }
  /** A dead-lettered copy of `id` that the dead-letter exchange routes back to `queue`. */
  | { again: string; in: string }
  /** A message from before the run, settled for good in `queue`. */
  | { older: string };

interface Outcome {
  routed: Record<string, number>;
  settled: Partial<Record<Settled, number>>;
  lost: Record<string, number>;
  unconsumed: Record<string, number>;
  preexisting?: number;
}

const cases: Array<[string, Step[], Outcome]> = [
  [
    "published, confirmed, routed to one queue, processed: not lost",
    [
      { publish: "a", to: ["orders"] },
      { settle: "a", in: "orders", as: "processed" },
    ],
    { routed: { orders: 1 }, settled: { processed: 1 }, lost: {}, unconsumed: {} },
  ],
  [
    "published and routed, never consumed (or nacked by the broker): lost",
    [{ publish: "a", to: ["orders"] }],
    { routed: { orders: 1 }, settled: {}, lost: { orders: 1 }, unconsumed: {} },
  ],
  [
    "returned as unroutable (the routing sends it nowhere): neither routed nor lost",
    [{ publish: "a", to: [] }],
    { routed: {}, settled: {}, lost: {}, unconsumed: {} },
  ],
  [
    "routed to a queue no consumer of the run reads: unconsumed, not lost",
    [{ publish: "a", to: ["audit"] }],
    { routed: {}, settled: {}, lost: {}, unconsumed: { audit: 1 } },
  ],
  [
    "fanned out to two consumed queues and one other, consumed in one: lost in the other",
    [
      { publish: "a", to: ["orders", "billing", "audit"] },
      { settle: "a", in: "orders", as: "processed" },
    ],
    {
      routed: { orders: 1, billing: 1 },
      settled: { processed: 1 },
      lost: { billing: 1 },
      unconsumed: { audit: 1 },
    },
  ],
  [
    "rejected from a queue without a dead-letter exchange: dropped on purpose, not lost",
    [
      { publish: "a", to: ["orders"] },
      { settle: "a", in: "orders", as: "dropped" },
    ],
    { routed: { orders: 1 }, settled: { dropped: 1 }, lost: {}, unconsumed: {} },
  ],
  [
    "dead-lettered to a queue the run does not consume (a parking queue): not lost",
    [
      { publish: "a", to: ["orders"] },
      { settle: "a", in: "orders", as: "dead-lettered" },
    ],
    { routed: { orders: 1 }, settled: { "dead-lettered": 1 }, lost: {}, unconsumed: {} },
  ],
  [
    "dead-lettered back into a consumed queue and processed there: two copies, none lost",
    [
      { publish: "a", to: ["orders"] },
      { settle: "a", in: "orders", as: "dead-lettered" },
      { again: "a", in: "billing" },
      { settle: "a", in: "billing", as: "processed" },
    ],
    {
      routed: { orders: 1, billing: 1 },
      settled: { "dead-lettered": 1, processed: 1 },
      lost: {},
      unconsumed: {},
    },
  ],
  [
    "dead-lettered back into a consumed queue and never consumed there: lost there",
    [
      { publish: "a", to: ["orders"] },
      { settle: "a", in: "orders", as: "dead-lettered" },
      { again: "a", in: "orders" },
    ],
    {
      routed: { orders: 2 },
      settled: { "dead-lettered": 1 },
      lost: { orders: 1 },
      unconsumed: {},
    },
  ],
  [
    "a repeat of an id already processed (dedupe): settled as a duplicate, not lost",
    [
      { publish: "a", to: ["orders"] },
      { publish: "b", to: ["orders"] },
      { settle: "a", in: "orders", as: "processed" },
      { settle: "b", in: "orders", as: "duplicate" },
    ],
    { routed: { orders: 2 }, settled: { processed: 1, duplicate: 1 }, lost: {}, unconsumed: {} },
  ],
  [
    "processed twice (redelivered after a lost ack): counted once",
    [
      { publish: "a", to: ["orders"] },
      { settle: "a", in: "orders", as: "processed" },
      { settle: "a", in: "orders", as: "processed", counted: false },
    ],
    { routed: { orders: 1 }, settled: { processed: 1 }, lost: {}, unconsumed: {} },
  ],
  [
    "settled in a queue it was never routed to: not counted, and the expected copy is lost",
    [
      { publish: "a", to: ["orders"] },
      { settle: "a", in: "billing", as: "processed", counted: false },
    ],
    { routed: { orders: 1 }, settled: {}, lost: { orders: 1 }, unconsumed: {} },
  ],
  [
    "a message from before the run: preexisting, never routed, processed or lost",
    [{ older: "orders" }, { older: "orders" }],
    { routed: {}, settled: {}, lost: {}, unconsumed: {}, preexisting: 2 },
  ],
];

function play(steps: Step[]): Ledger {
  const ledger = new Ledger(CONSUMED);
  for (const s of steps) {
    if ("publish" in s) ledger.routed(s.publish, s.to);
    else if ("again" in s) ledger.expect(s.in, s.again);
    else if ("older" in s) ledger.settleOlder(s.older);
    else expect(ledger.settle(s.in, s.settle, s.as), JSON.stringify(s)).toBe(s.counted ?? true);
  }
  return ledger;
}

const nonZero = (entries: Array<[string, number]>) =>
  Object.fromEntries(entries.filter(([, n]) => n > 0));

describe("Ledger: what each copy counts as", () => {
  it.each(cases)("%s", (_, steps, want) => {
    const l = play(steps);
    const got: Outcome = {
      routed: nonZero(CONSUMED.map((q) => [q, l.expected.get(q) ?? 0])),
      settled: nonZero(
        (["processed", "duplicate", "dead-lettered", "dropped"] as const).map((how) => [
          how,
          CONSUMED.reduce((n, q) => n + l.count(q, how), 0),
        ]),
      ),
      lost: nonZero(CONSUMED.map((q) => [q, l.lost(q)])),
      unconsumed: l.unconsumed,
      ...(want.preexisting === undefined
        ? {}
        : { preexisting: CONSUMED.reduce((n, q) => n + l.queue(q).preexisting, 0) }),
    };
    expect(got).toEqual(want);
    // The run is done exactly when nothing is outstanding, and what is outstanding then is lost.
    const lost = Object.values(want.lost).reduce((a, b) => a + b, 0);
    expect(l.outstanding()).toBe(lost);
  });
});

describe("Ledger: telling the run when it is done", () => {
  it("calls its watchers on every change, until they stop watching", () => {
    const l = new Ledger(["orders"]);
    const seen: number[] = [];
    const stop = l.watch(() => seen.push(l.outstanding()));
    l.routed("a", ["orders", "audit"]);
    l.routed("b", ["orders"]);
    l.settle("orders", "a", "processed");
    l.settle("orders", "a", "processed"); // a repeat: a change too (it may end an idle wait)
    l.settleOlder("orders");
    stop();
    l.settle("orders", "b", "processed");
    expect(seen).toEqual([1, 2, 1, 1, 1]);
    expect(l.outstanding()).toBe(0);
  });

  it("counts every settled copy, repeats and older ones included, for consume --count", () => {
    const l = new Ledger(["orders"]);
    l.routed("a", ["orders"]);
    l.settle("orders", "a", "processed");
    l.settle("orders", "a", "processed");
    l.settleOlder("orders");
    expect(l.finals).toBe(3);
  });

  it("keeps the dashboard's flow counters: copies in, and copies settled out", () => {
    const l = new Ledger(["orders"]);
    l.routed("a", ["orders"]);
    l.routed("b", ["orders"]);
    l.settle("orders", "a", "processed");
    l.settle("orders", "a", "processed");
    expect(l.queue("orders")).toMatchObject({ in: 2, out: 1 });
  });
});

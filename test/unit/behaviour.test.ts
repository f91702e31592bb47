import { describe, expect, it } from "vitest";
import { seededRandom } from "../../src/config/random.js";
import { ConsumerBehaviour, DEDUPE_MEMORY, type Decision } from "../../src/lab/behaviour.js";
import { previousRetries } from "../../src/lab/deaths.js";
import { type Delivery, deepEqual, fieldValue } from "../../src/lab/fields.js";
import type { Behaviour } from "../../src/lab/types.js";

const Q = "inventory";

function delivery(over: Partial<Delivery> = {}): Delivery {
  return { headers: {}, body: {}, routingKey: "order.created", redelivered: false, ...over };
}

/** A fake clock the test moves by hand. */
function clock(start = 1_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

function make(b: Partial<Behaviour>, opts: { seed?: number; now?: () => number } = {}) {
  const behaviour: Behaviour = { onFailure: "requeue", ...b };
  return new ConsumerBehaviour(Q, behaviour, {
    random: seededRandom(opts.seed ?? 42, "behaviour-test"),
    now: opts.now ?? (() => 0),
  });
}

/** A random source that always returns `v`. */
const constant = (v: number) => () => v;

function xDeath(entries: { queue: string; count: number | bigint; reason?: string }[]) {
  return {
    "x-death": entries.map((e) => ({
      count: e.count,
      reason: e.reason ?? "expired",
      queue: e.queue,
      exchange: "",
      "routing-keys": [e.queue],
      time: new Date(0),
    })),
  };
}

describe("fieldValue", () => {
  const d = delivery({
    messageId: "m-1",
    correlationId: "c-1",
    routingKey: "order.created.eu",
    headers: { region: "eu", "order.id": 7, nested: { a: { b: 2 } } },
    body: { order: { id: 12, items: [{ sku: "A" }, { sku: "B" }] }, flag: false },
  });
  it.each([
    ["messageId", "m-1"],
    ["correlationId", "c-1"],
    ["routingKey", "order.created.eu"],
    ["headers.region", "eu"],
    ["headers.order.id", 7],
    ["headers.nested.a.b", 2],
    ["body.order.id", 12],
    ["body.order.items.1.sku", "B"],
    ["body.flag", false],
    ["body", d.body],
    ["headers.missing", undefined],
    ["headers.region.x", undefined],
    ["body.order.missing", undefined],
    ["body.order.id.deeper", undefined],
    ["body.order.items.9.sku", undefined],
    ["body.order.items.x", undefined],
    ["body.constructor", undefined],
    ["body.toString", undefined],
    ["nonsense", undefined],
  ] as const)("%s → %j", (path, expected) => {
    expect(fieldValue(d, path)).toEqual(expected);
  });

  it("gives undefined for absent properties and body paths into a text body", () => {
    const plain = delivery({ body: "hello" });
    expect(fieldValue(plain, "messageId")).toBeUndefined();
    expect(fieldValue(plain, "correlationId")).toBeUndefined();
    expect(fieldValue(plain, "body")).toBe("hello");
    expect(fieldValue(plain, "body.length")).toBeUndefined();
  });
});

describe("deepEqual (typed)", () => {
  it.each([
    [1, 1, true],
    [1, "1", false],
    [5n, 5, true],
    [5n, 6, false],
    [true, "true", false],
    [null, undefined, false],
    [null, null, true],
    [{ a: [1, { b: "x" }] }, { a: [1, { b: "x" }] }, true],
    [{ a: [1, { b: "x" }] }, { a: [1, { b: "y" }] }, false],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [[1, 2], [2, 1], false],
    [Buffer.from("ab"), Buffer.from("ab"), true],
    [Buffer.from("ab"), "ab", false],
  ] as const)("#%# %s vs %s → %s", (a, b, expected) => {
    expect(deepEqual(a, b)).toBe(expected);
  });
});

describe("work time", () => {
  it.each([
    { name: "none", workTime: undefined, min: 0, max: 0 },
    { name: "fixed", workTime: { minMs: 25, maxMs: 25 }, min: 25, max: 25 },
    { name: "ranged", workTime: { minMs: 10, maxMs: 50 }, min: 10, max: 50 },
  ])("$name stays within bounds", ({ workTime, min, max }) => {
    const c = make(workTime ? { workTime } : {});
    const seen = new Set<number>();
    for (let i = 0; i < 2_000; i++) {
      const w = c.decide(delivery()).workMs;
      expect(w).toBeGreaterThanOrEqual(min);
      expect(w).toBeLessThanOrEqual(max);
      seen.add(w);
    }
    // A range is actually spread over (both ends reached), a fixed time is just that.
    if (min === max) expect([...seen]).toEqual([min]);
    else expect([Math.min(...seen), Math.max(...seen), seen.size]).toEqual([min, max, 41]);
  });

  it("is the same for the same seed and differs for another", () => {
    const run = (seed: number) => {
      const c = make({ workTime: { minMs: 0, maxMs: 1_000 } }, { seed });
      return Array.from({ length: 50 }, () => c.decide(delivery()).workMs);
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it("is 0 for duplicates, breaker-open and crash", () => {
    const c = make({ workTime: { minMs: 5, maxMs: 5 }, dedupe: "messageId", crashAt: 3 });
    expect(c.decide(delivery({ messageId: "a" })).workMs).toBe(5);
    expect(c.decide(delivery({ messageId: "a" }))).toMatchObject({
      workMs: 0,
      outcome: { kind: "duplicate" },
    });
    expect(c.decide(delivery({ messageId: "b" }))).toMatchObject({
      workMs: 0,
      outcome: { kind: "crash" },
    });
  });
});

describe("failures", () => {
  it.each([0.05, 0.25, 0.5, 0.9])("fails about %s of 10,000 deliveries", (rate) => {
    const c = make({ failures: { rate } }, { seed: Math.round(rate * 1000) });
    let failed = 0;
    for (let i = 0; i < 10_000; i++) {
      if (c.decide(delivery()).outcome.kind === "requeue") failed++;
    }
    expect(Math.abs(failed / 10_000 - rate)).toBeLessThanOrEqual(0.02);
    expect(c.stats).toMatchObject({ failed, processed: 10_000 - failed });
  });

  it.each([
    { rate: 0, expected: "ack" },
    { rate: 1, expected: "requeue" },
  ])("rate $rate always gives $expected", ({ rate, expected }) => {
    const c = make({ failures: { rate } });
    const kinds = new Set(Array.from({ length: 200 }, () => c.decide(delivery()).outcome.kind));
    expect([...kinds]).toEqual([expected]);
  });

  type When = NonNullable<NonNullable<Behaviour["failures"]>["when"]>;
  it.each<[string, When, unknown, boolean]>([
    ["equals string", { field: "body.status", equals: "bad" }, { status: "bad" }, true],
    [
      "equals string, other value",
      { field: "body.status", equals: "bad" },
      { status: "ok" },
      false,
    ],
    ["equals is typed", { field: "body.n", equals: 1 }, { n: "1" }, false],
    ["equals deep", { field: "body.o", equals: { a: [1, 2] } }, { o: { a: [1, 2] } }, true],
    ["equals deep, differs", { field: "body.o", equals: { a: [1, 2] } }, { o: { a: [1] } }, false],
    ["equals null", { field: "body.o", equals: null }, { o: null }, true],
    ["equals on a missing field", { field: "body.o", equals: null }, {}, false],
    ["in", { field: "body.c", in: ["eu", "us"] }, { c: "us" }, true],
    ["in, not listed", { field: "body.c", in: ["eu", "us"] }, { c: "ap" }, false],
    ["in is typed", { field: "body.c", in: [1, 2] }, { c: "2" }, false],
    ["above", { field: "body.amount", above: 100 }, { amount: 101 }, true],
    ["above is strict", { field: "body.amount", above: 100 }, { amount: 100 }, false],
    ["below", { field: "body.amount", below: 10 }, { amount: 9.5 }, true],
    ["below is strict", { field: "body.amount", below: 10 }, { amount: 10 }, false],
    ["above a text", { field: "body.amount", above: 1 }, { amount: "5" }, false],
    ["above a missing field", { field: "body.amount", above: 1 }, {}, false],
    ["range inside", { field: "body.amount", above: 1, below: 5 }, { amount: 3 }, true],
    ["range outside", { field: "body.amount", above: 1, below: 5 }, { amount: 7 }, false],
    ["no comparison", { field: "body.amount" }, { amount: 7 }, false],
  ])("when %s → fails %s", (_name, when, body, fails) => {
    const c = make({ failures: { when } });
    expect(c.decide(delivery({ body })).outcome.kind).toBe(fails ? "requeue" : "ack");
  });

  it("compares headers, and a bigint header equals a number", () => {
    const c = make({ failures: { when: { field: "headers.priority", equals: 5 } } });
    expect(c.decide(delivery({ headers: { priority: 5n } })).outcome.kind).toBe("requeue");
    expect(c.decide(delivery({ headers: { priority: 4n } })).outcome.kind).toBe("ack");
  });

  it("fails when either when or rate says so", () => {
    const when = { field: "body.bad", equals: true };
    const byWhen = new ConsumerBehaviour(
      Q,
      { onFailure: "reject", failures: { rate: 0.5, when } },
      { random: constant(0.9), now: () => 0 },
    );
    expect(byWhen.decide(delivery({ body: { bad: true } })).outcome.kind).toBe("reject");
    expect(byWhen.decide(delivery({ body: { bad: false } })).outcome.kind).toBe("ack");
    const byRate = new ConsumerBehaviour(
      Q,
      { onFailure: "reject", failures: { rate: 0.5, when } },
      { random: constant(0.1), now: () => 0 },
    );
    expect(byRate.decide(delivery({ body: { bad: false } })).outcome.kind).toBe("reject");
  });
});

describe("retries", () => {
  const retry: Partial<Behaviour> = {
    onFailure: "retry",
    failures: { rate: 1 },
    retry: { delaysMs: [1_000, 5_000] },
  };

  it.each([
    { deaths: [], expected: { kind: "retry", attempt: 1, queue: `${Q}.retry.1`, delayMs: 1_000 } },
    {
      deaths: [{ queue: `${Q}.retry.1`, count: 1 }],
      expected: { kind: "retry", attempt: 2, queue: `${Q}.retry.2`, delayMs: 5_000 },
    },
    {
      deaths: [
        { queue: `${Q}.retry.2`, count: 1n },
        { queue: `${Q}.retry.1`, count: 1n },
      ],
      expected: { kind: "dead-letter", attempt: 3, queue: `${Q}.dlq` },
    },
    {
      // A rejection from the work queue itself and another queue's retries do not count.
      deaths: [
        { queue: Q, count: 3, reason: "rejected" },
        { queue: "billing.retry.1", count: 4 },
        { queue: `${Q}.retry.1`, count: 1 },
      ],
      expected: { kind: "retry", attempt: 2, queue: `${Q}.retry.2`, delayMs: 5_000 },
    },
    {
      // RabbitMQ ≥ 4.0 forgets the republished x-death: only retry.2 is told of.
      deaths: [{ queue: `${Q}.retry.2`, count: 1 }],
      expected: { kind: "dead-letter", attempt: 3, queue: `${Q}.dlq` },
    },
  ])("x-death #%# → $expected.kind $expected.attempt", ({ deaths, expected }) => {
    const c = make(retry);
    expect(c.decide(delivery({ headers: xDeath(deaths) })).outcome).toEqual(expected);
  });

  it("counts retried and dead-lettered messages as failures", () => {
    const c = make(retry);
    c.decide(delivery());
    c.decide(delivery({ headers: xDeath([{ queue: `${Q}.retry.1`, count: 1 }]) }));
    c.decide(delivery({ headers: xDeath([{ queue: `${Q}.retry.1`, count: 2 }]) }));
    expect(c.stats).toMatchObject({ failed: 3, retried: 2, deadLettered: 1, processed: 0 });
  });

  it("uses a custom dead-letter queue", () => {
    const c = make({ ...retry, retry: { delaysMs: [10], deadLetterQueue: "parking-lot" } });
    const d = delivery({ headers: xDeath([{ queue: `${Q}.retry.1`, count: 1 }]) });
    expect(c.decide(d).outcome).toEqual({ kind: "dead-letter", attempt: 2, queue: "parking-lot" });
  });

  it.each([
    [[], 0],
    [[{ queue: `${Q}.retry.1`, count: 2 }], 2],
    [[{ queue: `${Q}.retry.3`, count: 1 }], 3],
    [[{ queue: `${Q}.retry.x`, count: 1 }], 1],
    [[{ queue: `${Q}x.retry.1`, count: 1 }], 0],
  ])("previousRetries(%j) = %i", (deaths, expected) => {
    expect(previousRetries(delivery({ headers: xDeath(deaths) }), Q)).toBe(expected);
  });

  it("ignores an x-death header that is not a list", () => {
    expect(previousRetries(delivery({ headers: { "x-death": "garbage" } }), Q)).toBe(0);
  });
});

describe("retryTopology", () => {
  it.each<[string, Behaviour, ReturnType<typeof ConsumerBehaviour.retryTopology>]>([
    [
      "two delays",
      { onFailure: "retry", retry: { delaysMs: [1_000, 5_000] } },
      {
        retryQueues: [
          { name: `${Q}.retry.1`, ttlMs: 1_000, deadLetterTo: Q },
          { name: `${Q}.retry.2`, ttlMs: 5_000, deadLetterTo: Q },
        ],
        deadLetterQueue: `${Q}.dlq`,
      },
    ],
    [
      "custom dead-letter queue",
      { onFailure: "retry", retry: { delaysMs: [250], deadLetterQueue: "parking-lot" } },
      {
        retryQueues: [{ name: `${Q}.retry.1`, ttlMs: 250, deadLetterTo: Q }],
        deadLetterQueue: "parking-lot",
      },
    ],
    ["requeue", { onFailure: "requeue" }, { retryQueues: [] }],
    ["reject", { onFailure: "reject", retry: { delaysMs: [1] } }, { retryQueues: [] }],
  ])("%s", (_name, b, expected) => {
    expect(ConsumerBehaviour.retryTopology(Q, b)).toEqual(expected);
  });
});

describe("dedupe", () => {
  it("a key processed successfully comes back as a duplicate, a failed one does not", () => {
    const c = make({
      dedupe: "headers.id",
      failures: { when: { field: "body.bad", equals: true } },
    });
    const kinds = (
      [
        ["a", false],
        ["a", false],
        ["b", true],
        ["b", false],
        ["b", false],
        ["c", false],
      ] as const
    ).map(([id, bad]) => c.decide(delivery({ headers: { id }, body: { bad } })).outcome.kind);
    expect(kinds).toEqual(["ack", "duplicate", "requeue", "ack", "duplicate", "ack"]);
    expect(c.stats).toMatchObject({ processed: 3, duplicates: 2, failed: 1 });
  });

  it("keys are typed, and messages without a key are never duplicates", () => {
    const c = make({ dedupe: "body.id" });
    const kinds = [{ id: 1 }, { id: "1" }, { id: 1 }, {}, {}].map(
      (body) => c.decide(delivery({ body })).outcome.kind,
    );
    expect(kinds).toEqual(["ack", "ack", "duplicate", "ack", "ack"]);
  });

  it(`remembers at most ${DEDUPE_MEMORY} keys, dropping the oldest`, () => {
    const c = make({ dedupe: "messageId" });
    for (let i = 0; i <= DEDUPE_MEMORY; i++) c.decide(delivery({ messageId: `m${i}` }));
    // m0 was dropped to make room for m100000; m1 and the newest are still remembered.
    expect(c.decide(delivery({ messageId: "m1" })).outcome.kind).toBe("duplicate");
    expect(c.decide(delivery({ messageId: `m${DEDUPE_MEMORY}` })).outcome.kind).toBe("duplicate");
    expect(c.decide(delivery({ messageId: "m0" })).outcome.kind).toBe("ack");
  });
});

describe("ordering", () => {
  const ordering = { key: "body.account", sequence: "headers.seq" };
  const run = (steps: [string, number, boolean?][], extra: Partial<Behaviour> = {}) => {
    const c = make({ ordering, ...extra });
    const decisions = steps.map(([account, seq, redelivered]) =>
      c.decide(delivery({ body: { account }, headers: { seq }, redelivered: !!redelivered })),
    );
    return { c, seen: decisions.map((d: Decision) => [d.outOfOrder, d.gap]) };
  };

  it.each<[string, [string, number, boolean?][], [boolean, number][]]>([
    [
      "in order",
      [
        ["a", 1],
        ["a", 2],
        ["a", 3],
      ],
      [
        [false, 0],
        [false, 0],
        [false, 0],
      ],
    ],
    [
      "a gap, then the late one out of order",
      [
        ["a", 1],
        ["a", 4],
        ["a", 2],
        ["a", 5],
      ],
      [
        [false, 0],
        [false, 2],
        [true, 0],
        [false, 0],
      ],
    ],
    [
      "a repeat is out of order",
      [
        ["a", 1],
        ["a", 1],
      ],
      [
        [false, 0],
        [true, 0],
      ],
    ],
    [
      "keys are independent",
      [
        ["a", 1],
        ["b", 10],
        ["a", 2],
        ["b", 12],
        ["a", 1],
      ],
      [
        [false, 0],
        [false, 0],
        [false, 0],
        [false, 1],
        [true, 0],
      ],
    ],
    [
      "a redelivered copy is not counted again",
      [
        ["a", 1],
        ["a", 2],
        ["a", 2, true],
        ["a", 3],
      ],
      [
        [false, 0],
        [false, 0],
        [false, 0],
        [false, 0],
      ],
    ],
    [
      "a redelivered message not yet passed is checked",
      [
        ["a", 1],
        ["a", 3, true],
      ],
      [
        [false, 0],
        [false, 1],
      ],
    ],
  ])("%s", (_name, steps, expected) => {
    expect(run(steps).seen).toEqual(expected);
  });

  it("counts out-of-order deliveries and gaps in stats", () => {
    const { c } = run([
      ["a", 1],
      ["a", 3],
      ["a", 2],
      ["a", 7],
      ["b", 5],
      ["b", 4],
    ]);
    expect(c.stats).toMatchObject({ outOfOrder: 2, gaps: 2 });
  });

  it("does not count a copy back from a retry queue", () => {
    const c = make({ ordering });
    c.decide(delivery({ body: { account: "a" }, headers: { seq: 1 } }));
    c.decide(delivery({ body: { account: "a" }, headers: { seq: 2 } }));
    const back = c.decide(
      delivery({
        body: { account: "a" },
        headers: { seq: 1, ...xDeath([{ queue: `${Q}.retry.1`, count: 1 }]) },
      }),
    );
    expect([back.outOfOrder, c.stats.outOfOrder]).toEqual([false, 0]);
  });
});

describe("circuit breaker", () => {
  const breaker = { failures: 3, pauseMs: 1_000 };
  const failing = { field: "body.fail", equals: true };
  const setup = () => {
    const t = clock();
    const c = make({ breaker, failures: { when: failing } }, { now: t.now });
    const send = (fail: boolean) => c.decide(delivery({ body: { fail } })).outcome.kind;
    return { t, c, send };
  };

  it("opens after N consecutive failures, not after N scattered ones", () => {
    const { c, send } = setup();
    expect([send(true), send(true), send(false), send(true), send(true)]).toEqual([
      "requeue",
      "requeue",
      "ack",
      "requeue",
      "requeue",
    ]);
    expect(c.breaker).toBe("closed");
    expect(send(true)).toBe("requeue");
    expect(c.breaker).toBe("open");
    expect(c.takeTransitions()).toEqual(["open"]);
    expect(c.takeTransitions()).toEqual([]);
  });

  it("answers breaker-open while paused, without work or counting", () => {
    const { t, c, send } = setup();
    for (let i = 0; i < 3; i++) send(true);
    const before = c.stats;
    t.t += 999;
    expect([send(false), send(true)]).toEqual(["breaker-open", "breaker-open"]);
    expect(c.stats).toEqual(before);
    expect(c.breaker).toBe("open");
  });

  it.each([
    { trial: false, outcome: "ack", after: "closed", transitions: ["open", "half-open", "closed"] },
    {
      trial: true,
      outcome: "requeue",
      after: "open",
      transitions: ["open", "half-open", "open"],
    },
  ])("half-open trial fail=$trial → $after", ({ trial, outcome, after, transitions }) => {
    const { t, c, send } = setup();
    for (let i = 0; i < 3; i++) send(true);
    t.t += 1_000;
    expect(c.breaker).toBe("half-open");
    expect(send(trial)).toBe(outcome);
    expect(c.breaker).toBe(after);
    expect(c.takeTransitions()).toEqual(transitions);
  });

  it("a failed trial starts a new pause from its own time", () => {
    const { t, c, send } = setup();
    for (let i = 0; i < 3; i++) send(true);
    t.t += 1_500;
    send(true); // the trial fails at +1500: open until +2500
    t.t += 999;
    expect(send(false)).toBe("breaker-open");
    t.t += 1;
    expect(send(false)).toBe("ack");
    expect(c.breaker).toBe("closed");
  });

  it("a duplicate is not the half-open trial", () => {
    const t = clock();
    const c = make({ breaker, dedupe: "messageId", failures: { when: failing } }, { now: t.now });
    c.decide(delivery({ messageId: "ok", body: { fail: false } }));
    for (let i = 0; i < 3; i++) c.decide(delivery({ messageId: `f${i}`, body: { fail: true } }));
    t.t += 1_000;
    expect(c.decide(delivery({ messageId: "ok" })).outcome.kind).toBe("duplicate");
    expect(c.breaker).toBe("half-open");
  });

  it("stays closed without a breaker", () => {
    const c = make({ failures: { rate: 1 } });
    for (let i = 0; i < 100; i++) c.decide(delivery());
    expect([c.breaker, c.takeTransitions()]).toEqual(["closed", []]);
  });
});

describe("crash", () => {
  it.each([1, 3, 7])("crashes on call %i and only then", (k) => {
    const c = make({ crashAt: k, dedupe: "messageId" });
    const kinds = Array.from(
      { length: 10 },
      // Every delivery counts, duplicates too.
      (_, i) => c.decide(delivery({ messageId: i % 2 === 0 ? "same" : `m${i}` })).outcome.kind,
    );
    expect(kinds.map((kind, i) => [i + 1, kind === "crash"])).toEqual(
      kinds.map((_, i) => [i + 1, i + 1 === k]),
    );
  });

  it("never crashes without crashAt", () => {
    const c = make({});
    const kinds = new Set(Array.from({ length: 50 }, () => c.decide(delivery()).outcome.kind));
    expect([...kinds]).toEqual(["ack"]);
  });
});

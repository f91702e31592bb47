/**
 * `--explore`: drawing fault schedules (deterministic by seed and index, within the space's
 * bounds) and shrinking a failing one greedily, with a cache so that no schedule runs twice.
 * The predicates are fakes: each stands for a scenario that fails under some faults.
 */
import { describe, expect, it } from "vitest";
import { exploreSchema } from "../../src/config/fault-schema.js";
import {
  drawSchedule,
  type ExploreSpace,
  explore,
  scheduleKey,
  shrink,
  shrinkSteps,
  spaceOf,
} from "../../src/lab/explore.js";
import { type Fault, lasts } from "../../src/lab/faults.js";

const kill = (at: number): Fault => ({ kind: "consumer", consumer: "billing", action: "kill", at });
const cut = (at: number): Fault => ({ kind: "consumer", consumer: "billing", action: "cut", at });
const pause = (at: number, span: number): Fault => ({
  kind: "consumer",
  consumer: "billing",
  action: "pause",
  at,
  for: span,
});
const restart = (at: number, span: number): Fault => ({
  kind: "broker",
  action: "restart",
  at,
  for: span,
});
const latency = (at: number, span: number): Fault => ({
  kind: "network",
  action: "latency",
  target: "billing",
  delayMs: 200,
  at,
  for: span,
});
const nodeStart = (at: number): Fault => ({ kind: "node", action: "start", node: 2, at });

/** Candidates as drawn: times are replaced, so the ones here do not matter. */
const MIXED: ExploreSpace = {
  candidates: [kill(0), cut(0), pause(0, 0), restart(0, 0), latency(0, 0), nodeStart(0)].map(
    ({ for: _f, ...f }) => f as Fault,
  ),
  atMs: { minMs: 0, maxMs: 3000 },
  forMs: { minMs: 200, maxMs: 2000 },
  max: 3,
};

/** A predicate that records each schedule it is asked about. */
function recording(p: (s: Fault[]) => boolean) {
  const calls: string[] = [];
  const fails = async (s: Fault[]) => {
    calls.push(scheduleKey(s));
    return p(s);
  };
  return { calls, fails };
}

const hasCutFrom500 = (s: Fault[]) =>
  s.some((f) => f.kind === "consumer" && f.action === "cut" && f.at >= 500);

describe("spaceOf", () => {
  const cases: Array<[string, unknown, Partial<ExploreSpace>]> = [
    [
      "defaults: at 0s..3s, for 200ms..2s, max 3; at and for drawn",
      { faults: [{ consumer: "billing", action: "kill" }] },
      {
        candidates: [kill(0)],
        fixedAt: [false],
        atMs: { minMs: 0, maxMs: 3000 },
        forMs: { minMs: 200, maxMs: 2000 },
        max: 3,
      },
    ],
    [
      "given ranges and max; a candidate's own at and for are kept",
      {
        faults: [
          { consumer: "billing", action: "cut" },
          { at: "1s", broker: "restart", for: "500ms" },
        ],
        at: "1s..5s",
        for: "100ms..1s",
        max: 5,
      },
      {
        candidates: [cut(0), restart(1000, 500)],
        fixedAt: [false, true],
        atMs: { minMs: 1000, maxMs: 5000 },
        forMs: { minMs: 100, maxMs: 1000 },
        max: 5,
      },
    ],
    [
      "at: 0 given counts as fixed",
      { faults: [{ at: 0, node: "start", n: 2 }] },
      { candidates: [nodeStart(0)], fixedAt: [true] },
    ],
  ];
  it.each(cases)("%s", (_name, raw, expected) => {
    expect(spaceOf(exploreSchema.parse(raw))).toMatchObject(expected);
  });
});

describe("drawSchedule", () => {
  const runs = (space: ExploreSpace, seed: number, n = 30) =>
    Array.from({ length: n }, (_, i) => drawSchedule(space, seed, i));

  it.each([1, 42, 2 ** 31 + 7])("seed %i: the same schedules every time", (seed) => {
    expect(runs(MIXED, seed)).toEqual(runs(MIXED, seed));
    expect(drawSchedule(MIXED, seed, 17)).toEqual(runs(MIXED, seed)[17]);
  });

  it("different seeds and different indices give different schedules", () => {
    const keys = (seed: number) => runs(MIXED, seed).map(scheduleKey);
    expect(keys(1)).not.toEqual(keys(2));
    expect(keys(2)).not.toEqual(keys(3));
    expect(new Set(keys(1)).size).toBeGreaterThan(20);
  });

  const spaces: Array<[string, ExploreSpace]> = [
    ["the mixed space", MIXED],
    [
      "narrow ranges, max 1",
      { ...MIXED, atMs: { minMs: 500, maxMs: 520 }, forMs: { minMs: 50, maxMs: 60 }, max: 1 },
    ],
    [
      "ranges off the 10 ms grid, max 6",
      { ...MIXED, atMs: { minMs: 1005, maxMs: 4995 }, forMs: { minMs: 95, maxMs: 305 }, max: 6 },
    ],
  ];
  it.each(spaces)("%s: 1..max faults, sorted, times on the grid and in range", (_n, space) => {
    const counts = new Set<number>();
    for (const s of runs(space, 7, 300)) {
      counts.add(s.length);
      expect(s.map((f) => f.at)).toEqual([...s.map((f) => f.at)].sort((a, b) => a - b));
      for (const f of s) {
        expect(f.at % 10).toBe(0);
        expect(f.at).toBeGreaterThanOrEqual(space.atMs.minMs);
        expect(f.at).toBeLessThanOrEqual(space.atMs.maxMs);
        if (!lasts(f)) {
          expect(f).not.toHaveProperty("for");
          continue;
        }
        expect(f.for! % 10).toBe(0);
        expect(f.for).toBeGreaterThanOrEqual(space.forMs.minMs);
        expect(f.for).toBeLessThanOrEqual(space.forMs.maxMs);
      }
    }
    expect([...counts].sort((a, b) => a - b)).toEqual(
      Array.from({ length: space.max }, (_, i) => i + 1),
    );
  });

  it("every candidate is drawn, and a fixed at or for is kept as given", () => {
    const space: ExploreSpace = {
      ...MIXED,
      candidates: [cut(0), restart(4321, 777), pause(0, 0)].map((f, i) =>
        i === 2 ? { ...f, for: undefined } : f,
      ),
      fixedAt: [false, true, false],
      max: 4,
    };
    const seen = new Set<string>();
    for (const s of runs(space, 3, 200)) {
      for (const f of s) {
        seen.add(`${f.kind} ${f.action}`);
        if (f.kind === "broker") expect(f).toEqual(restart(4321, 777));
        else expect(f.at).toBeLessThanOrEqual(3000);
      }
    }
    expect([...seen].sort()).toEqual(["broker restart", "consumer cut", "consumer pause"]);
  });

  it("an empty space is refused", () => {
    expect(() => drawSchedule({ ...MIXED, candidates: [] }, 1, 0)).toThrow(/at least one/);
  });
});

describe("shrinkSteps", () => {
  const samples: Array<[string, Fault[]]> = [
    ["one fault at 0", [kill(0)]],
    ["one fault at 1s", [kill(1000)]],
    ["one lasting fault", [pause(300, 1200)]],
    ["three faults", [pause(100, 1500), restart(800, 900), cut(2370)]],
    ["the same fault twice", [kill(0), kill(0)]],
    [
      "five faults close together",
      [kill(10), cut(20), pause(30, 60), latency(40, 50), nodeStart(50)],
    ],
  ];
  it.each(samples)("%s: never itself, never empty, no repeats", (_name, s) => {
    const steps = shrinkSteps(s);
    const keys = steps.map(scheduleKey);
    expect(keys).not.toContain(scheduleKey(s));
    expect(new Set(keys).size).toBe(keys.length);
    for (const step of steps) expect(step.length).toBeGreaterThan(0);
  });

  const orders: Array<[string, Fault[], Fault[][]]> = [
    ["a lone fault at 0 that does not last: nothing smaller", [kill(0)], []],
    [
      "a lone fault: at toward 0 (0, half, ever closer, down to 10 ms earlier)",
      [kill(1000)],
      [0, 500, 750, 880, 940, 970, 980, 990].map((at) => [kill(at)]),
    ],
    [
      "a lasting fault: earlier first, then shorter toward 50 ms",
      [pause(20, 200)],
      [[pause(0, 200)], [pause(10, 200)], ...[50, 130, 160, 180, 190].map((f) => [pause(20, f)])],
    ],
    [
      "two faults: each removed, then each earlier (re-sorted), then shorter",
      [kill(10), pause(20, 60)],
      [
        [pause(20, 60)],
        [kill(10)],
        [kill(0), pause(20, 60)],
        [pause(0, 60), kill(10)],
        [kill(10), pause(10, 60)],
        [kill(10), pause(20, 50)],
      ],
    ],
  ];
  it.each(orders)("%s", (_name, s, expected) => {
    expect(shrinkSteps(s)).toEqual(expected);
  });

  it("four faults: the halves first, then each one removed", () => {
    const s = [kill(0), cut(0), nodeStart(0), kill(0)].map((f, i) => ({ ...f, at: i * 10 }));
    expect(shrinkSteps(s).slice(0, 6)).toEqual([
      s.slice(0, 2),
      s.slice(2),
      [s[1], s[2], s[3]],
      [s[0], s[2], s[3]],
      [s[0], s[1], s[3]],
      [s[0], s[1], s[2]],
    ]);
  });
});

describe("shrink", () => {
  const cases: Array<[string, Fault[], (s: Fault[]) => boolean, Fault[]]> = [
    [
      "fails iff a consumer cut at 500 ms or later: one cut at exactly 500 ms",
      [pause(100, 1500), restart(800, 900), cut(2370)],
      hasCutFrom500,
      [cut(500)],
    ],
    [
      "fails iff two faults or more: two, at 0, as short as shrinking goes",
      [restart(1200, 900), cut(2370), pause(2500, 1500)],
      (s) => s.length >= 2,
      [cut(0), pause(0, 50)],
    ],
    [
      "fails iff a latency lasts 700 ms or more: that latency alone, at 0, for 700 ms",
      [kill(300), latency(1230, 1890)],
      (s) => s.some((f) => f.kind === "network" && (f.for ?? 0) >= 700),
      [latency(0, 700)],
    ],
    [
      "fails iff a pause comes before a cut: pause at 0 for 50 ms, cut 10 ms later",
      [kill(300), pause(800, 1000), cut(1500)],
      (s) =>
        s.some((p) => p.action === "pause" && s.some((c) => c.action === "cut" && c.at > p.at)),
      [pause(0, 50), cut(10)],
    ],
  ];
  it.each(cases)("%s", async (_name, start, p, expected) => {
    const { calls, fails } = recording(p);
    const r = await shrink(start, fails, { maxRuns: 1000 });
    expect(r.schedule).toEqual(expected);
    expect(r.runs).toBe(calls.length);
    expect(r.steps.map((x) => scheduleKey(x.schedule))).toEqual(calls);
    expect(r.steps.map((x) => x.failed)).toEqual(r.steps.map((x) => p(x.schedule)));
  });

  it("nothing smaller fails: the original, after trying each step once", async () => {
    const start = [cut(2370), pause(100, 1500)];
    const { calls, fails } = recording(() => false);
    const r = await shrink(start, fails);
    expect(r.schedule).toBe(start);
    expect(calls).toEqual(shrinkSteps(start).map(scheduleKey));
    expect(r.steps.every((x) => !x.failed)).toBe(true);
  });

  it("no schedule is run twice, though later steps meet earlier ones again", async () => {
    const start = [kill(1000), cut(1000), pause(1000, 400)];
    const { calls, fails } = recording((s) => s.length >= 2 && s[0]!.at === 0);
    const r = await shrink(start, fails, { maxRuns: 1000 });
    expect(new Set(calls).size).toBe(calls.length);
    // Without the cache, [cut(1000), pause(1000, 400)] would be run both before and after
    // kill moved to 0, and more like it.
    const again = r.steps.length;
    const naive = countWithoutCache(start, (s) => s.length >= 2 && s[0]!.at === 0);
    expect(naive).toBeGreaterThan(again);
  });

  it("a shared cache is consulted and filled", async () => {
    const start = [kill(100)];
    const cache = new Map([[scheduleKey([kill(0)]), false]]);
    const { calls, fails } = recording(() => false);
    await shrink(start, fails, { cache });
    expect(calls).toEqual(shrinkSteps(start).slice(1).map(scheduleKey));
    expect([...cache.keys()].sort()).toEqual(
      [start, ...shrinkSteps(start)].map(scheduleKey).sort(),
    );
  });

  it.each([0, 1, 3, 10])("maxRuns %i: at most that many runs", async (maxRuns) => {
    const start = [pause(100, 1500), restart(800, 900), cut(2370)];
    const { calls, fails } = recording(hasCutFrom500);
    const seen: boolean[] = [];
    const r = await shrink(start, fails, { maxRuns, onStep: (_s, f) => seen.push(f) });
    expect(calls.length).toBe(maxRuns);
    expect(r.runs).toBe(maxRuns);
    expect(seen).toEqual(r.steps.map((x) => x.failed));
    if (maxRuns === 0) expect(r.schedule).toBe(start);
    expect(hasCutFrom500(r.schedule)).toBe(true);
  });
});

/** Greedy shrinking as `shrink` does it, but running every candidate (no cache). */
function countWithoutCache(start: Fault[], p: (s: Fault[]) => boolean): number {
  let runs = 0;
  let current = start;
  for (let adopted = true; adopted; ) {
    adopted = false;
    for (const s of shrinkSteps(current)) {
      runs++;
      if (p(s)) {
        current = s;
        adopted = true;
        break;
      }
    }
  }
  return runs;
}

describe("explore", () => {
  it("stops at the first failing schedule and shrinks it, never running one twice", async () => {
    const seed = 11;
    const draws = Array.from({ length: 50 }, (_, i) => drawSchedule(MIXED, seed, i));
    const first = draws.findIndex(hasCutFrom500);
    expect(first).toBeGreaterThan(0); // the seed must pass some schedules first
    const { calls, fails } = recording(hasCutFrom500);
    const progress: Array<[number, "explore" | "shrink", boolean]> = [];
    const r = await explore(MIXED, seed, 50, fails, {
      onRun: (i, _s, failed, phase) => progress.push([i, phase, failed]),
    });
    expect(r.found).toBe(true);
    expect(r.foundAt).toBe(first);
    expect(r.original).toEqual(draws[first]);
    expect(r.shrunk?.schedule).toEqual([cut(500)]);
    expect(r.runs).toBe(calls.length);
    expect(new Set(calls).size).toBe(calls.length);
    // Exploring: each distinct draw up to the failing one, by its index; only the last failed.
    const keys = draws.slice(0, first + 1).map(scheduleKey);
    const explored = keys.flatMap((k, i) => (keys.indexOf(k) === i ? [i] : []));
    expect(progress.slice(0, explored.length)).toEqual(
      explored.map((i) => [i, "explore", i === first]),
    );
    // Then shrinking, numbered from 0.
    expect(progress.slice(explored.length)).toEqual(
      r.shrunk!.steps.map((x, i) => [i, "shrink", x.failed]),
    );
  });

  it("nothing fails: found is false after n draws", async () => {
    const { calls, fails } = recording(() => false);
    const r = await explore(MIXED, 5, 25, fails);
    expect(r).toEqual({
      found: false,
      runs: 25,
      foundAt: undefined,
      original: undefined,
      shrunk: undefined,
    });
    expect(calls).toEqual(
      Array.from({ length: 25 }, (_, i) => scheduleKey(drawSchedule(MIXED, 5, i))),
    );
  });

  it("a schedule drawn again is not run again", async () => {
    const space: ExploreSpace = { ...MIXED, candidates: [kill(700)], fixedAt: [true], max: 1 };
    const { calls, fails } = recording(() => false);
    const r = await explore(space, 1, 10, fails);
    expect(calls).toEqual([scheduleKey([kill(700)])]);
    expect(r.runs).toBe(1);
  });

  it("maxShrinkRuns bounds the shrinking", async () => {
    const { fails } = recording(hasCutFrom500);
    const r = await explore(MIXED, 11, 50, fails, { maxShrinkRuns: 2 });
    expect(r.shrunk?.runs).toBe(2);
    const explored = new Set(
      Array.from({ length: (r.foundAt ?? -1) + 1 }, (_, i) =>
        scheduleKey(drawSchedule(MIXED, 11, i)),
      ),
    ).size;
    expect(explored).toBeGreaterThan(0);
    expect(r.runs).toBe(explored + 2);
  });
});

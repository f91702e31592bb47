/**
 * `--explore`: draw fault schedules from a scenario's `explore:` space, and when one makes the
 * run fail, shrink it to a small schedule that still fails, as property-based testing tools
 * (QuickCheck, Hypothesis, fast-check) shrink a failing input. Pure: no AMQP, no I/O; the
 * caller's `fails(schedule)` runs the scenario.
 *
 * - Determinism: run `index` of `seed` draws from its own seeded stream, so a failure is
 *   reproduced from (seed, index) alone, and drawing run 7 does not depend on runs 0..6.
 * - Greedy shrinking: `shrinkSteps` lists smaller schedules, most promising first (fewer
 *   faults, then earlier, then shorter); `shrink` adopts the first one that still fails and
 *   starts over from it, until none fails or the budget of runs is spent. Times move toward
 *   their target as QuickCheck shrinks integers (the target, halfway, then ever closer, in
 *   10 ms steps), so a threshold such as "fails from 500 ms on" is found exactly.
 * - Cache: a run takes seconds, so results are kept by `scheduleKey` and no schedule is run
 *   twice, in exploring or in shrinking.
 */
import type { ExploreConfig } from "../config/fault-schema.js";
import { seededRandom } from "../config/random.js";
import { type Fault, faultOf, lasts } from "./faults.js";

export interface Range {
  minMs: number;
  maxMs: number;
}

export interface ExploreSpace {
  /** The faults a schedule is drawn from (with repetition). */
  candidates: Fault[];
  /** By candidate index: whether its `at` is fixed (given in the config). A candidate's `for`,
   * when it has one, is always kept. Absent: every `at` is drawn. */
  fixedAt?: boolean[] | undefined;
  atMs: Range;
  forMs: Range;
  /** Most faults in one schedule. */
  max: number;
}

/** Times are multiples of this; a lasting fault is not shrunk below FOR_FLOOR_MS. */
const STEP_MS = 10;
const FOR_FLOOR_MS = 50;
const DEFAULT_AT: Range = { minMs: 0, maxMs: 3000 };
const DEFAULT_FOR: Range = { minMs: 200, maxMs: 2000 };
const DEFAULT_MAX = 3;
const DEFAULT_SHRINK_RUNS = 100;

/** The config's `explore:` section as a space; defaults at 0s..3s, for 200ms..2s, max 3. */
export function spaceOf(explore: ExploreConfig): ExploreSpace {
  return {
    candidates: explore.faults.map((c) => faultOf(c)),
    fixedAt: explore.faults.map((c) => c.at !== undefined),
    atMs: { ...(explore.at ?? DEFAULT_AT) },
    forMs: { ...(explore.for ?? DEFAULT_FOR) },
    max: explore.max ?? DEFAULT_MAX,
  };
}

/** A multiple of 10 ms in the range, uniformly; the range's low end when it holds none. */
function drawTime(random: () => number, { minMs, maxMs }: Range): number {
  const lo = Math.ceil(minMs / STEP_MS);
  const hi = Math.floor(maxMs / STEP_MS);
  const u = random(); // drawn either way, so the stream does not depend on the range
  return lo > hi ? minMs : (lo + Math.floor(u * (hi - lo + 1))) * STEP_MS;
}

/** The fault at `at`, lasting `forMs` (or not lasting when undefined). */
function timed(f: Fault, at: number, forMs: number | undefined): Fault {
  const { for: _for, ...rest } = f;
  return (forMs === undefined ? { ...rest, at } : { ...rest, at, for: forMs }) as Fault;
}

/** Sorted by `at`; faults at the same time keep their order. */
const byAt = (s: Fault[]): Fault[] => [...s].sort((a, b) => a.at - b.at);

/** The schedule of run `index` (0-based) for `seed`: 1..max faults, sorted by `at`. */
export function drawSchedule(space: ExploreSpace, seed: number, index: number): Fault[] {
  const n = space.candidates.length;
  if (n === 0) throw new RangeError("an explore space needs at least one candidate fault");
  const random = seededRandom(seed, `run ${index}`, "explore");
  const count = 1 + Math.floor(random() * Math.max(1, Math.floor(space.max)));
  const out: Fault[] = [];
  for (let k = 0; k < count; k++) {
    const i = Math.floor(random() * n);
    const c = space.candidates[i] as Fault;
    const at = drawTime(random, space.atMs);
    const span = drawTime(random, space.forMs);
    out.push(timed(c, space.fixedAt?.[i] ? c.at : at, lasts(c) ? (c.for ?? span) : undefined));
  }
  return byAt(out);
}

/** A key that identifies a schedule: its faults in order, each with sorted keys. */
export function scheduleKey(s: Fault[]): string {
  return JSON.stringify(
    s.map((f) =>
      Object.entries(f)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    ),
  );
}

/** Values below `x` toward `target`: the target, halfway, then ever closer, down to x - 10 ms. */
function towards(target: number, x: number): number[] {
  const out: number[] = [];
  for (let d = x - target; d >= STEP_MS / 2; d /= 2) {
    const v = Math.max(target, Math.round((x - d) / STEP_MS) * STEP_MS);
    if (v < x && !out.includes(v)) out.push(v);
  }
  return out;
}

/** Smaller schedules than a failing one, most promising first; never itself, never empty. */
export function shrinkSteps(schedule: Fault[]): Fault[][] {
  const out: Fault[][] = [];
  const n = schedule.length;
  if (n > 2) {
    const h = Math.floor(n / 2);
    out.push(schedule.slice(0, h), schedule.slice(h));
  }
  if (n > 1) for (let i = 0; i < n; i++) out.push(schedule.filter((_, j) => j !== i));
  const replaced = (i: number, f: Fault) => byAt(schedule.map((g, j) => (j === i ? f : g)));
  schedule.forEach((f, i) => {
    for (const at of towards(0, f.at)) out.push(replaced(i, timed(f, at, f.for)));
  });
  schedule.forEach((f, i) => {
    if (!lasts(f) || f.for === undefined) return;
    for (const span of towards(FOR_FLOOR_MS, f.for)) out.push(replaced(i, timed(f, f.at, span)));
  });
  const seen = new Set([scheduleKey(schedule)]);
  return out.filter((s) => {
    const key = scheduleKey(s);
    if (s.length === 0 || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface ShrinkResult {
  /** The smallest failing schedule found (the given one when nothing smaller fails). */
  schedule: Fault[];
  /** Calls of `fails`. */
  runs: number;
  /** Every schedule run, in order. */
  steps: Array<{ schedule: Fault[]; failed: boolean }>;
}

export interface ShrinkOptions {
  /** Most calls of `fails` (default 100). */
  maxRuns?: number | undefined;
  /** Told each schedule run and whether it failed. */
  onStep?: ((s: Fault[], failed: boolean) => void) | undefined;
  /** Results by `scheduleKey`, shared with the caller (explore's runs); updated in place. */
  cache?: Map<string, boolean> | undefined;
}

/** Greedy shrinking of a schedule known to fail; no schedule is run twice. */
export async function shrink(
  schedule: Fault[],
  fails: (s: Fault[]) => Promise<boolean>,
  o: ShrinkOptions = {},
): Promise<ShrinkResult> {
  const maxRuns = o.maxRuns ?? DEFAULT_SHRINK_RUNS;
  const cache = o.cache ?? new Map<string, boolean>();
  cache.set(scheduleKey(schedule), true);
  const steps: ShrinkResult["steps"] = [];
  let current = schedule;
  let adopted = true;
  while (adopted && steps.length < maxRuns) {
    adopted = false;
    for (const candidate of shrinkSteps(current)) {
      const key = scheduleKey(candidate);
      // Each adopted schedule is smaller than the last, so a cached one has passed.
      if (cache.has(key)) continue;
      if (steps.length >= maxRuns) break;
      const failed = await fails(candidate);
      cache.set(key, failed);
      steps.push({ schedule: candidate, failed });
      o.onStep?.(candidate, failed);
      if (failed) {
        current = candidate;
        adopted = true;
        break;
      }
    }
  }
  return { schedule: current, runs: steps.length, steps };
}

export interface ExploreOptions {
  /** Most runs spent shrinking a failure (default 100). */
  maxShrinkRuns?: number | undefined;
  /** Progress: `index` is the draw index when exploring, the attempt number when shrinking. */
  onRun?:
    | ((index: number, schedule: Fault[], failed: boolean, phase: "explore" | "shrink") => void)
    | undefined;
}

export interface ExploreResult {
  found: boolean;
  /** Calls of `fails`, exploring and shrinking. */
  runs: number;
  /** The index of the first failing schedule. */
  foundAt: number | undefined;
  original: Fault[] | undefined;
  shrunk: ShrinkResult | undefined;
}

/**
 * Runs schedules 0..n-1 of `seed` until one fails, then shrinks it. A schedule drawn twice is
 * run once (the repeat is skipped: it passed).
 */
export async function explore(
  space: ExploreSpace,
  seed: number,
  n: number,
  fails: (s: Fault[]) => Promise<boolean>,
  o: ExploreOptions = {},
): Promise<ExploreResult> {
  const cache = new Map<string, boolean>();
  let runs = 0;
  for (let i = 0; i < n; i++) {
    const schedule = drawSchedule(space, seed, i);
    const key = scheduleKey(schedule);
    if (cache.has(key)) continue;
    const failed = await fails(schedule);
    runs++;
    cache.set(key, failed);
    o.onRun?.(i, schedule, failed, "explore");
    if (!failed) continue;
    let attempt = 0;
    const shrunk = await shrink(schedule, fails, {
      cache,
      maxRuns: o.maxShrinkRuns,
      onStep: (s, f) => o.onRun?.(attempt++, s, f, "shrink"),
    });
    return { found: true, runs: runs + shrunk.runs, foundAt: i, original: schedule, shrunk };
  }
  return { found: false, runs, foundAt: undefined, original: undefined, shrunk: undefined };
}

/**
 * Comparison of a run's outcomes with the recorded RabbitMQ outcomes, minus accepted differences.
 */
import type { AcceptedDifference } from "./differences.js";
import type { Outcome } from "./harness.js";

/** A copy of `v` with the value at `path` ("/"-separated) removed; missing paths are a no-op. */
export function without(v: Outcome, path: string): Outcome {
  const [head, ...rest] = path.split("/");
  if (head === undefined || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) {
    const i = Number(head);
    if (!Number.isInteger(i) || i < 0 || i >= v.length) return v;
    if (rest.length === 0) return v.map((x, j) => (j === i ? "<accepted difference>" : x));
    return v.map((x, j) => (j === i ? without(x, rest.join("/")) : x));
  }
  if (!(head in v)) return v;
  const out: { [key: string]: Outcome } = { ...v };
  if (rest.length === 0) delete out[head];
  else out[head] = without(v[head]!, rest.join("/"));
  return out;
}

/**
 * The part of a scenario's outcome that is compared: both outcomes with the scenario's accepted
 * paths removed. Whole-scenario differences are not compared at all (see wholeDifference).
 */
export function comparable(
  scenario: string,
  actual: Outcome,
  expected: Outcome,
  differences: AcceptedDifference[],
): { actual: Outcome; expected: Outcome } {
  let a = actual;
  let e = expected;
  for (const d of differences) {
    if (d.scenario !== scenario || d.path === undefined) continue;
    a = without(a, d.path);
    e = without(e, d.path);
  }
  return { actual: a, expected: e };
}

/** The accepted difference that covers a whole scenario, if any. */
export function wholeDifference(
  scenario: string,
  differences: AcceptedDifference[],
): AcceptedDifference | undefined {
  return differences.find((d) => d.scenario === scenario && d.path === undefined);
}

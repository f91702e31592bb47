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

/** Both outcomes with the scenario's accepted paths removed; `skip` when the whole scenario is. */
export function comparable(
  scenario: string,
  actual: Outcome,
  expected: Outcome,
  differences: AcceptedDifference[],
): { skip: boolean; actual: Outcome; expected: Outcome } {
  let a = actual;
  let e = expected;
  for (const d of differences) {
    if (d.scenario !== scenario) continue;
    if (d.path === undefined) return { skip: true, actual, expected };
    a = without(a, d.path);
    e = without(e, d.path);
  }
  return { skip: false, actual: a, expected: e };
}

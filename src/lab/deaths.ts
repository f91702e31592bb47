/**
 * The x-death header the broker adds to a dead-lettered message, read once here: for the
 * retry count of consumer behaviours and for the decision lines of `consume`, which show
 * where a message died before. Pure: a header value in, plain data out.
 */
import { isRecord, numeric, text } from "./fields.js";
import type { DeathEntry } from "./types.js";

/** The value inside a typed wrapper `{ value }`, as a raw codec table gives a typed field. */
function unwrapped(v: unknown): unknown {
  if (!isRecord(v)) return undefined;
  const { value } = v;
  return value;
}

/** An x-death count: number, bigint, or a typed wrapper `{ value }` from a raw codec table. */
function deathCount(v: unknown): number {
  const n = numeric(v) ?? numeric(unwrapped(v));
  return n !== undefined && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/**
 * The entries of an x-death header, in the header's order; undefined when there are none.
 * An entry that is not a table is left out; a field that is missing or of another type reads
 * as "" (queue, reason) or 0 (count).
 */
export function deathsOf(headers: Record<string, unknown> | undefined): DeathEntry[] | undefined {
  const raw = headers?.["x-death"];
  if (!Array.isArray(raw)) return undefined;
  const entries = raw.filter(isRecord).map(({ queue, reason, count }) => ({
    queue: text(queue) ?? "",
    reason: text(reason) ?? "",
    count: deathCount(count),
  }));
  return entries.length > 0 ? entries : undefined;
}

/**
 * How many times a message has already been through `${queue}.retry.*`, from its x-death
 * header: the sum of those entries' counts, or the highest retry index among them when that
 * is larger. The second rule matters on RabbitMQ ≥ 4.0 (and 3.13.0–3.13.2), which does not
 * interpret an x-death header a client republishes: after expiring from retry.2 the header
 * only tells of retry.2, and the sum alone would send the message to retry.2 forever.
 */
export function previousRetries(d: { headers: Record<string, unknown> }, queue: string): number {
  const prefix = `${queue}.retry.`;
  let sum = 0;
  let highest = 0;
  for (const entry of deathsOf(d.headers) ?? []) {
    if (!entry.queue.startsWith(prefix)) continue;
    sum += entry.count;
    const index = entry.queue.slice(prefix.length);
    if (/^[1-9]\d*$/.test(index)) highest = Math.max(highest, Number(index));
  }
  return Math.max(sum, highest);
}

/**
 * The delivery checker: every copy of every message the run published, put in one of the
 * categories of Jepsen's total-queue checker, from what the ledger saw on both sides (the
 * broker's answer to each publish, and what the consumers worked on to the end).
 *
 * Per copy expected in a consumed queue:
 * - ok: the publish was confirmed, and the copy was consumed (worked on, or dead-lettered or
 *   dropped on purpose);
 * - lost: confirmed, and never consumed;
 * - duplicated: worked on more often than copies were expected there;
 * - recovered: the publish's outcome is unknown (the confirm was lost in a fault, or the
 *   broker nacked it), yet the copy was consumed;
 * - unconfirmed-lost: outcome unknown, and not consumed: the broker may never have had it;
 * - unexpected (per message): worked on where no copy of it was expected.
 *
 * Copies never sent (given up before a connection came back) were never published, and are
 * not counted. A loss the scenario causes on purpose (a broker restart that drops what it
 * kept in memory) is said so: `intended`.
 */
import type { Ledger } from "./ledger.js";

export const CHECKER_CATEGORIES = [
  "ok",
  "lost",
  "duplicated",
  "unexpected",
  "recovered",
  "unconfirmed-lost",
] as const;
export type CheckerCategory = (typeof CHECKER_CATEGORIES)[number];

export interface CheckerReport {
  counts: Record<CheckerCategory, number>;
  /** The first few ids of each category (`id` or `id in queue` when several queues are consumed). */
  samples: Record<CheckerCategory, string[]>;
  /** Lost copies per consumed queue. */
  lostIn: Record<string, number>;
  /** Why the lost copies were lost on purpose, when every one of them was. */
  intended?: string | undefined;
}

/** A broker restart of the run, and what survived it. */
export interface Restart {
  atMs: number;
  /** The broker kept a data directory: durable queues and persistent messages survive. */
  dataDir: boolean;
}

export interface CheckOptions {
  restarts: readonly Restart[];
  /** Whether a queue is durable (survives a restart with a data directory). */
  durable(queue: string): boolean;
  /** Ids kept per category (default 5). */
  samples?: number;
}

const none = <T>(v: () => T) =>
  Object.fromEntries(CHECKER_CATEGORIES.map((c) => [c, v()])) as Record<CheckerCategory, T>;

export function check(ledger: Ledger, o: CheckOptions): CheckerReport {
  const counts = none(() => 0);
  const samples = none((): string[] => []);
  const keep = o.samples ?? 5;
  const several = ledger.consumed.size > 1;
  const add = (c: CheckerCategory, id: string, queue: string) => {
    counts[c] += 1;
    if (samples[c].length < keep) samples[c].push(several ? `${id} in ${queue}` : id);
  };
  let volatileLost = 0;
  const lostIn: Record<string, number> = {};
  for (const queue of ledger.consumed) {
    const processed = ledger.processedById.get(queue);
    const settled = ledger.settledById(queue);
    for (const [id, expected] of ledger.expectedIn(queue)) {
      const outcome = ledger.outcomes.get(id);
      if (outcome === "unsent") continue;
      const worked = processed?.get(id) ?? 0;
      const c = categoryOf(worked, expected, worked > 0 || (settled.get(id) ?? 0) > 0, outcome);
      add(c, id, queue);
      if (c !== "lost") continue;
      lostIn[queue] = (lostIn[queue] ?? 0) + 1;
      const volatile = (r: Restart) => !r.dataDir || ledger.transient.has(id) || !o.durable(queue);
      if (o.restarts.some(volatile)) volatileLost += 1;
    }
    for (const id of ledger.unexpected.get(queue) ?? []) add("unexpected", id, queue);
  }
  const intended =
    counts.lost > 0 && volatileLost === counts.lost ? intendedWhy(o.restarts) : undefined;
  return { counts, samples, lostIn, ...(intended ? { intended } : {}) };
}

/** One expected copy's category: worked on how often, consumed at all, and the publish's outcome. */
function categoryOf(
  worked: number,
  expected: number,
  consumed: boolean,
  outcome: string | undefined,
): CheckerCategory {
  const confirmed = outcome === "confirmed";
  if (worked > expected) return "duplicated";
  if (consumed) return confirmed ? "ok" : "recovered";
  return confirmed ? "lost" : "unconfirmed-lost";
}

function intendedWhy(restarts: readonly Restart[]): string {
  const at = restarts.map((r) => `${(r.atMs / 1000).toFixed(1)}s`).join(", ");
  return restarts.some((r) => !r.dataDir)
    ? `the broker restarted (at ${at}) without a data directory: every message it held was in memory only, and went with it (give play --data-dir to keep durable queues' persistent messages)`
    : `the broker restarted (at ${at}): transient messages (delivery mode 1) and messages in non-durable queues do not survive a restart, by design; publish them persistent to durable queues to keep them`;
}

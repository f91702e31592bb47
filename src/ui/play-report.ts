/**
 * The report at the end of `eventlab play <scenario>`: what was published, where it went,
 * what the consumers made of it, latency, and what was lost (0 unless on purpose). Messages
 * that were in the queues before the run are told apart: purged, or kept and counted apart.
 */

import type { PlayReport } from "../lab/runner.js";
import { count, elapsed } from "./format.js";
import { table } from "./table.js";
import type { Theme } from "./theme.js";

/**
 * What happened to messages from before the run: purged first (--purge), or consumed and
 * counted apart (--keep). Nothing when there were none.
 */
export function leftoverLines(
  r: {
    purged: Record<string, number>;
    preexisting: number;
    queues: Array<{ name: string; preexisting: number }>;
  },
  theme: Theme,
): string[] {
  const out: string[] = [];
  const purged = Object.entries(r.purged);
  if (purged.length > 0) {
    const total = purged.reduce((n, [, k]) => n + k, 0);
    out.push(
      theme.dim(
        `purged ${count(total)} message${total === 1 ? "" : "s"} from before this run first: ${purged.map(([q, n]) => `${q} ${count(n)}`).join(", ")}`,
      ),
    );
  }
  if (r.preexisting > 0) {
    const per = r.queues.filter((q) => q.preexisting > 0);
    out.push(
      theme.warn(
        `preexisting ${count(r.preexisting)}: consumed messages from before this run, not counted above (${per.map((q) => `${q.name} ${count(q.preexisting)}`).join(", ")})`,
      ),
    );
  }
  return out;
}

const STOPPED: Record<PlayReport["stoppedBy"], string> = {
  done: "done",
  duration: "stopped at its time limit",
  interrupted: "interrupted",
  idle: "stopped: nothing moved for a while",
  "connection-lost": "stopped: a connection was lost and did not come back",
};

export function renderPlayReport(r: PlayReport, theme: Theme): string {
  const out: string[] = [];
  out.push(
    `${theme.bold(r.scenario)}: ${STOPPED[r.stoppedBy]} in ${elapsed(r.elapsedMs)} · published ${count(r.published)} · confirmed ${count(r.confirmed)}${r.returned ? ` · returned ${count(r.returned)}` : ""}${r.nacked ? ` · nacked ${count(r.nacked)}` : ""}${r.reconnects ? theme.warn(` · reconnected ${r.reconnects === 1 ? "once" : `${count(r.reconnects)} times`}`) : ""}`,
  );
  if (r.error !== undefined) out.push(theme.error(r.error));
  out.push("");
  const cols = ["routed", "processed", "dup", "retried", "dlx", "redel", "ooo", "lost"];
  const rows = r.queues.map((q) =>
    [
      q.routed,
      q.processed,
      q.duplicates,
      q.retried,
      q.deadLettered,
      q.redelivered,
      q.outOfOrder,
      q.lost,
    ].map(count),
  );
  const [header = "", ...lines] = table(
    [["queue", ...cols], ...r.queues.map((q, i) => [q.name, ...(rows[i] ?? [])])],
    { gap: "   ", align: ["left", ...cols.map(() => "right" as const)] },
  );
  out.push(theme.bold(header));
  lines.forEach((line, i) => {
    out.push((r.queues[i]?.lost ?? 0) > 0 ? theme.error(line) : line);
  });
  out.push("");
  for (const c of r.consumers) {
    out.push(
      `${c.name} ×${c.instances} on ${c.queue}: processed ${count(c.processed)}, failed ${count(c.failed)}, retried ${count(c.retried)}${c.preexisting ? `, preexisting ${count(c.preexisting)}` : ""}, breaker ${c.breaker === "open" ? theme.warn("OPEN") : c.breaker}${c.state === "killed" ? theme.warn(" (killed)") : ""}`,
    );
  }
  if (r.events.length > 0) {
    out.push(
      theme.dim(
        `events: ${r.events.slice(0, 6).join(" · ")}${r.events.length > 6 ? ` · … ${r.events.length - 6} more (--json has them all)` : ""}`,
      ),
    );
  }
  if (r.latencyMs) {
    const l = r.latencyMs;
    out.push(
      `latency (publish → processed): p50 ${l.p50} ms · p90 ${l.p90} ms · p99 ${l.p99} ms · max ${l.max} ms`,
    );
  }
  const left = Object.entries(r.unconsumed);
  if (left.length > 0) {
    out.push(
      theme.dim(
        `left in queues this scenario does not consume: ${left.map(([q, n]) => `${q} ${count(n)}`).join(", ")}`,
      ),
    );
  }
  out.push(...leftoverLines(r, theme));
  if (r.dropped > 0) {
    out.push(
      theme.dim(
        `${count(r.dropped)} rejected to a queue without a dead-letter exchange: dropped, on purpose`,
      ),
    );
  }
  out.push("");
  const lost =
    r.lost === 0
      ? `${theme.ok(theme.symbols.ok)} lost 0: every routed copy was processed, deduplicated, dead-lettered or dropped on purpose`
      : `${theme.error(theme.symbols.fail)} lost ${count(r.lost)}${r.lostNote ? ` (${r.lostNote})` : ""}`;
  out.push(lost);
  return `${out.join("\n")}\n`;
}

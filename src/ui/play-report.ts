/**
 * The report at the end of `eventlab play <scenario>`: what was published, where it went,
 * what the consumers made of it, latency, and what was lost (0 unless on purpose). Messages
 * that were in the queues before the run are told apart: purged, or kept and counted apart.
 */

import { CHECKER_CATEGORIES } from "../lab/checker.js";
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
  out.push(...violationLines(r, theme));
  if (r.events.length > 0) {
    out.push(
      theme.dim(
        `events: ${r.events.slice(0, 6).join(" · ")}${r.events.length > 6 ? ` · … ${r.events.length - 6} more (--json has them all)` : ""}`,
      ),
    );
  }
  out.push(...faultLines(r, theme));
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
  out.push("", ...checkerLines(r, theme));
  const lost =
    r.lost === 0
      ? `${theme.ok(theme.symbols.ok)} lost 0: every confirmed copy was processed, deduplicated, dead-lettered or dropped on purpose`
      : r.lostIntended
        ? `${theme.warn(theme.symbols.warn)} lost ${count(r.lost)}, on purpose: ${r.lostNote}`
        : `${theme.error(theme.symbols.fail)} lost ${count(r.lost)}${r.lostNote ? ` (${r.lostNote})` : ""}`;
  out.push(lost);
  return `${out.join("\n")}\n`;
}

/** The faults on a timeline, and the time publishers spent blocked. */
function faultLines(r: PlayReport, theme: Theme): string[] {
  if (r.faults.length === 0 && r.blockedMs === 0) return [];
  const at = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const out = [theme.bold("faults")];
  for (const f of r.faults) {
    const span = f.endMs !== undefined && f.endMs > f.atMs ? `–${at(f.endMs)}` : "";
    out.push(`  ${at(f.atMs)}${span}`.padEnd(16) + f.what);
  }
  if (r.blockedMs > 0)
    out.push(theme.warn(`  publishers blocked by the broker for ${elapsed(r.blockedMs)}`));
  return out;
}

/** The delivery checker's counts, and the first ids of each category that is not ok. */
function checkerLines(r: PlayReport, theme: Theme): string[] {
  const c = r.checker;
  const parts = CHECKER_CATEGORIES.map((k) => {
    const n = c.counts[k];
    const text = `${k} ${count(n)}`;
    if (n === 0 || k === "ok" || k === "recovered") return text;
    return k === "lost" && r.lostIntended ? theme.warn(text) : theme.error(text);
  });
  const out = [
    `checker: ${parts.join(" · ")}${r.uncertain ? theme.dim(` (${count(r.uncertain)} published with no confirm)`) : ""}`,
  ];
  for (const k of CHECKER_CATEGORIES) {
    if (k === "ok" || c.samples[k].length === 0) continue;
    out.push(
      theme.dim(
        `  ${k}: ${c.samples[k].join(", ")}${c.counts[k] > c.samples[k].length ? ", …" : ""}`,
      ),
    );
  }
  return out;
}

/** Consumers with a schema: the messages that broke it, per consumer, and the first few. */
function violationLines(r: PlayReport, theme: Theme): string[] {
  const v = r.violations;
  if (v === undefined) return [];
  const per = Object.entries(v.byConsumer)
    .map(([name, n]) => `${name} ${count(n)}`)
    .join(", ");
  if (v.total === 0)
    return [theme.ok(`${theme.symbols.ok} contracts: every message conformed (${per})`)];
  const out = [
    theme.error(
      `✗ contracts: ${count(v.total)} message${v.total === 1 ? "" : "s"} broke a consumer's schema (${per})`,
    ),
  ];
  for (const e of v.examples) {
    const shown = e.errors.slice(0, 3).map((x) => `${x.path} ${x.message}`);
    const more = e.errors.length > 3 ? ` (and ${e.errors.length - 3} more)` : "";
    out.push(`  ${e.consumer}: ${e.messageId ?? "(no message id)"}: ${shown.join("; ")}${more}`);
  }
  return out;
}

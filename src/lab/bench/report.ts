/**
 * A bench run's report: one JSON-ready object, and the views of it (the summary a person
 * reads, a line per second, the CSV of the seconds).
 */
import { count, rate } from "../../ui/format.js";
import type { EngineResult, SecondStats } from "./engine.js";
import { type LatencySummary, percentileCurve, summarize } from "./histogram.js";
import type { QueueType } from "./types.js";

export interface BenchSettings {
  producers: number;
  consumers: number;
  queues: string[];
  queueType: QueueType;
  /** Body bytes; undefined with a template. */
  size?: number | undefined;
  template?: string | undefined;
  /** Per producer; undefined: unlimited. */
  rate?: number | undefined;
  confirm: number;
  persistent: boolean;
  prefetch: number;
  multiAck: number;
  autoAck: boolean;
  pmessages?: number | undefined;
  cmessages?: number | undefined;
  durationMs?: number | undefined;
  threads: number;
  /** "embedded" or the URLs, passwords masked. */
  broker: string;
}

export interface BenchReport {
  kind: "eventlab-bench";
  version: 1;
  startedAt: string;
  settings: BenchSettings;
  elapsedMs: number;
  producingMs: number;
  interrupted: boolean;
  totals: {
    sent: number;
    confirmed: number;
    nacked: number;
    received: number;
    missing: number | null;
    duplicated: number;
    foreign: number;
  };
  missingNote?: string;
  /**
   * sentPerSecond: the producers' rates added up, each its published count over its active
   * time (first publish to stop), so polling and draining do not dilute it.
   */
  rates: { sentPerSecond: number; confirmedPerSecond: number; receivedPerSecond: number };
  /** Each producer's achieved rate (msg/s). */
  producerRates: number[];
  latencyMs: LatencySummary | null;
  confirmLatencyMs: LatencySummary | null;
  percentiles: {
    latency: Array<{ percentile: number; ms: number }>;
    confirm: Array<{ percentile: number; ms: number }>;
  };
  seconds: SecondStats[];
}

const perSecond = (n: number, ms: number) => (ms > 0 ? Math.round((n / ms) * 1000 * 10) / 10 : 0);

export function buildReport(
  settings: BenchSettings,
  startedAt: Date,
  r: EngineResult,
): BenchReport {
  const report: BenchReport = {
    kind: "eventlab-bench",
    version: 1,
    startedAt: startedAt.toISOString(),
    settings,
    elapsedMs: Math.round(r.elapsedMs),
    producingMs: Math.round(r.producingMs),
    interrupted: r.interrupted,
    totals: {
      sent: r.sent,
      confirmed: r.confirmed,
      nacked: r.nacked,
      received: r.received,
      missing: r.missing,
      duplicated: r.duplicated,
      foreign: r.foreign,
    },
    producerRates: r.producers.map((p) => perSecond(p.published, p.activeMs)),
    rates: {
      sentPerSecond:
        Math.round(
          r.producers.reduce(
            (sum, p) => sum + (p.activeMs > 0 ? (p.published / p.activeMs) * 1000 : 0),
            0,
          ) * 10,
        ) / 10,
      confirmedPerSecond: perSecond(r.confirmed, r.producingMs),
      receivedPerSecond: perSecond(r.received, r.elapsedMs),
    },
    latencyMs: summarize(r.latency),
    confirmLatencyMs: summarize(r.confirmLatency),
    percentiles: {
      latency: percentileCurve(r.latency),
      confirm: percentileCurve(r.confirmLatency),
    },
    seconds: r.seconds.map((s) => ({
      ...s,
      sentPerSecond: Math.round(s.sentPerSecond),
      receivedPerSecond: Math.round(s.receivedPerSecond),
      confirmedPerSecond: Math.round(s.confirmedPerSecond),
    })),
  };
  if (r.missingNote !== undefined) report.missingNote = r.missingNote;
  return report;
}

const msText = (v: number | undefined) =>
  v === undefined ? "–" : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);

/** The live line of one second, for stderr. */
export function secondLine(s: SecondStats, confirms: boolean): string {
  const l = s.latency;
  const parts = [
    `${(Number.isInteger(s.second) ? String(s.second) : s.second.toFixed(1)).padStart(4)}s`,
    `sent ${rate(s.sentPerSecond).padStart(7)}/s`,
    `received ${rate(s.receivedPerSecond).padStart(7)}/s`,
  ];
  if (confirms) parts.push(`confirmed ${rate(s.confirmedPerSecond).padStart(7)}/s`);
  parts.push(
    l
      ? `latency ms p50 ${msText(l.p50)} p75 ${msText(l.p75)} p95 ${msText(l.p95)} p99 ${msText(l.p99)} max ${msText(l.max)}`
      : "latency –",
  );
  return parts.join("  ");
}

/** What a person reads at the end (stdout). */
export function summaryText(r: BenchReport): string {
  const s = r.settings;
  const t = r.totals;
  const lines: string[] = [];
  const body =
    s.template !== undefined ? `template ${s.template}` : `${count(s.size ?? 0)} B bodies`;
  lines.push(
    `bench: ${count(s.producers)} producer(s), ${count(s.consumers)} consumer(s), ${count(s.queues.length)} ${s.queueType} queue(s), ${body}, ${s.confirm > 0 ? `confirm window ${s.confirm}` : "no confirms"}${s.rate !== undefined ? `, ${rate(s.rate)} msg/s per producer` : ""}`,
  );
  lines.push(`broker: ${s.broker}`);
  lines.push(
    `time: ${(r.elapsedMs / 1000).toFixed(1)} s (producing ${(r.producingMs / 1000).toFixed(1)} s)${r.interrupted ? ", interrupted" : ""}`,
  );
  lines.push("");
  lines.push(
    `sent       ${count(t.sent).padStart(12)}   ${rate(r.rates.sentPerSecond).padStart(9)} msg/s`,
  );
  if (s.confirm > 0) {
    lines.push(
      `confirmed  ${count(t.confirmed).padStart(12)}   ${rate(r.rates.confirmedPerSecond).padStart(9)} msg/s`,
    );
    lines.push(`nacked     ${count(t.nacked).padStart(12)}`);
  }
  lines.push(
    `received   ${count(t.received).padStart(12)}   ${rate(r.rates.receivedPerSecond).padStart(9)} msg/s`,
  );
  lines.push(
    `missing    ${(t.missing === null ? "–" : count(t.missing)).padStart(12)}${t.missing === null && r.missingNote ? `   (${r.missingNote})` : ""}`,
  );
  lines.push(`duplicated ${count(t.duplicated).padStart(12)}`);
  if (t.foreign > 0)
    lines.push(`foreign    ${count(t.foreign).padStart(12)}   (not from this run)`);
  lines.push("");
  const head = ["", "p50", "p75", "p95", "p99", "p99.9", "max", "mean"];
  const row = (name: string, l: LatencySummary | null) =>
    l
      ? [name, l.p50, l.p75, l.p95, l.p99, l.p999, l.max, l.mean].map((v, i) =>
          i === 0 ? String(v).padEnd(24) : msText(v as number).padStart(8),
        )
      : [name.padEnd(24), "   (none)"];
  lines.push([head[0]?.padEnd(24), ...head.slice(1).map((h) => h.padStart(8))].join(""));
  lines.push(row("latency ms (pub → recv)", r.latencyMs).join(""));
  if (s.confirm > 0) lines.push(row("confirm ms (pub → ack)", r.confirmLatencyMs).join(""));
  return `${lines.join("\n")}\n`;
}

export const CSV_HEADER =
  "second,sent_per_s,received_per_s,confirmed_per_s,latency_p50_ms,latency_p75_ms,latency_p95_ms,latency_p99_ms,latency_max_ms,confirm_p50_ms,confirm_p99_ms";

/** One row per second, with a header row. */
export function secondsCsv(seconds: readonly SecondStats[]): string {
  const cell = (v: number | undefined) => (v === undefined ? "" : String(v));
  const rows = seconds.map((s) =>
    [
      s.second,
      Math.round(s.sentPerSecond),
      Math.round(s.receivedPerSecond),
      Math.round(s.confirmedPerSecond),
      s.latency?.p50,
      s.latency?.p75,
      s.latency?.p95,
      s.latency?.p99,
      s.latency?.max,
      s.confirmLatency?.p50,
      s.confirmLatency?.p99,
    ]
      .map(cell)
      .join(","),
  );
  return `${[CSV_HEADER, ...rows].join("\n")}\n`;
}

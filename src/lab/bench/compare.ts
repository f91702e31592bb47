/**
 * `eventlab bench --compare a.json b.json`: two runs side by side, with b ÷ a for each figure.
 */
import { readFile } from "node:fs/promises";
import { UsageError } from "../../errors.js";
import { rate } from "../../ui/format.js";
import type { BenchReport } from "./report.js";

export interface CompareRow {
  figure: string;
  a: number | null;
  b: number | null;
  /** b ÷ a; null when either is missing or a is 0. */
  ratio: number | null;
  /** Whether a higher figure is better (throughput) or lower (latency). */
  better: "higher" | "lower";
}

export async function readReport(file: string): Promise<BenchReport> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new UsageError(
      `--compare: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      "give two files written by `eventlab bench --json > run.json`",
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(
      `--compare: ${file} is not JSON`,
      "give two files written by `eventlab bench --json > run.json`",
    );
  }
  if ((parsed as { kind?: unknown })?.kind !== "eventlab-bench")
    throw new UsageError(
      `--compare: ${file} is not an eventlab bench report`,
      "give two files written by `eventlab bench --json > run.json`",
    );
  return parsed as BenchReport;
}

export function compareReports(a: BenchReport, b: BenchReport): CompareRow[] {
  const rows: CompareRow[] = [];
  const add = (
    figure: string,
    x: number | null | undefined,
    y: number | null | undefined,
    better: CompareRow["better"],
  ) => {
    const av = x ?? null;
    const bv = y ?? null;
    rows.push({
      figure,
      a: av,
      b: bv,
      ratio: av === null || bv === null || av === 0 ? null : Math.round((bv / av) * 1000) / 1000,
      better,
    });
  };
  add("sent msg/s", a.rates.sentPerSecond, b.rates.sentPerSecond, "higher");
  add("received msg/s", a.rates.receivedPerSecond, b.rates.receivedPerSecond, "higher");
  add("confirmed msg/s", a.rates.confirmedPerSecond, b.rates.confirmedPerSecond, "higher");
  for (const key of ["p50", "p75", "p95", "p99", "p999", "max"] as const) {
    add(
      `latency ${key === "p999" ? "p99.9" : key} ms`,
      a.latencyMs?.[key],
      b.latencyMs?.[key],
      "lower",
    );
  }
  for (const key of ["p50", "p99"] as const) {
    add(`confirm ${key} ms`, a.confirmLatencyMs?.[key], b.confirmLatencyMs?.[key], "lower");
  }
  add("missing", a.totals.missing, b.totals.missing, "lower");
  add("duplicated", a.totals.duplicated, b.totals.duplicated, "lower");
  return rows;
}

export function compareText(rows: CompareRow[], aName: string, bName: string): string {
  const fmt = (v: number | null) => (v === null ? "–" : Number.isInteger(v) ? rate(v) : String(v));
  const w = Math.max(12, aName.length, bName.length) + 2;
  const lines = [
    `${"".padEnd(18)}${aName.padStart(w)}${bName.padStart(w)}${"b ÷ a".padStart(10)}`,
    ...rows.map(
      (r) =>
        `${r.figure.padEnd(18)}${fmt(r.a).padStart(w)}${fmt(r.b).padStart(w)}${(r.ratio === null ? "–" : `${r.ratio.toFixed(3)}×`).padStart(10)}`,
    ),
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * `eventlab play --ci` and `eventlab test`: a scenario run without the live view, checked
 * against what it promises (its expect: entries and thresholds:, lab/expectations.ts) and
 * against what every run must show (nothing lost unintended, nothing nacked, contracts kept).
 * One line per check on stdout, the JSON report with its checks under --json, JUnit XML under
 * --junit, and exit code 1 when any check fails.
 */
import type { ScenarioConfig } from "../../config/schema.js";
import type { Context } from "../../context.js";
import { ExitCode } from "../../errors.js";
import { type CheckResult, Expectations, type SchemaLoader } from "../../lab/expectations.js";
import type { PublishObserver } from "../../lab/state.js";
import type { PlayReport } from "../../lab/types.js";
import { type JunitSuite, junitXml } from "../../ui/junit.js";
import { renderPlayReport } from "../../ui/play-report.js";
import type { PlayOptions } from "../play.js";
import { writeOutputFile } from "./output-file.js";

/** One run of a scenario (run/play.ts's playScenario), told of every publish. */
export type ObservedRun = (
  observer: PublishObserver,
) => Promise<{ report: PlayReport; embedded: boolean }>;

/** The scenario a checked run plays: its name, where it comes from, and its config. */
export interface CheckedPlay {
  name: string;
  source: string;
  scenario: ScenarioConfig;
}

/** A check every run has, besides the scenario's own. */
export type RunCheck = Omit<CheckResult, "kind"> & { kind: CheckResult["kind"] | "run" };

export interface CheckedRun {
  scenario: string;
  source: string;
  embedded: boolean;
  report: PlayReport;
  checks: RunCheck[];
  startedAt: string;
}

/** What every run must show: it ran to its end, lost nothing unintended, had no nacks. */
export function runChecks(report: PlayReport): RunCheck[] {
  const check = (
    name: string,
    ok: boolean,
    expected: string,
    actual: string,
    message: string,
    ids: string[] = [],
  ) => ({
    name,
    kind: "run" as const,
    ok,
    expected,
    actual,
    ids: ok ? [] : ids,
    message: ok ? "" : message,
  });
  const out: RunCheck[] = [
    check(
      "the run ends by itself",
      report.stoppedBy === "done" || report.stoppedBy === "duration",
      "done or duration",
      report.stoppedBy,
      `the run stopped: ${report.stoppedBy}${report.error ? ` (${report.error})` : ""}`,
    ),
    check(
      "no message lost",
      report.lost === 0 || report.lostIntended === true,
      "0",
      String(report.lost),
      `${report.lost} messages confirmed by the broker were never consumed`,
      report.checker.samples.lost ?? [],
    ),
    check(
      "every publish confirmed",
      report.nacked === 0,
      "0 nacked",
      `${report.nacked} nacked`,
      `the broker refused (nacked) ${report.nacked} messages`,
    ),
  ];
  const violations = report.violations;
  if (violations !== undefined) {
    out.push(
      check(
        "message contracts hold",
        violations.total === 0,
        "0 violations",
        `${violations.total} violations`,
        `${violations.total} messages broke their consumer's schema (${Object.entries(
          violations.byConsumer,
        )
          .map(([c, n]) => `${c} ${n}`)
          .join(", ")})`,
        violations.examples.flatMap((e) => (e.messageId ? [e.messageId] : [])),
      ),
    );
  }
  return out;
}

/** Run `play` once, checked. */
export async function playChecked(
  play: CheckedPlay,
  loadSchema: SchemaLoader,
  runOnce: ObservedRun,
): Promise<CheckedRun> {
  const expectations = await Expectations.of(play.name, play.scenario, loadSchema);
  const startedAt = new Date().toISOString();
  const { report, embedded } = await runOnce(expectations);
  const checks: RunCheck[] = [...expectations.evaluate(report), ...runChecks(report)];
  return { scenario: play.name, source: play.source, embedded, report, checks, startedAt };
}

/** The check lines a person reads: ✓ or ✗, the name, and for a failure why and which ids. */
export function renderChecks(ctx: Context, run: CheckedRun): string {
  const { theme } = ctx;
  const lines = ["", theme.bold(`checks of ${run.scenario}`)];
  for (const c of run.checks) {
    if (c.ok) {
      lines.push(`  ${theme.symbols.ok} ${c.name} ${theme.dim(`(${c.actual})`)}`);
      continue;
    }
    lines.push(`  ${theme.symbols.fail} ${c.name}`);
    lines.push(`      ${c.message}`);
    if (c.ids.length > 0) lines.push(theme.dim(`      ids: ${c.ids.join(", ")}`));
  }
  const failed = run.checks.filter((c) => !c.ok).length;
  lines.push(
    failed === 0
      ? theme.ok(`${run.checks.length} checks passed`)
      : theme.error(`${failed} of ${run.checks.length} checks failed`),
  );
  return `${lines.join("\n")}\n`;
}

/** Print a checked run: the report and the checks, or one JSON object with both. */
export function printChecked(ctx: Context, o: PlayOptions, run: CheckedRun): void {
  if (o.json) {
    const broker = run.embedded ? "embedded" : "url";
    ctx.io.out(
      `${JSON.stringify({ broker, source: run.source, ...run.report, checks: run.checks })}\n`,
    );
    return;
  }
  ctx.io.out(renderPlayReport(run.report, ctx.theme));
  ctx.io.out(renderChecks(ctx, run));
}

export function junitSuites(runs: readonly CheckedRun[]): JunitSuite[] {
  return runs.map((r) => ({
    name: r.scenario,
    timeSeconds: r.report.elapsedMs / 1000,
    timestamp: r.startedAt,
    cases: r.checks.map((c) => ({
      name: c.name,
      classname: `${r.scenario}.${c.kind}`,
      ok: c.ok,
      message: c.message,
      details: [
        `expected: ${c.expected}`,
        `actual: ${c.actual}`,
        ...(c.ids.length > 0 ? [`message ids: ${c.ids.join(", ")}`] : []),
      ].join("\n"),
    })),
    output: `published ${r.report.published}, confirmed ${r.report.confirmed}, consumed ${r.report.consumed}, lost ${r.report.lost}, stopped by ${r.report.stoppedBy}`,
  }));
}

export async function writeJunit(
  ctx: Context,
  file: string,
  runs: readonly CheckedRun[],
): Promise<void> {
  await writeOutputFile(ctx, file, junitXml(junitSuites(runs)), `--junit ${file}`);
  ctx.io.err(ctx.theme.dim(`JUnit XML written to ${file}`));
}

/** Exit code of checked runs: interrupted wins, then any failed check. */
export function settleChecked(ctx: Context, runs: readonly CheckedRun[]): void {
  if (runs.some((r) => r.report.stoppedBy === "interrupted")) ctx.setExitCode(ExitCode.interrupted);
  else if (runs.some((r) => r.checks.some((c) => !c.ok))) ctx.setExitCode(ExitCode.failure);
}

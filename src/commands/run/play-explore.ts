/**
 * `eventlab play <scenario> --explore N`: run the scenario up to N times, each with a fault
 * schedule drawn from its `explore:` space (deterministic by --seed), each on a fresh
 * broker; stop at the first run that breaks an expectation (a message confirmed and lost, a
 * duplicate where the consumers dedupe, a run that lost its connection for good); shrink its
 * schedule to a minimal one that still fails; and write a config with that schedule as a
 * scenario, which `eventlab play` replays.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { parse, stringify } from "yaml";
import type { Config, ScenarioConfig } from "../../config/schema.js";
import type { Context } from "../../context.js";
import { EventlabError, ExitCode, UsageError } from "../../errors.js";
import { explore, spaceOf } from "../../lab/explore.js";
import { configOf, describeFault, type Fault } from "../../lab/faults.js";
import type { PlayReport } from "../../lab/types.js";
import { elapsed } from "../../ui/format.js";
import type { PlayOptions } from "../play.js";

/** What an exploration explores: the scenario, and the config text it comes from. */
export interface Explored {
  name: string;
  what: string;
  source: string;
  roundTrip: boolean;
  scenario: ScenarioConfig;
  config: Config;
  /** The text of the config it comes from: a preset's, or the config file's. */
  text(): Promise<string>;
}

/** One run of the scenario with these faults, on a fresh broker (on `dataDir` if given). */
export type RunOnce = (
  faults: Fault[],
  dataDir: string | undefined,
  record?: string | undefined,
) => Promise<PlayReport>;

const DEFAULT_OUT = "eventlab.explore.yaml";

/** Why a run failed, or undefined when it held. */
export function verdictOf(report: PlayReport, dedupe: boolean): string | undefined {
  if (report.lost > 0 && !report.lostIntended) {
    return `lost ${report.lost} (${report.checker.samples.lost.slice(0, 3).join(", ")})`;
  }
  const dup = report.checker.counts.duplicated;
  if (dedupe && dup > 0) {
    return `duplicated ${dup} although the consumers dedupe (${report.checker.samples.duplicated.slice(0, 3).join(", ")})`;
  }
  if (report.stoppedBy === "connection-lost") return `connection lost for good: ${report.error}`;
  return undefined;
}

const schedule = (faults: readonly Fault[]) =>
  faults.length === 0
    ? "no faults"
    : faults.map((f) => `${describeFault(f)} at ${elapsed(f.at)}`).join("; ");

export async function runExplore(
  ctx: Context,
  o: PlayOptions,
  play: Explored,
  runOnce: RunOnce,
): Promise<void> {
  const { io, theme } = ctx;
  const space = play.scenario.explore;
  if (!space || play.roundTrip) {
    throw new UsageError(
      `scenario ${play.what} has no explore: section to draw fault schedules from`,
      "add one, e.g. explore: {faults: [{consumer: billing, action: cut}, {broker: restart}], at: 0s..3s, max: 2}",
    );
  }
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
  const runs = o.explore ?? 1;
  const dedupe = play.scenario.consumers.some(
    (c) => play.config.consumers[c]?.dedupe !== undefined,
  );
  const started = Date.now();
  const say = (line: string) => {
    if (!o.json) io.err(line);
  };
  say(
    `${theme.symbols.info} exploring ${theme.bold(play.what)} from ${play.source}: up to ${runs} runs, seed ${seed} (again: --seed ${seed})`,
  );
  const base = o.dataDir !== undefined ? path.resolve(ctx.cwd, o.dataDir) : undefined;
  let n = 0;
  const verdicts = new Map<number, string | undefined>();
  let shrinking = false;
  let explored = 0;
  // While shrinking, a smaller schedule counts as failing only when it fails twice in a row:
  // timing decides some failures, and the schedule written at the end must replay.
  const fails = async (faults: Fault[]): Promise<boolean> => {
    const failed = await once(faults);
    if (!shrinking) {
      shrinking = failed;
      explored = n;
      return failed;
    }
    return failed && (await once(faults));
  };
  const once = async (faults: Fault[], record?: string): Promise<boolean> => {
    n += 1;
    const dir = base ? await mkdtemp(path.join(base, "run-")) : undefined;
    try {
      const report = await runOnce(faults, dir, record);
      if (ctx.signal.aborted) throw new EventlabError("interrupted", "exploration interrupted");
      const why = verdictOf(report, dedupe);
      verdicts.set(n, why);
      return why !== undefined;
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  };
  const result = await explore(spaceOf(space), seed, runs, fails, {
    onRun: (i, faults, failed, phase) => {
      const mark = failed ? theme.error("FAIL") : theme.ok("ok");
      const what = phase === "explore" ? `run ${i + 1}/${runs}` : `shrink ${i + 1}`;
      const why = failed ? `: ${verdicts.get(n)}` : "";
      say(`  ${what.padEnd(12)} ${mark}  ${schedule(faults)}${why}`);
    },
  });
  const tookMs = Date.now() - started;
  if (!result.found || !result.shrunk || !result.original) {
    if (o.json) io.out(`${JSON.stringify({ found: false, runs: n, seed, elapsedMs: tookMs })}\n`);
    else say(`${theme.ok(theme.symbols.ok)} no failure in ${n} runs (${elapsed(tookMs)})`);
    return;
  }
  const shrunk = result.shrunk.schedule;
  const out = path.resolve(ctx.cwd, o.exploreOut ?? DEFAULT_OUT);
  const name = `${play.name}-shrunk`;
  await writeFile(out, await replayConfig(play, name, shrunk, seed), "utf8");
  const rel = path.relative(ctx.cwd, out) || out;
  const total = n;
  // --record: the shrunk schedule once more, with the broker's ledger written for `why`.
  const recorded = o.record === undefined ? undefined : await recordReplay(o.record);
  async function recordReplay(file: string) {
    const again = await once(shrunk, file);
    const lost = verdicts.get(n);
    return { file, failedAgain: again, verdict: lost };
  }
  if (o.json) {
    io.out(
      `${JSON.stringify({
        found: true,
        seed,
        runs: total,
        foundAt: (result.foundAt ?? 0) + 1,
        original: result.original.map(configOf),
        shrunk: shrunk.map(configOf),
        shrinkRuns: total - explored,
        file: rel,
        scenario: name,
        elapsedMs: tookMs,
        ...(recorded ? { record: recorded.file, recordFailed: recorded.failedAgain } : {}),
      })}\n`,
    );
  } else {
    io.out(
      [
        `${theme.error(theme.symbols.fail)} failure found at run ${(result.foundAt ?? 0) + 1} (${schedule(result.original)})`,
        `  shrunk in ${total - explored} more runs to ${shrunk.length === 1 ? "one fault" : `${shrunk.length} faults`}: ${schedule(shrunk)}`,
        `  ${total} runs in ${elapsed(tookMs)}`,
        `  replay: eventlab --config ${rel} play ${name} --seed ${seed}`,
        ...(recorded
          ? [
              `  recorded the shrunk schedule once more in ${recorded.file}: ${recorded.verdict ?? "it held this time"}`,
            ]
          : []),
        "",
      ].join("\n"),
    );
  }
  ctx.setExitCode(ExitCode.failure);
}

/** The config the failure came from, with one scenario: the shrunk schedule as its faults. */
async function replayConfig(
  play: Explored,
  name: string,
  faults: readonly Fault[],
  seed: number,
): Promise<string> {
  const doc = (parse(await play.text()) ?? {}) as {
    scenarios?: Record<string, Record<string, unknown>>;
  };
  const scenarios = doc.scenarios ?? {};
  const { explore: _drop, ...scenario } = scenarios[play.name] ?? {};
  doc.scenarios = {
    [name]: {
      ...scenario,
      description: `${play.name}, with the fault schedule eventlab play --explore shrank (seed ${seed})`,
      faults: faults.map(configOf),
    },
  };
  return `# Written by eventlab play ${play.name} --explore (seed ${seed}): replays its shrunk failure.\n# eventlab --config <this file> play ${name} --seed ${seed}\n${stringify(doc)}`;
}

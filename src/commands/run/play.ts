/**
 * What `eventlab play` does once its flags are parsed: find what to play (a scenario of the
 * config, a preset, or a round trip of the config's templates), start the embedded broker
 * unless --url names one, run it on the playground's runner with a live view, and print the
 * report. A round trip is a scenario too, generated from the templates: same runner, same
 * live view, same report.
 */

import { type RunningBroker, startBroker } from "../../broker/index.js";
import { maskSecrets } from "../../client/url.js";
import { parseConfig } from "../../config/load.js";
import { listPresets, readPreset } from "../../config/presets.js";
import type { Config } from "../../config/schema.js";
import type { Context } from "../../context.js";
import { EventlabError, ExitCode, UsageError } from "../../errors.js";
import { roundTripOf } from "../../lab/roundtrip.js";
import { runScenario, type ScenarioRunOptions } from "../../lab/runner.js";
import type { PlayReport, Snapshot } from "../../lab/types.js";
import { LiveView, summaryLine } from "../../ui/dashboard.js";
import { renderPlayReport } from "../../ui/play-report.js";
import { table } from "../../ui/table.js";
import { VERSION } from "../../version.js";
import { DEFAULT_PRESET, type PlayOptions } from "../play.js";
import { reconnectPolicy } from "./link.js";

/** Without a terminal, a summary line at most this often. */
const SUMMARY_EVERY_MS = 3000;

interface Target {
  config: Config;
  /** The scenario to run, or undefined for a round trip of the templates. */
  scenario: string | undefined;
  source: string;
}

/** A scenario ready for the runner, and how to introduce it. */
type Play = Pick<ScenarioRunOptions, "name" | "scenario" | "config" | "templates" | "idleMs"> & {
  /** What is played, for the first line: a scenario's name, or the templates of a round trip. */
  what: string;
  /** Where it comes from: the config file, or a preset. */
  source: string;
  roundTrip: boolean;
};

async function presetConfig(name: string): Promise<Config> {
  return parseConfig(await readPreset(name), `preset ${name}`);
}

/** What `play [name]` runs: a scenario of the config, a preset, or the config's templates. */
async function resolveTarget(ctx: Context, name: string | undefined): Promise<Target> {
  const loaded = await ctx.loadConfig();
  const presets = (await listPresets()).map((p) => p.name);
  const fromPreset = async (preset: string): Promise<Target> => {
    const config = await presetConfig(preset);
    const scenarios = Object.keys(config.scenarios);
    const scenario = scenarios.includes(preset) ? preset : scenarios[0];
    return { config, scenario, source: `the ${preset} preset` };
  };
  if (name !== undefined) {
    if (loaded.file && loaded.config.scenarios[name]) {
      return { config: loaded.config, scenario: name, source: loaded.file };
    }
    if (presets.includes(name)) return fromPreset(name);
    const mine = loaded.file ? Object.keys(loaded.config.scenarios) : [];
    throw new UsageError(
      `no scenario or preset named ${JSON.stringify(name)}`,
      `${mine.length > 0 ? `scenarios in ${loaded.file}: ${mine.join(", ")}; ` : ""}presets: ${presets.join(", ")} (eventlab play --list)`,
    );
  }
  if (loaded.file) {
    const first = Object.keys(loaded.config.scenarios)[0];
    return { config: loaded.config, scenario: first, source: loaded.file };
  }
  return fromPreset(DEFAULT_PRESET);
}

async function listAll(ctx: Context, json: boolean): Promise<void> {
  const loaded = await ctx.loadConfig();
  const rows = [
    ...Object.entries(loaded.config.scenarios).map(([name, s]) => ({
      name,
      kind: "scenario",
      description: s.description ?? "",
    })),
    ...(await listPresets()).map((p) => ({
      name: p.name,
      kind: "preset",
      description: p.description,
    })),
  ];
  if (json) {
    ctx.io.out(`${JSON.stringify(rows)}\n`);
    return;
  }
  const lines = table(rows.map((r) => [r.name, ctx.theme.dim(r.kind), r.description]));
  for (const line of lines) ctx.io.out(`${line}\n`);
}

/** The templates a round trip plays: --template, else all; each must be in the config. */
function templatesToPlay(o: PlayOptions, target: Target): string[] {
  const all = Object.keys(target.config.templates);
  const templates = o.templates.length > 0 ? o.templates : all;
  if (templates.length === 0) {
    throw new EventlabError("config", `${target.source} has no templates to play`, {
      hint: "add a templates: section, or run `eventlab init` for an example",
    });
  }
  for (const t of templates) {
    if (!all.includes(t)) {
      throw new UsageError(
        `no template named ${JSON.stringify(t)} in ${target.source}`,
        all.length > 0 ? `templates: ${all.join(", ")}` : "add a templates: section",
      );
    }
  }
  return templates;
}

/** The scenario to run: the target's, or a round trip generated from its templates. */
async function playOf(ctx: Context, o: PlayOptions, target: Target): Promise<Play> {
  if (target.scenario !== undefined) {
    const scenario = target.config.scenarios[target.scenario];
    if (!scenario) throw new UsageError(`no scenario ${target.scenario}`);
    return {
      name: target.scenario,
      scenario,
      config: target.config,
      what: target.scenario,
      source: target.source,
      roundTrip: false,
    };
  }
  const templates = templatesToPlay(o, target);
  const trip = await roundTripOf(target.config, {
    templates,
    amount: o.amount,
    seed: o.seed,
    env: ctx.env,
  });
  const what = templates.length === 1 ? templates[0] : `${templates.length} templates`;
  return { ...trip, what: what ?? "", source: target.source, roundTrip: true };
}

/**
 * The broker to play on: the one --url or EVENTLAB_URL names, else the embedded broker,
 * started here (a config file's broker.url is for the other commands: play brings its own).
 * Every connection goes through `ctx.connect`, given the embedded broker's URL when there is
 * one; `release` stops the broker.
 */
async function playBroker(ctx: Context) {
  const named = await ctx.broker();
  if (named.source === "flag" || named.source === "env") {
    return {
      embedded: undefined,
      urls: named.urls,
      where: named.urls.map((u) => maskSecrets(u)).join(", "),
      release: async () => {},
    };
  }
  const embedded: RunningBroker = await startBroker({ port: 0, version: VERSION });
  return {
    embedded,
    urls: [embedded.url],
    where: `the embedded broker ${ctx.theme.dim("(in this process)")}`,
    release: () => embedded.close(),
  };
}

/** Depth and unacked of a queue of the embedded broker. */
function statsOf(embedded: RunningBroker) {
  return (q: string) => {
    const queue = embedded.vhost.queues.get(q);
    return queue ? { ready: queue.messageCount, unacked: queue.unacked } : undefined;
  };
}

/** Where snapshots go: the live view on a terminal, else a summary line now and then. */
function progressOf(ctx: Context, json: boolean) {
  const live = ctx.io.stderrIsTTY ? new LiveView(ctx.io.stderr, ctx.theme) : undefined;
  let lastLine = 0;
  return {
    update(s: Snapshot): void {
      if (live) live.update(s);
      else if (!json && Date.now() - lastLine >= SUMMARY_EVERY_MS) {
        lastLine = Date.now();
        ctx.io.err(summaryLine(s));
      }
    },
    stop: () => live?.stop(),
  };
}

function printReport(ctx: Context, o: PlayOptions, p: Play, report: PlayReport, embedded: boolean) {
  const { io, theme } = ctx;
  if (o.json) {
    const source = { broker: embedded ? "embedded" : "url", source: p.source };
    io.out(`${JSON.stringify({ ...source, ...report })}\n`);
    return;
  }
  io.out(renderPlayReport(report, theme));
  if (p.roundTrip && report.stoppedBy !== "interrupted") {
    io.err(
      theme.dim(
        "next: `eventlab init` to edit this config · `eventlab broker` to keep a broker up",
      ),
    );
  }
}

type PlayBroker = Awaited<ReturnType<typeof playBroker>>;

/** Run the scenario on the broker, with the first lines, the live view or summary lines. */
async function playOn(
  ctx: Context,
  o: PlayOptions,
  play: Play,
  broker: PlayBroker,
): Promise<PlayReport> {
  const { io, theme } = ctx;
  if (!o.json) {
    io.err(
      `${theme.symbols.info} playing ${theme.bold(play.what)} from ${play.source} on ${broker.where}`,
    );
    if (play.scenario.description) io.err(theme.dim(`  ${play.scenario.description}`));
  }
  const progress = progressOf(ctx, o.json);
  try {
    return await runScenario({
      name: play.name,
      scenario: play.scenario,
      config: play.config,
      templates: play.templates,
      idleMs: play.idleMs,
      connect: () => ctx.connect({ connectionName: "eventlab play", urls: broker.urls }),
      link: (onEvent) =>
        ctx.link({
          connectionName: "eventlab play",
          urls: broker.urls,
          reconnect: reconnectPolicy(o.reconnect),
          onEvent,
        }),
      seed: o.seed,
      amount: o.amount,
      durationMs: o.durationMs,
      env: ctx.env,
      signal: ctx.signal,
      leftovers: o.leftovers,
      queueStats: broker.embedded ? statsOf(broker.embedded) : undefined,
      onSnapshot: (s) => progress.update(s),
    });
  } finally {
    progress.stop();
  }
}

export async function runPlay(ctx: Context, o: PlayOptions): Promise<void> {
  if (o.list) return listAll(ctx, o.json);
  const target = await resolveTarget(ctx, o.name);
  const play = await playOf(ctx, o, target);
  const broker = await playBroker(ctx);
  let report: PlayReport;
  try {
    report = await playOn(ctx, o, play, broker);
  } finally {
    await broker.release();
  }
  printReport(ctx, o, play, report, broker.embedded !== undefined);
  if (report.stoppedBy === "connection-lost") {
    // The report above counts what happened until then; the error says why it stopped.
    throw new EventlabError("connection", `the run stopped: ${report.error}`, {
      hint: "check that the broker is running; --reconnect forever and --reconnect-timeout wait longer",
    });
  }
  if (report.stoppedBy === "interrupted") ctx.setExitCode(ExitCode.interrupted);
  else if (report.lost > 0 || report.nacked > 0) ctx.setExitCode(ExitCode.failure);
}

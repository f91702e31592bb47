/**
 * What `eventlab play` does once its flags are parsed: find what to play (a scenario of the
 * config, a preset, or a round trip of the config's templates), start the embedded broker
 * unless --url names one, run it on the playground's runner with a live view, and print the
 * report. A round trip is a scenario too, generated from the templates: same runner, same
 * live view, same report.
 */

import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  type BasicProperties,
  type BrokerOptions,
  MessageEvents,
  type RunningBroker,
  startBroker,
} from "../../broker/index.js";
import { maskSecrets } from "../../client/url.js";
import { defaultClusterDir } from "../../cluster/index.js";
import { parseConfig } from "../../config/load.js";
import { listPresets, readPreset } from "../../config/presets.js";
import type { Config } from "../../config/schema.js";
import type { Context } from "../../context.js";
import { EventlabError, ExitCode, UsageError } from "../../errors.js";
import { type Fault, faultOf } from "../../lab/faults.js";
import { ID_HEADER } from "../../lab/leftovers.js";
import { startPlayMetrics } from "../../lab/metrics.js";
import { writeRecord } from "../../lab/record.js";
import { roundTripOf } from "../../lab/roundtrip.js";
import { runScenario, type ScenarioRunOptions } from "../../lab/runner.js";
import { type OpenStage, openStage } from "../../lab/stage.js";
import type { PublishObserver } from "../../lab/state.js";
import type { PlayReport, Snapshot } from "../../lab/types.js";
import { LiveView, summaryLine } from "../../ui/dashboard.js";
import { renderPlayReport } from "../../ui/play-report.js";
import { table } from "../../ui/table.js";
import { VERSION } from "../../version.js";
import { startPlayWeb } from "../../web/play-web.js";
import { DEFAULT_PRESET, type PlayOptions, type TestOptions } from "../play.js";
import { reconnectPolicy } from "./link.js";
import {
  type CheckedRun,
  playChecked,
  printChecked,
  renderChecks,
  settleChecked,
  writeJunit,
} from "./play-ci.js";
import { type RunOnce, runExplore } from "./play-explore.js";
import { schemaLoaderFor } from "./schema-loader.js";

/** Without a terminal, a summary line at most this often. */
const SUMMARY_EVERY_MS = 3000;

export interface Target {
  config: Config;
  /** The scenario to run, or undefined for a round trip of the templates. */
  scenario: string | undefined;
  source: string;
  /** The text of the config it comes from: a preset's, or the config file's. */
  text(): Promise<string>;
}

/** A scenario ready for the runner, and how to introduce it. */
export type Play = Pick<
  ScenarioRunOptions,
  "name" | "scenario" | "config" | "templates" | "idleMs"
> & {
  /** What is played, for the first line: a scenario's name, or the templates of a round trip. */
  what: string;
  /** Where it comes from: the config file, or a preset. */
  source: string;
  roundTrip: boolean;
};

async function presetConfig(name: string): Promise<Config> {
  return parseConfig(await readPreset(name), `preset ${name}`);
}

const fileText = (ctx: Context, file: string) => () =>
  readFile(path.resolve(ctx.cwd, file), "utf8");

/** What `play [name]` runs: a scenario of the config, a preset, or the config's templates. */
async function resolveTarget(ctx: Context, name: string | undefined): Promise<Target> {
  const loaded = await ctx.loadConfig();
  const presets = (await listPresets()).map((p) => p.name);
  const fromPreset = async (preset: string): Promise<Target> => {
    const config = await presetConfig(preset);
    const scenarios = Object.keys(config.scenarios);
    const scenario = scenarios.includes(preset) ? preset : scenarios[0];
    return { config, scenario, source: `the ${preset} preset`, text: () => readPreset(preset) };
  };
  if (name !== undefined) {
    if (loaded.file && loaded.config.scenarios[name]) {
      return {
        config: loaded.config,
        scenario: name,
        source: loaded.file,
        text: fileText(ctx, loaded.file),
      };
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
    return {
      config: loaded.config,
      scenario: first,
      source: loaded.file,
      text: fileText(ctx, loaded.file),
    };
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

/** Events the play broker's ledger keeps (about 40,000 messages' stories), the newest. */
const LEDGER_EVENTS = 250_000;

/** The broker's consumer timeout when a scenario times acks out and does not set it: 1 s. */
const ACK_TIMEOUT_MS = 1000;

/** The scenario's faults, and those an exploration may draw: what the stage must be ready for. */
function faultsOf(p: Play): Fault[] {
  const own = p.scenario.faults.map(faultOf);
  return [...own, ...(p.scenario.explore?.faults ?? []).map(faultOf)];
}

/** The embedded broker's consumer timeout: the scenario's, else short when it times acks out. */
function consumerTimeoutOf(p: Play): number | undefined {
  if (p.scenario.consumerTimeout !== undefined) return p.scenario.consumerTimeout;
  const timesOut = faultsOf(p).some((f) => f.kind === "consumer" && f.action === "ack-timeout");
  return timesOut ? ACK_TIMEOUT_MS : undefined;
}

/**
 * The broker to play on: the one --url or EVENTLAB_URL names, else the embedded broker,
 * started here (a config file's broker.url is for the other commands: play brings its own),
 * with the stage the scenario's faults need (a fault proxy, broker restarts, cluster nodes).
 * Every connection goes through `ctx.connect`, to the stage's URL for its tag.
 * `release` stops the proxy and the broker.
 */
async function playBroker(ctx: Context, o: PlayOptions, p: Play, dataDir?: string) {
  const named = await ctx.broker();
  const external = named.source === "flag" || named.source === "env";
  const options: BrokerOptions = {
    port: 0,
    version: VERSION,
    // One ledger through restarts: every message's story, by the run's message ids.
    ledger: new MessageEvents({ idOf: runIdOf, maxEvents: LEDGER_EVENTS }),
    ...(dataDir !== undefined ? { dataDir } : {}),
  };
  const commands = p.scenario.consumers.filter((c) => p.config.consumers[c]?.command);
  if (external && commands.length > 0) {
    throw new UsageError(
      `consumer ${commands.join(", ")} runs a command, judged from the embedded broker's ledger`,
      "play this scenario without --url (on the embedded broker)",
    );
  }
  const timeout = consumerTimeoutOf(p);
  if (timeout !== undefined) options.consumerTimeout = timeout;
  const broker: RunningBroker | undefined = external ? undefined : await startBroker(options);
  const urls = broker ? [broker.url] : named.urls;
  const producers = p.scenario.producers.map((x) => `producer:${x.template}`);
  let stage: OpenStage;
  try {
    stage = await openStage({
      urls,
      embedded: broker ? { broker, options } : undefined,
      faults: faultsOf(p),
      tags: [...producers, ...p.scenario.consumers.map((c) => `consumer:${c}`)],
      clusterDir:
        external || o.clusterDir !== undefined
          ? path.resolve(ctx.cwd, o.clusterDir ?? defaultClusterDir(ctx.env))
          : undefined,
      env: ctx.env,
      signal: ctx.signal,
    });
  } catch (err) {
    await broker?.close();
    throw err;
  }
  return {
    external,
    stage,
    events: broker ? (options.ledger as MessageEvents) : undefined,
    consumerTimeoutMs: external ? undefined : (timeout ?? undefined),
    where: external
      ? named.urls.map((u) => maskSecrets(u)).join(", ")
      : `the embedded broker ${ctx.theme.dim("(in this process)")}`,
    release: async () => {
      await stage.close();
      await broker?.close();
    },
  };
}

/** The id the playground gives each message (its header), else the message_id property. */
function runIdOf(p: BasicProperties): string | undefined {
  const v = p.headers?.[ID_HEADER];
  if (typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return v.toString();
  return p.messageId;
}

/** Depth and unacked of a queue of the embedded broker (the one running now, after restarts). */
function statsOf(stage: OpenStage) {
  return (q: string) => {
    const queue = stage.embedded()?.vhost.queues.get(q);
    return queue ? { ready: queue.messageCount, unacked: queue.unacked } : undefined;
  };
}

/** Where snapshots go: the live view on a terminal, else a summary line now and then. */
function progressOf(ctx: Context, json: boolean, ci: boolean) {
  const live = ctx.io.stderrIsTTY && !ci ? new LiveView(ctx.io.stderr, ctx.theme) : undefined;
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

export type PlayBroker = Awaited<ReturnType<typeof playBroker>>;

const nameOf = (tag?: string) => (tag ? `eventlab play ${tag}` : "eventlab play");

/** One run's settings beyond the command's: an exploration's faults, its data directory, quiet. */
export interface RunSettings {
  faults?: Fault[] | undefined;
  dataDir?: string | undefined;
  /** No first lines and no live view (an exploration prints its own line per run). */
  quiet?: boolean | undefined;
  /** Write the run's record here (by default --record's file, for a run that is not quiet). */
  record?: string | undefined;
  /** Told of every message published and the broker's answer (the scenario's expectations). */
  observer?: PublishObserver | undefined;
}

/**
 * One run of the scenario on its own broker and stage, with the first lines and the live
 * view or summary lines unless quiet; the broker and stage are gone when it resolves.
 */
export async function playScenario(
  ctx: Context,
  o: PlayOptions,
  play: Play,
  r: RunSettings = {},
): Promise<{ report: PlayReport; embedded: boolean }> {
  const { io, theme } = ctx;
  const broker = await playBroker(ctx, o, play, r.dataDir ?? o.dataDir);
  const quiet = r.quiet === true || o.json;
  if (!quiet) {
    io.err(
      `${theme.symbols.info} playing ${theme.bold(play.what)} from ${play.source} on ${broker.where}`,
    );
    if (play.scenario.description) io.err(theme.dim(`  ${play.scenario.description}`));
  }
  const served =
    o.metricsPort === undefined || r.quiet === true
      ? undefined
      : await startPlayMetrics(o.metricsPort).catch(async (err) => {
          await broker.release();
          throw err;
        });
  const metrics = served?.metrics;
  if (served) io.err(`${theme.symbols.info} metrics at ${served.server.url}`);
  const web =
    o.web?.web !== true || r.quiet === true
      ? undefined
      : await startPlayWeb(ctx, o.web, {
          title: `eventlab play ${play.what}`,
          config: play.config,
          scenario: play.scenario,
          embedded: () => broker.stage.embedded(),
          ledger: broker.events,
        }).catch(async (err) => {
          await served?.server.close();
          await broker.release();
          throw err;
        });
  const progress = r.quiet ? undefined : progressOf(ctx, o.json, o.ci === true);
  try {
    const report = await runScenario({
      name: play.name,
      scenario: play.scenario,
      config: play.config,
      templates: play.templates,
      idleMs: play.idleMs,
      connect: (tag) =>
        ctx.connect({ connectionName: nameOf(tag), urls: broker.stage.urlsFor(tag) }),
      connectTo: (url) => ctx.connect({ connectionName: nameOf(), urls: [url] }),
      link: (onEvent, tag) =>
        ctx.link({
          connectionName: nameOf(tag),
          urls: broker.stage.urlsFor(tag),
          reconnect: reconnectPolicy(o.reconnect),
          onEvent,
        }),
      stage: broker.stage.stage,
      consumerTimeoutMs: broker.consumerTimeoutMs,
      faults: r.faults,
      seed: o.seed,
      amount: o.amount,
      durationMs: o.durationMs,
      env: ctx.env,
      signal: ctx.signal,
      leftovers: o.leftovers,
      queueStats: broker.external ? undefined : statsOf(broker.stage),
      brokerEvents: broker.events
        ? (listener) => broker.events?.subscribe(listener) ?? (() => {})
        : undefined,
      urlFor: (tag) => broker.stage.urlsFor(tag)[0] ?? "",
      cwd: ctx.cwd,
      onSnapshot:
        progress || metrics || web
          ? (s) => {
              progress?.update(s);
              metrics?.update(s);
              web?.update(s);
            }
          : undefined,
      onDecision: metrics ? (e) => metrics.decided(e) : undefined,
      observer: r.observer,
    });
    metrics?.finish(report);
    const recordTo = r.record ?? (r.quiet === true ? undefined : o.record);
    if (recordTo !== undefined) await record(ctx, recordTo, play, report, broker.events);
    return { report, embedded: !broker.external };
  } finally {
    progress?.stop();
    await web?.close();
    await served?.server.close();
    await broker.release();
  }
}

/** `--record FILE`: the run's report and every message's events, for `eventlab why --from`. */
async function record(
  ctx: Context,
  file: string,
  play: Play,
  report: PlayReport,
  events: MessageEvents | undefined,
): Promise<void> {
  if (!events) {
    ctx.io.err(
      ctx.theme.warn(
        "--record: on --url there is no broker ledger to record; only the report is written",
      ),
    );
  }
  await writeRecord(path.resolve(ctx.cwd, file), {
    meta: {
      scenario: play.name,
      startedAt: new Date(Date.now() - report.elapsedMs).toISOString(),
      topology: play.config.topology,
      report,
    },
    events: events?.all() ?? [],
  });
  if (!play.roundTrip)
    ctx.io.err(
      ctx.theme.dim(
        `recorded ${events?.messages ?? 0} messages' events in ${file}: eventlab why <id> --from ${file}`,
      ),
    );
}

export async function runPlay(ctx: Context, o: PlayOptions): Promise<void> {
  if (o.list) return listAll(ctx, o.json);
  const target = await resolveTarget(ctx, o.name);
  const play = await playOf(ctx, o, target);
  if (o.ci && o.explore !== undefined) {
    throw new UsageError(
      "--ci and --explore cannot be used together",
      "--explore looks for a failing fault schedule itself; --ci checks one run against the scenario's expect: and thresholds:",
    );
  }
  if (o.ci) {
    if (play.roundTrip) {
      throw new UsageError(
        `--ci checks a scenario, and ${target.source} has none to play`,
        "add a scenario with expect: (and thresholds:) to the config, or name one: eventlab play <scenario> --ci",
      );
    }
    const checked = await playChecked(play, schemaLoaderFor(ctx, target.source), (observer) =>
      playScenario(ctx, o, play, { observer }),
    );
    printChecked(ctx, o, checked);
    if (o.junit !== undefined) await writeJunit(ctx, o.junit, [checked]);
    settleChecked(ctx, [checked]);
    return;
  }
  if (o.explore !== undefined) {
    // Every run with the same seed: only the faults differ.
    const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
    const runOnce: RunOnce = async (faults, dataDir, recordTo) =>
      (
        await playScenario(ctx, { ...o, seed }, play, {
          faults,
          dataDir,
          quiet: true,
          record: recordTo,
        })
      ).report;
    return runExplore(ctx, { ...o, seed }, { ...play, text: target.text }, runOnce);
  }
  const { report, embedded } = await playScenario(ctx, o, play);
  printReport(ctx, o, play, report, embedded);
  if (report.stoppedBy === "connection-lost") {
    // The report above counts what happened until then; the error says why it stopped.
    throw new EventlabError("connection", `the run stopped: ${report.error}`, {
      hint: "check that the broker is running; --reconnect forever and --reconnect-timeout wait longer",
    });
  }
  if (report.stoppedBy === "interrupted") ctx.setExitCode(ExitCode.interrupted);
  else if ((report.lost > 0 && !report.lostIntended) || report.nacked > 0) {
    ctx.setExitCode(ExitCode.failure);
  }
}

// -- eventlab test: the scenarios as a test suite ------------------------------------------

/** The scenarios to run: those named, else the config's that check something. */
async function scenariosOf(ctx: Context, o: TestOptions): Promise<string[]> {
  if (o.scenarios.length > 0) return o.scenarios;
  const loaded = await ctx.loadConfig();
  if (!loaded.file) {
    throw new UsageError(
      "no config file: nothing to test",
      "name a scenario or preset (eventlab test orders), or write scenarios with expect: in eventlab.config.yaml",
    );
  }
  const all = Object.entries(loaded.config.scenarios);
  const checking = all.filter(([, s]) => (s.expect?.length ?? 0) > 0 || s.thresholds !== undefined);
  if (checking.length === 0) {
    throw new UsageError(
      `no scenario in ${loaded.file} has expect: or thresholds:`,
      all.length > 0
        ? `name the scenarios to run (${all.map(([n]) => n).join(", ")}), or add expect: entries to them`
        : "add a scenario with expect: entries to the config",
    );
  }
  return checking.map(([n]) => n);
}

export async function runTest(ctx: Context, o: TestOptions): Promise<void> {
  const names = await scenariosOf(ctx, o);
  const play: PlayOptions = {
    name: undefined,
    templates: [],
    amount: undefined,
    seed: o.seed,
    durationMs: undefined,
    list: false,
    json: o.json,
    leftovers: o.leftovers,
    reconnect: {},
    dataDir: undefined,
    clusterDir: undefined,
    explore: undefined,
    exploreOut: undefined,
    record: undefined,
    ci: true,
    junit: o.junit,
  };
  const runs: CheckedRun[] = [];
  for (const name of names) {
    if (ctx.signal.aborted) break;
    const target = await resolveTarget(ctx, name);
    const p = await playOf(ctx, { ...play, name }, target);
    const checked = await playChecked(p, schemaLoaderFor(ctx, target.source), (observer) =>
      playScenario(ctx, { ...play, name }, p, { observer }),
    );
    runs.push(checked);
    if (!o.json) ctx.io.out(renderChecks(ctx, checked));
  }
  if (o.json) {
    const failed = runs.filter((r) => r.checks.some((c) => !c.ok)).map((r) => r.scenario);
    ctx.io.out(
      `${JSON.stringify({
        passed: runs.length - failed.length,
        failed: failed.length,
        scenarios: runs.map((r) => ({
          scenario: r.scenario,
          ok: !failed.includes(r.scenario),
          report: r.report,
          checks: r.checks,
        })),
      })}\n`,
    );
  } else if (runs.length > 1) {
    const failed = runs.filter((r) => r.checks.some((c) => !c.ok));
    ctx.io.out(
      failed.length === 0
        ? ctx.theme.ok(`all ${runs.length} scenarios passed\n`)
        : ctx.theme.error(
            `${failed.length} of ${runs.length} scenarios failed: ${failed.map((r) => r.scenario).join(", ")}\n`,
          ),
    );
  }
  if (o.junit !== undefined) await writeJunit(ctx, o.junit, runs);
  settleChecked(ctx, runs);
}

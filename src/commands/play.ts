/**
 * `eventlab play [scenario|preset]`: the playground. Starts the embedded broker in this
 * process (or uses --url), runs a scenario — producers, consumer groups with their
 * behaviours, timed faults — with a live view on a terminal, and ends with a report that
 * accounts for every message. Without a scenario, a config's templates get a round trip.
 */
import { Command } from "commander";
import type { Config } from "../config/schema.js";
import type { Context } from "../context.js";
import { EventlabError, ExitCode, UsageError } from "../errors.js";
import type { LeftoverPolicy } from "../lab/leftovers.js";
import { collect, durationFlag, intFlag } from "./options.js";

export interface PlayOptions {
  /** A scenario of the config, or a preset. */
  name: string | undefined;
  templates: string[];
  amount: number | undefined;
  seed: number | undefined;
  durationMs: number | undefined;
  list: boolean;
  json: boolean;
  /** Messages already in the queues the run consumes: refuse (default), --purge or --keep. */
  leftovers: Exclude<LeftoverPolicy, "process">;
}

export type PlayRun = (ctx: Context, o: PlayOptions) => Promise<void>;

export const DEFAULT_PRESET = "orders";

export function playCommand(ctx: Context, run: PlayRun = runPlay): Command {
  return new Command("play")
    .description(
      "run a scenario on the embedded broker: producers, consumers, faults, a live view, a report",
    )
    .argument(
      "[scenario]",
      `a scenario of the config, or a preset (default: the config's first, else ${DEFAULT_PRESET})`,
    )
    .option("-l, --list", "list the scenarios and presets")
    .option("-d, --duration <duration>", "stop after this long, whatever the scenario says")
    .option("-n, --amount <n>", "messages per producer, instead of the scenario's")
    .option("--seed <n>", "seed generated fields and behaviours, for repeatable runs")
    .option(
      "-t, --template <name>",
      "without a scenario: run only this template (repeatable)",
      collect,
    )
    .option("--purge", "delete messages already in the consumed queues first (default: refuse)")
    .option("--keep", "consume messages already in the queues, counted apart as preexisting")
    .option("--json", "print the report as one JSON object")
    .addHelpText(
      "after",
      `
Without --url, play starts the embedded broker inside this process on a free port: nothing
needs to be installed, and nothing is left behind. With --url it runs against that broker
(for example RabbitMQ). On a terminal it shows a live view (queues, consumers, events);
otherwise a line every few seconds. It ends when every message is accounted for, at
--duration, or on Ctrl-C, always with a report; \`lost\` is 0 unless the scenario drops
messages on purpose, and then it says so.

Before it starts, play looks at each queue it will consume (and the retry queues that lead
back to them). If one already holds messages, from an earlier run or another producer, it
refuses by default and names each queue and how many messages it holds. --purge deletes them
first and says how many; --keep consumes them too and counts them apart as \`preexisting\`,
never as this run's messages (processed, duplicates and lost count this run's only).

Examples:
  $ eventlab play                          # the ${DEFAULT_PRESET} preset
  $ eventlab play --list
  $ eventlab play work-queue --seed 7
  $ eventlab play duplicates-and-ordering --json | jq .lost
  $ eventlab play orders --duration 10s
  $ eventlab --url amqp://guest:guest@localhost:5672 play soccer
  $ eventlab --url amqp://guest:guest@localhost:5672 play soccer --purge`,
    )
    .action(
      async (
        name: string | undefined,
        f: {
          template?: string[];
          amount?: string;
          seed?: string;
          duration?: string;
          list?: boolean;
          json?: boolean;
          purge?: boolean;
          keep?: boolean;
        },
      ) =>
        run(ctx, {
          name,
          templates: f.template ?? [],
          amount: intFlag("--amount", f.amount, 0),
          seed: intFlag("--seed", f.seed, 0),
          durationMs: durationFlag("--duration", f.duration),
          list: f.list === true,
          json: f.json === true,
          leftovers: leftoverFlags(f.purge === true, f.keep === true),
        }),
    );
}

function leftoverFlags(purge: boolean, keep: boolean): PlayOptions["leftovers"] {
  if (purge && keep) {
    throw new UsageError(
      "--purge and --keep cannot be used together",
      "--purge deletes the messages already in the queues; --keep consumes them and counts them apart: choose one",
    );
  }
  return purge ? "purge" : keep ? "keep" : "refuse";
}

interface Target {
  config: Config;
  /** The scenario to run, or undefined for a round trip of the templates. */
  scenario: string | undefined;
  source: string;
}

async function presetConfig(name: string): Promise<Config> {
  const [{ readPreset }, { parseConfig }] = await Promise.all([
    import("./init.js"),
    import("../config/load.js"),
  ]);
  return parseConfig(await readPreset(name), `preset ${name}`);
}

/** What `play [name]` runs: a scenario of the config, a preset, or the config's templates. */
async function resolveTarget(ctx: Context, name: string | undefined): Promise<Target> {
  const loaded = await ctx.loadConfig();
  const { listPresets } = await import("./init.js");
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
  const { listPresets } = await import("./init.js");
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
  const w = Math.max(...rows.map((r) => r.name.length)) + 2;
  for (const r of rows) {
    ctx.io.out(`${r.name.padEnd(w)}${ctx.theme.dim(r.kind.padEnd(10))}${r.description}\n`);
  }
}

/** The broker to play on: in this process, or the one --url names. */
async function playBroker(ctx: Context) {
  const url = ctx.globals.url ?? ctx.env.EVENTLAB_URL;
  if (url) {
    return {
      embedded: undefined,
      connect: () => ctx.connect({ connectionName: "eventlab play" }),
      where: (await import("../client/url.js")).maskSecrets(url) as string | undefined,
    };
  }
  const [{ startBroker }, { connect }] = await Promise.all([
    import("../broker/index.js"),
    import("../client/connect.js"),
  ]);
  const embedded = await startBroker({ port: 0 });
  return {
    embedded,
    connect: () => connect([embedded.url], { connectionName: "eventlab play" }),
    where: `the embedded broker ${ctx.theme.dim("(in this process)")}`,
  };
}

export async function runPlay(ctx: Context, o: PlayOptions): Promise<void> {
  if (o.list) return listAll(ctx, o.json);
  const target = await resolveTarget(ctx, o.name);
  if (target.scenario === undefined) return runTemplates(ctx, o, target);
  const { io, theme } = ctx;
  const broker = await playBroker(ctx);
  const { runScenario } = await import("../lab/runner.js");
  const { LiveView, summaryLine } = await import("../ui/dashboard.js");
  const scenario = target.config.scenarios[target.scenario];
  if (!scenario) throw new UsageError(`no scenario ${target.scenario}`);
  if (!o.json) {
    io.err(
      `${theme.symbols.info} playing ${theme.bold(target.scenario)} from ${target.source} on ${broker.where ?? "the broker at --url"}`,
    );
    if (scenario.description) io.err(theme.dim(`  ${scenario.description}`));
  }
  const live = io.stderrIsTTY ? new LiveView(io.stderr, theme) : undefined;
  let lastLine = 0;
  const vhost = broker.embedded?.vhost;
  let report: Awaited<ReturnType<typeof runScenario>>;
  try {
    report = await runScenario({
      name: target.scenario,
      scenario,
      config: target.config,
      connect: broker.connect,
      seed: o.seed,
      amount: o.amount,
      durationMs: o.durationMs,
      env: ctx.env,
      signal: ctx.signal,
      leftovers: o.leftovers,
      ...(vhost
        ? {
            queueStats: (q: string) => {
              const queue = vhost.queues.get(q);
              return queue ? { ready: queue.messageCount, unacked: queue.unacked } : undefined;
            },
          }
        : {}),
      onSnapshot: (s) => {
        if (live) live.update(s);
        else if (!o.json && Date.now() - lastLine >= 3000) {
          lastLine = Date.now();
          io.err(summaryLine(s));
        }
      },
    });
  } finally {
    live?.stop();
    await broker.embedded?.close();
  }
  if (o.json)
    io.out(
      `${JSON.stringify({ broker: broker.embedded ? "embedded" : "url", source: target.source, ...report })}\n`,
    );
  else {
    const { renderPlayReport } = await import("../ui/play-report.js");
    io.out(renderPlayReport(report, theme));
  }
  if (report.stoppedBy === "interrupted") ctx.setExitCode(ExitCode.interrupted);
  else if (report.lost > 0 || report.nacked > 0) ctx.setExitCode(ExitCode.failure);
}

/** A config without scenarios: a round trip of its templates. */
async function runTemplates(ctx: Context, o: PlayOptions, target: Target): Promise<void> {
  const { io, theme } = ctx;
  const { config, source } = target;
  const all = Object.keys(config.templates);
  const templates = o.templates.length > 0 ? o.templates : all;
  if (templates.length === 0) {
    throw new EventlabError("config", `${source} has no templates to play`, {
      hint: "add a templates: section, or run `eventlab init` for an example",
    });
  }
  for (const t of templates) {
    if (!all.includes(t)) {
      throw new UsageError(
        `no template named ${JSON.stringify(t)} in ${source}`,
        all.length > 0 ? `templates: ${all.join(", ")}` : "add a templates: section",
      );
    }
  }

  const { count, elapsed } = await import("../ui/format.js");
  const urls = ctx.globals.url ?? ctx.env.EVENTLAB_URL;
  let broker: { url: string; close(): Promise<void> } | undefined;
  let connection: Awaited<ReturnType<Context["connect"]>>;
  if (urls) {
    connection = await ctx.connect({ connectionName: "eventlab play" });
  } else {
    const { startBroker } = await import("../broker/index.js");
    broker = await startBroker({ port: 0 });
    const { connect } = await import("../client/connect.js");
    connection = await connect([broker.url], { connectionName: "eventlab play" });
  }
  const where = broker
    ? `the embedded broker ${theme.dim("(in this process)")}`
    : connection.address.display;
  if (!o.json) {
    const what = templates.length === 1 ? templates[0] : `${templates.length} templates`;
    io.err(`${theme.symbols.info} playing ${what} from ${source} on ${where}`);
  }

  const { startProgress } = await import("../ui/progress.js");
  const state = { published: 0, planned: 0, consumed: 0, routed: 0 };
  const progress = await startProgress(
    io,
    () =>
      `published ${count(state.published)}/${count(state.planned)} · consumed ${count(state.consumed)}/${count(state.routed)} routed copies`,
  );
  let report: Awaited<ReturnType<typeof import("../lab/roundtrip.js").runRoundTrip>>;
  try {
    const { runRoundTrip } = await import("../lab/roundtrip.js");
    report = await runRoundTrip(
      connection,
      config,
      {
        templates,
        amount: o.amount,
        seed: o.seed,
        env: ctx.env,
        signal: ctx.signal,
        leftovers: o.leftovers,
      },
      (p) => Object.assign(state, p),
    );
  } finally {
    progress.stop();
    await connection.close();
    await broker?.close();
  }

  if (o.json) {
    io.out(`${JSON.stringify({ broker: broker ? "embedded" : "url", source, ...report })}\n`);
  } else {
    const pad = (s: string, n: number) => s.padEnd(n);
    const w =
      Math.max(
        8,
        ...report.templates.map((t) => t.name.length),
        ...report.queues.map((q) => q.name.length),
      ) + 2;
    io.out(
      `${theme.bold(pad("template", w))}${pad("exchange", 14)}published  confirmed  returned\n`,
    );
    for (const t of report.templates) {
      io.out(
        `${pad(t.name, w)}${pad(t.exchange || "(default)", 14)}${pad(count(t.published), 11)}${pad(count(t.confirmed), 11)}${count(t.returned)}\n`,
      );
    }
    io.out(`\n${theme.bold(pad("queue", w))}routed     consumed\n`);
    for (const q of report.queues) {
      const mark =
        q.consumed >= q.routed ? theme.ok(theme.symbols.ok) : theme.error(theme.symbols.fail);
      io.out(`${pad(q.name, w)}${pad(count(q.routed), 11)}${count(q.consumed)} ${mark}\n`);
    }
    const { leftoverLines } = await import("../ui/play-report.js");
    for (const line of leftoverLines(report, theme)) io.out(`${line}\n`);
    const lost = report.lost === 0 ? theme.ok("lost 0") : theme.error(`lost ${count(report.lost)}`);
    io.err(
      `${report.lost === 0 ? theme.ok(theme.symbols.ok) : theme.error(theme.symbols.fail)} published ${count(report.published)} · confirmed ${count(report.confirmed)} · returned ${count(report.returned)} · consumed ${count(report.consumed)} of ${count(report.routed)} routed copies · ${lost} in ${elapsed(report.elapsedMs)}`,
    );
    if (!report.interrupted) {
      io.err(
        theme.dim(
          "next: `eventlab init` to edit this config · `eventlab broker` to keep a broker up",
        ),
      );
    }
  }
  if (report.interrupted) ctx.setExitCode(ExitCode.interrupted);
  else if (report.lost > 0 || report.nacked > 0) ctx.setExitCode(ExitCode.failure);
}

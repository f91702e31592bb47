/**
 * `eventlab play`: the first thing to run. Starts the embedded broker in this process
 * (or uses --url), applies the config's topology (the shipped example when there is no
 * config file), runs every template with its amount and pace, consumes every queue the
 * messages route to, and reports what was published, routed, consumed and lost.
 */
import { Command } from "commander";
import type { Config } from "../config/schema.js";
import type { Context } from "../context.js";
import { EventlabError, ExitCode, UsageError } from "../errors.js";
import { collect, intFlag } from "./options.js";

export interface PlayOptions {
  templates: string[];
  amount: number | undefined;
  seed: number | undefined;
  json: boolean;
}

export type PlayRun = (ctx: Context, o: PlayOptions) => Promise<void>;

export function playCommand(ctx: Context, run: PlayRun = runPlay): Command {
  return new Command("play")
    .description(
      "round trip on the embedded broker: apply the topology, run the templates, consume, report",
    )
    .option("-t, --template <name>", "run only this template (repeatable; default: all)", collect)
    .option("-n, --amount <n>", "messages per template, instead of each template's amount")
    .option("--seed <n>", "seed the generated fields, for repeatable runs")
    .option("--json", "print the report as one JSON object")
    .addHelpText(
      "after",
      `
Without --url, play starts the embedded broker inside this process on a free port: nothing
needs to be installed, and nothing is left behind. With --url it runs against that broker.
Without a config file it uses the example config that \`eventlab init\` writes.

Examples:
  $ eventlab play
  $ eventlab play --template order-created --amount 100
  $ eventlab play --json
  $ eventlab --url amqp://guest:guest@localhost:5672 play`,
    )
    .action(async (f: { template?: string[]; amount?: string; seed?: string; json?: boolean }) =>
      run(ctx, {
        templates: f.template ?? [],
        amount: intFlag("--amount", f.amount, 0),
        seed: intFlag("--seed", f.seed, 0),
        json: f.json === true,
      }),
    );
}

async function playConfig(ctx: Context): Promise<{ config: Config; source: string }> {
  const loaded = await ctx.loadConfig();
  if (loaded.file) return { config: loaded.config, source: loaded.file };
  const [{ readFile }, path, { packageRoot }, { parseConfig }] = await Promise.all([
    import("node:fs/promises"),
    import("node:path"),
    import("./init.js"),
    import("../config/load.js"),
  ]);
  const file = path.join(await packageRoot(), "config", "eventlab.example.yaml");
  return {
    config: parseConfig(await readFile(file, "utf8"), file),
    source: "the example config",
  };
}

export async function runPlay(ctx: Context, o: PlayOptions): Promise<void> {
  const { io, theme } = ctx;
  const { config, source } = await playConfig(ctx);
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
      { templates, amount: o.amount, seed: o.seed, env: ctx.env, signal: ctx.signal },
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

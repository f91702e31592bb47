/**
 * `eventlab topology <subcommand>`: the config's topology as a whole. `apply` declares it;
 * more views (show, export, import, diff) hang off the same parent.
 */
import { Command } from "commander";
import type { Context } from "../context.js";
import { printDeclared, withConnection } from "./declare.js";

export interface TopologyApplyOptions {
  dryRun: boolean;
  json: boolean;
}

export interface TopologyRuns {
  apply(ctx: Context, o: TopologyApplyOptions): Promise<void>;
}

export function topologyCommand(ctx: Context, runs: TopologyRuns = { apply: runApply }): Command {
  const cmd = new Command("topology").description(
    "work with the config's exchanges, queues and bindings",
  );
  cmd
    .command("apply")
    .description("declare the config's topology: exchanges, then queues, then bindings")
    .option("--dry-run", "list what would be declared, without connecting")
    .option("--json", "print one JSON object per declared object (NDJSON), then a summary object")
    .addHelpText(
      "after",
      `
Objects that already exist with the same settings are left alone and reported as such;
one that exists with other settings stops the run with both settings side by side.

Examples:
  $ eventlab topology apply
  $ eventlab topology apply --dry-run
  $ eventlab --config lab/orders.yaml topology apply --json`,
    )
    .action(async (f: { dryRun?: boolean; json?: boolean }) =>
      runs.apply(ctx, { dryRun: f.dryRun === true, json: f.json === true }),
    );
  cmd.addHelpText(
    "after",
    `
Examples:
  $ eventlab topology apply`,
  );
  return cmd;
}

export async function runApply(ctx: Context, o: TopologyApplyOptions): Promise<void> {
  const { config, file } = await ctx.loadConfig();
  const t = config.topology;
  const total = Object.keys(t.exchanges).length + Object.keys(t.queues).length + t.bindings.length;
  const { io, theme } = ctx;
  if (total === 0) {
    const { EventlabError } = await import("../errors.js");
    throw new EventlabError(
      "config",
      file
        ? `${file} declares no topology`
        : "no config file found, so there is no topology to apply",
      {
        hint: "run `eventlab init` for a config with an example topology, or add a topology: section",
      },
    );
  }
  const { applyTopology, bindingName, describeSettings, exchangeOptions, queueOptions } =
    await import("../client/topology.js");
  if (o.dryRun) {
    const plan = [
      ...Object.entries(t.exchanges).map(([name, e]) => ({
        kind: "exchange",
        name,
        settings: { type: e.type, ...exchangeOptions(e) },
      })),
      ...Object.entries(t.queues).map(([name, q]) => ({
        kind: "queue",
        name,
        settings: { ...queueOptions(q) },
      })),
      ...t.bindings.map((b) => ({
        kind: "binding",
        name: bindingName(b),
        settings: { routingKey: b.routingKey },
      })),
    ];
    for (const p of plan) {
      if (o.json) io.out(`${JSON.stringify({ ...p, status: "planned" })}\n`);
      else
        io.out(
          `${theme.dim("○")} would declare ${p.kind} ${theme.bold(p.name)}${describeSettings(p.settings) ? theme.dim(` (${describeSettings(p.settings)})`) : ""}\n`,
        );
    }
    return;
  }
  const counts = { created: 0, exists: 0, bound: 0 };
  await withConnection(ctx, async (conn) => {
    await applyTopology(conn, t, (r) => {
      counts[r.status] += 1;
      printDeclared(ctx, r, o.json);
    });
  });
  if (o.json) io.out(`${JSON.stringify({ summary: true, ...counts, file })}\n`);
  else {
    io.out(
      `${theme.ok("✓")} ${counts.created} created, ${counts.exists} already there, ${counts.bound} binding${counts.bound === 1 ? "" : "s"} in place${file ? theme.dim(` (from ${file})`) : ""}\n`,
    );
  }
}

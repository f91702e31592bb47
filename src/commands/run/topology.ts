/**
 * What `eventlab topology <subcommand>` does once its flags are parsed: apply the config's
 * topology, draw it, export it as or import it from RabbitMQ definitions, or compare it with
 * a live broker.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { withConnection } from "../../client/connect.js";
import { seg } from "../../client/management.js";
import {
  applyTopology,
  bindingName,
  type DiffEntry,
  diffTopology,
  exchangeOptions,
  type LiveBinding,
  queueOptions,
} from "../../client/topology.js";
import { fromDefinitions, toDefinitions } from "../../config/definitions.js";
import { parseDefinitions } from "../../config/definitions-file.js";
import { durationText } from "../../config/duration.js";
import { parseConfig } from "../../config/load.js";
import type { Topology } from "../../config/schema.js";
import { type MergeResult, mergeTopology } from "../../config/topology-merge.js";
import { readConfigIfAny, writeConfigText } from "../../config/write.js";
import type { Context } from "../../context.js";
import { EventlabError, ExitCode } from "../../errors.js";
import {
  appliedSummary,
  comparedLine,
  comparedSummary,
  countCompared,
  declaredLine,
  plannedLine,
} from "../../ui/declared-view.js";
import { renderDot, renderMermaid, renderTree, topologyView } from "../../ui/topology-view.js";
import type {
  TopologyApplyOptions,
  TopologyDiffOptions,
  TopologyExportOptions,
  TopologyImportOptions,
  TopologyOptions,
  TopologyShowOptions,
} from "../topology.js";
import { writeOutputFile } from "./output-file.js";

export async function runTopology(ctx: Context, o: TopologyOptions): Promise<void> {
  switch (o.command) {
    case "apply":
      return runApply(ctx, o);
    case "show":
      return runShow(ctx, o);
    case "export":
      return runExport(ctx, o);
    case "import":
      return runImport(ctx, o);
    case "diff":
      return runDiff(ctx, o);
  }
}

/** The config's topology, or an error saying there is none. */
async function loadTopology(ctx: Context, what: string): Promise<{ t: Topology; file?: string }> {
  const { config, file } = await ctx.loadConfig();
  const t = config.topology;
  if (objectCount(t) === 0) {
    throw new EventlabError(
      "config",
      file
        ? `${file} declares no topology to ${what}`
        : `no config file found, so there is no topology to ${what}`,
      {
        hint: "run `eventlab init` for a config with an example topology, add a topology: section, or `eventlab topology import definitions.json`",
      },
    );
  }
  return file === undefined ? { t } : { t, file };
}

// -- show ------------------------------------------------------------------------------------

async function runShow(ctx: Context, o: TopologyShowOptions): Promise<void> {
  const { t } = await loadTopology(ctx, "show");
  if (o.json) {
    ctx.io.out(`${JSON.stringify(t, null, 2)}\n`);
    return;
  }
  const view = topologyView(t);
  ctx.io.out(
    o.format === "mermaid"
      ? renderMermaid(view)
      : o.format === "dot"
        ? renderDot(view)
        : renderTree(view, ctx.theme),
  );
}

// -- export ----------------------------------------------------------------------------------

async function runExport(ctx: Context, o: TopologyExportOptions): Promise<void> {
  const { t } = await loadTopology(ctx, "export");
  const { definitions, notes } = toDefinitions(t, o.vhost);
  for (const n of notes) ctx.io.err(`${ctx.theme.warn("note:")} ${n}`);
  const text = `${JSON.stringify(definitions, null, 2)}\n`;
  if (o.out === undefined) {
    ctx.io.out(text);
    return;
  }
  await writeOutputFile(ctx, o.out, text);
  const d = definitions;
  ctx.io.err(
    `${ctx.theme.ok("✓")} wrote ${d.exchanges.length} exchange${d.exchanges.length === 1 ? "" : "s"}, ${d.queues.length} queue${d.queues.length === 1 ? "" : "s"} and ${d.bindings.length} binding${d.bindings.length === 1 ? "" : "s"} to ${o.out}`,
  );
}

// -- import ----------------------------------------------------------------------------------

async function readDefinitionsText(ctx: Context, file: string): Promise<string> {
  if (file === "-") {
    const chunks: Buffer[] = [];
    for await (const c of ctx.io.stdin)
      chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
    return Buffer.concat(chunks).toString("utf8");
  }
  try {
    return await readFile(path.resolve(ctx.cwd, file), "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new EventlabError(
      "io",
      code === "ENOENT"
        ? `definitions file ${file} not found`
        : code === "EISDIR"
          ? `definitions file ${file} is a directory`
          : `cannot read definitions file ${file} (${code ?? String(err)})`,
      {
        hint: "check the path (relative to the current directory); `rabbitmqctl export_definitions /tmp/definitions.json` writes one",
        cause: err,
      },
    );
  }
}

async function runImport(ctx: Context, o: TopologyImportOptions): Promise<void> {
  const shownInput = o.file === "-" ? "standard input" : o.file;
  const definitions = parseDefinitions(await readDefinitionsText(ctx, o.file), shownInput);
  const { topology, notes } = fromDefinitions(definitions, o.vhost);
  const imported =
    Object.keys(topology.exchanges).length +
    Object.keys(topology.queues).length +
    topology.bindings.length;
  if (imported === 0) {
    const vhosts = definitions.vhosts.map((v) => v.name).filter((v) => v !== o.vhost);
    throw new EventlabError(
      "config",
      `${shownInput} holds no exchanges, queues or bindings of vhost ${JSON.stringify(o.vhost)} to import${notes.length > 0 ? `\n  ${notes.join("\n  ")}` : ""}`,
      {
        hint:
          vhosts.length > 0
            ? `it also defines vhost${vhosts.length === 1 ? "" : "s"} ${vhosts.map((v) => JSON.stringify(v)).join(", ")}: pick one with --vhost`
            : "the broker's own objects (amq.*, the default exchange) are never imported",
      },
    );
  }

  // Where to write: --out, else the config in use, else eventlab.config.yaml here.
  const target = o.out ?? (await ctx.loadConfig()).file ?? "eventlab.config.yaml";
  const full = path.resolve(ctx.cwd, target);
  const json = target.toLowerCase().endsWith(".json");
  const existing = await readConfigIfAny(full, target);
  // A broken file is not merged into: fix it first (the error lists every problem).
  if (existing !== undefined) parseConfig(existing, target);
  let merged: MergeResult;
  try {
    merged = mergeTopology(
      existing,
      json,
      topology,
      `eventlab config: topology imported by \`eventlab topology import ${o.file === "-" ? "-" : path.basename(o.file)}\``,
    );
    parseConfig(merged.text, target);
  } catch (err) {
    throw new EventlabError(
      "config",
      `the imported topology does not fit into ${target}, so nothing was written:\n  ${(err as Error).message}`,
      {
        hint:
          err instanceof EventlabError && err.hint !== undefined
            ? err.hint
            : "import into a new file with --out FILE, or fix the conflicting entries",
        cause: err,
      },
    );
  }
  const write = !o.dryRun && merged.changed;
  if (write) await writeConfigText(full, target, merged.text);

  const { io, theme } = ctx;
  if (o.json) {
    io.out(
      `${JSON.stringify({
        file: target,
        created: existing === undefined,
        changed: merged.changed,
        written: write,
        counts: merged.counts,
        objects: merged.objects.map((obj) =>
          obj.changes === undefined
            ? obj
            : {
                ...obj,
                changes: obj.changes.map((c) => ({ ...c, from: c.from ?? null, to: c.to ?? null })),
              },
        ),
        notes,
        ...(o.dryRun ? { text: merged.text } : {}),
      })}\n`,
    );
    return;
  }
  for (const n of notes) io.err(`${theme.warn("note:")} ${n}`);
  const lines = importSummary(ctx, merged, target, existing === undefined, o.dryRun);
  if (o.dryRun) {
    io.err(theme.dim(`(--dry-run: ${target} is not written; this is what it would hold)`));
    for (const line of lines) io.err(line);
    io.out(merged.text);
    return;
  }
  for (const line of lines) io.out(`${line}\n`);
}

/**
 * What an import did, per kind: `✓ updated F: 1 added (1 exchange), 2 replaced (2 queues),
 * 1 unchanged (1 binding)`, then each replaced object with the settings that changed.
 */
function importSummary(
  ctx: Context,
  merged: MergeResult,
  target: string,
  created: boolean,
  dryRun: boolean,
): string[] {
  const { theme } = ctx;
  const part = (status: keyof MergeResult["counts"]) => {
    const c = merged.counts[status];
    const kinds = (
      [
        [c.exchanges, "exchange"],
        [c.queues, "queue"],
        [c.bindings, "binding"],
      ] as const
    ).filter(([n]) => n > 0);
    const total = kinds.reduce((sum, [n]) => sum + n, 0);
    const each = kinds.map(([n, what]) => `${n} ${what}${n === 1 ? "" : "s"}`).join(", ");
    return total > 0 ? [`${total} ${status} (${each})`] : [];
  };
  const parts = (["added", "replaced", "unchanged"] as const).flatMap(part).join(", ");
  const file = theme.bold(target);
  const verb = dryRun ? `would ${created ? "create" : "update"}` : created ? "created" : "updated";
  const head = merged.changed
    ? `${theme.ok("✓")} ${verb} ${file}: ${parts}`
    : `${theme.ok("✓")} nothing new: ${file} already holds all of it: ${parts}; not rewritten`;
  const shown = (setting: string, v: unknown) =>
    v === undefined
      ? "unset"
      : (setting === "messageTtl" || setting === "expires") && typeof v === "number"
        ? durationText(v)
        : typeof v === "string" && v !== ""
          ? v
          : JSON.stringify(v);
  const replaced = merged.objects.flatMap((obj) =>
    obj.status === "replaced"
      ? [
          `${theme.warn("!")} replaced ${obj.kind} ${theme.bold(obj.name)}: ${(obj.changes ?? [])
            .map((c) => `${c.setting} ${shown(c.setting, c.from)} → ${shown(c.setting, c.to)}`)
            .join(", ")}`,
        ]
      : [],
  );
  if (replaced.length > 0)
    replaced.push(
      theme.dim(
        "  (same name, other settings: the definitions file's settings replace the config's)",
      ),
    );
  return [head, ...replaced];
}

// -- diff ------------------------------------------------------------------------------------

async function runDiff(ctx: Context, o: TopologyDiffOptions): Promise<void> {
  const { t, file } = await loadTopology(ctx, "compare");
  const { io, theme } = ctx;
  const live = t.bindings.length > 0 ? await liveBindings(ctx) : { bindings: undefined };
  const entries: DiffEntry[] = await withConnection(connectFor(ctx), (conn) =>
    diffTopology(
      conn,
      t,
      (e) => {
        if (!o.json) io.out(comparedLine(e, theme));
      },
      live.bindings,
    ),
  );
  const summary = countCompared(entries);
  if (o.json) {
    io.out(`${JSON.stringify({ file: file ?? null, objects: entries, summary })}\n`);
  } else {
    io.out(comparedSummary(summary, file, theme));
    if (summary.unchecked > 0)
      io.err(
        theme.dim(
          `note: AMQP 0-9-1 cannot list bindings and the management API did not answer (${live.why ?? "?"}), so a binding whose ends exist is not checked; \`eventlab topology apply\` binds them again`,
        ),
      );
  }
  if (summary.missing > 0 || summary.different > 0) ctx.setExitCode(ExitCode.failure);
}

/** The broker's bindings through the management API, or why they could not be had. */
async function liveBindings(
  ctx: Context,
): Promise<{ bindings: LiveBinding[] | undefined; why?: string }> {
  const target = await ctx.broker();
  const vhost = decodeURIComponent(new URL(target.urls[0] as string).pathname.slice(1)) || "/";
  try {
    const api = await ctx.management();
    return { bindings: await api.get<LiveBinding[]>(`bindings/${seg(vhost)}`) };
  } catch (err) {
    return { bindings: undefined, why: err instanceof Error ? err.message : String(err) };
  }
}

// -- apply -----------------------------------------------------------------------------------

async function runApply(ctx: Context, o: TopologyApplyOptions): Promise<void> {
  const { config, file } = await ctx.loadConfig();
  const t = config.topology;
  const { io, theme } = ctx;
  if (objectCount(t) === 0) {
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
  if (o.dryRun) {
    for (const p of plan(t)) io.out(plannedLine(p, o.json, theme));
    return;
  }
  const counts = { created: 0, exists: 0, bound: 0 };
  await withConnection(connectFor(ctx), async (conn) => {
    await applyTopology(conn, t, (r) => {
      counts[r.status] += 1;
      io.out(declaredLine(r, o.json, theme));
    });
  });
  if (o.json) io.out(`${JSON.stringify({ summary: true, ...counts, file })}\n`);
  else io.out(appliedSummary(counts, file, theme));
}

/** What `apply` would declare, in order, with the settings it would ask for. */
function plan(
  t: Topology,
): Array<{ kind: string; name: string; settings: Record<string, unknown> }> {
  return [
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
}

/** The connection a subcommand opens, named for the broker's connection list. */
const connectFor = (ctx: Context) => () => ctx.connect({ connectionName: "eventlab topology" });

function objectCount(t: Topology): number {
  return Object.keys(t.exchanges).length + Object.keys(t.queues).length + t.bindings.length;
}

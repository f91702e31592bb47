/**
 * `eventlab topology <subcommand>`: the config's topology as a whole. `apply` declares it,
 * `show` draws it (tree, Mermaid, dot), `export` and `import` speak RabbitMQ's
 * definitions.json, and `diff` compares it with a live broker.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { Command } from "commander";
import type { DiffEntry } from "../client/topology.js";
import type { MergeResult } from "../config/definitions.js";
import type { Topology } from "../config/schema.js";
import type { Context } from "../context.js";
import { EventlabError, ExitCode, UsageError } from "../errors.js";
import type { TopologyView, ViewLink, ViewNode } from "../ui/topology-view.js";
import { printDeclared, withConnection } from "./declare.js";
import { choiceFlag } from "./options.js";

export interface TopologyApplyOptions {
  dryRun: boolean;
  json: boolean;
}

export const showFormats = ["tree", "mermaid", "dot"] as const;
export type ShowFormat = (typeof showFormats)[number];

export interface TopologyShowOptions {
  format: ShowFormat;
  json: boolean;
}

export interface TopologyExportOptions {
  /** Write here instead of stdout. */
  out?: string | undefined;
  vhost: string;
}

export interface TopologyImportOptions {
  /** The definitions file; "-" reads standard input. */
  file: string;
  /** The config file to write; default: the config in use, or eventlab.config.yaml. */
  out?: string | undefined;
  vhost: string;
  dryRun: boolean;
  json: boolean;
}

export interface TopologyDiffOptions {
  json: boolean;
}

export interface TopologyRuns {
  apply(ctx: Context, o: TopologyApplyOptions): Promise<void>;
  show(ctx: Context, o: TopologyShowOptions): Promise<void>;
  export(ctx: Context, o: TopologyExportOptions): Promise<void>;
  import(ctx: Context, o: TopologyImportOptions): Promise<void>;
  diff(ctx: Context, o: TopologyDiffOptions): Promise<void>;
}

function vhostFlag(raw: string | undefined): string {
  if (raw === undefined) return "/";
  if (raw === "")
    throw new UsageError("--vhost must not be empty", "the default vhost is --vhost /");
  return raw;
}

export function topologyCommand(ctx: Context, partial: Partial<TopologyRuns> = {}): Command {
  const runs: TopologyRuns = {
    apply: runApply,
    show: runShow,
    export: runExport,
    import: runImport,
    diff: runDiff,
    ...partial,
  };
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
  cmd
    .command("show")
    .description("draw the config's topology: a tree, or Mermaid or Graphviz dot source")
    .option("-f, --format <format>", "tree, mermaid or dot", "tree")
    .option("--json", "print the topology as JSON (every field, defaults filled in)")
    .addHelpText(
      "after",
      `
The tree lists each exchange (type and flags) with its bindings beneath, then the queues no
binding reaches. Mermaid and dot draw exchanges as hexagons and queues as cylinders; dashed
arrows are alternate exchanges and dead-letter exchanges. Nothing connects to a broker.

Examples:
  $ eventlab topology show
  $ eventlab topology show --format mermaid > topology.mmd
  $ eventlab topology show --format dot | dot -Tsvg > topology.svg
  $ eventlab topology show --json`,
    )
    .action(async (f: { format?: string; json?: boolean }) =>
      runs.show(ctx, {
        format: choiceFlag("--format", f.format, showFormats) ?? "tree",
        json: f.json === true,
      }),
    );
  cmd
    .command("export")
    .description("write the config's topology as RabbitMQ definitions (definitions.json)")
    .option("-o, --out <file>", "write to this file instead of standard output")
    .option("--vhost <name>", "the vhost to put the objects in", "/")
    .addHelpText(
      "after",
      `
The output is RabbitMQ's definitions format, with the same x- arguments \`topology apply\`
declares. Load it with \`rabbitmqctl import_definitions FILE\`, the management UI, or the
load_definitions setting. Exclusive queues cannot be defined and are left out (with a note).
The output is JSON already, so there is no --json.

Examples:
  $ eventlab topology export > definitions.json
  $ eventlab topology export --out definitions.json
  $ eventlab topology export --vhost staging | rabbitmqctl import_definitions`,
    )
    .action(async (f: { out?: string; vhost?: string }) =>
      runs.export(ctx, { out: f.out, vhost: vhostFlag(f.vhost) }),
    );
  cmd
    .command("import")
    .description("put the topology of a RabbitMQ definitions file into the config file")
    .argument("<definitions>", 'a definitions.json file ("-" reads standard input)')
    .option(
      "-o, --out <file>",
      "the config file to write (default: the config in use, else eventlab.config.yaml)",
    )
    .option("--vhost <name>", "import the objects of this vhost", "/")
    .option("--dry-run", "print the config file that would be written, and write nothing")
    .option(
      "--json",
      "print one JSON object: counts and every object added, replaced (with the changed settings) or unchanged",
    )
    .addHelpText(
      "after",
      `
Reads what \`rabbitmqctl export_definitions FILE.json\` or the management UI writes. Users,
permissions, policies and parameters are ignored; so are the broker's own objects (the default
exchange, amq.*) and other vhosts' objects, with a note. x- arguments eventlab has fields for
become those fields (x-message-ttl → messageTtl, …); others are kept as \`arguments\`, with a note.

Without a config file, eventlab.config.yaml is created. With one, its topology section is
merged: an exchange or queue of the same name but other settings takes the imported settings
(the output lists each setting it changes), new ones are added, bindings are added unless
already there. Only the lines of added and replaced objects change: the rest of the file stays
as written, comments and flow style included. When the file already holds everything, it is
not rewritten and the output says "nothing new".

Examples:
  $ rabbitmqctl export_definitions /tmp/definitions.json
  $ eventlab topology import /tmp/definitions.json
  $ eventlab topology import definitions.json --out lab/imported.yaml
  $ eventlab topology import definitions.json --vhost staging --dry-run`,
    )
    .action(
      async (file: string, f: { out?: string; vhost?: string; dryRun?: boolean; json?: boolean }) =>
        runs.import(ctx, {
          file,
          out: f.out,
          vhost: vhostFlag(f.vhost),
          dryRun: f.dryRun === true,
          json: f.json === true,
        }),
    );
  cmd
    .command("diff")
    .description("compare the config's topology with the broker's, without changing anything")
    .option("--json", "print the comparison as one JSON object: objects and a summary")
    .addHelpText(
      "after",
      `
Each exchange and queue is looked up with a passive declare, and one that exists is declared
again with the config's settings on a throwaway channel: the broker refuses (406) when a
setting differs and names it. Output per object: ✓ same, ✗ missing, ≠ different (the setting,
the config's value and the broker's). RabbitMQ names only the first setting that differs.

Bindings are not really compared: AMQP 0-9-1 cannot list or look up bindings (binding twice
and unbinding a missing binding both succeed). A binding is shown ✗ missing when its source or
destination is missing, and ? unchecked otherwise. \`topology apply\` binds them all again.
For a full comparison, use the management UI or \`rabbitmqctl list_bindings\`.

Nothing is created or deleted. Exit code: 0 when everything checked is the same, 1 when
something is missing or different (or on an error).

Examples:
  $ eventlab topology diff
  $ eventlab topology diff --json | jq '.objects[] | select(.status != "same")'
  $ eventlab --url amqp://guest:guest@staging:5672 topology diff`,
    )
    .action(async (f: { json?: boolean }) => runs.diff(ctx, { json: f.json === true }));
  cmd.addHelpText(
    "after",
    `
Examples:
  $ eventlab topology apply
  $ eventlab topology show --format mermaid
  $ eventlab topology diff
  $ eventlab topology export > definitions.json
  $ eventlab topology import definitions.json`,
  );
  return cmd;
}

/** The config's topology, or an error saying there is none. */
async function loadTopology(ctx: Context, what: string): Promise<{ t: Topology; file?: string }> {
  const { config, file } = await ctx.loadConfig();
  const t = config.topology;
  if (Object.keys(t.exchanges).length + Object.keys(t.queues).length + t.bindings.length === 0) {
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

/** `3600000` → `1h`: durations as a person writes them in the config. */
function ms(n: number): string {
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return `${n}ms`;
}

const value = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
const argList = (args: Record<string, unknown>) =>
  Object.entries(args).map(([k, v]) => `${k}=${value(v)}`);

/** The view the renderers draw: config order, then objects only referenced, in order of mention. */
export function topologyView(t: Topology): TopologyView {
  const nodes: ViewNode[] = [];
  const links: ViewLink[] = [];
  const seen = new Set<string>();
  const add = (n: ViewNode) => {
    const key = `${n.kind}\u0000${n.name}`;
    if (seen.has(key)) return;
    seen.add(key);
    nodes.push(n);
  };
  for (const [name, e] of Object.entries(t.exchanges)) {
    add({
      kind: "exchange",
      name,
      type: e.type,
      details: [
        e.durable ? "durable" : "transient",
        ...(e.autoDelete ? ["auto-delete"] : []),
        ...(e.internal ? ["internal"] : []),
        ...(e.alternateExchange !== undefined
          ? [`alternate-exchange → ${e.alternateExchange}`]
          : []),
        ...argList(e.arguments),
      ],
      declared: true,
    });
  }
  for (const [name, q] of Object.entries(t.queues)) {
    const d: string[] = [];
    if (q.queueType !== undefined) d.push(q.queueType);
    if (!q.durable) d.push("transient");
    if (q.exclusive) d.push("exclusive");
    if (q.autoDelete) d.push("auto-delete");
    if (q.messageTtl !== undefined) d.push(`message-ttl ${ms(q.messageTtl)}`);
    if (q.expires !== undefined) d.push(`expires ${ms(q.expires)}`);
    if (q.maxLength !== undefined) d.push(`max-length ${q.maxLength}`);
    if (q.maxLengthBytes !== undefined) d.push(`max-length-bytes ${q.maxLengthBytes}`);
    if (q.overflow !== undefined) d.push(`overflow ${q.overflow}`);
    if (q.maxPriority !== undefined) d.push(`max-priority ${q.maxPriority}`);
    if (q.deadLetterExchange !== undefined)
      d.push(
        `dead-letter → ${q.deadLetterExchange || '""'}${q.deadLetterRoutingKey !== undefined ? `, dead-letter-key ${q.deadLetterRoutingKey}` : ""}`,
      );
    d.push(...argList(q.arguments));
    add({ kind: "queue", name, type: "", details: d, declared: true });
  }
  const mention = (kind: "exchange" | "queue", name: string) =>
    add({ kind, name, type: "", details: [], declared: false });
  for (const [name, e] of Object.entries(t.exchanges)) {
    if (e.alternateExchange === undefined) continue;
    mention("exchange", e.alternateExchange);
    links.push({
      from: { kind: "exchange", name },
      to: { kind: "exchange", name: e.alternateExchange },
      kind: "alternate",
      label: "",
    });
  }
  for (const b of t.bindings) {
    const destKind = b.destinationType === "exchange" ? "exchange" : "queue";
    mention("exchange", b.source);
    mention(destKind, b.destination);
    const label =
      b.headers !== undefined
        ? `match ${b.match ?? "all"}: ${argList(b.headers).join(", ")}`
        : b.routingKey === "" && t.exchanges[b.source]?.type !== "fanout"
          ? '""'
          : b.routingKey;
    const extra = argList(b.arguments);
    links.push({
      from: { kind: "exchange", name: b.source },
      to: { kind: destKind, name: b.destination },
      kind: "binding",
      label: [label, ...extra].filter((s) => s !== "").join(", "),
    });
  }
  for (const [name, q] of Object.entries(t.queues)) {
    // "" dead-letters through the default exchange: nothing to draw.
    if (q.deadLetterExchange === undefined || q.deadLetterExchange === "") continue;
    mention("exchange", q.deadLetterExchange);
    links.push({
      from: { kind: "queue", name },
      to: { kind: "exchange", name: q.deadLetterExchange },
      kind: "dead-letter",
      label: q.deadLetterRoutingKey ?? "",
    });
  }
  return { nodes, links };
}

export async function runShow(ctx: Context, o: TopologyShowOptions): Promise<void> {
  const { t } = await loadTopology(ctx, "show");
  if (o.json) {
    ctx.io.out(`${JSON.stringify(t, null, 2)}\n`);
    return;
  }
  const { renderDot, renderMermaid, renderTree } = await import("../ui/topology-view.js");
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

export async function runExport(ctx: Context, o: TopologyExportOptions): Promise<void> {
  const { t } = await loadTopology(ctx, "export");
  const { toDefinitions } = await import("../config/definitions.js");
  const { definitions, notes } = toDefinitions(t, o.vhost);
  for (const n of notes) ctx.io.err(`${ctx.theme.warn("note:")} ${n}`);
  const text = `${JSON.stringify(definitions, null, 2)}\n`;
  if (o.out === undefined) {
    ctx.io.out(text);
    return;
  }
  try {
    await writeFile(path.resolve(ctx.cwd, o.out), text, "utf8");
  } catch (err) {
    throw new EventlabError(
      "io",
      `cannot write ${o.out} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      { hint: "check that the directory exists and is writable", cause: err },
    );
  }
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

export async function runImport(ctx: Context, o: TopologyImportOptions): Promise<void> {
  const { fromDefinitions, mergeTopology, parseDefinitions } = await import(
    "../config/definitions.js"
  );
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
  const { readConfigIfAny, writeConfigText } = await import("../config/write.js");
  const { parseConfig } = await import("../config/load.js");
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
        ? ms(v)
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

export async function runDiff(ctx: Context, o: TopologyDiffOptions): Promise<void> {
  const { t, file } = await loadTopology(ctx, "compare");
  const { diffTopology } = await import("../client/topology.js");
  const { io, theme } = ctx;
  const entries: DiffEntry[] = await withConnection(ctx, (conn) =>
    diffTopology(conn, t, (e) => {
      if (!o.json) io.out(`${diffLine(ctx, e)}\n`);
    }),
  );
  const summary = { same: 0, missing: 0, different: 0, unchecked: 0 };
  for (const e of entries) summary[e.status] += 1;
  if (o.json) {
    io.out(`${JSON.stringify({ file: file ?? null, objects: entries, summary })}\n`);
  } else {
    const parts = [
      `${summary.same} same`,
      `${summary.missing} missing`,
      `${summary.different} different`,
      ...(summary.unchecked > 0
        ? [`${summary.unchecked} binding${summary.unchecked === 1 ? "" : "s"} unchecked`]
        : []),
    ];
    const ok = summary.missing === 0 && summary.different === 0;
    io.out(
      `${ok ? theme.ok("✓") : theme.error("✗")} ${parts.join(", ")}${file ? theme.dim(` (${file} against the broker)`) : ""}\n`,
    );
    if (summary.unchecked > 0)
      io.err(
        theme.dim(
          "note: AMQP 0-9-1 cannot list bindings, so a binding whose ends exist is not checked; `eventlab topology apply` binds them again",
        ),
      );
  }
  if (summary.missing > 0 || summary.different > 0) ctx.setExitCode(ExitCode.failure);
}

function diffLine(ctx: Context, e: DiffEntry): string {
  const { theme } = ctx;
  const name = `${e.kind} ${theme.bold(e.name)}`;
  switch (e.status) {
    case "same":
      return `${theme.ok("✓")} ${name}`;
    case "missing":
      return `${theme.error("✗")} ${name}  ${theme.error("missing")}${e.note ? theme.dim(` (${e.note})`) : ""}`;
    case "unchecked":
      return `${theme.dim("?")} ${name}  ${theme.dim(`unchecked${e.note ? ` (${e.note})` : ""}`)}`;
    default:
      return `${theme.warn("≠")} ${name}  ${(e.differences ?? [])
        .map((d) => `${theme.key(d.setting)}: config ${d.config}, broker ${d.broker}`)
        .join("; ")}`;
  }
}

// -- apply -----------------------------------------------------------------------------------

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

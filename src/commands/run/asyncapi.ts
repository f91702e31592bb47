/**
 * What `eventlab import asyncapi` and `eventlab export asyncapi` do: read and validate the
 * document with the AsyncAPI parser, print (or write) what it adds to the config; or build
 * the document from the config, check that it parses without errors, and write it.
 */
import { readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { Document, stringify } from "yaml";
import {
  exportDocument,
  type ImportPlan,
  parseAsyncApi,
  planImport,
} from "../../config/asyncapi.js";
import { contractBase, type SchemaSpec } from "../../config/contracts.js";
import { editYamlText, readConfigIfAny, writeConfigText } from "../../config/write.js";
import type { Context } from "../../context.js";
import { EventlabError, UsageError } from "../../errors.js";
import type { AsyncApiOptions } from "../asyncapi.js";
import { writeOutputFile } from "./output-file.js";

export async function runAsyncApi(ctx: Context, o: AsyncApiOptions): Promise<void> {
  if (o.command === "import") await runImport(ctx, o);
  else await runExport(ctx, o);
}

type ImportOptions = Extract<AsyncApiOptions, { command: "import" }>;

async function runImport(ctx: Context, o: ImportOptions): Promise<void> {
  const { io, theme } = ctx;
  const text = await readInput(ctx, o.file);
  const parsed = await parseAsyncApi(text, o.file);
  const plan = planImport(parsed, o.schemasDir.replace(/\/+$/, ""));
  const target = await configTarget(ctx);
  const existing = await existingNames(ctx, target.exists);
  const kept = {
    exchanges: Object.keys(plan.exchanges).filter((n) => existing.exchanges.has(n)),
    queues: Object.keys(plan.queues).filter((n) => existing.queues.has(n)),
    templates: Object.keys(plan.templates).filter((n) => existing.templates.has(n)),
    consumers: Object.keys(plan.consumers).filter((n) => existing.consumers.has(n)),
  };
  if (o.write) await writeImport(plan, target, kept);
  if (o.json) {
    io.out(
      `${JSON.stringify({ source: o.file, asyncapi: parsed.version, title: parsed.title, config: target.shown, written: o.write, ...plan, kept })}\n`,
    );
    return;
  }
  if (ctx.globals.verbose) for (const w of parsed.warnings) io.err(theme.dim(`note: ${w}`));
  else if (parsed.warnings.length > 0)
    io.err(
      theme.dim(
        `note: the AsyncAPI parser has ${parsed.warnings.length} suggestion${parsed.warnings.length === 1 ? "" : "s"} for the document (--verbose lists them)`,
      ),
    );
  io.out(
    `${o.file}: AsyncAPI ${parsed.version}, "${parsed.title}" — ${plan.schemas.length} message schema${plan.schemas.length === 1 ? "" : "s"}\n`,
  );
  const mark = (kind: keyof typeof kept, name: string) =>
    kept[kind].includes(name) ? theme.dim(" (already in the config: kept as it is)") : "";
  const rows: string[] = [];
  for (const s of plan.schemas) rows.push(`  schema    ${s.file}  (message ${s.message})`);
  for (const [name, e] of Object.entries(plan.exchanges))
    rows.push(
      `  exchange  ${name} (${e.type}${e.durable ? ", durable" : ""}${e.autoDelete ? ", auto-delete" : ""})${mark("exchanges", name)}`,
    );
  for (const [name, q] of Object.entries(plan.queues))
    rows.push(
      `  queue     ${name}${q.durable ? " (durable)" : ""}${q.exclusive ? " (exclusive)" : ""}${mark("queues", name)}`,
    );
  for (const [name, t] of Object.entries(plan.templates))
    rows.push(
      `  template  ${name} → ${t.exchange === "" ? "(default exchange)" : t.exchange}, routing key ${JSON.stringify(t.routingKey)}, schema ${t.schema}${mark("templates", name)}`,
    );
  for (const [name, c] of Object.entries(plan.consumers))
    rows.push(`  consumer  ${name} on ${c.queue}, schema ${c.schema}${mark("consumers", name)}`);
  io.out(`${rows.join("\n")}\n`);
  for (const s of plan.skipped) io.err(theme.dim(`note: ${s}`));
  if (o.write) io.err(theme.ok(`${theme.symbols.ok} wrote the schema files and ${target.shown}`));
  else
    io.err(
      theme.dim(
        `nothing written: run again with --write to write the schema files and add these to ${target.shown}`,
      ),
    );
}

async function readInput(ctx: Context, file: string): Promise<string> {
  try {
    return await readFile(path.resolve(ctx.cwd, file), "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new EventlabError(
      "io",
      code === "ENOENT" ? `${file} not found` : `cannot read ${file} (${code ?? String(err)})`,
      {
        hint: "give the path of an AsyncAPI document (YAML or JSON), relative to the current directory",
      },
    );
  }
}

interface ConfigTarget {
  full: string;
  shown: string;
  exists: boolean;
}

/** The config file in use, else eventlab.config.yaml in the working directory. */
async function configTarget(ctx: Context): Promise<ConfigTarget> {
  const { file } = await ctx.loadConfig();
  const shown = file ?? "eventlab.config.yaml";
  return { full: path.resolve(ctx.cwd, shown), shown, exists: file !== undefined };
}

async function existingNames(ctx: Context, exists: boolean) {
  const config = exists ? (await ctx.loadConfig()).config : undefined;
  return {
    exchanges: new Set(Object.keys(config?.topology.exchanges ?? {})),
    queues: new Set(Object.keys(config?.topology.queues ?? {})),
    templates: new Set(Object.keys(config?.templates ?? {})),
    consumers: new Set(Object.keys(config?.consumers ?? {})),
  };
}

/** The schema files (next to the config), then the config: new names added, known ones kept. */
async function writeImport(
  plan: ImportPlan,
  target: ConfigTarget,
  kept: Record<"exchanges" | "queues" | "templates" | "consumers", string[]>,
): Promise<void> {
  const base = path.dirname(target.full);
  for (const s of plan.schemas) {
    const full = path.resolve(base, s.file);
    try {
      await mkdir(path.dirname(full), { recursive: true });
      await writeFile(full, `${JSON.stringify(s.schema, null, 2)}\n`, "utf8");
    } catch (err) {
      throw new EventlabError(
        "io",
        `cannot write ${s.file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        { hint: "check that the directory is writable, or choose another with --schemas-dir" },
      );
    }
  }
  const additions: Array<[string[], unknown]> = [];
  const add = (section: string[], entries: Record<string, unknown>, skip: string[]) => {
    for (const [name, value] of Object.entries(entries))
      if (!skip.includes(name)) additions.push([[...section, name], value]);
  };
  add(["topology", "exchanges"], plan.exchanges, kept.exchanges);
  add(["topology", "queues"], plan.queues, kept.queues);
  add(["templates"], plan.templates, kept.templates);
  add(["consumers"], plan.consumers, kept.consumers);
  if (additions.length === 0) return;
  const before = (await readConfigIfAny(target.full, target.shown)) ?? "";
  let after: string;
  if (target.full.toLowerCase().endsWith(".json")) {
    const data = (before.trim() === "" ? {} : JSON.parse(before)) as Record<string, unknown>;
    for (const [keys, value] of additions) setIn(data, keys, value);
    after = `${JSON.stringify(data, null, 2)}\n`;
  } else {
    const edit = (doc: Document) => {
      for (const [keys, value] of additions) doc.setIn(keys, doc.createNode(value));
    };
    if (before.trim() === "") {
      const doc = new Document({});
      edit(doc);
      after = doc.toString({ lineWidth: 0 });
    } else after = editYamlText(before, edit);
  }
  await writeConfigText(target.full, target.shown, after);
}

function setIn(root: Record<string, unknown>, keys: string[], value: unknown): void {
  let cur = root;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    if (next === null || typeof next !== "object") cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1] as string] = value;
}

type ExportOptions = Extract<AsyncApiOptions, { command: "export" }>;

async function runExport(ctx: Context, o: ExportOptions): Promise<void> {
  const { config, file } = await ctx.loadConfig();
  const base = contractBase(ctx.cwd, file);
  const schemaOf = (spec: SchemaSpec) => {
    if (typeof spec !== "string") return spec;
    try {
      return JSON.parse(readFileSync(path.resolve(base, spec), "utf8")) as Record<string, unknown>;
    } catch {
      throw new UsageError(
        `cannot read the schema file ${spec}`,
        "check the schema: paths in the config",
      );
    }
  };
  const title = file ? `eventlab: ${path.basename(file)}` : "eventlab";
  const document = exportDocument(config, schemaOf, title);
  const json = o.out?.toLowerCase().endsWith(".json") === true;
  const text = json
    ? `${JSON.stringify(document, null, 2)}\n`
    : stringify(document, { lineWidth: 0, aliasDuplicateObjects: false });
  // The document must parse: what eventlab writes, others can read.
  await parseAsyncApi(text, "the exported document").catch((err: unknown) => {
    throw new EventlabError(
      "internal",
      `the exported AsyncAPI document does not validate: ${err instanceof Error ? err.message : String(err)}`,
      { hint: "this is a bug in eventlab; please report it with your config" },
    );
  });
  if (o.out === undefined) {
    ctx.io.out(text);
    return;
  }
  await writeOutputFile(ctx, o.out, text);
  const n = Object.keys((document["components"] as { messages: object }).messages).length;
  ctx.io.err(
    ctx.theme.ok(
      `${ctx.theme.symbols.ok} wrote ${o.out}: AsyncAPI 3.0.0, ${Object.keys(document["channels"] as object).length} channels, ${n} messages`,
    ),
  );
}

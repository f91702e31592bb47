/**
 * What `eventlab init` does once its flags are parsed: write the commented example or a
 * preset (as YAML, or JSON for a .json name) pointing the editor at the JSON Schema, never
 * over an existing file without --force, then say what to run next; or list the presets.
 */

import { access, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parse } from "yaml";
import { CONFIG_FILE_NAMES, DEFAULT_CONFIG_FILE } from "../../config/constants.js";
import {
  listPresets,
  type PresetInfo,
  packageRoot,
  readPreset,
  SCHEMA_MODELINE,
} from "../../config/presets.js";
import type { Context } from "../../context.js";
import { EventlabError } from "../../errors.js";
import { table } from "../../ui/table.js";
import { VERSION } from "../../version.js";
import type { InitOptions } from "../init.js";

export interface InitResult {
  /** The file written, relative to the working directory when inside it. */
  file: string;
  created: true;
  /** An existing file was replaced (--force). */
  overwritten: boolean;
  /** The preset written, when --preset was given. */
  preset?: string;
}

const EXAMPLE = "config/eventlab.example.yaml";
const SCHEMA = "config/eventlab.schema.json";

/** A file the person named, as they would read it: relative when inside the working directory. */
interface Target {
  full: string;
  shown: string;
}

export async function runInit(ctx: Context, options: InitOptions): Promise<void> {
  if (options.list) {
    await printPresets(ctx, options.json);
    return;
  }
  const root = await packageRoot();
  const full = path.resolve(ctx.cwd, options.file);
  const relative = path.relative(ctx.cwd, full);
  const target: Target = {
    full,
    shown: relative !== "" && !relative.startsWith("..") ? relative : full,
  };

  const source =
    options.preset === undefined
      ? await readFile(path.join(root, EXAMPLE), "utf8")
      : await readPreset(options.preset, root);
  const schemaRef = schemaReference(path.join(root, SCHEMA), path.dirname(full), VERSION);
  const existed = options.force && (await exists(full));
  await writeNew(target, configText(source, schemaRef, full), options.force);

  const result: InitResult = { file: target.shown, created: true, overwritten: existed };
  if (options.preset !== undefined) result.preset = options.preset;
  if (options.json) ctx.io.out(`${JSON.stringify(result)}\n`);
  else await printNext(ctx, target, source, result);
}

/** The text to write: the source with the schema line, or JSON with `$schema` for a .json name. */
function configText(source: string, schemaRef: string, full: string): string {
  if (full.toLowerCase().endsWith(".json")) {
    const data = parse(source) as Record<string, unknown>;
    return `${JSON.stringify({ $schema: schemaRef, ...data }, null, 2)}\n`;
  }
  const modeline = `# yaml-language-server: $schema=${schemaRef}`;
  return SCHEMA_MODELINE.test(source)
    ? source.replace(SCHEMA_MODELINE, modeline)
    : `${modeline}\n${source}`;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Write `text`; without `force`, a file that is there (or appears meanwhile) stays. */
async function writeNew(target: Target, text: string, force: boolean): Promise<void> {
  try {
    // "wx" fails when the file exists, so a file that appears meanwhile is not overwritten.
    await writeFile(target.full, text, { encoding: "utf8", flag: force ? "w" : "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new EventlabError("io", `${target.shown} already exists; not overwriting it`, {
        hint: "pass --force to replace it, or --file <path> to write somewhere else",
      });
    }
    throw writeError(err, target.shown);
  }
}

/** What was written, and the commands to run next (with --config when it is not the default). */
async function printNext(
  ctx: Context,
  target: Target,
  source: string,
  result: InitResult,
): Promise<void> {
  const { theme } = ctx;
  // Without --config, commands read the first of the default names in the working directory.
  let found: string | undefined;
  for (const name of CONFIG_FILE_NAMES) {
    if (await exists(path.join(ctx.cwd, name))) {
      found = path.join(ctx.cwd, name);
      break;
    }
  }
  const { EVENTLAB_CONFIG: fromEnv } = ctx.env;
  const envFile =
    fromEnv !== undefined && fromEnv !== "" ? path.resolve(ctx.cwd, fromEnv) : undefined;
  const readByDefault = (envFile ?? found) === target.full;
  const config = readByDefault ? "" : ` --config ${quote(target.shown)}`;

  const names = sectionNames(source);
  const preset = result.preset;
  const next: Array<[string, string]> =
    preset === undefined
      ? [
          [`eventlab topology apply${config}`, "declare its exchanges, queues and bindings"],
          [`eventlab produce order-created --amount 20${config}`, "publish 20 orders"],
          [`eventlab consume inventory --count 20${config}`, "read them back"],
          [`eventlab produce match-goal match-card${config}`, "the soccer scenario"],
        ]
      : presetNext(names, config);
  const lines = [
    `${theme.ok(theme.symbols.ok)} ${result.overwritten ? "replaced" : "wrote"} ${theme.bold(target.shown)}${
      preset === undefined ? "" : ` (preset ${preset})`
    }`,
    `  templates: ${names.templates.join(", ")}`,
    `  consumers: ${names.consumers.join(", ")}`,
    "",
    "Next:",
    ...table(
      next.map(([c, why]) => [c, theme.dim(`# ${why}`)]),
      { indent: "  " },
    ),
    "",
    theme.dim(
      preset === undefined
        ? "Every field is explained in the file. The broker is amqp://guest:guest@127.0.0.1:5672; change broker.url or pass --url for another."
        : "The comment at the top of the file says what the preset shows. The broker is amqp://guest:guest@127.0.0.1:5672; change broker.url or pass --url for another.",
    ),
  ];
  if (envFile !== undefined && envFile !== target.full) {
    ctx.io.err(
      theme.warn(
        `! EVENTLAB_CONFIG is set (${fromEnv}): commands read that file unless --config says otherwise`,
      ),
    );
  }
  ctx.io.out(`${lines.join("\n")}\n`);
}

/** What to run after writing a preset: apply it, publish every template, read a profile. */
function presetNext(
  names: { templates: string[]; consumers: string[] },
  config: string,
): Array<[string, string]> {
  const next: Array<[string, string]> = [
    [`eventlab topology apply${config}`, "declare its exchanges, queues and bindings"],
  ];
  if (names.templates.length > 0) {
    next.push([
      `eventlab produce ${names.templates.join(" ")}${config}`,
      names.templates.length === 1 ? "publish its messages" : "every template, at its own pace",
    ]);
  }
  const [consumer] = names.consumers;
  if (consumer !== undefined) {
    next.push([`eventlab consume ${consumer}${config}`, "read them with a consumer profile"]);
  }
  return next;
}

async function printPresets(ctx: Context, json: boolean): Promise<void> {
  const presets: PresetInfo[] = await listPresets();
  if (json) {
    ctx.io.out(`${JSON.stringify(presets)}\n`);
    return;
  }
  const lines = [
    ...table(presets.map((p) => [ctx.theme.bold(p.name), p.description])),
    "",
    ctx.theme.dim(
      `Write one with \`eventlab init --preset <name>\` (to ${DEFAULT_CONFIG_FILE}; --file for elsewhere).`,
    ),
  ];
  ctx.io.out(`${lines.join("\n")}\n`);
}

/**
 * How the written file points its editor at the JSON Schema: a relative path when eventlab
 * is installed in the project (./node_modules/eventlab/…) or the file is written inside a
 * checkout; otherwise (npx's temporary cache, a global install) the published copy of this
 * version.
 */
function schemaReference(schemaFile: string, targetDir: string, version: string): string {
  const rel = path.relative(targetDir, schemaFile).split(path.sep).join("/");
  const parts = rel.split("/");
  const local =
    !parts.includes("_npx") &&
    !path.isAbsolute(rel) &&
    (!rel.startsWith("..") || parts.includes("node_modules"));
  if (!local) return `https://unpkg.com/eventlab@${version}/config/eventlab.schema.json`;
  return rel.startsWith(".") ? rel : `./${rel}`;
}

function sectionNames(source: string): { templates: string[]; consumers: string[] } {
  const data = parse(source) as { templates?: object; consumers?: object };
  return {
    templates: Object.keys(data.templates ?? {}),
    consumers: Object.keys(data.consumers ?? {}),
  };
}

function quote(s: string): string {
  return /^[\w./@:-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

function writeError(err: unknown, shown: string): EventlabError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") {
    return new EventlabError("io", `cannot write ${shown}: its directory does not exist`, {
      hint: "create the directory first, or pick another --file",
    });
  }
  if (code === "EISDIR") {
    return new EventlabError("io", `cannot write ${shown}: it is a directory`, {
      hint: `name a file, e.g. --file ${shown.replace(/\/?$/, "/")}${DEFAULT_CONFIG_FILE}`,
    });
  }
  if (code === "EACCES" || code === "EPERM") {
    return new EventlabError("io", `cannot write ${shown}: permission denied`, {
      hint: "pick a directory you can write to",
    });
  }
  return new EventlabError("io", `cannot write ${shown} (${code ?? String(err)})`, { cause: err });
}

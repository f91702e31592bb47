/**
 * `eventlab init`: write a starter config, the commented example that documents every
 * field (config/eventlab.example.yaml in the package), to eventlab.config.yaml; or, with
 * --preset, one of the ready-made scenarios in config/presets/ (--list shows them).
 */
import { Command } from "commander";
import { CONFIG_FILE_NAMES } from "../config/constants.js";
import type { Context } from "../context.js";
import { EventlabError, UsageError } from "../errors.js";

export interface InitOptions {
  /** Where to write, relative to the working directory. */
  file: string;
  /** Overwrite an existing file. */
  force: boolean;
  json: boolean;
  /** Write this preset (config/presets/<name>.yaml) instead of the commented example. */
  preset?: string | undefined;
  /** List the presets instead of writing anything. */
  list?: boolean;
}

export interface InitResult {
  /** The file written, relative to the working directory when inside it. */
  file: string;
  created: true;
  /** An existing file was replaced (--force). */
  overwritten: boolean;
  /** The preset written, when --preset was given. */
  preset?: string;
}

/** A preset shipped in config/presets/. */
export interface PresetInfo {
  name: string;
  /** The first line of the file's opening comment. */
  description: string;
}

export const DEFAULT_CONFIG_FILE = "eventlab.config.yaml";
const EXAMPLE = "config/eventlab.example.yaml";
const PRESETS = "config/presets";
const SCHEMA = "config/eventlab.schema.json";
const MODELINE = /^# yaml-language-server: \$schema=.*$/m;

interface RawInitFlags {
  file?: string;
  force?: boolean;
  json?: boolean;
  preset?: string;
  list?: boolean;
}

export function parseInitArgs(flags: RawInitFlags, globalConfig?: string): InitOptions {
  const file = flags.file ?? globalConfig ?? DEFAULT_CONFIG_FILE;
  if (file.trim() === "") {
    throw new UsageError("--file needs a path", `for example --file ${DEFAULT_CONFIG_FILE}`);
  }
  const list = flags.list === true;
  const preset = flags.preset?.trim();
  if (preset === "") {
    throw new UsageError("--preset needs a name", "`eventlab init --list` shows the presets");
  }
  if (list && preset !== undefined) {
    throw new UsageError(
      "give either --preset or --list, not both",
      "`eventlab init --list` shows the presets; `eventlab init --preset <name>` writes one",
    );
  }
  return { file, force: flags.force === true, json: flags.json === true, preset, list };
}

export function initCommand(ctx: Context, run = runInit): Command {
  return new Command("init")
    .description(
      "write a starter config file: a commented example of every field, or a ready-made preset",
    )
    .option("-f, --file <path>", `where to write it (default: ${DEFAULT_CONFIG_FILE}, or --config)`)
    .option("--force", "overwrite the file if it exists")
    .option("-p, --preset <name>", "write this preset instead of the example (see --list)")
    .option("-l, --list", "list the presets, one line each, and write nothing")
    .option("--json", "print {file, created} as one JSON object (with --list: an array)")
    .addHelpText(
      "after",
      `
The starter config declares two small scenarios (soccer: a direct exchange with goals and
cards; orders: a topic exchange with regions, dead letters and an audit trail), message
templates with placeholders, and consumer profiles. A .json file name writes JSON instead
of commented YAML.

A preset is a complete config for one scenario, seven in all: soccer (direct), orders
(topic, dead letters, an exchange-to-exchange audit), notifications (fanout),
headers-routing (x-match all and any), retries (delayed retries with dead letters, then a
parking lot), work-queue (competing workers) and duplicates-and-ordering (dedupe and
order checks). Each uses its own exchange and queue names, so several can share one
broker. The comment at the top of the file says what it shows and which commands to try.

Examples:
  $ eventlab init                              # writes ./${DEFAULT_CONFIG_FILE}
  $ eventlab init --force                      # replace an existing one
  $ eventlab init --file lab/orders.yaml       # elsewhere; then pass --config lab/orders.yaml
  $ eventlab init --file eventlab.config.json  # as JSON
  $ eventlab init --list                       # the presets, with a line on each
  $ eventlab init --preset retries             # the retries preset as ./${DEFAULT_CONFIG_FILE}
  $ eventlab init --preset soccer --file soccer.yaml
  $ eventlab init --json`,
    )
    .action(async (flags: RawInitFlags) => {
      await run(ctx, parseInitArgs(flags, ctx.globals.config));
    });
}

export async function runInit(
  ctx: Context,
  options: InitOptions,
): Promise<InitResult | PresetInfo[]> {
  if (options.list === true) return printPresets(ctx, options.json);
  const path = await import("node:path");
  const { readFile, writeFile } = await import("node:fs/promises");
  const root = await packageRoot();
  const full = path.resolve(ctx.cwd, options.file);
  const relative = path.relative(ctx.cwd, full);
  const shown = relative !== "" && !relative.startsWith("..") ? relative : full;

  const source =
    options.preset === undefined
      ? await readFile(path.join(root, EXAMPLE), "utf8")
      : await readPreset(options.preset, root);
  const { VERSION } = await import("../version.js");
  const schemaRef = schemaReference(path, path.join(root, SCHEMA), path.dirname(full), VERSION);
  const modeline = `# yaml-language-server: $schema=${schemaRef}`;
  const asJson = full.toLowerCase().endsWith(".json");
  const text = asJson
    ? await toJson(source, schemaRef)
    : MODELINE.test(source)
      ? source.replace(MODELINE, modeline)
      : `${modeline}\n${source}`;

  const { access } = await import("node:fs/promises");
  const exists = (file: string) =>
    access(file).then(
      () => true,
      () => false,
    );
  const existed = options.force && (await exists(full));
  try {
    // "wx" fails when the file exists, so a file that appears meanwhile is not overwritten.
    await writeFile(full, text, { encoding: "utf8", flag: options.force ? "w" : "wx" });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      throw new EventlabError("io", `${shown} already exists; not overwriting it`, {
        hint: "pass --force to replace it, or --file <path> to write somewhere else",
      });
    }
    throw writeError(err, shown);
  }

  const result: InitResult = { file: shown, created: true, overwritten: existed };
  if (options.preset !== undefined) result.preset = options.preset;
  if (options.json) {
    ctx.io.out(`${JSON.stringify(result)}\n`);
    return result;
  }

  // Without --config, commands read the first of the default names in the working directory.
  let found: string | undefined;
  for (const name of CONFIG_FILE_NAMES) {
    if (await exists(path.join(ctx.cwd, name))) {
      found = path.join(ctx.cwd, name);
      break;
    }
  }
  const fromEnv = ctx.env.EVENTLAB_CONFIG;
  const envFile =
    fromEnv !== undefined && fromEnv !== "" ? path.resolve(ctx.cwd, fromEnv) : undefined;
  const readByDefault = (envFile ?? found) === full;
  const config = readByDefault ? "" : ` --config ${quote(shown)}`;

  const { theme } = ctx;
  const names = await sectionNames(source);
  const next: Array<[string, string]> =
    options.preset === undefined
      ? [
          [`eventlab topology apply${config}`, "declare its exchanges, queues and bindings"],
          [`eventlab produce order-created --amount 20${config}`, "publish 20 orders"],
          [`eventlab consume inventory --count 20${config}`, "read them back"],
          [`eventlab produce match-goal match-card${config}`, "the soccer scenario"],
        ]
      : presetNext(names, config);
  const width = Math.max(...next.map(([c]) => c.length));
  const lines = [
    `${theme.ok(theme.symbols.ok)} ${existed ? "replaced" : "wrote"} ${theme.bold(shown)}${
      options.preset === undefined ? "" : ` (preset ${options.preset})`
    }`,
    `  templates: ${names.templates.join(", ")}`,
    `  consumers: ${names.consumers.join(", ")}`,
    "",
    "Next:",
    ...next.map(([c, why]) => `  ${c.padEnd(width)}  ${theme.dim(`# ${why}`)}`),
    "",
    theme.dim(
      options.preset === undefined
        ? "Every field is explained in the file. The broker is amqp://guest:guest@127.0.0.1:5672; change broker.url or pass --url for another."
        : "The comment at the top of the file says what the preset shows. The broker is amqp://guest:guest@127.0.0.1:5672; change broker.url or pass --url for another.",
    ),
  ];
  if (envFile !== undefined && envFile !== full) {
    ctx.io.err(
      theme.warn(
        `! EVENTLAB_CONFIG is set (${fromEnv}): commands read that file unless --config says otherwise`,
      ),
    );
  }
  ctx.io.out(`${lines.join("\n")}\n`);
  return result;
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

/**
 * The presets shipped in config/presets/, by name, each with the first line of its opening
 * comment (the yaml-language-server line and empty comment lines are skipped).
 */
export async function listPresets(root?: string): Promise<PresetInfo[]> {
  const path = await import("node:path");
  const { readdir, readFile } = await import("node:fs/promises");
  const dir = path.join(root ?? (await packageRoot()), PRESETS);
  let files: string[];
  try {
    files = await readdir(dir);
  } catch (err) {
    throw new EventlabError("internal", `cannot read eventlab's presets (${PRESETS})`, {
      hint: "reinstall eventlab; its config/presets/ directory holds the presets",
      cause: err,
    });
  }
  const names = files
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => f.slice(0, -".yaml".length))
    .sort();
  return Promise.all(
    names.map(async (name) => ({
      name,
      description: presetDescription(await readFile(path.join(dir, `${name}.yaml`), "utf8")),
    })),
  );
}

/** The first comment line of a preset that says something: its one-line description. */
export function presetDescription(text: string): string {
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith("#")) break;
    if (MODELINE.test(line)) continue;
    const said = line.replace(/^#+\s*/, "").trim();
    if (said !== "") return said;
  }
  return "";
}

/** A preset's text; an unknown name is a usage error that names the presets there are. */
export async function readPreset(name: string, root?: string): Promise<string> {
  const path = await import("node:path");
  const { readFile } = await import("node:fs/promises");
  const base = root ?? (await packageRoot());
  const presets = await listPresets(base);
  if (!presets.some((p) => p.name === name)) {
    const known = presets.map((p) => p.name).join(", ");
    throw new UsageError(
      `unknown preset ${JSON.stringify(name)}; the presets are: ${known}`,
      "`eventlab init --list` says what each one shows",
    );
  }
  return readFile(path.join(base, PRESETS, `${name}.yaml`), "utf8");
}

async function printPresets(ctx: Context, json: boolean): Promise<PresetInfo[]> {
  const presets = await listPresets();
  if (json) {
    ctx.io.out(`${JSON.stringify(presets)}\n`);
    return presets;
  }
  const width = Math.max(0, ...presets.map((p) => p.name.length));
  const lines = [
    ...presets.map((p) => `${ctx.theme.bold(p.name.padEnd(width))}  ${p.description}`),
    "",
    ctx.theme.dim(
      `Write one with \`eventlab init --preset <name>\` (to ${DEFAULT_CONFIG_FILE}; --file for elsewhere).`,
    ),
  ];
  ctx.io.out(`${lines.join("\n")}\n`);
  return presets;
}

/** eventlab's package directory: the nearest package.json named eventlab above this module. */
export async function packageRoot(from: string = import.meta.url): Promise<string> {
  const path = await import("node:path");
  const { readFile } = await import("node:fs/promises");
  const { fileURLToPath } = await import("node:url");
  let dir = path.dirname(fileURLToPath(from));
  for (let i = 0; i < 20; i++) {
    try {
      const pkg = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as {
        name?: unknown;
      };
      if (pkg.name === "eventlab") return dir;
    } catch {
      // no package.json here, or not readable: keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new EventlabError("internal", "cannot find eventlab's package directory", {
    hint: "reinstall eventlab; its config/ directory holds the starter config",
  });
}

/**
 * How the written file points its editor at the JSON Schema: a relative path when eventlab
 * is installed in the project (./node_modules/eventlab/…) or the file is written inside a
 * checkout; otherwise (npx's temporary cache, a global install) the published copy of this
 * version.
 */
function schemaReference(
  path: typeof import("node:path"),
  schemaFile: string,
  targetDir: string,
  version: string,
): string {
  const rel = path.relative(targetDir, schemaFile).split(path.sep).join("/");
  const parts = rel.split("/");
  const local =
    !parts.includes("_npx") &&
    !path.isAbsolute(rel) &&
    (!rel.startsWith("..") || parts.includes("node_modules"));
  if (!local) return `https://unpkg.com/eventlab@${version}/config/eventlab.schema.json`;
  return rel.startsWith(".") ? rel : `./${rel}`;
}

async function toJson(example: string, schemaRef: string): Promise<string> {
  const { parse } = await import("yaml");
  const data = parse(example) as Record<string, unknown>;
  return `${JSON.stringify({ $schema: schemaRef, ...data }, null, 2)}\n`;
}

async function sectionNames(
  example: string,
): Promise<{ templates: string[]; consumers: string[] }> {
  const { parse } = await import("yaml");
  const data = parse(example) as { templates?: object; consumers?: object };
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

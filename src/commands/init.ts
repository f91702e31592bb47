/**
 * `eventlab init`: write a starter config, the commented example that documents every
 * field (config/eventlab.example.yaml in the package), to eventlab.config.yaml.
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
}

export interface InitResult {
  /** The file written, relative to the working directory when inside it. */
  file: string;
  created: true;
  /** An existing file was replaced (--force). */
  overwritten: boolean;
}

export const DEFAULT_CONFIG_FILE = "eventlab.config.yaml";
const EXAMPLE = "config/eventlab.example.yaml";
const SCHEMA = "config/eventlab.schema.json";
const MODELINE = /^# yaml-language-server: \$schema=.*$/m;

interface RawInitFlags {
  file?: string;
  force?: boolean;
  json?: boolean;
}

export function parseInitArgs(flags: RawInitFlags, globalConfig?: string): InitOptions {
  const file = flags.file ?? globalConfig ?? DEFAULT_CONFIG_FILE;
  if (file.trim() === "") {
    throw new UsageError("--file needs a path", `for example --file ${DEFAULT_CONFIG_FILE}`);
  }
  return { file, force: flags.force === true, json: flags.json === true };
}

export function initCommand(ctx: Context, run = runInit): Command {
  return new Command("init")
    .description("write a starter config file: a commented example of every field")
    .option("-f, --file <path>", `where to write it (default: ${DEFAULT_CONFIG_FILE}, or --config)`)
    .option("--force", "overwrite the file if it exists")
    .option("--json", "print {file, created} as one JSON object")
    .addHelpText(
      "after",
      `
The starter config declares two small scenarios (soccer: a direct exchange with goals and
cards; orders: a topic exchange with regions, dead letters and an audit trail), message
templates with placeholders, and consumer profiles. A .json file name writes JSON instead
of commented YAML.

Examples:
  $ eventlab init                              # writes ./${DEFAULT_CONFIG_FILE}
  $ eventlab init --force                      # replace an existing one
  $ eventlab init --file lab/orders.yaml       # elsewhere; then pass --config lab/orders.yaml
  $ eventlab init --file eventlab.config.json  # as JSON
  $ eventlab init --json`,
    )
    .action(async (flags: RawInitFlags) => {
      await run(ctx, parseInitArgs(flags, ctx.globals.config));
    });
}

export async function runInit(ctx: Context, options: InitOptions): Promise<InitResult> {
  const path = await import("node:path");
  const { readFile, writeFile } = await import("node:fs/promises");
  const root = await packageRoot();
  const full = path.resolve(ctx.cwd, options.file);
  const relative = path.relative(ctx.cwd, full);
  const shown = relative !== "" && !relative.startsWith("..") ? relative : full;

  const example = await readFile(path.join(root, EXAMPLE), "utf8");
  const { VERSION } = await import("../version.js");
  const schemaRef = schemaReference(path, path.join(root, SCHEMA), path.dirname(full), VERSION);
  const asJson = full.toLowerCase().endsWith(".json");
  const text = asJson
    ? await toJson(example, schemaRef)
    : example.replace(MODELINE, `# yaml-language-server: $schema=${schemaRef}`);

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
  const names = await sectionNames(example);
  const next: Array<[string, string]> = [
    [`eventlab topology apply${config}`, "declare its exchanges, queues and bindings"],
    [`eventlab produce order-created --amount 20${config}`, "publish 20 orders"],
    [`eventlab consume inventory --count 20${config}`, "read them back"],
    [`eventlab produce match-goal match-card${config}`, "the soccer scenario"],
  ];
  const width = Math.max(...next.map(([c]) => c.length));
  const lines = [
    `${theme.ok(theme.symbols.ok)} ${existed ? "replaced" : "wrote"} ${theme.bold(shown)}`,
    `  templates: ${names.templates.join(", ")}`,
    `  consumers: ${names.consumers.join(", ")}`,
    "",
    "Next:",
    ...next.map(([c, why]) => `  ${c.padEnd(width)}  ${theme.dim(`# ${why}`)}`),
    "",
    theme.dim(
      "Every field is explained in the file. The broker is amqp://guest:guest@127.0.0.1:5672; change broker.url or pass --url for another.",
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

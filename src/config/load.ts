/**
 * Reading the config file: the only file I/O of src/config. Finds the file (flag,
 * EVENTLAB_CONFIG, then eventlab.config.{yaml,yml,json} in the working directory),
 * parses YAML or JSON, and validates in one pass, reporting every problem as
 * `file:line path: message`, sorted by line.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import { ConfigError, type ConfigIssue, EventlabError } from "../errors.js";
import { CONFIG_FILE_NAMES } from "./constants.js";
import { contractBase, contractIssues } from "./contracts.js";
import { firstLine, joinPath, lineOf, rangeLine, toConfigIssues, typeName } from "./issues.js";
import { JsonNumber, keepNumber } from "./json.js";
import { type Config, configSchema, crossFieldIssues } from "./schema.js";

/** Which broker a command talks to: the one rule lives in broker-url.ts. */
export { resolveBrokerUrls } from "./broker-url.js";

const CONFIG_HINT =
  "every field is documented in the starter config: `eventlab init --file eventlab.example.yaml` writes a copy";

export interface LoadedConfig {
  config: Config;
  /** The file read, as given or found (relative to cwd when found); undefined when none. */
  file: string | undefined;
  /** How the file was chosen. */
  source: "flag" | "env" | "cwd" | "none";
}

export interface LoadOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** --config FILE */
  file?: string | undefined;
}

/** Locate and load the config. No file at all is fine: defaults apply. */
export async function loadConfig(options: LoadOptions): Promise<LoadedConfig> {
  const { EVENTLAB_CONFIG: fromEnv } = options.env;
  const explicit =
    options.file !== undefined && options.file !== ""
      ? options.file
      : fromEnv !== undefined && fromEnv !== ""
        ? fromEnv
        : undefined;
  if (explicit !== undefined) {
    const source = explicit === options.file ? "flag" : "env";
    const text = await readConfigText(path.resolve(options.cwd, explicit), explicit, source);
    return { config: withContracts(text, explicit, options.cwd), file: explicit, source };
  }
  for (const name of CONFIG_FILE_NAMES) {
    const full = path.join(options.cwd, name);
    let text: string;
    try {
      text = await readFile(full, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw readError(err, name);
    }
    return { config: withContracts(text, name, options.cwd), file: name, source: "cwd" };
  }
  return { config: configSchema.parse({}), file: undefined, source: "none" };
}

/**
 * Parse the config, then check that every `schema:` it names is there and is a valid JSON
 * Schema (compiled once here, cached for the run). Ajv loads only for configs with schemas.
 */
function withContracts(text: string, file: string, cwd: string): Config {
  const config = parseConfig(text, file);
  const hasSchemas = [...Object.values(config.templates), ...Object.values(config.consumers)].some(
    (x) => x.schema !== undefined,
  );
  if (!hasSchemas) return config;
  const found = contractIssues(config, contractBase(cwd, file));
  if (found.length === 0) return config;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const issues = found.map((i) => ({
    path: joinPath(i.path),
    message: i.message,
    line: lineOf(doc.contents, i.path, lineCounter),
  }));
  throw new ConfigError(
    file,
    issues,
    "a schema: is a JSON Schema file (relative to the config file) or an inline mapping",
  );
}

async function readConfigText(
  full: string,
  shown: string,
  source: "flag" | "env",
): Promise<string> {
  try {
    return await readFile(full, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new EventlabError(
        "config",
        source === "flag"
          ? `config file ${shown} not found (--config)`
          : `config file ${shown} not found (EVENTLAB_CONFIG)`,
        {
          hint:
            source === "flag"
              ? "check the path given to --config (it is relative to the current directory), or run `eventlab init` to write a starter config"
              : "EVENTLAB_CONFIG names a file that does not exist; fix or unset it",
        },
      );
    }
    throw readError(err, shown);
  }
}

function readError(err: unknown, shown: string): EventlabError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "EISDIR") {
    return new EventlabError("config", `config file ${shown} is a directory`, {
      hint: "name a .yaml or .json file",
    });
  }
  return new EventlabError("config", `cannot read config file ${shown} (${code ?? String(err)})`, {
    hint: "check that the file exists and is readable",
    cause: err,
  });
}

/**
 * Parse and validate config text. `file` is used in messages; a `.json` name makes the
 * text strict JSON. Throws one ConfigError listing every problem, sorted by line.
 */
export function parseConfig(text: string, file: string | undefined): Config {
  const source = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const json = file?.toLowerCase().endsWith(".json") === true;
  if (json) checkJsonSyntax(source, file);

  const lineCounter = new LineCounter();
  // YAML is a superset of JSON, so one parser serves both and gives line numbers for both.
  const doc = parseDocument(source, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    merge: true,
  });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => ({
      path: "",
      message: syntaxMessage(e.code, e.message, source, e.pos[0], json),
      line: lineCounter.linePos(e.pos[0]).line,
    }));
    throw new ConfigError(file, sortByLine(issues), "fix the syntax at that line");
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  } catch (err) {
    throw new ConfigError(file, [
      { path: "", message: `cannot read the document: ${firstLine(String(err))}`, line: 1 },
    ]);
  }
  if (typeof data !== "object" || Array.isArray(data) || data === null) {
    throw new ConfigError(file, [
      {
        path: "",
        message: `the config must be a mapping of sections (broker, topology, templates, consumers), got ${typeName(data)}`,
        line: rangeLine(doc.contents, lineCounter) ?? 1,
      },
    ]);
  }
  // Numbers in message bodies keep their literal text (12345678901234567890, 1.0, 1e400):
  // validated as the nearest finite number, sent as written.
  const kept = bodyNumbers(doc.get("templates", true));
  for (const k of kept) {
    const n = Number(k.value.text);
    setAt(data, k.path, Number.isFinite(n) ? n : 0);
  }
  const result = configSchema.safeParse(data, { reportInput: true });
  // zod skips an object's cross-field rules once a field of it failed; run them on their own.
  const extra = result.success ? [] : crossFieldIssues(data);
  if (result.success && extra.length === 0) {
    for (const k of kept) setAt(result.data, k.path, k.value);
    return result.data;
  }

  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  const push = (issue: ConfigIssue) => {
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    issues.push(issue);
  };
  for (const issue of result.error?.issues ?? [])
    for (const i of toConfigIssues(issue, doc.contents, lineCounter)) push(i);
  for (const e of extra)
    push({
      path: joinPath(e.path),
      message: e.message,
      line: lineOf(doc.contents, e.path, lineCounter),
    });
  throw new ConfigError(file, sortByLine(issues), CONFIG_HINT);
}

/** Numbers under `templates.<name>.body` whose literal text a JavaScript number would change. */
function bodyNumbers(
  templates: unknown,
): Array<{ path: Array<string | number>; value: JsonNumber }> {
  const found: Array<{ path: Array<string | number>; value: JsonNumber }> = [];
  const walk = (node: unknown, path: Array<string | number>) => {
    if (isScalar(node)) {
      if (typeof node.value === "number" && node.source !== undefined) {
        const kept = keepNumber(node.value, node.source);
        if (kept instanceof JsonNumber) found.push({ path, value: kept });
      }
    } else if (isSeq(node)) {
      for (const [i, item] of node.items.entries()) walk(item, [...path, i]);
    } else if (isMap(node)) {
      for (const pair of node.items)
        if (isScalar(pair.key)) walk(pair.value, [...path, String(pair.key.value)]);
    }
  };
  if (isMap(templates)) {
    for (const pair of templates.items) {
      if (!isScalar(pair.key) || !isMap(pair.value)) continue;
      const name = String(pair.key.value);
      walk(pair.value.get("body", true), ["templates", name, "body"]);
    }
  }
  return found;
}

/** Set a value at a path of plain objects and arrays, when every step of the path is there. */
function setAt(root: unknown, path: ReadonlyArray<string | number>, value: unknown): void {
  let cur: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (cur === null || typeof cur !== "object" || !Object.hasOwn(cur, key)) return;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  const last = path[path.length - 1];
  if (last !== undefined && cur !== null && typeof cur === "object" && Object.hasOwn(cur, last))
    (cur as Record<string | number, unknown>)[last] = value;
}

/** Stable sort: by line, issues without one last. */
function sortByLine(issues: ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort(
      (a, b) =>
        (a.issue.line ?? Number.POSITIVE_INFINITY) - (b.issue.line ?? Number.POSITIVE_INFINITY) ||
        a.index - b.index,
    )
    .map((x) => x.issue);
}

/** A `.json` file must be JSON: YAML's leniency (comments, trailing commas) would hide mistakes. */
function checkJsonSyntax(text: string, file: string | undefined): void {
  if (text.trim() === "") return;
  try {
    JSON.parse(text);
  } catch (err) {
    const message = firstLine((err as Error).message);
    const at = / in JSON at position (\d+)/.exec(message);
    const offset = at ? Number(at[1]) : text.length;
    const line = text.slice(0, offset).split("\n").length;
    const clean = message
      .replace(/ in JSON at position \d+.*$/, "")
      .replace(/^Unexpected end of JSON input$/, "the file ends too early (a missing } or ]?)")
      .replace(
        /^Expected double-quoted property name$/,
        'expected a "quoted" name (a trailing comma?)',
      );
    throw new ConfigError(
      file,
      [{ path: "", message: `JSON syntax error: ${clean}`, line }],
      "fix the syntax at that line",
    );
  }
}

function syntaxMessage(
  code: string,
  message: string,
  text: string,
  offset: number,
  json: boolean,
): string {
  const kind = json ? "JSON" : "YAML";
  if (code === "DUPLICATE_KEY") {
    const key = /^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^:\n]*?)\s*:/.exec(text.slice(offset))?.[1];
    const shown = key?.replace(/^["']|["']$/g, "");
    return shown !== undefined && shown !== ""
      ? `duplicate key "${shown}": each key may appear only once in a mapping`
      : "duplicate key: each key may appear only once in a mapping";
  }
  if (code === "MULTIPLE_DOCS") {
    return `${kind} syntax error: the file holds more than one document (---); put everything in one`;
  }
  if (code === "TAB_AS_INDENT") return `${kind} syntax error: indent with spaces, not tabs`;
  return `${kind} syntax error: ${firstLine(message)}`;
}

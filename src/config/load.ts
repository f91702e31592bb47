/**
 * Reading the config file: the only file I/O of src/config. Finds the file (flag,
 * EVENTLAB_CONFIG, then eventlab.config.{yaml,yml,json} in the working directory),
 * parses YAML or JSON, and validates in one pass, reporting every problem as
 * `file:line path: message`, sorted by line.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { isNode, isPair, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import type { z } from "zod";
import { ConfigError, type ConfigIssue, EventlabError } from "../errors.js";
import { type Config, configSchema, crossFieldIssues, DEFAULT_URL } from "./schema.js";

export { CONFIG_FILE_NAMES } from "./constants.js";

import { CONFIG_FILE_NAMES } from "./constants.js";

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
  const fromEnv = options.env.EVENTLAB_CONFIG;
  const explicit =
    options.file !== undefined && options.file !== ""
      ? options.file
      : fromEnv !== undefined && fromEnv !== ""
        ? fromEnv
        : undefined;
  if (explicit !== undefined) {
    const source = explicit === options.file ? "flag" : "env";
    const text = await readConfigText(path.resolve(options.cwd, explicit), explicit, source);
    return { config: parseConfig(text, explicit), file: explicit, source };
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
    return { config: parseConfig(text, name), file: name, source: "cwd" };
  }
  return { config: configSchema.parse({}), file: undefined, source: "none" };
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
  const result = configSchema.safeParse(data, { reportInput: true });
  // zod skips an object's cross-field rules once a field of it failed; run them on their own.
  const extra = result.success ? [] : crossFieldIssues(data);
  if (result.success && extra.length === 0) return result.data;

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

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}

type Issue = z.core.$ZodIssue;
type Segment = string | number;

function toConfigIssues(issue: Issue, root: unknown, lc: LineCounter): ConfigIssue[] {
  const segments: Segment[] = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({
      path: joinPath([...segments, key]),
      message: `unknown field "${key}"${suggest(key, segments)}`,
      line: lineOf(root, [...segments, key], lc),
    }));
  }
  if (issue.code === "invalid_union") {
    // When exactly one alternative got past the type check, its problems are the useful ones.
    const near = issue.errors.filter(
      (branch) => !branch.every((e) => e.code === "invalid_type" && e.path.length === 0),
    );
    if (near.length === 1) {
      return (near[0] ?? []).flatMap((e) =>
        toConfigIssues({ ...e, path: [...issue.path, ...e.path] } as Issue, root, lc),
      );
    }
  }
  return [{ path: joinPath(segments), message: describe(issue), line: lineOf(root, segments, lc) }];
}

const DEFAULT_MESSAGE = /^(Invalid|Too (small|big)|Unrecognized)/;

/** What was expected, in words a person uses, and what was found. */
function describe(issue: Issue): string {
  const custom = !DEFAULT_MESSAGE.test(issue.message);
  const input = "input" in issue ? issue.input : undefined;
  switch (issue.code) {
    case "invalid_type": {
      const expected = custom ? issue.message : `expected ${friendlyType(issue.expected)}`;
      if (input === undefined) return `required: ${expected}`;
      return `${withGot(expected, input)}${quotedHint(issue.expected, input)}`;
    }
    case "invalid_value": {
      const values = issue.values.map((v) => JSON.stringify(v));
      const hint =
        typeof input === "string"
          ? didYouMean(
              input,
              issue.values.filter((v): v is string => typeof v === "string"),
            )
          : "";
      return `expected one of ${values.join(", ")}, got ${typeName(input)}${hint}`;
    }
    case "too_small":
    case "too_big": {
      if (custom) return withGot(issue.message, input);
      const op =
        issue.code === "too_small" ? (issue.inclusive ? "≥" : ">") : issue.inclusive ? "≤" : "<";
      const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
      if (issue.origin === "string") return `expected text of length ${op} ${String(bound)}`;
      if (issue.origin === "array") return `expected a list of length ${op} ${String(bound)}`;
      return `expected a number ${op} ${String(bound)}, got ${typeName(input)}`;
    }
    case "invalid_union": {
      const expected = custom ? issue.message : `expected ${unionExpectation(issue)}`;
      return withGot(expected, input);
    }
    case "invalid_key": {
      const inner = issue.issues.map((i) => i.message).filter((m) => !DEFAULT_MESSAGE.test(m));
      return inner.length > 0 ? inner.join("; ") : `invalid name ${JSON.stringify(input)}`;
    }
    case "invalid_element":
      return `invalid entry ${JSON.stringify(input)}`;
    default:
      return issue.message;
  }
}

/** Messages that say what was expected also say what was found. */
function withGot(message: string, input: unknown): string {
  if (!message.startsWith("expected") || message.includes(", got ")) return message;
  return `${message}, got ${typeName(input)}`;
}

function friendlyType(expected: string): string {
  switch (expected) {
    case "string":
      return "text";
    case "number":
    case "nan":
      return "a number";
    case "int":
      return "a whole number";
    case "boolean":
      return "true or false";
    case "object":
    case "record":
    case "map":
      return "a mapping";
    case "array":
    case "tuple":
    case "set":
      return "a list";
    case "null":
      return "null";
    default:
      return expected;
  }
}

/** `prefetch: "10"` is a string; say how to make it a number. */
function quotedHint(expected: string, input: unknown): string {
  if (typeof input !== "string") return "";
  if ((expected === "number" || expected === "int") && /^\s*-?\d+(\.\d+)?\s*$/.test(input))
    return " (remove the quotes to make it a number)";
  if (expected === "boolean" && /^(true|false)$/i.test(input))
    return " (remove the quotes to make it true or false)";
  return "";
}

function unionExpectation(issue: Issue & { code: "invalid_union" }): string {
  const expected = new Set<string>();
  for (const branch of issue.errors)
    for (const e of branch) if (e.code === "invalid_type") expected.add(friendlyType(e.expected));
  const list = [...expected];
  if (list.length === 0) return "a different value";
  if (list.length === 1) return list[0] ?? "";
  return `${list.slice(0, -1).join(", ")} or ${list[list.length - 1]}`;
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return "an empty value";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "an infinite number";
  return `${typeof v} ${String(v)}`;
}

function joinPath(segments: readonly Segment[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out === "" ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/**
 * The 1-based line of the entry at `segments`: the line of its key in a mapping, of the
 * item in a list; the nearest ancestor's when the entry is missing.
 */
function lineOf(root: unknown, segments: readonly Segment[], lc: LineCounter): number | undefined {
  let node: unknown = root;
  let line = rangeLine(node, lc);
  for (const seg of segments) {
    if (!node || typeof node !== "object" || !("items" in node)) break;
    const items = (node as { items: unknown[] }).items;
    let next: unknown;
    let keyNode: unknown;
    if (typeof seg === "number" && !isPair(items[0])) {
      next = items[seg];
    } else {
      for (const item of items) {
        if (isPair(item) && isScalar(item.key) && String(item.key.value) === String(seg)) {
          next = item.value;
          keyNode = item.key;
          // Later duplicates are syntax errors; the first match is the one.
          break;
        }
      }
    }
    if (next === undefined && keyNode === undefined) break;
    line = rangeLine(keyNode ?? next, lc) ?? line;
    node = next;
  }
  return line;
}

function rangeLine(node: unknown, lc: LineCounter): number | undefined {
  if (!isNode(node)) return undefined;
  const range = (node as Node).range;
  return range ? lc.linePos(range[0]).line : undefined;
}

// ---- suggestions for unknown fields ------------------------------------------------------

/** Names people bring from RabbitMQ or other tools, and the field they mean. */
const ALIASES: Record<string, string> = {
  key: "routingKey",
  bindingkey: "routingKey",
  args: "arguments",
  ttl: "messageTtl",
  type: "queueType",
  dlx: "deadLetterExchange",
  dlk: "deadLetterRoutingKey",
  amqpurl: "url",
  uri: "url",
  urls: "url",
  count: "amount",
  props: "properties",
  payload: "body",
  data: "body",
};

/** Keys of the sections a misplaced top-level key belongs to. */
const SECTION_OF: Record<string, string> = {
  url: "broker",
  heartbeat: "broker",
  connectTimeout: "broker",
  exchanges: "topology",
  queues: "topology",
  bindings: "topology",
};

function suggest(key: string, at: readonly Segment[]): string {
  const known = objectKeysAt(at);
  if (at.length === 0 && SECTION_OF[key] !== undefined) {
    return `; it belongs under ${SECTION_OF[key]}:`;
  }
  const best = bestMatch(key, known);
  if (best !== undefined) return `; did you mean "${best}"?`;
  return known.length > 0 ? `; expected one of ${known.join(", ")}` : "";
}

function didYouMean(value: string, choices: readonly string[]): string {
  const best = bestMatch(value, choices);
  return best !== undefined ? `; did you mean "${best}"?` : "";
}

function bestMatch(key: string, known: readonly string[]): string | undefined {
  const norm = (s: string) =>
    s
      .toLowerCase()
      .replace(/^x-/, "")
      .replace(/[-_\s]/g, "");
  const k = norm(key);
  const exact = known.find((c) => norm(c) === k);
  if (exact !== undefined) return exact;
  const alias = ALIASES[k];
  if (alias !== undefined && known.includes(alias)) return alias;
  let best: string | undefined;
  let bestDistance = k.length <= 3 ? 2 : 3;
  for (const c of known) {
    const d = distance(k, norm(c));
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

interface SchemaLike {
  def?: Record<string, unknown>;
  shape?: Record<string, unknown>;
}

/** The field names of the object schema at `segments` (records and lists are stepped through). */
function objectKeysAt(segments: readonly Segment[]): string[] {
  let cur: SchemaLike | undefined = unwrap(configSchema as unknown as SchemaLike);
  for (const seg of segments) {
    if (!cur) return [];
    const def = cur.def ?? {};
    if (cur.shape) cur = cur.shape[String(seg)] as SchemaLike | undefined;
    else if (def.type === "record") cur = def.valueType as SchemaLike;
    else if (def.type === "array") cur = def.element as SchemaLike;
    else return [];
    cur = unwrap(cur);
  }
  return cur?.shape ? Object.keys(cur.shape) : [];
}

/** Through defaults, optionals, pipes and lazies to the schema that decides the shape. */
function unwrap(schema: SchemaLike | undefined): SchemaLike | undefined {
  let cur = schema;
  for (let i = 0; i < 10 && cur?.def; i++) {
    const def = cur.def;
    if (def.type === "default" || def.type === "optional" || def.type === "nullable")
      cur = def.innerType as SchemaLike;
    else if (def.type === "pipe") cur = def.in as SchemaLike;
    else if (def.type === "lazy") cur = (def.getter as () => SchemaLike)();
    else break;
  }
  return cur;
}

/** Broker URLs by precedence: flag, then EVENTLAB_URL, then the file, then the default. */
export function resolveBrokerUrls(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  config: Config | undefined,
): string[] {
  if (flag !== undefined && flag !== "") return [flag];
  if (env.EVENTLAB_URL !== undefined && env.EVENTLAB_URL !== "") return [env.EVENTLAB_URL];
  const fromFile = config?.broker.url;
  if (fromFile !== undefined) return Array.isArray(fromFile) ? fromFile : [fromFile];
  return [DEFAULT_URL];
}

/**
 * Reading the config file: the only file I/O of src/config. Finds the file (flag,
 * EVENTLAB_CONFIG, then eventlab.config.{yaml,yml,json} in the working directory),
 * parses YAML or JSON, and validates in one pass, reporting every problem as
 * `file:line path: message`.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { isNode, isPair, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import type { z } from "zod";
import { ConfigError, type ConfigIssue, EventlabError } from "../errors.js";
import { type Config, configSchema, DEFAULT_URL } from "./schema.js";

export const CONFIG_FILE_NAMES = [
  "eventlab.config.yaml",
  "eventlab.config.yml",
  "eventlab.config.json",
];

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
  const explicit = options.file ?? options.env.EVENTLAB_CONFIG;
  if (explicit !== undefined && explicit !== "") {
    const source = options.file !== undefined ? "flag" : "env";
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
      throw new EventlabError("config", `config file ${shown} not found`, {
        hint:
          source === "flag"
            ? "check the path given to --config, or run `eventlab init` to write a starter config"
            : "EVENTLAB_CONFIG names a file that does not exist; fix or unset it",
      });
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

/** Parse and validate config text. `file` is used in messages and picks JSON for `.json`. */
export function parseConfig(text: string, file: string | undefined): Config {
  const lineCounter = new LineCounter();
  // YAML is a superset of JSON, so one parser serves both and gives line numbers for both.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        path: "",
        message: `${file?.endsWith(".json") ? "JSON" : "YAML"} syntax error: ${firstLine(e.message)}`,
        line: lineCounter.linePos(e.pos[0]).line,
      })),
      "fix the syntax at that line",
    );
  }
  const data: unknown = doc.toJS() ?? {};
  if (typeof data !== "object" || Array.isArray(data) || data === null) {
    throw new ConfigError(file, [
      {
        path: "",
        message:
          "the config must be a mapping of sections (broker, topology, templates, consumers)",
        line: 1,
      },
    ]);
  }
  const result = configSchema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  const issues = result.error.issues.flatMap((issue) =>
    toConfigIssues(issue, doc.contents, lineCounter),
  );
  throw new ConfigError(file, issues);
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}

type Issue = z.core.$ZodIssue;

function toConfigIssues(issue: Issue, root: unknown, lc: LineCounter): ConfigIssue[] {
  const segments = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({
      path: joinPath([...segments, key]),
      message: `unknown field "${key}"${suggest(key, knownKeysAt(segments))}`,
      line: lineOf(root, [...segments, key], lc, true),
    }));
  }
  return [
    { path: joinPath(segments), message: describe(issue), line: lineOf(root, segments, lc, false) },
  ];
}

function describe(issue: Issue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined
        ? `required, expected ${issue.expected}`
        : `expected ${issue.expected}, got ${typeName(issue.input)}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, got ${JSON.stringify(issue.input)}`;
    case "too_small":
    case "too_big": {
      if (issue.origin !== "number" && issue.origin !== "int") return issue.message;
      if (!/^Too (small|big)/.test(issue.message)) return issue.message;
      const op =
        issue.code === "too_small" ? (issue.inclusive ? "≥" : ">") : issue.inclusive ? "≤" : "<";
      const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
      return `expected a number ${op} ${String(bound)}, got ${String(issue.input)}`;
    }
    case "invalid_union":
      return `expected ${unionExpectation(issue)}, got ${typeName(issue.input)}`;
    default:
      return issue.message;
  }
}

function unionExpectation(issue: Issue & { code: "invalid_union" }): string {
  const expected = new Set<string>();
  for (const branch of issue.errors)
    for (const e of branch) if (e.code === "invalid_type") expected.add(e.expected);
  return expected.size > 0 ? [...expected].join(" or ") : "a different value";
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string")
    return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function joinPath(segments: readonly (string | number)[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out === "" ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** The 1-based line of the node at `segments`, or of its nearest ancestor that exists. */
function lineOf(
  root: unknown,
  segments: readonly (string | number)[],
  lc: LineCounter,
  keyLine: boolean,
): number | undefined {
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
          break;
        }
      }
    }
    if (next === undefined && keyNode === undefined) break;
    line =
      rangeLine(
        keyLine && seg === segments[segments.length - 1] ? (keyNode ?? next) : (next ?? keyNode),
        lc,
      ) ?? line;
    node = next;
  }
  return line;
}

function rangeLine(node: unknown, lc: LineCounter): number | undefined {
  if (!isNode(node) && !isScalar(node)) return undefined;
  const range = (node as Node).range;
  return range ? lc.linePos(range[0]).line : undefined;
}

const KNOWN_KEYS: Record<string, string[]> = {
  "": ["$schema", "broker", "topology", "templates", "consumers"],
  broker: ["url", "heartbeat", "connectTimeout"],
  topology: ["exchanges", "queues", "bindings"],
};

function knownKeysAt(segments: readonly (string | number)[]): string[] {
  const s = segments.map(String);
  if (s.length <= 1) return KNOWN_KEYS[s[0] ?? ""] ?? [];
  const shape = shapeAt(segments);
  return shape;
}

function shapeAt(segments: readonly (string | number)[]): string[] {
  const [section, , third] = segments.map(String);
  const pick = (schema: { shape: Record<string, unknown> }) => Object.keys(schema.shape);
  const s = configSchema.shape;
  if (section === "templates" && segments.length === 2) return pick(unwrapObject(s.templates));
  if (section === "templates" && third === "properties")
    return pick(unwrapObject(s.templates, "properties"));
  if (section === "consumers" && segments.length === 2) return pick(unwrapObject(s.consumers));
  if (section === "topology") {
    const topo = unwrapObject(s.topology) as unknown as { shape: Record<string, unknown> };
    const kind = String(segments[1]);
    const inner = topo.shape[kind];
    if (inner) return pick(unwrapObject(inner));
  }
  return [];
}

/** Dig through defaults, records, arrays and refinements to the object schema inside. */
function unwrapObject(schema: unknown, field?: string): { shape: Record<string, unknown> } {
  let cur = schema as
    | { shape?: Record<string, unknown>; def?: Record<string, unknown> }
    | undefined;
  for (let i = 0; i < 8 && cur && !cur.shape; i++) {
    const def = cur.def ?? {};
    cur = (def.innerType ?? def.valueType ?? def.element ?? def.in ?? def.schema) as typeof cur;
  }
  if (field && cur?.shape) return unwrapObject(cur.shape[field]);
  return { shape: cur?.shape ?? {} };
}

function suggest(key: string, known: string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  if (best) return `; did you mean "${best}"?`;
  return known.length > 0 ? `; expected one of ${known.join(", ")}` : "";
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

/**
 * Turning schema problems into messages a person can act on: the path, the line it
 * is on, what was expected and what was found, and a did-you-mean for unknown keys.
 * Pure: load.ts reads the file and hands the parsed document here.
 */
import { isNode, isPair, isScalar, type LineCounter, type Node } from "yaml";
import type { z } from "zod";
import type { ConfigIssue } from "../errors.js";
import { configSchema } from "./schema.js";

export function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}

type Issue = z.core.$ZodIssue;
type Segment = string | number;

export function toConfigIssues(issue: Issue, root: unknown, lc: LineCounter): ConfigIssue[] {
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

export function typeName(v: unknown): string {
  if (v === null || v === undefined) return "an empty value";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "an infinite number";
  return `${typeof v} ${String(v)}`;
}

export function joinPath(segments: readonly Segment[]): string {
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
export function lineOf(
  root: unknown,
  segments: readonly Segment[],
  lc: LineCounter,
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

export function rangeLine(node: unknown, lc: LineCounter): number | undefined {
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

/** What zod's schema definitions hold that the walk below reads. */
interface SchemaDef {
  type?: string;
  /** record */
  valueType?: SchemaLike;
  /** array */
  element?: SchemaLike;
  /** default, optional, nullable */
  innerType?: SchemaLike;
  /** pipe */
  in?: SchemaLike;
  /** lazy */
  getter?: () => SchemaLike;
}

interface SchemaLike {
  def?: SchemaDef;
  shape?: Record<string, SchemaLike | undefined>;
}

/** The field names of the object schema at `segments` (records and lists are stepped through). */
function objectKeysAt(segments: readonly Segment[]): string[] {
  let cur: SchemaLike | undefined = unwrap(configSchema as unknown as SchemaLike);
  for (const seg of segments) {
    if (!cur) return [];
    const def = cur.def ?? {};
    if (cur.shape) cur = cur.shape[String(seg)];
    else if (def.type === "record") cur = def.valueType;
    else if (def.type === "array") cur = def.element;
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
      cur = def.innerType;
    else if (def.type === "pipe") cur = def.in;
    else if (def.type === "lazy") cur = def.getter?.();
    else break;
  }
  return cur;
}

/**
 * Message templates: compiled once into closures, rendered per message.
 *
 * Placeholders (`{{seq}}`, `{{uuid}}`, `{{int 1 6}}`, …, see generators.ts) may stand in
 * body strings at any depth, the routing key, the exchange, header values and string
 * properties. A string that is exactly one placeholder keeps the generated value's type.
 * Every problem of a template is reported at once, as a ConfigError with one issue per
 * placeholder at `templates.<name>.<field path>`.
 */
import { isUtf8 } from "node:buffer";
import { ConfigError, type ConfigIssue } from "../errors.js";
import { parseDuration } from "./duration.js";
import {
  compileGenerator,
  type FakerSlot,
  type Generator,
  GeneratorRuntime,
  loadFaker,
  resolveFakerPath,
  seedFaker,
} from "./generators.js";
import { hasJsonNumber, JsonNumber, stringifyJson } from "./json.js";
import { seededRandom } from "./random.js";
import type { TemplateConfig } from "./schema.js";

export interface PublishProperties {
  contentType?: string;
  contentEncoding?: string;
  headers: Record<string, unknown>;
  persistent?: boolean;
  priority?: number;
  expiration?: string;
  messageId?: string;
  correlationId?: string;
  replyTo?: string;
  type?: string;
  appId?: string;
  userId?: string;
  /** Epoch seconds. */
  timestamp?: number;
}

export interface RenderedMessage {
  exchange: string;
  routingKey: string;
  content: Buffer;
  properties: PublishProperties;
}

export interface CompiledTemplate {
  readonly name: string;
  readonly amount: number;
  readonly delayMs: number | undefined;
  readonly rate: number | undefined;
  /** Render the next message (advances the template's sequence). */
  render(): RenderedMessage;
}

export interface GeneratorOptions {
  seed?: number | undefined;
  env: NodeJS.ProcessEnv;
  now?: () => number;
}

/** A compiled value: a constant, or a function of the message's runtime state. */
type Part<T = unknown> =
  | { constant: true; value: T }
  | { constant: false; fn: (rt: GeneratorRuntime) => T };

/** `\{{` (a literal `{{`), or a placeholder up to the first `}}`. */
const PLACEHOLDER = /\\\{\{|\{\{((?:[^}]|\}(?!\}))*)\}\}/g;

interface Compiler {
  issues: ConfigIssue[];
  env: NodeJS.ProcessEnv;
  seeded: boolean;
  faker: Array<{ path: string; source: string; slot: FakerSlot }>;
}

/**
 * The content type a body gets when the template sets none: JSON for objects, lists and JSON
 * text; for raw bytes what they hold (JSON, text, or binary); text/plain for other strings.
 */
export function defaultContentType(body: TemplateInput["body"]): string {
  if (Buffer.isBuffer(body)) return detectContentType(body);
  if (typeof body !== "string") return "application/json";
  return looksLikeJson(body) ? "application/json" : "text/plain";
}

/** What raw bytes hold: JSON, UTF-8 text without control characters, or anything else. */
export function detectContentType(bytes: Buffer): string {
  if (!isUtf8(bytes)) return "application/octet-stream";
  const text = bytes.toString("utf8");
  if (/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text)) return "application/octet-stream";
  if (looksLikeJson(text)) {
    try {
      JSON.parse(text);
      return "application/json";
    } catch {
      // text that only starts like JSON
    }
  }
  return "text/plain";
}

/** A path the way config errors print them: `body.data.user_id`, `body.list[1]`, `headers["a.b"]`. */
function child(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** How a generated value reads inside text. */
function toText(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** At most `width` characters of `text` around `at`, for messages: never a whole body. */
export function excerpt(text: string, at = 0, width = 60): string {
  if (text.length <= width) return JSON.stringify(text);
  const start = Math.max(0, Math.min(at - width / 3, text.length - width));
  const end = Math.floor(start + width);
  return `${start > 0 ? "…" : ""}${JSON.stringify(text.slice(Math.floor(start), end))}${end < text.length ? `… (${text.length} characters)` : ""}`;
}

/**
 * Compile a string with placeholders. Exactly one placeholder keeps the value's type.
 *
 * With `json`, the string is JSON text (a body like `{"id": "{{uuid}}", "n": {{seq}}}`) and
 * placeholders are filled in place: everything around them goes out exactly as written
 * (whitespace, number literals such as 1.0 or 12345678901234567890). A value inside a JSON
 * string is escaped as string content; a value outside one is written as a JSON value (a
 * generated name becomes "Ada", a number stays 5), so the result stays valid JSON.
 */
function compileString(text: string, path: string, c: Compiler, json = false): Part {
  const pieces: Array<string | Generator> = [];
  let literal = "";
  let last = 0;
  const unterminated = (gap: string, offset: number) => {
    const open = gap.indexOf("{{");
    if (open >= 0) {
      c.issues.push({
        path,
        message: `unterminated placeholder: "{{" without "}}" at ${excerpt(text, offset + open)} (write \\{{ for a literal {{)`,
      });
    }
  };
  for (const m of text.matchAll(PLACEHOLDER)) {
    const gap = text.slice(last, m.index);
    unterminated(gap, last);
    literal += gap;
    last = m.index + m[0].length;
    if (m[1] === undefined) {
      literal += "{{";
      continue;
    }
    const source = m[1];
    const compiled = compileGenerator(source, { env: c.env, seeded: c.seeded });
    if ("error" in compiled) {
      c.issues.push({ path, message: `${excerpt(`{{${source}}}`)}: ${compiled.error}` });
      continue;
    }
    if (compiled.faker) c.faker.push({ path, source, slot: compiled.faker });
    if (literal !== "") pieces.push(literal);
    literal = "";
    pieces.push(compiled.generator);
  }
  const tail = text.slice(last);
  unterminated(tail, last);
  literal += tail;
  if (literal !== "") pieces.push(literal);

  if (pieces.every((p) => typeof p === "string")) return { constant: true, value: pieces.join("") };
  if (json) inJsonText(pieces);
  const [first] = pieces;
  if (pieces.length === 1 && typeof first === "function" && !json)
    return { constant: false, fn: first };
  return {
    constant: false,
    fn: (rt) => {
      let out = "";
      for (const p of pieces) out += typeof p === "string" ? p : toText(p(rt));
      return out;
    },
  };
}

/**
 * Wrap each generator of JSON text so that what it writes fits where it stands: inside a
 * string literal as escaped string content, elsewhere as a JSON value.
 */
function inJsonText(pieces: Array<string | Generator>): void {
  let inString = false;
  let escaped = false;
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    if (typeof p === "string") {
      for (const ch of p) {
        if (escaped) escaped = false;
        else if (inString && ch === "\\") escaped = true;
        else if (ch === '"') inString = !inString;
      }
      continue;
    }
    pieces[i] = inString
      ? (rt) => JSON.stringify(toText(p(rt))).slice(1, -1)
      : (rt) => jsonValueText(p(rt));
  }
}

/** A generated value as JSON text outside a string: numbers as they are, text quoted. */
function jsonValueText(v: unknown): string {
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "null";
  if (v === undefined) return "null";
  return JSON.stringify(v);
}

/** Whether a body string is JSON text: it opens an object or an array (not a `{{placeholder}}`). */
export function looksLikeJson(text: string): boolean {
  return /^\s*(?:\[|\{(?!\{))/.test(text);
}

/** Compile any JSON-like value into a render tree: constant subtrees are reused as they are. */
function compileValue(value: unknown, path: string, c: Compiler): Part {
  if (typeof value === "string") return compileString(value, path, c);
  if (value instanceof JsonNumber) return { constant: true, value };
  if (Array.isArray(value)) {
    const parts = value.map((v, i) => compileValue(v, child(path, i), c));
    if (parts.every((p) => p.constant)) return { constant: true, value };
    const n = parts.length;
    return {
      constant: false,
      fn: (rt) => {
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = at(parts[i] as Part, rt);
        return out;
      },
    };
  }
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    const parts = keys.map((k) =>
      compileValue((value as Record<string, unknown>)[k], child(path, k), c),
    );
    if (parts.every((p) => p.constant)) return { constant: true, value };
    const n = keys.length;
    const set = keys.includes("__proto__")
      ? (o: Record<string, unknown>, k: string, v: unknown) => {
          Object.defineProperty(o, k, { value: v, enumerable: true, writable: true });
        }
      : (o: Record<string, unknown>, k: string, v: unknown) => {
          o[k] = v;
        };
    return {
      constant: false,
      fn: (rt) => {
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) set(out, keys[i] as string, at(parts[i] as Part, rt));
        return out;
      },
    };
  }
  return { constant: true, value };
}

function at<T>(p: Part<T>, rt: GeneratorRuntime): T {
  return p.constant ? p.value : p.fn(rt);
}

function map<T, U>(p: Part<T>, f: (v: T) => U): Part<U> {
  if (p.constant) return { constant: true, value: f(p.value) };
  const fn = p.fn;
  return { constant: false, fn: (rt) => f(fn(rt)) };
}

/** Epoch seconds from a number, numeric text or a date (ISO-8601); undefined otherwise. */
function toSeconds(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined;
  if (typeof v !== "string" || v.trim() === "") return undefined;
  const n = Number(v);
  if (Number.isFinite(n)) return n >= 0 ? Math.floor(n) : undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) && ms >= 0 ? Math.floor(ms / 1000) : undefined;
}

/** Milliseconds as AMQP's expiration text, from a number or a duration (`60s`); else as given. */
function toExpiration(v: unknown): string {
  const ms = typeof v === "number" || typeof v === "string" ? parseDuration(v) : undefined;
  return ms === undefined ? toText(v) : String(Math.round(ms));
}

const STRING_PROPERTIES = [
  "contentType",
  "contentEncoding",
  "messageId",
  "correlationId",
  "replyTo",
  "type",
  "appId",
  "userId",
] as const;

const EXPIRATION_HINT =
  'expected milliseconds, a duration like 60s, or a placeholder like "{{int 1000 5000}}"';
const TIMESTAMP_HINT =
  'expected true (the publish time), epoch seconds, an ISO-8601 date or a placeholder like "{{now s}}"';

/**
 * A template to compile: as in the config, or with a body of raw bytes (`--body-file`,
 * `--body -`), which goes out exactly as read.
 */
export type TemplateInput = Omit<TemplateConfig, "body"> & {
  body: TemplateConfig["body"] | Buffer;
};

export async function compileTemplate(
  name: string,
  template: TemplateInput,
  options: GeneratorOptions,
): Promise<CompiledTemplate> {
  const c: Compiler = {
    issues: [],
    env: options.env,
    seeded: options.seed !== undefined,
    faker: [],
  };
  const base = child("templates", name);
  const prop = (key: string) => child(`${base}.properties`, key);
  const exchange = map(compileString(template.exchange, `${base}.exchange`, c), toText);
  const routingKey = map(compileString(template.routingKey, `${base}.routingKey`, c), toText);
  const headers = compileValue(template.headers, `${base}.headers`, c) as Part<
    Record<string, unknown>
  >;
  const rawBody = template.body;
  const bodyPath = `${base}.body`;
  const body: Part = Buffer.isBuffer(rawBody)
    ? { constant: true, value: rawBody }
    : typeof rawBody === "string"
      ? compileString(rawBody, bodyPath, c, looksLikeJson(rawBody))
      : compileValue(rawBody, bodyPath, c);

  const p = template.properties;
  const strings: Array<[key: (typeof STRING_PROPERTIES)[number], part: Part<string>]> = [];
  for (const key of STRING_PROPERTIES) {
    const v = p[key];
    if (v !== undefined) strings.push([key, map(compileString(v, prop(key), c), toText)]);
  }

  let expiration: Part<string> | undefined;
  if (typeof p.expiration === "number") {
    expiration = { constant: true, value: toExpiration(p.expiration) };
  } else if (typeof p.expiration === "string") {
    const part = compileString(p.expiration, prop("expiration"), c);
    if (part.constant && parseDuration(String(part.value)) === undefined)
      c.issues.push({
        path: prop("expiration"),
        message: `${EXPIRATION_HINT}, got ${JSON.stringify(p.expiration)}`,
      });
    expiration = map(part, toExpiration);
  }

  // true: the publish time, read when the message renders.
  let timestamp: Part<number | undefined> | "now" | undefined;
  if (p.timestamp === true) timestamp = "now";
  else if (typeof p.timestamp === "number") timestamp = { constant: true, value: p.timestamp };
  else if (typeof p.timestamp === "string") {
    const part = compileString(p.timestamp, prop("timestamp"), c);
    if (/^\{\{\s*now\s+ms\s*\}\}$/.test(p.timestamp))
      c.issues.push({
        path: prop("timestamp"),
        message: `"${p.timestamp}" gives milliseconds, but the timestamp property is in seconds; use "{{now s}}" or true`,
      });
    else if (part.constant && toSeconds(part.value) === undefined)
      c.issues.push({
        path: prop("timestamp"),
        message: `${TIMESTAMP_HINT}, got ${JSON.stringify(p.timestamp)}`,
      });
    timestamp = map(part, toSeconds);
  }

  const now = options.now ?? Date.now;
  if (c.faker.length > 0) {
    const faker = await loadFaker();
    for (const { path, source, slot } of c.faker) {
      const resolved = resolveFakerPath(faker, slot.path);
      if ("error" in resolved)
        c.issues.push({ path, message: `"{{${source}}}": ${resolved.error}` });
      else slot.bind(resolved.fn);
    }
    // Seeded after the paths were tried, so the check does not move the stream.
    seedFaker(faker, options.seed, name, now);
  }

  if (c.issues.length > 0) {
    throw new ConfigError(
      undefined,
      c.issues,
      "placeholders: {{seq}} {{uuid}} {{now}} {{int 1 6}} {{float 0 1 2}} {{pick a b}} {{bool 0.5}} {{faker person.fullName}} {{env NAME default}}; write \\{{ for a literal {{",
    );
  }

  const runtime = new GeneratorRuntime(
    options.seed === undefined ? Math.random : seededRandom(options.seed, name),
    now,
  );
  const contentType = p.contentType === undefined ? defaultContentType(rawBody) : undefined;
  const toBuffer: (v: unknown) => Buffer = Buffer.isBuffer(rawBody)
    ? () => rawBody
    : typeof rawBody === "string"
      ? (v) => Buffer.from(toText(v))
      : hasJsonNumber(rawBody)
        ? (v) => Buffer.from(stringifyJson(v))
        : (v) => Buffer.from(JSON.stringify(v));
  // A body without placeholders is serialised once and the same Buffer is sent every time.
  const content: Part<Buffer> = body.constant
    ? { constant: true, value: toBuffer(body.value) }
    : map(body, toBuffer);
  const { persistent, priority } = p;

  return {
    name,
    amount: template.amount,
    delayMs: template.delay,
    rate: template.rate,
    render() {
      runtime.next();
      const properties: PublishProperties = {
        headers: headers.constant ? { ...headers.value } : headers.fn(runtime),
      };
      if (contentType !== undefined) properties.contentType = contentType;
      for (const [key, part] of strings) properties[key] = at(part, runtime);
      if (persistent !== undefined) properties.persistent = persistent;
      if (priority !== undefined) properties.priority = priority;
      if (expiration !== undefined) properties.expiration = at(expiration, runtime);
      if (timestamp === "now") properties.timestamp = Math.floor(runtime.now() / 1000);
      else if (timestamp !== undefined) {
        const seconds = at(timestamp, runtime);
        if (seconds !== undefined) properties.timestamp = seconds;
      }
      return {
        exchange: at(exchange, runtime),
        routingKey: at(routingKey, runtime),
        content: at(content, runtime),
        properties,
      };
    },
  };
}

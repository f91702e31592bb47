/**
 * Message templates: compiled once into closures, rendered per message.
 *
 * Placeholders (see placeholders.ts and generators.ts) may stand in body strings at any
 * depth, the routing key, the exchange, header values and string properties. Every problem
 * of a template is reported at once, as a ConfigError with one issue per placeholder at
 * `templates.<name>.<field path>`.
 */
import { isUtf8 } from "node:buffer";
import { ConfigError } from "../errors.js";
import { parseDuration } from "./duration.js";
import { GeneratorRuntime, loadFaker, resolveFakerPath, seedFaker } from "./generators.js";
import { hasJsonNumber, stringifyJson } from "./json.js";
import {
  at,
  type Compiler,
  child,
  compileString,
  compileValue,
  looksLikeJson,
  map,
  type Part,
  toText,
} from "./placeholders.js";
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

type StringProperty = (typeof STRING_PROPERTIES)[number];

/** A template's properties, compiled: what render fills in per message. */
interface CompiledProperties {
  /** The content type the body gets when the template sets none. */
  contentType: string | undefined;
  strings: Array<[key: StringProperty, part: Part<string>]>;
  persistent: boolean | undefined;
  priority: number | undefined;
  expiration: Part<string> | undefined;
  /** "now": the publish time, read when the message renders. */
  timestamp: Part<number | undefined> | "now" | undefined;
}

/** A template, compiled: what render turns into a message. */
interface CompiledMessage {
  exchange: Part<string>;
  routingKey: Part<string>;
  headers: Part<Record<string, unknown>>;
  content: Part<Buffer>;
  properties: CompiledProperties;
}

function compileExpiration(
  v: TemplateConfig["properties"]["expiration"],
  path: string,
  c: Compiler,
): Part<string> | undefined {
  if (typeof v === "number") return { constant: true, value: toExpiration(v) };
  if (typeof v !== "string") return undefined;
  const part = compileString(v, path, c);
  if (part.constant && parseDuration(String(part.value)) === undefined)
    c.issues.push({ path, message: `${EXPIRATION_HINT}, got ${JSON.stringify(v)}` });
  return map(part, toExpiration);
}

function compileTimestamp(
  v: TemplateConfig["properties"]["timestamp"],
  path: string,
  c: Compiler,
): CompiledProperties["timestamp"] {
  if (v === true) return "now";
  if (typeof v === "number") return { constant: true, value: v };
  if (typeof v !== "string") return undefined;
  const part = compileString(v, path, c);
  if (/^\{\{\s*now\s+ms\s*\}\}$/.test(v))
    c.issues.push({
      path,
      message: `"${v}" gives milliseconds, but the timestamp property is in seconds; use "{{now s}}" or true`,
    });
  else if (part.constant && toSeconds(part.value) === undefined)
    c.issues.push({ path, message: `${TIMESTAMP_HINT}, got ${JSON.stringify(v)}` });
  return map(part, toSeconds);
}

function compileProperties(template: TemplateInput, base: string, c: Compiler): CompiledProperties {
  const p = template.properties;
  const prop = (key: string) => child(`${base}.properties`, key);
  const strings: CompiledProperties["strings"] = [];
  for (const key of STRING_PROPERTIES) {
    const v = p[key];
    if (v !== undefined) strings.push([key, map(compileString(v, prop(key), c), toText)]);
  }
  return {
    contentType: p.contentType === undefined ? defaultContentType(template.body) : undefined,
    strings,
    persistent: p.persistent,
    priority: p.priority,
    expiration: compileExpiration(p.expiration, prop("expiration"), c),
    timestamp: compileTimestamp(p.timestamp, prop("timestamp"), c),
  };
}

/**
 * The body as the bytes sent: raw bytes as read, strings as text, anything else as JSON. A
 * body without placeholders is serialised once and the same Buffer is sent every time.
 */
function compileContent(body: TemplateInput["body"], path: string, c: Compiler): Part<Buffer> {
  if (Buffer.isBuffer(body)) return { constant: true, value: body };
  const part =
    typeof body === "string"
      ? compileString(body, path, c, looksLikeJson(body))
      : compileValue(body, path, c);
  const toBuffer: (v: unknown) => Buffer =
    typeof body === "string"
      ? (v) => Buffer.from(toText(v))
      : hasJsonNumber(body)
        ? (v) => Buffer.from(stringifyJson(v))
        : (v) => Buffer.from(JSON.stringify(v));
  return part.constant ? { constant: true, value: toBuffer(part.value) } : map(part, toBuffer);
}

function compileMessage(template: TemplateInput, base: string, c: Compiler): CompiledMessage {
  return {
    exchange: map(compileString(template.exchange, `${base}.exchange`, c), toText),
    routingKey: map(compileString(template.routingKey, `${base}.routingKey`, c), toText),
    headers: compileValue(template.headers, `${base}.headers`, c) as Part<Record<string, unknown>>,
    content: compileContent(template.body, `${base}.body`, c),
    properties: compileProperties(template, base, c),
  };
}

/** Load Faker for the template's faker placeholders, check their paths and bind them. */
async function bindFaker(
  c: Compiler,
  seed: number | undefined,
  name: string,
  now: () => number,
): Promise<void> {
  const faker = await loadFaker();
  for (const { path, source, slot } of c.faker) {
    const resolved = resolveFakerPath(faker, slot.path);
    if ("error" in resolved) c.issues.push({ path, message: `"{{${source}}}": ${resolved.error}` });
    else slot.bind(resolved.fn);
  }
  // Seeded after the paths were tried, so the check does not move the stream.
  seedFaker(faker, seed, name, now);
}

function renderProperties(
  p: CompiledProperties,
  headers: Record<string, unknown>,
  rt: GeneratorRuntime,
): PublishProperties {
  const out: PublishProperties = { headers };
  if (p.contentType !== undefined) out.contentType = p.contentType;
  for (const [key, part] of p.strings) out[key] = at(part, rt);
  if (p.persistent !== undefined) out.persistent = p.persistent;
  if (p.priority !== undefined) out.priority = p.priority;
  if (p.expiration !== undefined) out.expiration = at(p.expiration, rt);
  if (p.timestamp === "now") out.timestamp = Math.floor(rt.now() / 1000);
  else if (p.timestamp !== undefined) {
    const seconds = at(p.timestamp, rt);
    if (seconds !== undefined) out.timestamp = seconds;
  }
  return out;
}

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
  const m = compileMessage(template, child("templates", name), c);
  const now = options.now ?? Date.now;
  if (c.faker.length > 0) await bindFaker(c, options.seed, name, now);
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
  return {
    name,
    amount: template.amount,
    delayMs: template.delay,
    rate: template.rate,
    render() {
      runtime.next();
      // Headers first: seeded values are drawn in the order the template is written.
      const headers = m.headers.constant ? { ...m.headers.value } : m.headers.fn(runtime);
      const properties = renderProperties(m.properties, headers, runtime);
      return {
        exchange: at(m.exchange, runtime),
        routingKey: at(m.routingKey, runtime),
        content: at(m.content, runtime),
        properties,
      };
    },
  };
}

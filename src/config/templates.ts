/**
 * Message templates: compiled once into closures, rendered per message.
 *
 * Placeholders (`{{seq}}`, `{{uuid}}`, `{{int 1 6}}`, …, see generators.ts) may stand in
 * body strings at any depth, the routing key, the exchange, header values and string
 * properties. A string that is exactly one placeholder keeps the generated value's type.
 */
import { ConfigError, type ConfigIssue } from "../errors.js";
import { parseDuration } from "./duration.js";
import {
  compileGenerator,
  createRuntime,
  fakerFunction,
  type Generator,
  type GeneratorRuntime,
  loadFaker,
} from "./generators.js";
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

const PLACEHOLDER = /\\\{\{|\{\{([^}]*)\}\}/g;

interface Compiler {
  issues: ConfigIssue[];
  options: GeneratorOptions;
  fakerPaths: Array<[path: string, fakerPath: string]>;
}

/** Compile a string with placeholders. */
function compileString(text: string, path: string, c: Compiler): Part {
  const pieces: Array<string | Generator> = [];
  let last = 0;
  let m: RegExpExecArray | null;
  PLACEHOLDER.lastIndex = 0;
  let literal = "";
  // biome-ignore lint/suspicious/noAssignInExpressions: the classic exec loop
  while ((m = PLACEHOLDER.exec(text)) !== null) {
    literal += text.slice(last, m.index);
    last = m.index + m[0].length;
    if (m[0] === "\\{{") {
      literal += "{{";
      continue;
    }
    const source = m[1] ?? "";
    const compiled = compileGenerator(source, c.options);
    if ("error" in compiled) {
      c.issues.push({ path, message: `"{{${source}}}": ${compiled.error}` });
      continue;
    }
    if (compiled.fakerPath !== undefined) c.fakerPaths.push([path, compiled.fakerPath]);
    if (literal !== "") pieces.push(literal);
    literal = "";
    pieces.push(compiled.generator);
  }
  literal += text.slice(last);
  if (/(?<!\\)\{\{/.test(literal)) {
    c.issues.push({
      path,
      message: `unterminated placeholder: "{{" without "}}" in ${JSON.stringify(text)}`,
    });
  }
  if (literal !== "") pieces.push(literal);
  if (pieces.length === 0) return { constant: true, value: "" };
  if (pieces.length === 1 && typeof pieces[0] === "string")
    return { constant: true, value: pieces[0] };
  if (pieces.length === 1) {
    const g = pieces[0] as Generator;
    return { constant: false, fn: g };
  }
  return {
    constant: false,
    fn: (rt) => {
      let out = "";
      for (const p of pieces) out += typeof p === "string" ? p : String(p(rt));
      return out;
    },
  };
}

/** Compile any JSON-like value: constant subtrees stay constant. */
function compileValue(value: unknown, path: string, c: Compiler): Part {
  if (typeof value === "string") return compileString(value, path, c);
  if (Array.isArray(value)) {
    const parts = value.map((v, i) => compileValue(v, `${path}[${i}]`, c));
    if (parts.every((p) => p.constant)) return { constant: true, value };
    return { constant: false, fn: (rt) => parts.map((p) => (p.constant ? p.value : p.fn(rt))) };
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).map(
      ([k, v]) => [k, compileValue(v, `${path}.${k}`, c)] as const,
    );
    if (entries.every(([, p]) => p.constant)) return { constant: true, value };
    return {
      constant: false,
      fn: (rt) => {
        const out: Record<string, unknown> = {};
        for (const [k, p] of entries) out[k] = p.constant ? p.value : p.fn(rt);
        return out;
      },
    };
  }
  return { constant: true, value };
}

const at = <T>(p: Part<T>, rt: GeneratorRuntime): T => (p.constant ? p.value : p.fn(rt));

function asText(p: Part): Part<string> {
  if (p.constant) return { constant: true, value: String(p.value) };
  return { constant: false, fn: (rt) => String(p.fn(rt)) };
}

export async function compileTemplate(
  name: string,
  template: TemplateConfig,
  options: GeneratorOptions,
): Promise<CompiledTemplate> {
  const c: Compiler = { issues: [], options, fakerPaths: [] };
  const base = `templates.${name}`;
  const exchange = asText(compileString(template.exchange, `${base}.exchange`, c));
  const routingKey = asText(compileString(template.routingKey, `${base}.routingKey`, c));
  const headers = compileValue(template.headers, `${base}.headers`, c) as Part<
    Record<string, unknown>
  >;
  const body = compileValue(template.body, `${base}.body`, c);
  const p = template.properties;
  const stringProps = [
    "contentType",
    "contentEncoding",
    "messageId",
    "correlationId",
    "replyTo",
    "type",
    "appId",
    "userId",
  ] as const;
  const props: Array<[string, Part<string>]> = [];
  for (const key of stringProps) {
    const v = p[key];
    if (v !== undefined)
      props.push([key, asText(compileString(v, `${base}.properties.${key}`, c))]);
  }
  let expiration: Part<string> | undefined;
  if (typeof p.expiration === "number")
    expiration = { constant: true, value: String(Math.round(p.expiration)) };
  else if (typeof p.expiration === "string") {
    const ms = parseDuration(p.expiration);
    expiration =
      ms !== undefined
        ? { constant: true, value: String(Math.round(ms)) }
        : asText(compileString(p.expiration, `${base}.properties.expiration`, c));
  }
  let timestamp: Part<number> | "now" | undefined;
  if (p.timestamp === true) timestamp = "now";
  else if (typeof p.timestamp === "number") timestamp = { constant: true, value: p.timestamp };
  else if (typeof p.timestamp === "string") {
    const part = compileString(p.timestamp, `${base}.properties.timestamp`, c);
    timestamp = part.constant
      ? { constant: true, value: Number(part.value) }
      : { constant: false, fn: (rt) => Number(part.fn(rt)) };
    if (part.constant && !Number.isFinite(Number(part.value))) {
      c.issues.push({
        path: `${base}.properties.timestamp`,
        message: "expected true, epoch seconds or a placeholder like {{now s}}",
      });
    }
  }
  const faker = c.fakerPaths.length > 0 ? await loadFaker(options.seed, name) : undefined;
  for (const [path, fakerPath] of c.fakerPaths) {
    if (faker && !fakerFunction(faker, fakerPath)) {
      c.issues.push({
        path,
        message: `"{{faker ${fakerPath}}}": unknown Faker path; try person.fullName, location.city, commerce.productName, internet.email`,
      });
    }
  }
  if (c.issues.length > 0) {
    throw new ConfigError(
      undefined,
      c.issues,
      "placeholders are listed in the README and in `eventlab init`'s example config",
    );
  }

  const runtime = createRuntime(name, options.seed, faker);
  const contentType =
    p.contentType === undefined
      ? typeof template.body === "string"
        ? "text/plain"
        : "application/json"
      : undefined;
  const isText = typeof template.body === "string";
  const toBuffer = (v: unknown): Buffer => Buffer.from(isText ? String(v) : JSON.stringify(v));
  const constantContent = body.constant ? toBuffer(body.value) : undefined;
  const now = options.now ?? Date.now;

  return {
    name,
    amount: template.amount,
    delayMs: template.delay,
    rate: template.rate,
    render() {
      runtime.next();
      const properties: PublishProperties = { headers: at(headers, runtime) };
      if (contentType !== undefined) properties.contentType = contentType;
      for (const [key, part] of props)
        (properties as unknown as Record<string, unknown>)[key] = at(part, runtime);
      if (p.persistent !== undefined) properties.persistent = p.persistent;
      if (p.priority !== undefined) properties.priority = p.priority;
      if (expiration) properties.expiration = at(expiration, runtime);
      if (timestamp === "now") properties.timestamp = Math.floor(now() / 1000);
      else if (timestamp) properties.timestamp = at(timestamp, runtime);
      return {
        exchange: at(exchange, runtime),
        routingKey: at(routingKey, runtime),
        content: constantContent ?? toBuffer(at(body, runtime)),
        properties,
      };
    },
  };
}

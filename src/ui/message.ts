/**
 * Printing consumed messages: pretty for people, NDJSON for programs. Works on plain
 * message data; knows nothing of AMQP libraries.
 */
import { isUtf8 } from "node:buffer";
import type { Theme } from "./theme.js";

/** A delivered message as plain data. */
export interface PrintableMessage {
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  headers: Record<string, unknown>;
  /** Properties that are set, without headers. */
  properties: Record<string, unknown>;
  body: Buffer;
}

let lastContentType = "";
let lastIsJson = false;

function isJsonContent(properties: Record<string, unknown>): boolean | undefined {
  const { contentType: ct } = properties;
  if (typeof ct !== "string") return undefined;
  // Messages of one stream mostly share a content type: test each new one once.
  if (ct !== lastContentType) {
    lastContentType = ct;
    lastIsJson = /[/+]json\b/i.test(ct);
  }
  return lastIsJson;
}

function hasEntries(o: Record<string, unknown>): boolean {
  for (const _ in o) return true;
  return false;
}

/** amqplib's notation for AMQP field types JSON has no word for: `{"!": "timestamp", value}`. */
function typedValue(value: Record<string, unknown>): unknown {
  const type = value["!"];
  const { value: v } = value;
  if (type === "timestamp" && typeof v === "number") return new Date(v * 1000).toISOString();
  if (type === "decimal" && v && typeof v === "object") {
    const { places, digits } = v as { places?: number; digits?: number };
    if (typeof places === "number" && typeof digits === "number") return digits / 10 ** places;
  }
  return v;
}

/**
 * JSON-safe copy: Buffers become base64 strings, bigints strings, AMQP timestamps ISO dates
 * (x-death's `time`), decimals numbers.
 */
function safe(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString("base64");
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(safe);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === "object") {
    if (Object.hasOwn(value, "!") && Object.hasOwn(value, "value"))
      return safe(typedValue(value as Record<string, unknown>));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = safe(v);
    return out;
  }
  return value;
}

/**
 * One NDJSON line. The body is given so that its exact bytes can be had back, as
 * `bodyEncoding` says:
 * - `json`: a JSON body on one line, spliced in as it arrived: the line holds its exact text;
 * - `utf8`: any other UTF-8 text (plain text, JSON over several lines), as a JSON string;
 * - `base64`: anything else.
 */
export function ndjsonLine(n: number, m: PrintableMessage): string {
  const text = isUtf8(m.body) ? m.body.toString("utf8") : undefined;
  const json = text !== undefined && isSplicableJson(m, text);
  const bodyEncoding = json ? "json" : text !== undefined ? "utf8" : "base64";
  const body = json
    ? text
    : text !== undefined
      ? JSON.stringify(text)
      : JSON.stringify(m.body.toString("base64"));
  if (hasLineShape(n, m)) {
    // The line written out field by field, in the order JSON.stringify gives them below: a
    // stream's messages mostly share exchange and routing key, quoted once.
    if (m.exchange !== lastExchange) {
      lastExchange = m.exchange;
      lastExchangeJson = JSON.stringify(m.exchange);
    }
    if (m.routingKey !== lastRoutingKey) {
      lastRoutingKey = m.routingKey;
      lastRoutingKeyJson = JSON.stringify(m.routingKey);
    }
    const headers = hasEntries(m.headers) ? JSON.stringify(safe(m.headers)) : "{}";
    return `{"n":${n},"exchange":${lastExchangeJson},"routingKey":${lastRoutingKeyJson},"redelivered":${m.redelivered},"properties":${JSON.stringify(m.properties)},"headers":${headers},"size":${m.body.length},"bodyEncoding":"${bodyEncoding}","body":${body}}\n`;
  }
  const head = JSON.stringify({
    n,
    exchange: m.exchange,
    routingKey: m.routingKey,
    redelivered: m.redelivered,
    // Basic properties are strings and numbers; only headers can hold buffers and the like.
    properties: m.properties,
    headers: hasEntries(m.headers) ? safe(m.headers) : m.headers,
    size: m.body.length,
    bodyEncoding,
  });
  // Splice the body in as raw JSON: it was validated, and re-serialising costs time.
  return `${head.slice(0, -1)},"body":${body}}\n`;
}

let lastExchange = "";
let lastExchangeJson = '""';
let lastRoutingKey = "";
let lastRoutingKeyJson = '""';

/**
 * A message whose line can be written field by field: every field of the shape JSON.stringify
 * would write (none undefined, so none left out; n a plain whole number).
 */
function hasLineShape(n: number, m: PrintableMessage): boolean {
  return (
    Number.isSafeInteger(n) &&
    typeof m.exchange === "string" &&
    typeof m.routingKey === "string" &&
    typeof m.redelivered === "boolean" &&
    typeof m.properties === "object" &&
    m.properties !== null &&
    typeof m.headers === "object" &&
    m.headers !== null
  );
}

const NOT_BLANK = /\S/;
const LINE_BREAK = /[\n\r\u2028\u2029]/;

/** JSON text that can stand in the line as it is: one line, valid, not declared otherwise. */
function isSplicableJson(m: PrintableMessage, text: string): boolean {
  // One pass each, no copy: a body that is all blanks, or that would break the line.
  if (isJsonContent(m.properties) === false || !NOT_BLANK.test(text)) return false;
  if (LINE_BREAK.test(text)) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Text that would read as another type (a number, true, null) or is hard to see is quoted. */
function formatValue(v: unknown): string {
  if (typeof v === "string")
    return /[\s=,"]/.test(v) || v === "" || /^(?:-?[\d.]+(?:e[+-]?\d+)?|true|false|null)$/i.test(v)
      ? JSON.stringify(v)
      : v;
  return JSON.stringify(safe(v));
}

/** A readable block for one message. */
export function prettyMessage(n: number, m: PrintableMessage, theme: Theme): string {
  const lines: string[] = [];
  const exchange = m.exchange === "" ? "(default exchange)" : m.exchange;
  const flags = m.redelivered ? ` ${theme.warn("redelivered")}` : "";
  lines.push(
    `${theme.dim(`#${n}`)} ${theme.accent(exchange)} ${theme.dim("→")} ${theme.key(m.routingKey || '""')}${flags}`,
  );
  const headerKeys = Object.keys(m.headers);
  if (headerKeys.length > 0) {
    lines.push(
      `  ${theme.dim("headers")}     ${headerKeys.map((k) => `${k}=${formatValue(m.headers[k])}`).join("  ")}`,
    );
  }
  const props = Object.entries(m.properties).map(([k, v]) => {
    const shown = k === "timestamp" && typeof v === "number" ? new Date(v * 1000).toISOString() : v;
    return `${k}=${formatValue(shown)}`;
  });
  if (props.length > 0) lines.push(`  ${theme.dim("properties")}  ${props.join("  ")}`);
  lines.push(indent(prettyBody(m), "  "));
  return `${lines.join("\n")}\n\n`;
}

function prettyBody(m: PrintableMessage): string {
  if (m.body.length === 0) return "(empty body)";
  const declared = isJsonContent(m.properties);
  const text = m.body.toString("utf8");
  if (declared !== false) {
    try {
      JSON.parse(text);
      return reindentJson(text);
    } catch {
      // not JSON: fall through
    }
  }
  if (isUtf8(m.body) && !/[\u0000-\u0008\u000e-\u001f]/.test(text)) return text;
  return `(binary, ${m.body.length} bytes) ${m.body.toString("base64")}`;
}

/**
 * Valid JSON text laid out two spaces an indent, its tokens kept as written: a number such as
 * 12345678901234567890 or 1.0 shows as it was sent, not as JSON.parse would round it.
 */
export function reindentJson(text: string): string {
  let out = "";
  let depth = 0;
  const newline = () => `\n${"  ".repeat(depth)}`;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (ch === "{" || ch === "[") {
      const close = ch === "{" ? "}" : "]";
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j]!)) j++;
      if (text[j] === close) {
        out += ch + close;
        i = j;
      } else {
        depth++;
        out += ch + newline();
      }
    } else if (ch === "}" || ch === "]") {
      depth--;
      out += newline() + ch;
    } else if (ch === ",") out += `,${newline()}`;
    else if (ch === ":") out += ": ";
    else if (!/\s/.test(ch)) out += ch;
  }
  return out;
}

function indent(text: string, pad: string): string {
  return text
    .split("\n")
    .map((l) => pad + l)
    .join("\n");
}

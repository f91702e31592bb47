/**
 * Printing consumed messages: pretty for people, NDJSON for programs. Works on plain
 * message data; knows nothing of AMQP libraries.
 */
import type { Theme } from "./theme.js";

export interface PrintableMessage {
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
  body: Buffer;
}

let lastContentType = "";
let lastIsJson = false;

function isJsonContent(properties: Record<string, unknown>): boolean | undefined {
  const ct = properties.contentType;
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

/** JSON-safe copy: Buffers become base64 strings, bigints strings. */
function safe(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString("base64");
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(safe);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = safe(v);
    return out;
  }
  return value;
}

/**
 * One NDJSON line. The body is decoded when it is JSON (content type says so, or no
 * content type and it parses), base64 otherwise; `bodyEncoding` says which.
 */
export function ndjsonLine(n: number, m: PrintableMessage): string {
  const text = bodyAsJsonText(m);
  const head = JSON.stringify({
    n,
    exchange: m.exchange,
    routingKey: m.routingKey,
    redelivered: m.redelivered,
    // Basic properties are strings and numbers; only headers can hold buffers and the like.
    properties: m.properties,
    headers: hasEntries(m.headers) ? safe(m.headers) : m.headers,
    size: m.body.length,
    bodyEncoding: text === undefined ? "base64" : "json",
  });
  const body = text ?? JSON.stringify(m.body.toString("base64"));
  // Splice the body in as raw JSON: it was validated, and re-serialising costs time.
  return `${head.slice(0, -1)},"body":${body}}\n`;
}

/** The body as one-line JSON text when it is valid JSON, else undefined. */
function bodyAsJsonText(m: PrintableMessage): string | undefined {
  const declared = isJsonContent(m.properties);
  if (declared === false || m.body.length === 0) return undefined;
  const raw = m.body.toString("utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  return raw.includes("\n") || raw.includes("\r") ? JSON.stringify(parsed) : raw.trim();
}

function formatValue(v: unknown): string {
  if (typeof v === "string") return /[\s=,]/.test(v) || v === "" ? JSON.stringify(v) : v;
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
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // not JSON: fall through
    }
  }
  if (Buffer.from(text, "utf8").equals(m.body) && !/[\u0000-\u0008\u000e-\u001f]/.test(text))
    return text;
  return `(binary, ${m.body.length} bytes) ${m.body.toString("base64")}`;
}

function indent(text: string, pad: string): string {
  return text
    .split("\n")
    .map((l) => pad + l)
    .join("\n");
}

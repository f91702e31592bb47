/**
 * A recording of messages: one JSON object a line (NDJSON), as `consume --save FILE` appends
 * them and `produce --replay FILE` reads them back. A line holds a message's whole envelope:
 *
 *   {"n":1,"receivedAt":"2026-05-01T09:30:00.123Z","exchange":"orders","routingKey":"o.eu",
 *    "redelivered":false,"properties":{"contentType":"application/json","deliveryMode":2},
 *    "headerTypes":"wire","headers":{"retries":{"type":"int16","value":3}},
 *    "size":11,"bodyEncoding":"json","body":{"id":1}}
 *
 * These are the fields of `consume --json` plus `receivedAt` and `headerTypes`; headers hold
 * each value with its AMQP field type (typed-headers.ts). `headerTypes` is "wire" when the
 * types were read from the frame, "inferred" when they could not be. The body is exact, as
 * `bodyEncoding` says: json (the body's own text, spliced in as the object's last member),
 * utf8 (a JSON string) or base64.
 *
 * Lines of `consume --json` read too: the same fields, headers as plain values (their types
 * are then what amqplib infers, see inferTyped), and no receive time.
 */

import { isUtf8 } from "node:buffer";
import { closeSync, openSync, writeSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { ConsumeMessage } from "amqplib";
import { BASIC_PROPERTY_NAMES } from "../broker/codec/spec.js";
import { EventlabError } from "../errors.js";
import {
  HeaderError,
  inferTyped,
  plainHeaders,
  type TypedTable,
  toAmqplibHeaders,
  typedHeadersOf,
} from "./typed-headers.js";

// ------------------------------------------------------------------ write

const NOT_BLANK = /\S/;
const LINE_BREAK = /[\n\r\u2028\u2029]/;

/** The body as `bodyEncoding` and the JSON text that stands for it in the line. */
function bodyFields(body: Buffer): { encoding: "json" | "utf8" | "base64"; text: string } {
  if (!isUtf8(body)) return { encoding: "base64", text: JSON.stringify(body.toString("base64")) };
  const text = body.toString("utf8");
  if (NOT_BLANK.test(text) && !LINE_BREAK.test(text)) {
    try {
      JSON.parse(text);
      return { encoding: "json", text };
    } catch {
      // not JSON: a string
    }
  }
  return { encoding: "utf8", text: JSON.stringify(text) };
}

/** The basic properties other than headers, in the spec's order. */
const PROPERTY_NAMES = BASIC_PROPERTY_NAMES.filter((name) => name !== "headers");

/**
 * One recording line for a delivery. Header types come from the frame when the connection
 * captures them (captureHeaderTypes); else they are inferred, and the line says so.
 */
export function envelopeLine(
  n: number,
  message: ConsumeMessage,
  receivedAt: Date,
): { text: string; wire: boolean } {
  const p = message.properties as unknown as Record<string, unknown>;
  const properties: Record<string, unknown> = {};
  for (const k of PROPERTY_NAMES) {
    const v = p[k];
    if (v !== undefined && v !== null) properties[k] = v;
  }
  const wire = typedHeadersOf(message);
  const headers: TypedTable =
    wire ?? (inferTyped(p["headers"] ?? {}) as { value: TypedTable }).value;
  const body = bodyFields(message.content);
  const head = JSON.stringify({
    n,
    receivedAt: receivedAt.toISOString(),
    exchange: message.fields.exchange,
    routingKey: message.fields.routingKey,
    redelivered: message.fields.redelivered,
    properties,
    headerTypes: wire ? "wire" : "inferred",
    headers,
    size: message.content.length,
    bodyEncoding: body.encoding,
  });
  return { text: `${head.slice(0, -1)},"body":${body.text}}\n`, wire: wire !== undefined };
}

/** A recording opened for appending; each line is written through before write() returns. */
export class EnvelopeFile {
  private constructor(
    readonly path: string,
    private fd: number | undefined,
  ) {}

  static open(path: string, shownAs: string): EnvelopeFile {
    try {
      return new EnvelopeFile(shownAs, openSync(path, "a"));
    } catch (err) {
      throw new EventlabError(
        "io",
        `cannot open --save ${shownAs} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        { hint: "check that its directory exists and is writable; the file is appended to" },
      );
    }
  }

  /** Append `text`; synchronous, so a message is in the file before it is acknowledged. */
  write(text: string): void {
    if (this.fd === undefined) throw new Error(`${this.path} is closed`);
    const buf = Buffer.from(text, "utf8");
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

// ------------------------------------------------------------------ read and check

/** A message read from a recording, ready to publish. */
export interface RecordedMessage {
  /** Its line in the file (1-based). */
  line: number;
  exchange: string;
  routingKey: string;
  /** amqplib publish options: the basic properties, headers typed for amqplib's encoder. */
  properties: Record<string, unknown>;
  content: Buffer;
  /** When it was received (ms since the epoch); undefined in consume --json lines. */
  receivedAtMs: number | undefined;
  /** Had a cluster-id property, which amqplib cannot send. */
  droppedClusterId: boolean;
}

export interface Recording {
  messages: RecordedMessage[];
  /** Lines whose header types were known (wire), and lines of consume --json (inferred). */
  typedLines: number;
  plainLines: number;
}

/** What is wrong with a line. */
class LineError extends Error {}

const SHORTSTR_PROPERTIES = new Set([
  "contentType",
  "contentEncoding",
  "correlationId",
  "replyTo",
  "expiration",
  "messageId",
  "type",
  "userId",
  "appId",
  "clusterId",
]);

function checkProperties(raw: unknown): { properties: Record<string, unknown>; cluster: boolean } {
  if (raw === undefined) return { properties: {}, cluster: false };
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new LineError("properties: expected an object");
  const properties: Record<string, unknown> = {};
  let cluster = false;
  for (const [k, v] of Object.entries(raw)) {
    if (v === null || v === undefined) continue;
    if (SHORTSTR_PROPERTIES.has(k)) {
      if (typeof v !== "string") throw new LineError(`properties.${k}: expected text`);
      if (Buffer.byteLength(v) > 255) throw new LineError(`properties.${k}: longer than 255 bytes`);
      if (k === "clusterId") cluster = true;
      else properties[k] = v;
    } else if (k === "deliveryMode" || k === "priority") {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 255)
        throw new LineError(`properties.${k}: expected a whole number from 0 to 255`);
      properties[k] = v;
    } else if (k === "timestamp") {
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
        throw new LineError("properties.timestamp: expected seconds since the epoch");
      properties[k] = v;
    } else if (k === "headers") {
      throw new LineError("properties.headers: headers belong in the line's headers field");
    } else {
      throw new LineError(`properties.${k}: not a message property (${PROPERTY_NAMES.join(", ")})`);
    }
  }
  return { properties, cluster };
}

function isBase64(s: string): boolean {
  return /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0;
}

/** The exact body of a line, as its bodyEncoding says. */
function bodyOf(line: string, parsed: Record<string, unknown>): Buffer {
  const { body, bodyEncoding } = parsed;
  let bytes: Buffer;
  if (bodyEncoding === "base64") {
    if (typeof body !== "string" || !isBase64(body))
      throw new LineError("body: expected base64 text (bodyEncoding is base64)");
    bytes = Buffer.from(body, "base64");
  } else if (bodyEncoding === "utf8") {
    if (typeof body !== "string")
      throw new LineError("body: expected a JSON string (bodyEncoding is utf8)");
    bytes = Buffer.from(body, "utf8");
  } else if (bodyEncoding === "json") {
    if (!Object.hasOwn(parsed, "body")) throw new LineError("body: missing");
    // The body's own text stands in the line as its last member: the line is the other
    // members, as JSON writes them, then ,"body":<text>}.
    const { body: _, ...head } = parsed;
    const prefix = `${JSON.stringify(head).slice(0, -1)},"body":`;
    bytes =
      line.startsWith(prefix) && line.endsWith("}")
        ? Buffer.from(line.slice(prefix.length, -1), "utf8")
        : Buffer.from(JSON.stringify(body), "utf8");
  } else {
    throw new LineError('bodyEncoding: expected "json", "utf8" or "base64"');
  }
  const { size } = parsed;
  if (size !== undefined && size !== bytes.length) {
    throw new LineError(
      `body: ${bytes.length} bytes, but size says ${String(size)} (was the line reformatted? the exact body is kept only in lines as they were written)`,
    );
  }
  return bytes;
}

function recordOf(line: string, lineNo: number): { message: RecordedMessage; typed: boolean } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    throw new LineError(`not valid JSON (${(err as Error).message})`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new LineError("expected a JSON object: one message a line");
  const o = parsed as Record<string, unknown>;
  if (typeof o["exchange"] !== "string") throw new LineError("exchange: expected text");
  if (typeof o["routingKey"] !== "string") throw new LineError("routingKey: expected text");
  if (Buffer.byteLength(o["exchange"]) > 255 || Buffer.byteLength(o["routingKey"]) > 255)
    throw new LineError("exchange and routingKey are at most 255 bytes");
  let receivedAtMs: number | undefined;
  if (o["receivedAt"] !== undefined) {
    receivedAtMs = typeof o["receivedAt"] === "string" ? Date.parse(o["receivedAt"]) : Number.NaN;
    if (Number.isNaN(receivedAtMs))
      throw new LineError("receivedAt: expected a time like 2026-05-01T09:30:00.123Z");
  }
  const { properties, cluster } = checkProperties(o["properties"]);
  const rawHeaders = o["headers"] ?? {};
  if (rawHeaders === null || typeof rawHeaders !== "object" || Array.isArray(rawHeaders))
    throw new LineError("headers: expected an object");
  const typed = o["headerTypes"] !== undefined;
  if (typed && o["headerTypes"] !== "wire" && o["headerTypes"] !== "inferred")
    throw new LineError('headerTypes: expected "wire" or "inferred"');
  let headers: Record<string, unknown>;
  try {
    headers = typed
      ? toAmqplibHeaders(rawHeaders as Record<string, unknown>)
      : plainHeaders(rawHeaders as Record<string, unknown>);
  } catch (err) {
    if (err instanceof HeaderError) throw new LineError(err.message);
    throw err;
  }
  const content = bodyOf(line, o);
  return {
    message: {
      line: lineNo,
      exchange: o["exchange"],
      routingKey: o["routingKey"],
      properties: { ...properties, headers },
      content,
      receivedAtMs,
      droppedClusterId: cluster,
    },
    typed,
  };
}

/** How many bad lines are listed before the rest are only counted. */
const MAX_LISTED = 5;

/**
 * Read and check a whole recording before anything is published. Blank lines are skipped.
 * Every bad line is an error naming FILE:line and what is wrong (the first few listed).
 */
export async function readRecording(path: string, shownAs: string): Promise<Recording> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new EventlabError("io", `cannot read --replay ${shownAs} (${code})`, {
      hint:
        code === "ENOENT"
          ? "check the path (relative to the current directory); record one with eventlab consume <queue> --save <file>"
          : "check that the file is readable",
    });
  }
  const lines = text.split("\n");
  const messages: RecordedMessage[] = [];
  const problems: string[] = [];
  let bad = 0;
  let typedLines = 0;
  let plainLines = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, "");
    if (!NOT_BLANK.test(line)) continue;
    try {
      const { message, typed } = recordOf(line.trim(), i + 1);
      messages.push(message);
      if (typed) typedLines += 1;
      else plainLines += 1;
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      bad += 1;
      if (problems.length < MAX_LISTED) problems.push(`${shownAs}:${i + 1}: ${err.message}`);
    }
  }
  if (bad > 0) {
    const more = bad > problems.length ? `\n  … and ${bad - problems.length} more` : "";
    throw new EventlabError(
      "usage",
      bad === 1
        ? `${problems[0]}`
        : `${bad} bad lines in ${shownAs}:\n  ${problems.join("\n  ")}${more}`,
      {
        hint: "nothing was published; each line is one message as consume --save or consume --json writes it",
      },
    );
  }
  if (messages.length === 0) {
    throw new EventlabError("usage", `${shownAs} holds no messages`, {
      hint: "record some with eventlab consume <queue> --save <file>",
    });
  }
  return { messages, typedLines, plainLines };
}

/**
 * AMQP values as the management API writes them in JSON, and back: field tables (arguments,
 * headers, client properties) and message properties, with RabbitMQ's snake_case names.
 */
import { isUtf8 } from "node:buffer";
import {
  type BasicProperties,
  Decimal,
  type FieldTable,
  type FieldValue,
  Timestamp,
  Typed,
} from "../codec/index.js";

/** The fields a request body may carry (all checked where used). */
export interface Body {
  name?: unknown;
  vhost?: unknown;
  type?: unknown;
  durable?: unknown;
  auto_delete?: unknown;
  internal?: unknown;
  arguments?: unknown;
  source?: unknown;
  destination?: unknown;
  destination_type?: unknown;
  routing_key?: unknown;
  payload?: unknown;
  payload_encoding?: unknown;
  properties?: unknown;
  ackmode?: unknown;
  encoding?: unknown;
  count?: unknown;
  truncate?: unknown;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A field value as JSON: bytes as UTF-8 text, numbers plain (a bigint beyond 2^53 as text). */
export function fieldJson(v: FieldValue | undefined): Json {
  if (v === undefined || v === null) return null;
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === "boolean" || typeof v === "number" || typeof v === "string") return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString("utf8");
  if (v instanceof Typed || v instanceof Timestamp) return fieldJson(v.value);
  if (v instanceof Decimal) return v.value / 10 ** v.scale;
  if (Array.isArray(v)) return v.map((x) => fieldJson(x));
  return tableJson(v as FieldTable);
}

export function tableJson(t: FieldTable | undefined): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(t ?? {})) if (v !== undefined) out[k] = fieldJson(v);
  return out;
}

/** JSON from a request as a field table: objects nest as tables, arrays as arrays. */
export function jsonTable(v: unknown): FieldTable {
  if (v === undefined || v === null || v === "") return {};
  if (typeof v !== "object" || Array.isArray(v))
    throw new BadRequest("arguments must be an object");
  const out: FieldTable = {};
  for (const [k, x] of Object.entries(v)) out[k] = jsonField(x);
  return out;
}

function jsonField(v: unknown): FieldValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean" || typeof v === "number" || typeof v === "string") return v;
  if (Array.isArray(v)) return v.map((x) => jsonField(x));
  if (typeof v === "object") return jsonTable(v);
  return String(v);
}

/** A request's error: 400 with RabbitMQ's {error: "bad_request", reason}. */
export class BadRequest extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "BadRequest";
  }
}

/** `true`, `"true"` (rabbitmqadmin sends strings), false, "false", or the default. */
export function flag(v: unknown, name: string, fallback: boolean): boolean {
  if (v === undefined || v === null || v === "") return fallback;
  if (v === true || v === "true") return true;
  if (v === false || v === "false") return false;
  throw new BadRequest(`${name} must be true or false, not ${JSON.stringify(v)}`);
}

/** A whole number ≥ 0 given as a number or as text. */
export function count(v: unknown, name: string, fallback: number): number {
  if (v === undefined || v === null || v === "") return fallback;
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
    throw new BadRequest(`${name} must be a whole number ≥ 0, not ${JSON.stringify(v)}`);
  }
  return n;
}

const snake = (camel: string) => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (snakeName: string) =>
  snakeName.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

const PROPERTY_NAMES = new Set([
  "content_type",
  "content_encoding",
  "headers",
  "delivery_mode",
  "priority",
  "correlation_id",
  "reply_to",
  "expiration",
  "message_id",
  "timestamp",
  "type",
  "user_id",
  "app_id",
  "cluster_id",
]);

/** Message properties as the API shows them (only those set). */
export function propertiesJson(p: BasicProperties): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(p)) {
    if (v === undefined) continue;
    out[snake(k)] = k === "headers" ? tableJson(v as FieldTable) : fieldJson(v as FieldValue);
  }
  return out;
}

/** Properties of a publish request; unknown names are refused, as RabbitMQ does. */
export function jsonProperties(v: unknown): BasicProperties {
  if (v === undefined || v === null || v === "") return {};
  if (typeof v !== "object" || Array.isArray(v)) {
    throw new BadRequest("properties must be an object");
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!PROPERTY_NAMES.has(k)) throw new BadRequest(`unknown message property '${k}'`);
    if (k === "headers") out["headers"] = jsonTable(x);
    else if (k === "delivery_mode" || k === "priority" || k === "timestamp") {
      out[camel(k)] = count(x, k, 0);
    } else out[camel(k)] = String(x);
  }
  return out as BasicProperties;
}

/** A body as the API returns it: text when `auto` and it is UTF-8, else base64. */
export function payloadJson(
  body: Buffer,
  encoding: "auto" | "base64",
): { payload: string; payload_encoding: "string" | "base64" } {
  if (encoding === "auto" && isUtf8(body)) {
    return { payload: body.toString("utf8"), payload_encoding: "string" };
  }
  return { payload: body.toString("base64"), payload_encoding: "base64" };
}

/** RabbitMQ's quote_plus, as in properties_key: unreserved characters kept, space as +. */
export function quotePlus(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, "+");
}

/**
 * Reading a delivery as consumer behaviours see it: the value at a field path, typed
 * equality between AMQP values, and the keys and sequence numbers they are compared by.
 * Pure: no I/O.
 */
import type { ConsumeMessage } from "amqplib";
import type { FieldPath } from "./types.js";

export interface Delivery {
  messageId?: string;
  correlationId?: string;
  headers: Record<string, unknown>;
  /** Parsed JSON when the body is JSON, else the text. */
  body: unknown;
  routingKey: string;
  redelivered: boolean;
}

/** A delivery as behaviours see it: headers, the body parsed when it is JSON, the ids. */
export function toDelivery(m: ConsumeMessage): Delivery {
  const text = m.content.toString("utf8");
  let body: unknown = text;
  if (m.properties.contentType?.includes("json") || /^\s*[[{"]/.test(text)) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  const d: Delivery = {
    headers: (m.properties.headers ?? {}) as Record<string, unknown>,
    body,
    routingKey: m.fields.routingKey,
    redelivered: m.fields.redelivered,
  };
  if (m.properties.messageId) d.messageId = String(m.properties.messageId);
  if (m.properties.correlationId) d.correlationId = String(m.properties.correlationId);
  return d;
}

const hasOwn = (o: object, k: string): boolean => Object.hasOwn(o, k);

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

function walk(value: unknown, segments: string[]): unknown {
  let v = value;
  for (const s of segments) {
    if (Array.isArray(v)) {
      if (!/^(0|[1-9]\d*)$/.test(s)) return undefined;
      v = v[Number(s)];
    } else if (isRecord(v) && !ArrayBuffer.isView(v) && hasOwn(v, s)) {
      v = v[s];
    } else {
      return undefined;
    }
  }
  return v;
}

/**
 * The value at `path` in a delivery, or undefined when it is not there: `messageId`,
 * `correlationId`, `routingKey`, `headers.<name>` (a header whose name contains dots is found
 * whole first; otherwise the rest is a path into a nested table), `body` itself, or
 * `body.<a>.<b>` (array elements by index: `body.items.0.sku`).
 */
export function fieldValue(d: Delivery, path: FieldPath): unknown {
  if (path === "messageId") return d.messageId;
  if (path === "correlationId") return d.correlationId;
  if (path === "routingKey") return d.routingKey;
  if (path === "body") return d.body;
  if (path === "headers") return d.headers;
  if (path.startsWith("headers.")) {
    const name = path.slice("headers.".length);
    if (hasOwn(d.headers, name)) return d.headers[name];
    return walk(d.headers, name.split("."));
  }
  if (path.startsWith("body.")) return walk(d.body, path.slice("body.".length).split("."));
  return undefined;
}

/** A number from a number or bigint (AMQP integers may arrive as either); else undefined. */
export function numeric(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isNaN(v) ? undefined : v;
  if (typeof v === "bigint") return Number(v);
  return undefined;
}

/** Text from a string or bytes (a header string may arrive as either). */
export function text(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString();
  return undefined;
}

function bytesEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * Deep, typed equality: no coercion between strings, numbers and booleans ("1" ≠ 1), except
 * that a number and a bigint of the same value are equal (an AMQP integer's JS type depends
 * on its wire width and on the client). Arrays element-wise, tables key by key, bytes by byte.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  const na = numeric(a);
  const nb = numeric(b);
  if (na !== undefined || nb !== undefined) return na !== undefined && na === nb;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    return ArrayBuffer.isView(a) && ArrayBuffer.isView(b) && bytesEqual(a, b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => hasOwn(rb, k) && deepEqual(ra[k], rb[k]));
}

/** A Map key for a field value: typed, so "1" and 1 are different keys. */
export function keyOf(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  switch (typeof v) {
    case "string":
      return `s:${v}`;
    case "number":
    case "bigint":
      return `n:${String(v)}`;
    case "boolean":
      return `b:${v}`;
    default: {
      const t = text(v);
      if (t !== undefined) return `s:${t}`;
      try {
        return `j:${JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x))}`;
      } catch {
        return undefined;
      }
    }
  }
}

/** A sequence number: a finite number or bigint, or a string holding a whole number. */
export function sequenceOf(v: unknown): number | undefined {
  const n = numeric(v) ?? (typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : undefined);
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}

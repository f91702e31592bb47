/**
 * A published message as the broker stores it: immutable and shared by every queue it
 * was routed to. The encoded content header is kept as it arrived and relayed unchanged;
 * only dead-lettering and the quorum delivery count build a new one.
 */
import {
  type BasicProperties,
  encodeContentHeader,
  type FieldTable,
  type FieldValue,
  Timestamp,
  Typed,
  tableField,
} from "../codec/index.js";

export interface Message {
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: BasicProperties;
  /** The content header payload (class, weight, size, properties) to send with it. */
  readonly header: Buffer;
  readonly body: Buffer;
}

export function makeMessage(
  exchange: string,
  routingKey: string,
  properties: BasicProperties,
  body: Buffer,
  header?: Buffer,
): Message {
  return {
    exchange,
    routingKey,
    properties,
    body,
    header: header ?? encodeContentHeader({ bodySize: body.length, properties }),
  };
}

/** The same message with other properties (a new header is encoded). */
export function withProperties(
  m: Message,
  properties: BasicProperties,
  exchange = m.exchange,
  routingKey = m.routingKey,
): Message {
  return makeMessage(exchange, routingKey, properties, m.body);
}

export function withHeader(m: Message, name: string, value: FieldValue): Message {
  return withProperties(m, {
    ...m.properties,
    headers: { ...(m.properties.headers ?? {}), [name]: value },
  });
}

/** The routing keys a message was published with: its key plus any CC header. */
export function routingKeys(m: Message): string[] {
  const cc = tableField(m.properties.headers, "CC");
  const extra = Array.isArray(cc) ? cc.filter((k): k is string => typeof k === "string") : [];
  return [m.routingKey, ...extra];
}

export type DeathReason = "rejected" | "expired" | "maxlen" | "delivery_limit";

const text = (v: FieldValue | undefined): string | undefined =>
  typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("utf8") : undefined;

function isTable(v: FieldValue | undefined): v is FieldTable {
  return (
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    !Buffer.isBuffer(v) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof Timestamp) &&
    !(v instanceof Typed)
  );
}

function sortTable(t: FieldTable): FieldTable {
  const out: FieldTable = {};
  for (const k of Object.keys(t).sort()) out[k] = t[k];
  return out;
}

/**
 * The message as a dead-letter exchange receives it, as RabbitMQ 3.10 builds it: an
 * x-death entry per (queue, reason), most recent first (an existing one has its count
 * raised and moves to the front), x-first-death-* set once, the expiration moved into
 * original-expiration, BCC removed.
 */
export function deadLettered(
  m: Message,
  queue: string,
  reason: DeathReason,
  exchange: string,
  routingKey: string,
  nowMs: number,
): Message {
  // BCC never travels on (RabbitMQ removes it whenever it routes a message).
  const { BCC: _bcc, ...headers }: FieldTable = m.properties.headers ?? {};
  const deaths = Array.isArray(headers["x-death"])
    ? (headers["x-death"] as FieldValue[]).filter(isTable)
    : [];
  const match = deaths.findIndex(
    (d) => text(tableField(d, "queue")) === queue && text(tableField(d, "reason")) === reason,
  );
  let entry: FieldTable;
  if (match >= 0) {
    const old = deaths[match] as FieldTable;
    const raw = tableField(old, "count");
    const count = raw instanceof Typed ? Number(raw.value) : typeof raw === "number" ? raw : 0;
    entry = sortTable({ ...old, count: new Typed("l", count + 1) });
    deaths.splice(match, 1);
  } else {
    const info: FieldTable = {
      count: new Typed("l", 1),
      reason,
      queue,
      time: new Timestamp(Math.floor(nowMs / 1000)),
      exchange: m.exchange,
      "routing-keys": routingKeys(m),
    };
    if (m.properties.expiration !== undefined)
      info["original-expiration"] = m.properties.expiration;
    entry = sortTable(info);
  }
  headers["x-death"] = [entry, ...deaths];
  if (headers["x-first-death-reason"] === undefined) {
    headers["x-first-death-reason"] = reason;
    headers["x-first-death-queue"] = queue;
    headers["x-first-death-exchange"] = m.exchange;
  }
  const { expiration: _dropped, ...rest } = m.properties;
  return withProperties(m, { ...rest, headers }, exchange, routingKey);
}

/**
 * RabbitMQ's cycle rule: a dead-lettered message is not delivered to a queue it already
 * died in, unless a rejection happened somewhere in that loop.
 */
export function isDeathCycle(m: Message, queue: string): boolean {
  const deaths = m.properties.headers?.["x-death"];
  if (!Array.isArray(deaths)) return false;
  for (const d of deaths as FieldValue[]) {
    if (!isTable(d)) return false;
    if (text(tableField(d, "reason")) === "rejected") return false;
    if (text(tableField(d, "queue")) === queue) return true;
  }
  return false;
}

/** RabbitMQ's longest per-message TTL, in milliseconds. */
const MAX_EXPIRATION = 4294967295;

/**
 * Why an expiration property is refused, in RabbitMQ's words, or undefined: it must be a whole
 * number of milliseconds (an optional sign, leading zeros allowed) from 0 to 2^32-1.
 */
export function expirationProblem(text: string): string | undefined {
  const m = /^([+-]?\d+)(.*)$/s.exec(text);
  if (!m) return "no_integer";
  const [, digits = "", rest = ""] = m;
  if (rest !== "") return `{leftover_string,${JSON.stringify(rest)}}`;
  const n = BigInt(digits);
  if (n < 0n) return `{value_negative,${n}}`;
  if (n > BigInt(MAX_EXPIRATION)) return `{value_too_large,${n}}`;
  return undefined;
}

/**
 * What RabbitMQ 3.10 checks of a stream queue's arguments, at queue.declare and at
 * basic.consume (`x-stream-offset`), with its reply texts, and the offset specification a
 * consumer asks for. Erlang crashes in RabbitMQ (a `list_to_integer("")` on `x-max-age: "h"`,
 * an offset of the wrong type) are a 541 that closes the connection with the bare text
 * "INTERNAL_ERROR": `crash()` gives that error.
 */
import type { FieldTable, FieldValue } from "../codec/index.js";
import { Timestamp, Typed } from "../codec/index.js";
import { AmqpError, amqpError, REPLY, resource } from "../errors.js";
import { typeName } from "./arguments.js";

/** RabbitMQ's default segment size (osiris), and the largest it accepts. */
export const DEFAULT_SEGMENT_BYTES = 500_000_000;
export const MAX_SEGMENT_BYTES = 3_000_000_000;

export interface StreamSettings {
  /** x-max-length-bytes: retention by size, applied to whole segments. */
  readonly maxBytes?: number;
  /** x-max-age in ms: retention by age, applied to whole segments. */
  readonly maxAgeMs?: number;
  /** x-stream-max-segment-size-bytes. */
  readonly segmentBytes: number;
  /**
   * Never set: x-consumer-timeout (RabbitMQ 3.12) is not a stream argument, so 3.10 ignores it
   * on a stream like any unknown key. Here so that a delivery's timeout reads the same way
   * whether it came from a queue or a stream.
   */
  readonly consumerTimeout?: undefined;
}

/** The queue arguments a stream takes (RabbitMQ's capabilities), in its equivalence order. */
export const STREAM_ARGUMENTS = [
  "x-max-length-bytes",
  "x-queue-type",
  "x-max-age",
  "x-stream-max-segment-size-bytes",
  "x-initial-cluster-size",
  "x-queue-leader-locator",
] as const;

/** Arguments other queue types take and a stream refuses ("of queue type rabbit_stream_queue"). */
const FOREIGN_ARGUMENTS = new Set([
  "x-expires",
  "x-message-ttl",
  "x-dead-letter-exchange",
  "x-dead-letter-routing-key",
  "x-dead-letter-strategy",
  "x-max-length",
  "x-max-priority",
  "x-overflow",
  "x-queue-mode",
  "x-queue-version",
  "x-single-active-consumer",
  "x-queue-master-locator",
  "x-max-in-memory-length",
  "x-max-in-memory-bytes",
  "x-quorum-initial-group-size",
  "x-delivery-limit",
]);

const LEADER_LOCATORS = ["client-local", "balanced", "random", "least-leaders"];

/** A 541 whose reply text is only "INTERNAL_ERROR", as when a RabbitMQ channel crashes. */
export function crash(why: string): AmqpError {
  const e = new AmqpError(REPLY.INTERNAL_ERROR, why);
  Object.defineProperty(e, "replyText", { value: "INTERNAL_ERROR" });
  return e;
}

export function isStreamDeclaration(args: FieldTable): boolean {
  return textOf(args["x-queue-type"]) === "stream";
}

function textOf(v: FieldValue | undefined): string | undefined {
  if (typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  return undefined;
}

function intOf(v: FieldValue | undefined): number | undefined {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Typed && v.tag !== "d" && v.tag !== "f" && v.tag !== "T") return Number(v.value);
  return undefined;
}

/**
 * RabbitMQ's check_max_age: leading digits, then one of Y M D h m s; more than zero. No
 * leading digit at all crashes RabbitMQ (541); anything else is `undefined` (invalid).
 */
export function maxAgeMs(text: string): number | undefined {
  const m = /^([0-9]*)(.*)$/s.exec(text) as RegExpExecArray;
  const [, digits = "", unit = ""] = m;
  if (digits === "") throw crash(`x-max-age or x-stream-offset "${text}" has no number`);
  const n = Number(digits);
  const ms = UNIT_MS[unit];
  return n > 0 && ms !== undefined ? n * ms : undefined;
}

const DAY = 86_400_000;
const UNIT_MS: Record<string, number> = {
  Y: 365 * DAY,
  M: 30 * DAY,
  D: DAY,
  h: 3_600_000,
  m: 60_000,
  s: 1000,
};

/** How Erlang's ~p prints a binary: <<"text">> when printable, else its bytes. */
function erlangBinary(s: string): string {
  const bytes = Buffer.from(s, "utf8");
  if (bytes.every((b) => b >= 32 && b < 127))
    return `<<"${s.replace(/["\\]/g, (c) => `\\${c}`)}">>`;
  return `<<${[...bytes].join(",")}>>`;
}

/**
 * Validate a new stream's arguments as RabbitMQ does: each argument a stream takes, in its
 * order, then the first argument (in the table's order) that belongs to other queue types.
 */
export function streamSettings(name: string, args: FieldTable): StreamSettings {
  const invalid = (key: string, why: string) =>
    amqpError("PRECONDITION_FAILED", `invalid arg '${key}' for ${resource("queue", name)}: ${why}`);
  const nonNegative = (key: string): number | undefined => {
    const raw = args[key];
    if (raw === undefined) return undefined;
    const n = intOf(raw);
    if (n === undefined) throw invalid(key, `"expected integer, got ${typeName(raw)}"`);
    if (n < 0) throw invalid(key, `{value_negative,${n}}`);
    return n;
  };
  const maxBytes = nonNegative("x-max-length-bytes");
  let maxAge: number | undefined;
  const age = args["x-max-age"];
  if (age !== undefined) {
    const text = textOf(age);
    if (text === undefined) throw invalid("x-max-age", `{unacceptable_type,${typeName(age)}}`);
    maxAge = maxAgeMs(text);
    if (maxAge === undefined) throw invalid("x-max-age", "invalid_max_age");
  }
  const segment = nonNegative("x-stream-max-segment-size-bytes");
  const size = nonNegative("x-initial-cluster-size");
  if (size === 0) throw invalid("x-initial-cluster-size", "{value_zero,0}");
  const locator = args["x-queue-leader-locator"];
  if (locator !== undefined) {
    const text = textOf(locator);
    if (text === undefined)
      throw invalid("x-queue-leader-locator", `{unacceptable_type,${typeName(locator)}}`);
    if (!LEADER_LOCATORS.includes(text))
      throw invalid("x-queue-leader-locator", "invalid_queue_locator_arg");
  }
  for (const key of Object.keys(args)) {
    if (FOREIGN_ARGUMENTS.has(key))
      throw amqpError(
        "PRECONDITION_FAILED",
        `invalid arg '${key}' for ${resource("queue", name)} of queue type rabbit_stream_queue`,
      );
  }
  return {
    ...(maxBytes !== undefined ? { maxBytes } : {}),
    ...(maxAge !== undefined ? { maxAgeMs: maxAge } : {}),
    segmentBytes: segment ?? DEFAULT_SEGMENT_BYTES,
  };
}

/** The properties a stream refuses, in RabbitMQ's order, and its segment size limit. */
export function assertStreamProperties(
  name: string,
  d: { durable: boolean; exclusive: boolean; autoDelete: boolean },
  settings: StreamSettings,
): void {
  const prop = d.autoDelete
    ? "auto-delete"
    : d.exclusive
      ? "exclusive-owner"
      : !d.durable
        ? "non-durable"
        : undefined;
  if (prop !== undefined)
    throw amqpError(
      "PRECONDITION_FAILED",
      `invalid property '${prop}' for ${resource("queue", name)}`,
    );
  if (settings.segmentBytes > MAX_SEGMENT_BYTES)
    throw amqpError(
      "PRECONDITION_FAILED",
      "Exceeded max value for x-stream-max-segment-size-bytes",
    );
}

/** Where a consumer starts: RabbitMQ's offset spec (a timestamp is in ms). */
export type OffsetSpec =
  | { kind: "first" | "last" | "next" }
  | { kind: "offset"; offset: number }
  | { kind: "timestamp"; ms: number };

/**
 * `x-stream-offset` as RabbitMQ 3.10 reads it: absent → next; "first", "last", "next"; an
 * AMQP timestamp (seconds); any integer type (an offset); another string is an age ("10m",
 * "1D": from now minus that long). An invalid age is a 406; a string without a leading digit,
 * a fraction, a boolean or any other type crashes RabbitMQ's reader (541).
 */
export function offsetSpec(queue: string, args: FieldTable, nowMs: number): OffsetSpec {
  const raw = args["x-stream-offset"];
  if (raw === undefined) return { kind: "next" };
  const text = textOf(raw);
  if (text === "first" || text === "last" || text === "next") return { kind: text };
  if (raw instanceof Timestamp) return { kind: "timestamp", ms: Number(raw.value) * 1000 };
  if (raw instanceof Typed && raw.tag === "T")
    return { kind: "timestamp", ms: Number(raw.value) * 1000 };
  if (text !== undefined) {
    const age = maxAgeMs(text);
    if (age === undefined)
      throw amqpError(
        "PRECONDITION_FAILED",
        `invalid arg 'x-stream-offset' for ${resource("queue", queue)}: {invalid_stream_offset_arg,{longstr,${erlangBinary(text)}}}`,
      );
    return { kind: "timestamp", ms: nowMs - age };
  }
  const n = intOf(raw);
  if (n === undefined) throw crash(`x-stream-offset of type ${typeName(raw)}`);
  return { kind: "offset", offset: n };
}

/** Consumer arguments each queue type takes; the others are refused by name. */
const CONSUMER_ARGUMENTS: Record<"classic" | "quorum" | "stream", readonly string[]> = {
  classic: ["x-cancel-on-ha-failover", "x-priority", "x-credit"],
  quorum: ["x-priority", "x-credit"],
  stream: ["x-stream-offset", "x-credit"],
};
const ALL_CONSUMER_ARGUMENTS = new Set(Object.values(CONSUMER_ARGUMENTS).flat());

/**
 * RabbitMQ's check_arguments_key at basic.consume: the first argument (in the table's order)
 * that another queue type takes and this one does not is refused. Unknown keys pass.
 */
export function assertConsumerArguments(
  queue: string,
  type: "classic" | "quorum" | "stream",
  args: FieldTable,
): void {
  const own = CONSUMER_ARGUMENTS[type];
  for (const key of Object.keys(args)) {
    if (ALL_CONSUMER_ARGUMENTS.has(key) && !own.includes(key))
      throw amqpError(
        "PRECONDITION_FAILED",
        `invalid arg '${key}' for ${resource("queue", queue)} of queue type rabbit_${type}_queue`,
      );
  }
}

/**
 * basic.consume on a stream, checked in RabbitMQ's order: the offset argument, the arguments
 * of other queue types, then a prefetch is required (406) and no-ack refused (540, which
 * closes the connection). A global prefetch is accepted and does not limit a stream consumer.
 */
export function streamConsumeSpec(
  queue: string,
  c: { args: FieldTable; prefetch: number; noAck: boolean; nowMs: number },
): OffsetSpec {
  const spec = offsetSpec(queue, c.args, c.nowMs);
  assertConsumerArguments(queue, "stream", c.args);
  if (c.prefetch === 0)
    throw amqpError(
      "PRECONDITION_FAILED",
      `consumer prefetch count is not set for '${resource("queue", queue)}'`,
    );
  if (c.noAck)
    throw amqpError(
      "NOT_IMPLEMENTED",
      `automatic acknowledgement not supported by stream queues ${resource("queue", queue)}`,
    );
  return spec;
}

/**
 * Queue and exchange arguments as RabbitMQ checks them: validation when declared, and the
 * equivalence check when something already exists, with RabbitMQ's reply texts. The
 * decoded field table no longer knows the wire type of a number, so type names in texts
 * are inferred from the value the way most clients choose them (byte, short, signedint, long).
 */
import { Decimal, type FieldTable, type FieldValue, Timestamp, Typed } from "../codec/index.js";
import { amqpError, resource } from "../errors.js";

export type Overflow = "drop-head" | "reject-publish" | "reject-publish-dlx";
export type QueueType = "classic" | "quorum";

export interface QueueSettings {
  messageTtl?: number;
  expires?: number;
  maxLength?: number;
  maxLengthBytes?: number;
  overflow: Overflow;
  deadLetterExchange?: string;
  deadLetterRoutingKey?: string;
  maxPriority?: number;
  type: QueueType;
  deliveryLimit?: number;
  /** x-single-active-consumer: true. */
  singleActiveConsumer?: boolean;
  /**
   * x-consumer-timeout (RabbitMQ 3.12; 3.10 ignores it), ms: replaces the broker's
   * consumer timeout for this queue's deliveries. `false` when the value is not an integer,
   * which, as in RabbitMQ 3.12, means no timeout at all.
   */
  consumerTimeout?: number | false;
}

/** Arguments RabbitMQ compares when a queue is declared again. */
const EQUIVALENCE_KEYS = [
  "x-expires",
  "x-message-ttl",
  "x-dead-letter-exchange",
  "x-dead-letter-routing-key",
  "x-max-length",
  "x-max-length-bytes",
  "x-max-priority",
  "x-overflow",
  "x-queue-mode",
  "x-queue-type",
  "x-single-active-consumer",
  "x-delivery-limit",
];

export function typeName(v: FieldValue | undefined): string {
  if (typeof v === "boolean") return "bool";
  if (typeof v === "string" || Buffer.isBuffer(v)) return "longstr";
  if (typeof v === "bigint") return "long";
  if (typeof v === "number") {
    if (!Number.isInteger(v)) return "double";
    if (v >= -128 && v < 128) return "byte";
    if (v >= -0x8000 && v < 0x8000) return "short";
    if (v >= -0x80000000 && v < 0x80000000) return "signedint";
    return "long";
  }
  if (v instanceof Typed) return v.tag === "d" || v.tag === "f" ? "double" : "long";
  if (v instanceof Timestamp) return "timestamp";
  if (v instanceof Decimal) return "decimal";
  if (v === null) return "void";
  if (Array.isArray(v)) return "array";
  return "table";
}

function display(v: FieldValue): string {
  if (typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  if (v instanceof Typed) return String(v.value);
  return typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
}

function sameArg(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (typeof a === "number" || typeof b === "number" || a instanceof Typed || b instanceof Typed)
    return intOf(a) !== undefined && intOf(a) === intOf(b);
  return display(a) === display(b) && typeName(a) === typeName(b);
}

function describe(v: FieldValue | undefined): string {
  return v === undefined ? "none" : `the value '${display(v)}' of type '${typeName(v)}'`;
}

/** RabbitMQ names the types only when one side is missing. */
function mismatch(received: FieldValue | undefined, current: FieldValue | undefined): string {
  return received === undefined || current === undefined
    ? `received ${describe(received)} but current is ${describe(current)}`
    : `received '${display(received)}' but current is '${display(current)}'`;
}

/** RabbitMQ's 406 for a redeclaration whose arguments differ. */
export function assertArgsEquivalent(
  kind: "queue" | "exchange",
  name: string,
  current: FieldTable,
  received: FieldTable,
  keys: readonly string[] = EQUIVALENCE_KEYS,
): void {
  for (const key of keys) {
    if (!sameArg(received[key], current[key])) {
      throw amqpError(
        "PRECONDITION_FAILED",
        `inequivalent arg '${key}' for ${resource(kind, name)}: ${mismatch(received[key], current[key])}`,
      );
    }
  }
}

/** RabbitMQ's 406 for a differing property such as durable or auto_delete. */
export function assertSame(
  kind: "queue" | "exchange",
  name: string,
  field: string,
  received: string | boolean,
  current: string | boolean,
): void {
  if (received !== current) {
    throw amqpError(
      "PRECONDITION_FAILED",
      `inequivalent arg '${field}' for ${resource(kind, name)}: received '${received}' but current is '${current}'`,
    );
  }
}

function intOf(v: FieldValue | undefined): number | undefined {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Typed && v.tag !== "d" && v.tag !== "f") return Number(v.value);
  return undefined;
}

function textOf(v: FieldValue | undefined): string | undefined {
  if (typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  return undefined;
}

/** Validate a queue's arguments and read the ones the broker acts on. */
export function queueSettings(name: string, args: FieldTable): QueueSettings {
  const invalid = (key: string, why: string) =>
    amqpError("PRECONDITION_FAILED", `invalid arg '${key}' for ${resource("queue", name)}: ${why}`);
  const int = (key: string, min: number): number | undefined => {
    const raw = args[key];
    if (raw === undefined) return undefined;
    const n = intOf(raw);
    if (n === undefined) throw invalid(key, `{unacceptable_type,${typeName(raw)}}`);
    if (n < min) throw invalid(key, n === 0 ? "{value_zero,0}" : `{value_negative,${n}}`);
    return n;
  };
  const str = (key: string): string | undefined => {
    const raw = args[key];
    if (raw === undefined) return undefined;
    const s = textOf(raw);
    if (s === undefined) throw invalid(key, `{unacceptable_type,${typeName(raw)}}`);
    return s;
  };
  const settings: QueueSettings = { overflow: "drop-head", type: "classic" };
  const ttl = int("x-message-ttl", 0);
  if (ttl !== undefined) settings.messageTtl = ttl;
  const expires = int("x-expires", 1);
  if (expires !== undefined) settings.expires = expires;
  const maxLength = int("x-max-length", 0);
  if (maxLength !== undefined) settings.maxLength = maxLength;
  const maxBytes = int("x-max-length-bytes", 0);
  if (maxBytes !== undefined) settings.maxLengthBytes = maxBytes;
  const overflow = str("x-overflow");
  if (overflow !== undefined) {
    if (
      overflow !== "drop-head" &&
      overflow !== "reject-publish" &&
      overflow !== "reject-publish-dlx"
    )
      throw invalid("x-overflow", `{invalid_overflow,<<"${overflow}">>}`);
    settings.overflow = overflow;
  }
  const dlx = str("x-dead-letter-exchange");
  if (dlx !== undefined) settings.deadLetterExchange = dlx;
  const dlrk = str("x-dead-letter-routing-key");
  if (dlrk !== undefined) {
    if (dlx === undefined)
      throw invalid(
        "x-dead-letter-routing-key",
        "{no_dlx_argument, Key x-dead-letter-routing-key should be specified only if x-dead-letter-exchange is also specified}",
      );
    settings.deadLetterRoutingKey = dlrk;
  }
  const priority = int("x-max-priority", 0);
  if (priority !== undefined) {
    if (priority > 255) throw invalid("x-max-priority", `{value_too_large,${priority},255}`);
    if (priority > 0) settings.maxPriority = priority;
  }
  const type = str("x-queue-type");
  if (type !== undefined && type !== "classic") {
    // A stream is no Queue: the vhost declares it through stream.ts before asking here.
    if (type === "stream") throw new Error(`queue settings asked for stream ${name}`);
    if (type !== "quorum") throw invalid("x-queue-type", `"unsupported queue type '${type}'"`);
    settings.type = "quorum";
  }
  const limit = int("x-delivery-limit", 0);
  if (limit !== undefined && settings.type === "quorum") settings.deliveryLimit = limit;
  consumerArgs(name, args, settings);
  return settings;
}

/** x-single-active-consumer (a boolean, as RabbitMQ checks it) and x-consumer-timeout. */
function consumerArgs(name: string, args: FieldTable, settings: QueueSettings): void {
  const sac = args["x-single-active-consumer"];
  if (sac !== undefined) {
    if (typeof sac !== "boolean") {
      throw amqpError(
        "PRECONDITION_FAILED",
        `invalid arg 'x-single-active-consumer' for ${resource("queue", name)}: {unacceptable_type,${typeName(sac)}}`,
      );
    }
    if (sac) settings.singleActiveConsumer = true;
  }
  // Not validated at declare, in 3.12 either: a value that is not an integer disables it.
  const consumerTimeout = args["x-consumer-timeout"];
  if (consumerTimeout !== undefined) settings.consumerTimeout = intOf(consumerTimeout) ?? false;
}

/** basic.consume's `x-priority`: any integer type, as RabbitMQ checks it; 0 when absent. */
export function consumerPriority(queue: string, args: FieldTable): number {
  const raw = args["x-priority"];
  if (raw === undefined) return 0;
  const n = intOf(raw);
  if (n === undefined) {
    throw amqpError(
      "PRECONDITION_FAILED",
      `invalid arg 'x-priority' for ${resource("queue", queue)}: "expected integer, got ${typeName(raw)}"`,
    );
  }
  return n;
}

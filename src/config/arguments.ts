/**
 * What the config's exchanges, queues and bindings mean as AMQP declarations: the flags and
 * the x- arguments. Pure; `topology apply` declares these, `topology export` writes them, and
 * `topology import` reads the same tables backwards.
 */
import type { BindingConfig, ExchangeConfig, QueueConfig } from "./schema.js";

export interface QueueOptions {
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: Record<string, unknown>;
}

export interface ExchangeOptions {
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: Record<string, unknown>;
}

/** The queue fields that are x- arguments, in the order they are declared. */
export const QUEUE_ARGUMENTS = [
  ["messageTtl", "x-message-ttl"],
  ["expires", "x-expires"],
  ["maxLength", "x-max-length"],
  ["maxLengthBytes", "x-max-length-bytes"],
  ["overflow", "x-overflow"],
  ["deadLetterExchange", "x-dead-letter-exchange"],
  ["deadLetterRoutingKey", "x-dead-letter-routing-key"],
  ["maxPriority", "x-max-priority"],
  ["queueType", "x-queue-type"],
] as const satisfies ReadonlyArray<readonly [keyof QueueConfig, string]>;

/** The exchange fields that are arguments. */
export const EXCHANGE_ARGUMENTS = [
  ["alternateExchange", "alternate-exchange"],
] as const satisfies ReadonlyArray<readonly [keyof ExchangeConfig, string]>;

/** Durations are milliseconds in the config; the broker takes whole ones. */
const whole = (v: unknown) => (typeof v === "number" ? Math.round(v) : v);

/** x- arguments for a queue: the named fields, then `arguments` as given. */
export function queueArguments(q: Partial<QueueConfig>): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [field, arg] of QUEUE_ARGUMENTS) {
    const value = q[field];
    if (value !== undefined) args[arg] = whole(value);
  }
  return { ...args, ...(q.arguments ?? {}) };
}

export function queueOptions(q: Partial<QueueConfig>): QueueOptions {
  return {
    durable: q.durable ?? true,
    exclusive: q.exclusive ?? false,
    autoDelete: q.autoDelete ?? false,
    arguments: queueArguments(q),
  };
}

/** Arguments for an exchange: `arguments` as given, then the named fields. */
export function exchangeArguments(e: Partial<ExchangeConfig>): Record<string, unknown> {
  const args: Record<string, unknown> = { ...(e.arguments ?? {}) };
  for (const [field, arg] of EXCHANGE_ARGUMENTS) {
    const value = e[field];
    if (value !== undefined) args[arg] = value;
  }
  return args;
}

export function exchangeOptions(e: Partial<ExchangeConfig>): ExchangeOptions {
  return {
    durable: e.durable ?? true,
    autoDelete: e.autoDelete ?? false,
    internal: e.internal ?? false,
    arguments: exchangeArguments(e),
  };
}

/** Binding arguments: headers plus x-match for headers exchanges, then `arguments`. */
export function bindingArguments(
  b: Pick<BindingConfig, "headers" | "match" | "arguments">,
): Record<string, unknown> {
  const args: Record<string, unknown> = { ...(b.headers ?? {}) };
  if (b.match !== undefined) args["x-match"] = b.match;
  return { ...args, ...(b.arguments ?? {}) };
}

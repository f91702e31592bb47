/**
 * What the config's exchanges, queues and bindings mean as AMQP declarations: the flags and
 * the x- arguments. Pure; `topology apply` declares these, `topology export` writes them.
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

/** x- arguments for a queue: the named fields, then `arguments` as given. */
export function queueArguments(q: Partial<QueueConfig>): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  const put = (key: string, value: unknown) => {
    if (value !== undefined) args[key] = value;
  };
  put("x-message-ttl", q.messageTtl === undefined ? undefined : Math.round(q.messageTtl));
  put("x-expires", q.expires === undefined ? undefined : Math.round(q.expires));
  put("x-max-length", q.maxLength);
  put("x-max-length-bytes", q.maxLengthBytes);
  put("x-overflow", q.overflow);
  put("x-dead-letter-exchange", q.deadLetterExchange);
  put("x-dead-letter-routing-key", q.deadLetterRoutingKey);
  put("x-max-priority", q.maxPriority);
  put("x-queue-type", q.queueType);
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

export function exchangeOptions(e: Partial<ExchangeConfig>): ExchangeOptions {
  const args: Record<string, unknown> = { ...(e.arguments ?? {}) };
  if (e.alternateExchange !== undefined) args["alternate-exchange"] = e.alternateExchange;
  return {
    durable: e.durable ?? true,
    autoDelete: e.autoDelete ?? false,
    internal: e.internal ?? false,
    arguments: args,
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

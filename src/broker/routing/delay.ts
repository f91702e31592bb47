/**
 * How long a message waits in a delayed-message exchange, read from its `x-delay` header the
 * way rabbitmq_delayed_message_exchange reads it (rabbit_delayed_message_utils:get_delay):
 * integers as they are, floats and decimals truncated, strings that spell an integer parsed.
 * Only a delay above 0 and within Erlang's longest timer (2^32 - 1 ms) delays; anything else
 * (absent, 0, negative, too long, not a number) routes at once. Pure, so that `eventlab
 * route` can say that a message would wait.
 */

/** Erlang's longest timer, which bounds the plugin's delays. */
export const MAX_DELAY = 4294967295;

function numberOf(v: unknown): number | undefined {
  if (typeof v === "number") return Math.trunc(v);
  if (typeof v === "bigint") return Number(v);
  const s = typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("utf8") : undefined;
  // The plugin's binary_to_integer takes an optional sign and digits, nothing else.
  if (s !== undefined) return /^[+-]?\d+$/.test(s) ? Number(s) : undefined;
  // A decimal (codec Decimal): value / 10^scale, truncated as the plugin's trunc/1 does.
  if (typeof v === "object" && v !== null && "scale" in v && "value" in v) {
    const { scale, value } = v as { scale: number; value: number };
    return Math.trunc(value / 10 ** scale);
  }
  return undefined;
}

/** The delay in ms a message asks for, or undefined when it routes at once. */
export function delayOf(
  headers: Readonly<Record<string, unknown>> | undefined,
): number | undefined {
  const ms = numberOf(headers?.["x-delay"]);
  return ms !== undefined && ms > 0 && ms <= MAX_DELAY ? ms : undefined;
}

/**
 * What an exchange is to the virtual host, the exchanges every broker has, and the rule that
 * names starting with "amq." are RabbitMQ's own.
 */
import type { FieldTable } from "../codec/index.js";
import { amqpError } from "../errors.js";
import { ROUTE_EXCHANGE } from "../route-contract.js";
import type { DeclaredExchangeType, ExchangeType } from "../routing/index.js";

export interface Exchange {
  readonly name: string;
  readonly type: DeclaredExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly args: FieldTable;
}

/** Name, type, internal: declared at start, never deleted. */
export const PREDECLARED: ReadonlyArray<[string, ExchangeType, boolean]> = [
  ["", "direct", false],
  ["amq.direct", "direct", false],
  ["amq.fanout", "fanout", false],
  ["amq.topic", "topic", false],
  ["amq.headers", "headers", false],
  ["amq.match", "headers", false],
  ["amq.rabbitmq.trace", "topic", true],
  [ROUTE_EXCHANGE, "direct", false],
];

/** A field value as text (an alternate-exchange name may come as a string or bytes). */
export function text(v: unknown): string | undefined {
  return typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("utf8") : undefined;
}

export function checkReserved(kind: "queue" | "exchange", name: string): void {
  if (name.startsWith("amq.")) {
    throw amqpError("ACCESS_REFUSED", `${kind} name '${name}' contains reserved prefix 'amq.*'`);
  }
}

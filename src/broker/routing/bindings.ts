/** One matcher per exchange type, compiled when a binding is made. */
import { compileHeaders, matchHeaders } from "./headers.js";
import { compileTopic } from "./topic.js";

/**
 * The exchange types the broker routes (RabbitMQ's built-in ones). The one list of them:
 * the model checks exchange.declare against it and the CLI offers it.
 */
export const EXCHANGE_TYPES = ["direct", "topic", "fanout", "headers"] as const;
export type ExchangeType = (typeof EXCHANGE_TYPES)[number];

export function isExchangeType(name: string): name is ExchangeType {
  return (EXCHANGE_TYPES as readonly string[]).includes(name);
}

/**
 * The delayed-message exchange (rabbitmq_delayed_message_exchange, built into LavinMQ): it
 * routes by the built-in type named in its `x-delayed-type` argument, after `x-delay` ms.
 * Kept apart from EXCHANGE_TYPES because it is an extension RabbitMQ lacks without a plugin,
 * so the CLI and config do not offer it.
 */
export const DELAYED_EXCHANGE_TYPE = "x-delayed-message";
export type DeclaredExchangeType = ExchangeType | typeof DELAYED_EXCHANGE_TYPE;

export interface RoutedMessage {
  routingKey: string;
  headers?: Readonly<Record<string, unknown>> | undefined;
}

export type BindingMatcher = (message: RoutedMessage) => boolean;

/** Compile one binding of an exchange of `kind`; throws InvalidMatchError for a bad x-match. */
export function compileBinding(
  kind: ExchangeType,
  bindingKey: string,
  args?: Readonly<Record<string, unknown>>,
): BindingMatcher {
  switch (kind) {
    case "direct":
      return (m) => m.routingKey === bindingKey;
    case "fanout":
      return () => true;
    case "topic": {
      const match = compileTopic(bindingKey);
      return (m) => match(m.routingKey);
    }
    case "headers": {
      const binding = compileHeaders(args);
      return (m) => matchHeaders(binding, m.headers);
    }
  }
}

/** One matcher per exchange type, compiled when a binding is made. */
import { compileHeaders, matchHeaders } from "./headers.js";
import { compileTopic } from "./topic.js";

export type ExchangeKind = "direct" | "fanout" | "topic" | "headers";

export interface RoutedMessage {
  routingKey: string;
  headers?: Readonly<Record<string, unknown>> | undefined;
}

export type BindingMatcher = (message: RoutedMessage) => boolean;

/** Compile one binding of an exchange of `kind`; throws InvalidMatchError for a bad x-match. */
export function compileBinding(
  kind: ExchangeKind,
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

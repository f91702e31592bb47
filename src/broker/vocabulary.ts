/**
 * The broker's vocabulary, for the rest of eventlab to import instead of repeating it:
 * exchange types, header match modes, the basic properties, reply codes and the routing
 * question contract. Each is defined once, in the broker module that uses it, and gathered
 * here. Constants and types only: importing this starts no broker and loads no socket code.
 */

export type { BasicProperties } from "./codec/params.js";
export {
  BASIC_PROPERTY_NAMES,
  type BasicPropertyName,
  type BasicPropertyNames,
} from "./codec/spec.js";
export { REPLY, type ReplyCode, type ReplyName, SOFT_ERRORS } from "./errors.js";
export { ROUTE_EXCHANGE, type RouteAnswer, type RouteQuestion } from "./route-contract.js";
export { EXCHANGE_TYPES, type ExchangeType, isExchangeType } from "./routing/bindings.js";
export { HEADERS_MODES, type HeadersMode, isHeadersMode } from "./routing/headers.js";

/**
 * Pure routing: one matcher per exchange type, compiled when a binding is made and
 * applied per message, and the resolution across exchanges. The embedded broker and
 * `eventlab route` share this code.
 */
export {
  type BindingMatcher,
  compileBinding,
  DELAYED_EXCHANGE_TYPE,
  type DeclaredExchangeType,
  EXCHANGE_TYPES,
  type ExchangeType,
  isExchangeType,
  type RoutedMessage,
} from "./bindings.js";
export { delayOf, MAX_DELAY } from "./delay.js";
export {
  type BindingStep,
  type BindingVerdict,
  explainBinding,
  explainHeaders,
  explainRoute,
  explainTopic,
  type Hop,
  type RouteExplanation,
} from "./explain.js";
export {
  compileHeaders,
  HEADERS_MODES,
  type HeadersBinding,
  type HeadersMode,
  InvalidMatchError,
  isHeadersMode,
  matchHeaders,
  sameValue,
} from "./headers.js";
export {
  type BindingDef,
  type ExchangeDef,
  type RouteResult,
  type RouteTracer,
  RoutingTable,
  type Via,
} from "./resolve.js";
export { compileTopic, matchWords, type TopicMatcher } from "./topic.js";

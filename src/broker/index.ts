/**
 * The embedded AMQP 0-9-1 broker: codec (wire format), routing (pure), model (vhost,
 * queues, messages), protocol (connection and channel state machines) and the server.
 * Imports nothing from the CLI.
 */
export type { BasicProperties } from "./codec/index.js";
export { AmqpError, REPLY } from "./errors.js";
export {
  BrokerFixtureError,
  type FixtureMessage,
  type FixtureQueue,
  type PublishedList,
  type PublishedMessage,
  type QueuedFixtureMessage,
  type RecordOptions,
  type Truthy,
  type WaitForOptions,
} from "./fixture.js";
export {
  type LedgerOptions,
  type MessageEvent,
  type MessageEventKind,
  MessageEvents,
} from "./model/events.js";
export {
  Broker,
  type BrokerOptions,
  type BrokerStats,
  type BrokerUser,
  ListenError,
  type RunningBroker,
  startBroker,
} from "./server.js";
export { FORMAT_VERSION, type RecoveryReport, StoreError } from "./store/index.js";
export { type BrokerTlsOptions, TlsOptionsError } from "./tls.js";

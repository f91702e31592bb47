/**
 * The `eventlab/broker` entry: the embedded broker alone, for unit tests — none of the CLI,
 * config or generators load with it. Its `startBroker` records what clients publish
 * (`published()`) unless told `record: false`.
 */
import { type BrokerOptions, type RunningBroker, startBroker as start } from "./server.js";

export type { BasicProperties, FieldTable } from "./codec/index.js";
export { AmqpError, REPLY } from "./errors.js";
export {
  BrokerFixtureError,
  type FixtureMessage,
  type FixtureQueue,
  type PublishedList,
  type PublishedMessage,
  type QueuedFixtureMessage,
  RECORD_LIMIT,
  RECORD_MAX_BYTES,
  type RecordOptions,
  type Truthy,
  type WaitForOptions,
} from "./fixture.js";
export {
  type BrokerOptions,
  type BrokerStats,
  type BrokerUser,
  ListenError,
  type RunningBroker,
} from "./server.js";

/**
 * Start the embedded broker (127.0.0.1; `port: 0` picks a free port) with the publish record
 * on: `published()` keeps the last 10,000 messages clients published.
 */
export function startBroker(options: BrokerOptions = {}): Promise<RunningBroker> {
  return start({ ...options, record: options.record ?? true });
}

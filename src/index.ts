/** The programmatic API. */

export {
  type BrokerOptions,
  type BrokerStats,
  type BrokerTlsOptions,
  type BrokerUser,
  type RunningBroker,
  startBroker,
  TlsOptionsError,
} from "./broker/index.js";
export { main } from "./cli.js";
export { type Connection, type ConnectOptions, connect } from "./client/connect.js";
export { maskSecrets, parseBrokerUrl } from "./client/url.js";
export { type LoadedConfig, loadConfig, parseConfig, resolveBrokerUrls } from "./config/load.js";
export {
  type Config,
  configJsonSchema,
  configSchema,
  DEFAULT_URL,
  type TemplateConfig,
} from "./config/schema.js";
export { ConfigError, EventlabError, ExitCode, InterruptedError, UsageError } from "./errors.js";

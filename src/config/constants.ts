/**
 * Plain constants shared by the schema and the flag parsers. The protocol's vocabulary comes
 * from the broker's routing modules, where it is defined once; they are small and pure, so
 * the CLI still starts fast.
 */
import { EXCHANGE_TYPES, type ExchangeType } from "../broker/routing/bindings.js";
import { HEADERS_MODES, type HeadersMode } from "../broker/routing/headers.js";

export const DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672";
/** Where `init` and `setup` write, unless --file or --config says otherwise. */
export const DEFAULT_CONFIG_FILE = "eventlab.config.yaml";
/** Looked for in the working directory, in this order. */
export const CONFIG_FILE_NAMES = [
  "eventlab.config.yaml",
  "eventlab.config.yml",
  "eventlab.config.json",
];
export const exchangeTypes = EXCHANGE_TYPES;
export const headersMatchModes = HEADERS_MODES;
export type { ExchangeType };
export type HeadersMatch = HeadersMode;
export const overflowModes = ["drop-head", "reject-publish", "reject-publish-dlx"] as const;
export const queueTypes = ["classic", "quorum", "stream"] as const;
/** What a consumer profile does with a message whose processing failed. */
export const failureActions = ["requeue", "reject", "retry"] as const;
/** The fields of a consumer profile that make it behave like a service (lab/behaviour.ts). */
export const behaviourFields = [
  "workTime",
  "failures",
  "onFailure",
  "retry",
  "dedupe",
  "ordering",
  "breaker",
  "crashAt",
  "ackBeforeWork",
] as const;
export const settlePolicies = ["ack", "reject", "requeue"] as const;
export type SettlePolicy = (typeof settlePolicies)[number];

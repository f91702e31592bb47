/** Plain constants shared by the schema and the flag parsers; no imports, so the CLI starts fast. */
export const DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672";
/** Looked for in the working directory, in this order. */
export const CONFIG_FILE_NAMES = [
  "eventlab.config.yaml",
  "eventlab.config.yml",
  "eventlab.config.json",
];
export const exchangeTypes = ["direct", "topic", "fanout", "headers"] as const;
export const headersMatchModes = ["all", "any", "all-with-x", "any-with-x"] as const;
export const overflowModes = ["drop-head", "reject-publish", "reject-publish-dlx"] as const;
export const queueTypes = ["classic", "quorum", "stream"] as const;
export const settlePolicies = ["ack", "reject", "requeue"] as const;
export type ExchangeType = (typeof exchangeTypes)[number];
export type HeadersMatch = (typeof headersMatchModes)[number];
export type SettlePolicy = (typeof settlePolicies)[number];
export type OverflowMode = (typeof overflowModes)[number];
export type QueueType = (typeof queueTypes)[number];

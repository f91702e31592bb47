/**
 * Which broker a command talks to: the one rule every command follows. `--url`, then
 * `EVENTLAB_URL`, then the config file's `broker.url`, then the local default. Light on
 * purpose: the flag and the environment decide without loading the config machinery.
 */
import { DEFAULT_URL } from "./constants.js";

/** Where the URLs came from. `flag` and `env` name a broker explicitly for this run. */
export type BrokerSource = "flag" | "env" | "config" | "default";

export interface BrokerTarget {
  urls: string[];
  source: BrokerSource;
}

/**
 * The URLs the flags (`--url`, repeatable) or the environment (`EVENTLAB_URL`, a comma-separated
 * list) give, or undefined when neither does.
 */
export function explicitBroker(
  flag: string | readonly string[] | undefined,
  env: NodeJS.ProcessEnv,
): BrokerTarget | undefined {
  const flags = (typeof flag === "string" ? [flag] : (flag ?? [])).filter((u) => u !== "");
  if (flags.length > 0) return { urls: flags, source: "flag" };
  const fromEnv = (env["EVENTLAB_URL"] ?? "")
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  if (fromEnv.length > 0) return { urls: fromEnv, source: "env" };
  return undefined;
}

export function resolveBroker(
  flag: string | readonly string[] | undefined,
  env: NodeJS.ProcessEnv,
  config: { broker: { url?: string | string[] | undefined } } | undefined,
): BrokerTarget {
  const explicit = explicitBroker(flag, env);
  if (explicit) return explicit;
  const fromFile = config?.broker.url;
  if (fromFile !== undefined)
    return { urls: Array.isArray(fromFile) ? fromFile : [fromFile], source: "config" };
  return { urls: [DEFAULT_URL], source: "default" };
}

/** Broker URLs by precedence: flag, then EVENTLAB_URL, then the file, then the default. */
export function resolveBrokerUrls(
  flag: string | readonly string[] | undefined,
  env: NodeJS.ProcessEnv,
  config: { broker: { url?: string | string[] | undefined } } | undefined,
): string[] {
  return resolveBroker(flag, env, config).urls;
}

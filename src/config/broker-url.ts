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

/** The URLs the flag or the environment give, or undefined when neither does. */
export function explicitBroker(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
): BrokerTarget | undefined {
  if (flag !== undefined && flag !== "") return { urls: [flag], source: "flag" };
  const fromEnv = env["EVENTLAB_URL"];
  if (fromEnv !== undefined && fromEnv !== "") return { urls: [fromEnv], source: "env" };
  return undefined;
}

export function resolveBroker(
  flag: string | undefined,
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
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  config: { broker: { url?: string | string[] | undefined } } | undefined,
): string[] {
  return resolveBroker(flag, env, config).urls;
}

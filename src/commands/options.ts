/**
 * Parsers for flag values shared by the commands. They are commander argument
 * parsers: commander runs them as it reads argv and turns their InvalidArgumentError into a
 * usage error that names the flag and the value. Checks that span several flags are the
 * actions' own, and throw a UsageError.
 */

import { InvalidArgumentError } from "@commander-js/extra-typings";
import type { StreamOffset } from "../client/consumer.js";
import { DEFAULT_CONFIG_FILE } from "../config/constants.js";
import { DURATION_HINT, parseDuration } from "../config/duration.js";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";

/** What a command does once its flags are parsed; loaded lazily by cli.ts. */
export type Run<O> = (ctx: Context, options: O) => Promise<void>;

function invalid(message: string): never {
  throw new InvalidArgumentError(message);
}

/** `--amount 10` → 10: a whole number within bounds. */
export function intArg(min = 0, max = Number.MAX_SAFE_INTEGER): (raw: string) => number {
  const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
  return (raw) => {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
      invalid(`Expected a whole number ${range}.`);
    return n;
  };
}

/** `--rate 2.5` → 2.5: a number above zero. */
export function positiveNumberArg(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n <= 0) invalid("Expected a number > 0.");
  return n;
}

/**
 * `--prefetch 10` → 10: any number. For a flag that fills a config field, whose schema checks
 * the range (see schema-flags.ts).
 */
export function numberArg(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n)) invalid("Expected a number.");
  return n;
}

/** `--retry-delays 1s,5s` → ["1s", "5s"]: a comma-separated list, each item trimmed. */
export function listArg(raw: string): string[] {
  return raw.split(",").map((item) => item.trim());
}

/** `--delay 250ms` → 250. */
export function durationArg(raw: string): number {
  return parseDuration(raw) ?? invalid(`Expected ${DURATION_HINT}.`);
}

/** A repeatable `key=value` flag → a record with typed values (see typedValue). */
export function keyValueArg(
  raw: string,
  previous: Record<string, unknown> = {},
): Record<string, unknown> {
  const i = raw.indexOf("=");
  if (i <= 0) invalid("Expected key=value (values are typed: 5 is a number, '\"5\"' a string).");
  return { ...previous, [raw.slice(0, i)]: typedValue(raw.slice(i + 1)) };
}

/**
 * A typed value from the command line: JSON when it parses (10 → number, true → boolean,
 * "10" → string, [1,2] → list), the text itself otherwise. The same rule serves message
 * headers and binding headers, so a headers exchange compares like with like.
 */
export function typedValue(raw: string): unknown {
  if (raw === "") return "";
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/** commander collector for repeatable flags. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--file <path>` of the commands that write a config: a path, not empty. */
export function configFileArg(raw: string): string {
  if (raw.trim() === "") invalid(`Expected a path, e.g. ${DEFAULT_CONFIG_FILE}.`);
  return raw;
}

/** The file a command writes: --file, else the global --config, else the default name. */
export function configFileTarget(file: string | undefined, ctx: Context): string {
  const target = file ?? ctx.globals.config ?? DEFAULT_CONFIG_FILE;
  // Only the global --config can still be empty here: --file refuses it.
  if (target.trim() === "")
    throw new UsageError("--config needs a path", `for example --file ${DEFAULT_CONFIG_FILE}`);
  return target;
}

const AGO_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** A date, with a time and a zone if given: what `--offset` takes as a time. */
const ISO_TIME =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * `--offset` of consume: where to start reading a stream. `first`, `last`, `next`; a whole
 * number is an offset; an ISO 8601 time (without a zone, local time) or how long ago (`30s`,
 * `10m`, `2h`, `7d`) is a time. A time goes to the broker in whole seconds (an AMQP timestamp).
 */
export function streamOffsetArg(raw: string, now = Date.now()): StreamOffset {
  const text = raw.trim();
  if (text === "first" || text === "last" || text === "next") return text;
  if (/^\d+$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  const ago = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text);
  if (ago) return new Date(now - Number(ago[1]) * (AGO_UNITS[ago[2] as string] as number));
  const at = ISO_TIME.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isNaN(at)) return new Date(at);
  invalid(
    "Expected first, last, next, an offset (a whole number), a time (2024-05-01T09:30:00Z) or how long ago (30s, 10m, 2h, 7d).",
  );
}

/** `--reconnect 5` → 5 tries; `--reconnect forever` → no limit (but --reconnect-timeout). */
export function reconnectArg(raw: string): number {
  if (raw.trim().toLowerCase() === "forever") return Number.POSITIVE_INFINITY;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n))
    invalid('Expected a whole number ≥ 0, or "forever".');
  return n;
}

/** What `--reconnect <n|forever>`, `--no-reconnect` and `--reconnect-timeout` ask for. */
export interface ReconnectChoice {
  /** Tries after a loss; 0 with --no-reconnect; undefined: the config's, or the default. */
  attempts?: number | undefined;
  timeoutMs?: number | undefined;
}

/** The flags as commander gives them: --no-reconnect sets `reconnect` to false. */
export function reconnectChoice(flags: {
  reconnect?: number | boolean | undefined;
  reconnectTimeout?: number | undefined;
}): ReconnectChoice {
  const attempts =
    flags.reconnect === false
      ? 0
      : typeof flags.reconnect === "number"
        ? flags.reconnect
        : undefined;
  return { attempts, timeoutMs: flags.reconnectTimeout };
}

export const RECONNECT_HELP = {
  reconnect: "after a lost connection, connect again this many times, or forever (default 10)",
  noReconnect: "stop when the connection is lost (the summary still counts everything)",
  timeout: "give up when no connection is back after this long (default 60s)",
} as const;

/**
 * Parsers for flag values shared by the commands. Each throws a UsageError that names
 * the flag and what to pass, so the action turns argv into one validated options object.
 */

import { type HeadersMatch, headersMatchModes } from "../config/constants.js";
import { DURATION_HINT, parseDuration } from "../config/duration.js";
import { UsageError } from "../errors.js";

/** `--flag 10` → 10, with bounds. */
export function intFlag(
  flag: string,
  raw: string | undefined,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new UsageError(
      `${flag} expects a whole number ${range}, got ${JSON.stringify(raw)}`,
      `for example ${flag} ${Math.max(min, 1)}`,
    );
  }
  return n;
}

/** `--rate 2.5` → 2.5, strictly positive. */
export function positiveNumberFlag(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(
      `${flag} expects a number > 0, got ${JSON.stringify(raw)}`,
      `for example ${flag} 100`,
    );
  }
  return n;
}

/** `--delay 250ms` → 250. */
export function durationFlag(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const ms = parseDuration(raw);
  if (ms === undefined)
    throw new UsageError(
      `${flag} expects ${DURATION_HINT}, got ${JSON.stringify(raw)}`,
      `for example ${flag} 250ms`,
    );
  return ms;
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

/** Repeatable `k=v` flags → a record with typed values. */
export function keyValueFlags(
  flag: string,
  raws: readonly string[] | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const raw of raws ?? []) {
    const i = raw.indexOf("=");
    if (i <= 0) {
      throw new UsageError(
        `${flag} expects key=value, got ${JSON.stringify(raw)}`,
        `for example ${flag} region=eu (values are typed: 5 is a number, '"5"' a string)`,
      );
    }
    out[raw.slice(0, i)] = typedValue(raw.slice(i + 1));
  }
  return out;
}

/** commander collector for repeatable flags. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function matchFlag(raw: string | undefined): HeadersMatch | undefined {
  if (raw === undefined) return undefined;
  if ((headersMatchModes as readonly string[]).includes(raw)) return raw as HeadersMatch;
  throw new UsageError(
    `--match expects one of ${headersMatchModes.join(", ")}, got ${JSON.stringify(raw)}`,
    "all: every header must match; any: one is enough; *-with-x also compares x- headers",
  );
}

export function choiceFlag<T extends string>(
  flag: string,
  raw: string | undefined,
  choices: readonly T[],
): T | undefined {
  if (raw === undefined) return undefined;
  if ((choices as readonly string[]).includes(raw)) return raw as T;
  throw new UsageError(`${flag} expects one of ${choices.join(", ")}, got ${JSON.stringify(raw)}`);
}

// Statistics and formatting shared by the side-by-side benchmark scripts.
import { parseArgs } from "node:util";

/** Median of the finite values; NaN when there are none. */
export const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length === 0) return Number.NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** 12,345 (rounded); a dash for a value that was not measured. */
export const group = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "—");

/** An AMQP URL with its password replaced by ***. */
export const maskUrl = (url) => (url ? url.replace(/(\/\/[^:/@]*:)[^/]*@/, "$1***@") : url);

/** A progress line on stderr, so stdout stays the result. */
export const progress = (line) => process.stderr.write(`  ${line}\n`);

const color = process.stdout.isTTY && !process.env.NO_COLOR;
/** An ANSI colour code around `s`, on a terminal without NO_COLOR only. */
export const paint = (code, s) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);

/** Print the error and the usage text, and exit 1. */
export function usageError(message, usageText) {
  process.stderr.write(`error: ${message}\n\n${usageText}\n`);
  process.exit(1);
}

/** node:util parseArgs, with a bad flag reported as a usage error instead of a stack trace. */
export function parseArgsOrExit(usageText, config) {
  try {
    return parseArgs(config);
  } catch (err) {
    return usageError(err.message, usageText);
  }
}

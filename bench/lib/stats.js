// Statistics and formatting shared by the side-by-side benchmark scripts.
import { parseArgs } from "node:util";

/**
 * Median of the finite values; NaN when there are none.
 * @param {ReadonlyArray<number | undefined>} xs
 * @returns {number}
 */
export const median = (xs) => {
  const v = /** @type {number[]} */ (xs.filter((x) => Number.isFinite(x)));
  if (v.length === 0) return Number.NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  // m and m - 1 are within s: it is not empty.
  const at = (/** @type {number} */ i) => /** @type {number} */ (s[i]);
  return s.length % 2 ? at(m) : (at(m - 1) + at(m)) / 2;
};

/**
 * 12,345 (rounded); a dash for a value that was not measured.
 * @param {number | undefined} n
 */
export const group = (n) =>
  n !== undefined && Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "—";

/**
 * An AMQP URL with its password replaced by ***; no URL stays as it is.
 * @template {string | undefined} U
 * @param {U} url
 * @returns {U}
 */
export const maskUrl = (url) =>
  url ? /** @type {U} */ (url.replace(/(\/\/[^:/@]*:)[^/]*@/, "$1***@")) : url;

/**
 * A progress line on stderr, so stdout stays the result.
 * @param {string} line
 */
export const progress = (line) => process.stderr.write(`  ${line}\n`);

const color = process.stdout.isTTY && !process.env["NO_COLOR"];
/**
 * An ANSI colour code around `s`, on a terminal without NO_COLOR only.
 * @param {string | number} code
 * @param {string} s
 */
export const paint = (code, s) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);

/**
 * Print the error and the usage text, and exit 1.
 * @param {string} message
 * @param {string} usageText
 * @returns {never}
 */
export function usageError(message, usageText) {
  process.stderr.write(`error: ${message}\n\n${usageText}\n`);
  process.exit(1);
}

/**
 * node:util parseArgs, with a bad flag reported as a usage error instead of a stack trace.
 * @template {import("node:util").ParseArgsConfig} T
 * @param {string} usageText
 * @param {T} config
 * @returns {ReturnType<typeof parseArgs<T>>}
 */
export function parseArgsOrExit(usageText, config) {
  try {
    return parseArgs(config);
  } catch (err) {
    return usageError(/** @type {Error} */ (err).message, usageText);
  }
}

/**
 * Text that fits a terminal's columns: the width a string takes on screen (escape codes count
 * for nothing, wide characters for two), cutting and padding to a width, control characters
 * shown escaped, numbers shortened to fit their column (12.3k), and names shortened so that
 * they stay apart. Knows nothing of AMQP.
 */
import stringWidth from "string-width";
import { count } from "./format.js";

/** Shown for a value that is not known (undefined, or not a finite number). */
const UNKNOWN = "–";
export const ELLIPSIS = "…";

// ---------------------------------------------------------------------------------------------
// Visible width

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/**
 * Terminal columns a string takes: escape codes count for nothing, wide (CJK, emoji)
 * characters for two, combining marks for none. string-width keeps the Unicode tables.
 */
export function visibleWidth(s: string): number {
  return stringWidth(s);
}

function charWidth(ch: string): number {
  return stringWidth(ch);
}

/** The first characters of `s` that fit in `width` columns. */
function head(s: string, width: number): string {
  let out = "";
  let w = 0;
  for (const ch of s) {
    const cw = charWidth(ch);
    if (w + cw > width) break;
    out += ch;
    w += cw;
  }
  return out;
}

/** The last characters of `s` that fit in `width` columns. */
function tail(s: string, width: number): string {
  const chars = [...s];
  let out = "";
  let w = 0;
  for (let i = chars.length - 1; i >= 0; i--) {
    const cw = charWidth(chars[i]!);
    if (w + cw > width) break;
    out = chars[i]! + out;
    w += cw;
  }
  return out;
}

/** At most `width` columns of plain text; cut text ends with "…". */
export function truncate(s: string, width: number): string {
  if (width <= 0) return "";
  if (visibleWidth(s) <= width) return s;
  return head(s, width - 1) + ELLIPSIS;
}

/** Last resort for a whole line: drop colour rather than cut an escape sequence in half. */
export function fitLine(line: string, width: number): string {
  return visibleWidth(line) <= width ? line : truncate(line.replace(ANSI, ""), width);
}

export function pad(s: string, width: number, align: "left" | "right"): string {
  const text = truncate(s, width);
  const fill = " ".repeat(Math.max(0, width - visibleWidth(text)));
  return align === "left" ? text + fill : fill + text;
}

/** Names may hold anything: control characters would break the frame, so show them escaped. */
export function clean(s: string): string {
  return s.replace(
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Numbers that fit their column

const UNITS_ASCENDING: ReadonlyArray<readonly [number, string]> = [
  [1e3, "k"],
  [1e6, "M"],
  [1e9, "G"],
  [1e12, "T"],
];

/** `n` in at most `width` columns: 12,345 when it fits, else 12.3k, 123k, 1.2M, … */
export function fitNumber(
  n: number | undefined,
  width: number,
  format: (n: number) => string = count,
) {
  if (n === undefined || !Number.isFinite(n)) return UNKNOWN;
  const full = format(n);
  if (full.length <= width) return full;
  const sign = n < 0 ? "-" : "";
  const abs = Math.abs(n);
  for (const [size, unit] of UNITS_ASCENDING) {
    if (abs < size) continue;
    const v = abs / size;
    for (const digits of [1, 0]) {
      const text = `${sign}${v.toFixed(digits)}${unit}`;
      // 999.96k rounds to "1000.0k": let the next unit say it.
      if (Number(v.toFixed(digits)) >= 1000 && unit !== "T") continue;
      if (text.length <= width) return text;
    }
  }
  // Beyond any unit that fits: say so, as a spreadsheet does, rather than print a wrong number.
  return "#".repeat(Math.max(1, width));
}

// ---------------------------------------------------------------------------------------------
// Names that stay apart

/** Where a name's words meet: shop.billing, order-paid, a_b, x:y, a/b. */
const SEPARATOR = /[.\-_:/ ]/;

/** The start all `names` share, up to and including its last separator ("shop." for shop.a, shop.b). */
function sharedStart(names: string[]): string {
  if (names.length < 2) return "";
  let shared = names[0]!;
  for (const n of names) {
    while (!n.startsWith(shared)) shared = shared.slice(0, -1);
  }
  let end = shared.length;
  while (end > 0 && !SEPARATOR.test(shared[end - 1]!)) end--;
  return shared.slice(0, end);
}

type Shorten = (s: string, width: number) => string;

/** "notification-se…": reads from the start, and names often differ early. */
const cutEnd: Shorten = (s, width) => truncate(s, width);
/** "…notifications": the end of a dotted name is its most specific part. */
const keepEnd: Shorten = (s, width) => {
  if (width <= 0) return "";
  const end = tail(s, width - 1);
  // Start at a word when that keeps most of the room: "…inventory", not "…rs.inventory".
  if (SEPARATOR.test(s.slice(0, s.length - end.length).slice(-1))) return ELLIPSIS + end;
  const word = end.search(SEPARATOR);
  return ELLIPSIS + (word >= 0 && word < (end.length - 1) / 2 ? end.slice(word + 1) : end);
};
/** "eu.…paid": for names that differ at both ends. */
const keepBothEnds: Shorten = (s, width) => {
  if (width <= 0) return "";
  const front = head(s, Math.floor((width - 1) / 2));
  return front + ELLIPSIS + tail(s, width - 1 - visibleWidth(front));
};

/**
 * A column's names in `width` columns each, told apart. A name that fits is shown whole; the
 * longer ones are all shortened the same way, by the first of these that keeps every two
 * different names of the column different: cut the end (`notification-se…`), keep the end
 * (`…notifications`), keep both ends (`eu.…paid`). When all the names share a start up to
 * a separator (`shop.` of shop.inventory and shop.billing), that start tells nothing apart, so
 * keeping the end comes first: `…inventory`, `…billing`, not `shop.in…`, `shop.bi…`. If no
 * way keeps them all apart, the one that keeps the most apart wins.
 */
export function shortenNames(names: string[], width: number): string[] {
  if (names.every((n) => visibleWidth(n) <= width)) return names;
  const ways =
    sharedStart(names) === "" ? [cutEnd, keepEnd, keepBothEnds] : [keepEnd, cutEnd, keepBothEnds];
  const wanted = new Set(names).size;
  let best: string[] = [];
  let bestApart = -1;
  for (const way of ways) {
    const shown = names.map((n) => (visibleWidth(n) <= width ? n : way(n, width)));
    const apart = new Set(shown).size;
    if (apart === wanted) return shown;
    if (apart > bestApart) [best, bestApart] = [shown, apart];
  }
  return best;
}

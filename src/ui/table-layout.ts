/**
 * Tables of the live dashboard that fit the terminal without jittering: column widths come
 * from the names, fixed number widths and the space there is, never from the values. When a
 * table does not fit, numbers shorten (12.3k), names shorten while staying apart, and the
 * least needed columns are left out. Knows nothing of AMQP.
 */
import { count } from "./format.js";
import { clean, fitLine, fitNumber, pad, shortenNames, visibleWidth } from "./text-fit.js";
import type { Theme } from "./theme.js";

export type Paint = (s: string) => string;

export interface Column<R> {
  header: string;
  align: "left" | "right";
  /** The width the column takes when there is room. */
  width: number;
  /** The narrowest it may get: a number column then shortens its values (12.3k). */
  min: number;
  /** When even the narrowest columns do not fit, lower ranks are left out first; none: kept. */
  drop?: number;
  /** A column of names: shortened together so that they stay apart (shortenNames). */
  name?(row: R): string;
  /** The cell of any other column, in `width` columns. */
  text?(row: R, width: number): string;
  paint?(row: R, theme: Theme): Paint | undefined;
}

const GAP = " ";

/** Before any column is left out, a column of names keeps this many columns (or its widest name). */
const NAME_ROOM = 12;

/** The width a column takes before anything is left out: numbers at their narrowest. */
function roomy<R>(c: Column<R>): number {
  return c.name ? Math.min(c.width, Math.max(c.min, NAME_ROOM)) : c.min;
}

function total(widths: number[]): number {
  return widths.reduce((a, b) => a + b, 0) + GAP.length * (widths.length - 1);
}

/** The columns kept in `available` columns: the droppable ones go by rank until the rest fit. */
function keptColumns<R>(columns: Column<R>[], available: number): Column<R>[] {
  let kept = columns;
  const droppable = columns
    .filter((c) => c.drop !== undefined)
    .sort((a, b) => (a.drop ?? 0) - (b.drop ?? 0));
  for (const c of droppable) {
    if (total(kept.map(roomy)) <= available) break;
    kept = kept.filter((k) => k !== c);
  }
  return kept;
}

/** Too narrow even so: the widest name gives way, one column at a time, down to its header. */
function narrowNames<R>(kept: Column<R>[], widths: number[], spare: number): number {
  let left = spare;
  while (left < 0) {
    let widest = -1;
    for (const [i, c] of kept.entries()) {
      if (c.name && widths[i]! > c.min && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
    }
    if (widest < 0) break;
    widths[widest]!--;
    left++;
  }
  return left;
}

/** The column of the kind asked for (names or numbers) furthest from its natural width. */
function neediest<R>(kept: Column<R>[], widths: number[], names: boolean): number {
  let found = -1;
  for (const [i, c] of kept.entries()) {
    const need = c.width - widths[i]!;
    if (Boolean(c.name) !== names || need <= 0) continue;
    if (found < 0 || need >= kept[found]!.width - widths[found]!) found = i;
  }
  return found;
}

/** Room to spare: one column at a time to the names, then the numbers, up to natural widths. */
function widen<R>(kept: Column<R>[], widths: number[], spare: number): void {
  let left = spare;
  for (const names of [true, false]) {
    while (left > 0) {
      const i = neediest(kept, widths, names);
      if (i < 0) break;
      widths[i]!++;
      left--;
    }
  }
}

/**
 * Which columns to show, and how wide, in `available` columns. Widths come from the names and
 * the terminal, never from the values, so that a table does not jitter. When the table does
 * not fit: number columns shrink to their minimum first (their values shorten to 12.3k),
 * then names down to NAME_ROOM; if that is still too wide, columns are left out by rank;
 * last, names shrink to their header. What is left over goes to the names, then the numbers,
 * each up to its natural width.
 */
export function layout<R>(columns: Column<R>[], available: number): [Column<R>, number][] {
  const kept = keptColumns(columns, available);
  const widths = kept.map(roomy);
  const spare = narrowNames(kept, widths, available - total(widths));
  widen(kept, widths, spare);
  return kept.map((c, i) => [c, widths[i]!]);
}

/** The header line and one line per row, each at most `width` visible columns. */
export function renderTable<R>(
  columns: Column<R>[],
  rows: R[],
  theme: Theme,
  width: number,
): string[] {
  const laid = layout(columns, width);
  const cells = laid.map(([{ name, text }, w]) =>
    name
      ? shortenNames(
          rows.map((r) => clean(name(r))),
          w,
        )
      : rows.map((r) => text?.(r, w) ?? ""),
  );
  const header = laid.map(([c, w]) => pad(c.header, w, c.align)).join(GAP);
  const lines = [theme.dim(header)];
  for (const [i, row] of rows.entries()) {
    const line = laid.map(([c, w], j) => {
      const cell = pad(cells[j]![i]!, w, c.align);
      const paint = c.paint?.(row, theme);
      return paint ? paint(cell) : cell;
    });
    lines.push(line.join(GAP));
  }
  return lines.map((l) => fitLine(l, width));
}

/** A right-aligned number column, at least as wide as its header and as "123k". */
export function numberColumn<R>(
  header: string,
  width: number,
  get: (r: R) => number | undefined,
  more: Partial<Column<R>> & { format?: (n: number) => string } = {},
): Column<R> {
  const { format = count, ...rest } = more;
  return {
    header,
    align: "right",
    width,
    min: Math.max(header.length, 4),
    text: (r, w) => fitNumber(get(r), w, format),
    ...rest,
  };
}

/** A column of names: as wide as the widest name, at least its header. */
export function nameColumn<R>(header: string, rows: R[], name: (r: R) => string): Column<R> {
  const width = Math.max(header.length, ...rows.map((r) => visibleWidth(clean(name(r)))));
  return { header, align: "left", width, min: header.length, name };
}

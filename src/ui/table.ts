/**
 * Static tables for the terminal: each column as wide as its widest cell, measured in the
 * columns a terminal shows (colour codes count for nothing, wide characters for two), so
 * cells may be coloured before they come here. The last column is never padded: lines end
 * without trailing spaces. For tables whose widths must not follow their values (the live
 * dashboard), see table-layout.ts. Knows nothing of AMQP.
 */
import { pad, visibleWidth } from "./text-fit.js";

export type Align = "left" | "right";

export interface TableOptions {
  /** Put in front of every line; default none. */
  indent?: string;
  /** Between two columns; default two spaces. */
  gap?: string;
  /** Per column; a column without one is left-aligned. */
  align?: readonly Align[];
}

/** One string per row, cells padded to their column's width. */
export function table(
  rows: ReadonlyArray<readonly string[]>,
  options: TableOptions = {},
): string[] {
  const { indent = "", gap = "  ", align = [] } = options;
  const columns = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) =>
    Math.max(0, ...rows.map((r) => visibleWidth(r[i] ?? ""))),
  );
  return rows.map((row) => {
    const cells = widths.map((width, i) => {
      const cell = row[i] ?? "";
      const side = align[i] ?? "left";
      // Every cell fits its column: padding never cuts. The last cell is left as it is.
      return i === columns - 1 && side === "left" ? cell : pad(cell, width, side);
    });
    return indent + cells.join(gap);
  });
}

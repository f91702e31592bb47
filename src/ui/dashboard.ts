/**
 * The live dashboard of `eventlab play`: a pure frame renderer, a view that redraws it in
 * place on a terminal, and a one-line summary for when there is no terminal.
 *
 * Terminal only: it renders plain snapshot data (names and numbers) and knows nothing of
 * AMQP. Column widths come from the names, fixed number widths and the terminal's width,
 * never from a frame's values, so a table does not jitter while the numbers change; a number
 * too big for its column is shortened (1.2M) rather than widening it. A frame is never taller
 * than the terminal, so that each redraw can reach all of the previous one.
 */
import type { Writable } from "node:stream";
import type { ConsumerRow, QueueRow, Snapshot } from "../lab/types.js";
import { count, elapsed, rate } from "./format.js";
import type { Theme } from "./theme.js";

/** Shown for a value that is not known (undefined, or not a finite number). */
const UNKNOWN = "–";
const ELLIPSIS = "…";
/** At most this many recent events are shown. */
const MAX_EVENTS = 4;
/** Widest frame drawn, whatever the terminal. */
const MAX_WIDTH = 80;

// ---------------------------------------------------------------------------------------------
// Visible width

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
const COMBINING = /\p{M}/u;
const WIDE =
  /[\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u{1F300}-\u{1F64F}\u{1F900}-\u{1F9FF}\u{20000}-\u{3FFFD}]/u;

function charWidth(ch: string): number {
  if (COMBINING.test(ch)) return 0;
  return WIDE.test(ch) ? 2 : 1;
}

/** Terminal columns a string takes: escape codes count for nothing, wide (CJK) characters for two. */
export function visibleWidth(s: string): number {
  let w = 0;
  for (const ch of s.replace(ANSI, "")) w += charWidth(ch);
  return w;
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
function truncate(s: string, width: number): string {
  if (width <= 0) return "";
  if (visibleWidth(s) <= width) return s;
  return head(s, width - 1) + ELLIPSIS;
}

/** Last resort for a whole line: drop colour rather than cut an escape sequence in half. */
function fitLine(line: string, width: number): string {
  return visibleWidth(line) <= width ? line : truncate(line.replace(ANSI, ""), width);
}

function pad(s: string, width: number, align: "left" | "right"): string {
  const text = truncate(s, width);
  const fill = " ".repeat(Math.max(0, width - visibleWidth(text)));
  return align === "left" ? text + fill : fill + text;
}

/** Names may hold anything: control characters would break the frame, so show them escaped. */
function clean(s: string): string {
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
function fitNumber(n: number | undefined, width: number, format: (n: number) => string = count) {
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

// ---------------------------------------------------------------------------------------------
// Tables

type Paint = (s: string) => string;

interface Column<R> {
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

/**
 * Which columns to show, and how wide, in `available` columns. Widths come from the names and
 * the terminal, never from the values, so that a table does not jitter. When the table does
 * not fit: number columns shrink to their minimum first (their values shorten to 12.3k),
 * then names down to NAME_ROOM; if that is still too wide, columns are left out by rank;
 * last, names shrink to their header. What is left over goes to the names, then the numbers,
 * each up to its natural width.
 */
function layout<R>(columns: Column<R>[], available: number): [Column<R>, number][] {
  const roomy = (c: Column<R>) => (c.name ? Math.min(c.width, Math.max(c.min, NAME_ROOM)) : c.min);
  const total = (ws: number[]) => ws.reduce((a, b) => a + b, 0) + GAP.length * (ws.length - 1);
  let kept = columns;
  const droppable = columns
    .filter((c) => c.drop !== undefined)
    .sort((a, b) => (a.drop ?? 0) - (b.drop ?? 0));
  for (const c of droppable) {
    if (total(kept.map(roomy)) <= available) break;
    kept = kept.filter((k) => k !== c);
  }
  const widths = kept.map(roomy);
  let spare = available - total(widths);
  // Too narrow even so: the widest name gives way, down to its header.
  while (spare < 0) {
    let widest = -1;
    for (const [i, c] of kept.entries()) {
      if (c.name && widths[i]! > c.min && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
    }
    if (widest < 0) break;
    widths[widest]!--;
    spare++;
  }
  // Room to spare: one column at a time to the column furthest from its natural width.
  for (const names of [true, false]) {
    while (spare > 0) {
      let neediest = -1;
      for (const [i, c] of kept.entries()) {
        const need = c.width - widths[i]!;
        if (Boolean(c.name) === names && need > 0) {
          if (neediest < 0 || need >= kept[neediest]!.width - widths[neediest]!) neediest = i;
        }
      }
      if (neediest < 0) break;
      widths[neediest]!++;
      spare--;
    }
  }
  return kept.map((c, i) => [c, widths[i]!]);
}

/** The header line and one line per row, each at most `width` visible columns. */
function renderTable<R>(columns: Column<R>[], rows: R[], theme: Theme, width: number): string[] {
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

const warnIfNonZero =
  (get: (r: QueueRow) => number) =>
  (r: QueueRow, theme: Theme): Paint | undefined =>
    get(r) > 0 ? theme.warn : undefined;

/** A right-aligned number column, at least as wide as its header and as "123k". */
function numberColumn<R>(
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
function nameColumn<R>(header: string, rows: R[], name: (r: R) => string): Column<R> {
  const width = Math.max(header.length, ...rows.map((r) => visibleWidth(clean(name(r)))));
  return { header, align: "left", width, min: header.length, name };
}

// The columns left out first on a narrow terminal are the counters the final report repeats
// (redel, ooo, dup, dlx; a consumer's instances, queue, retries and breaker), then the flow
// that only the live view shows (unack, out/s, in/s; a consumer's state). Names, depth,
// processed and failed stay.

function queueColumns(queues: QueueRow[]): Column<QueueRow>[] {
  return [
    nameColumn("queue", queues, (r) => r.name),
    numberColumn("depth", 8, (r) => r.depth),
    numberColumn("in/s", 6, (r) => r.inRate, { format: rate, drop: 7 }),
    numberColumn("out/s", 6, (r) => r.outRate, { format: rate, drop: 6 }),
    numberColumn("unack", 6, (r) => r.unacked, { drop: 5 }),
    numberColumn("redel", 6, (r) => r.redelivered, { drop: 1 }),
    numberColumn("dlx", 5, (r) => r.deadLettered, {
      drop: 4,
      paint: warnIfNonZero((r) => r.deadLettered),
    }),
    numberColumn("dup", 5, (r) => r.duplicates, {
      drop: 3,
      paint: warnIfNonZero((r) => r.duplicates),
    }),
    numberColumn("ooo", 5, (r) => r.outOfOrder, {
      drop: 2,
      paint: warnIfNonZero((r) => r.outOfOrder),
    }),
  ];
}

function breakerPaint(r: ConsumerRow, theme: Theme): Paint | undefined {
  if (r.breaker === "open") return theme.warn;
  if (r.breaker === "half-open") return theme.accent;
  return theme.dim;
}

function statePaint(r: ConsumerRow, theme: Theme): Paint | undefined {
  switch (r.state) {
    case "running":
      return theme.ok;
    case "crashed":
      return theme.error;
    case "killed":
      return theme.warn;
    default:
      return theme.dim;
  }
}

function consumerColumns(consumers: ConsumerRow[]): Column<ConsumerRow>[] {
  return [
    nameColumn("consumer", consumers, (r) => r.name),
    { ...nameColumn("queue", consumers, (r) => r.queue), drop: 2 },
    numberColumn("inst", 4, (r) => r.instances, { drop: 1 }),
    numberColumn("processed", 9, (r) => r.processed),
    numberColumn("failed", 6, (r) => r.failed, {
      paint: (r, t) => (r.failed > 0 ? t.error : undefined),
    }),
    numberColumn("retried", 7, (r) => r.retried, { drop: 3 }),
    {
      header: "breaker",
      align: "left",
      width: 9,
      min: 9,
      drop: 4,
      text: (r) => (r.breaker === "open" ? "OPEN" : r.breaker),
      paint: breakerPaint,
    },
    {
      header: "state",
      align: "left",
      width: 7,
      min: 7,
      drop: 5,
      text: (r) => r.state,
      paint: statePaint,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Frames

function headerLine(s: Snapshot, theme: Theme, width: number): string {
  const time =
    s.durationMs === undefined
      ? elapsed(s.elapsedMs)
      : `${elapsed(s.elapsedMs)} of ${elapsed(s.durationMs)}`;
  const rest = [
    time,
    `published ${count(s.published)}/${count(s.planned)}`,
    `confirmed ${count(s.confirmed)}`,
    // Messages from before the run (--keep): consumed, never counted as this run's.
    ...((s.preexisting ?? 0) > 0 ? [theme.warn(`preexisting ${count(s.preexisting ?? 0)}`)] : []),
  ].join(" · ");
  // The scenario's name gives way first (the numbers are what a person watches), but keeps a
  // recognisable start; on a very narrow terminal the line's end is cut instead.
  const name = clean(s.scenario);
  const nameRoom = Math.max(Math.min(visibleWidth(name), 16), width - visibleWidth(rest) - 3);
  return fitLine(`${theme.bold(truncate(name, nameRoom))} · ${rest}`, width);
}

/**
 * One frame of the dashboard: at most `height` lines, each at most `width` visible columns
 * (escape codes do not count). Pure: the same snapshot, theme and size give the same lines.
 *
 * When the frame is taller than `height`, the blank lines between its parts go first, then the
 * oldest events, then table rows from the end, the longer table first, each cut table ending
 * in a line "… N more queues"; a table with no row left becomes "… N queues", then goes. The
 * header line always stays.
 */
export function renderDashboard(
  s: Snapshot,
  theme: Theme,
  width = MAX_WIDTH,
  height = Number.POSITIVE_INFINITY,
): string[] {
  const w = Math.max(1, Math.floor(width));
  const h = Math.max(1, Math.floor(height));
  const tables = [
    { noun: "queue", lines: renderTable(queueColumns(s.queues), s.queues, theme, w) },
    { noun: "consumer", lines: renderTable(consumerColumns(s.consumers), s.consumers, theme, w) },
  ].filter((t) => t.lines.length > 1);
  const events = s.events
    .slice(-MAX_EVENTS)
    .map((e) => theme.dim(truncate(`${theme.symbols.info} ${clean(e)}`, w)));

  // Rows shown of each table (0: a one-line summary, -1: left out), events shown, blank lines.
  const shown = tables.map((t) => t.lines.length - 1);
  let shownEvents = events.length;
  let blank = 1;
  const tableHeight = (i: number) => {
    const [n, all] = [shown[i]!, tables[i]!.lines.length - 1];
    return n < 0 ? 0 : n === 0 ? 1 : 1 + n + (n < all ? 1 : 0);
  };
  const frameHeight = () =>
    tables.reduce(
      (total, _, i) => total + (tableHeight(i) > 0 ? blank + tableHeight(i) : 0),
      1 + (shownEvents > 0 ? blank + shownEvents : 0),
    );
  while (frameHeight() > h) {
    if (blank > 0) blank = 0;
    else if (shownEvents > 0) shownEvents--;
    else {
      let longest = -1;
      for (let i = 0; i < shown.length; i++) {
        if (shown[i]! >= 0 && (longest < 0 || shown[i]! >= shown[longest]!)) longest = i;
      }
      if (longest < 0) break;
      shown[longest]!--;
    }
  }
  // "… 1 more" takes the line its row would: show the row.
  for (const [i, t] of tables.entries()) {
    if (shown[i]! > 0 && shown[i] === t.lines.length - 2) shown[i]!++;
  }

  const lines = [headerLine(s, theme, w)];
  for (const [i, t] of tables.entries()) {
    const [n, all] = [shown[i]!, t.lines.length - 1];
    if (n < 0) continue;
    if (blank > 0) lines.push("");
    if (n > 0) lines.push(...t.lines.slice(0, 1 + n));
    if (n < all) {
      const rest = `${count(all - n)}${n > 0 ? " more" : ""} ${t.noun}${all - n === 1 ? "" : "s"}`;
      lines.push(theme.dim(truncate(`${ELLIPSIS} ${rest}`, w)));
    }
  }
  if (shownEvents > 0) {
    if (blank > 0) lines.push("");
    lines.push(...events.slice(-shownEvents));
  }
  return lines;
}

/**
 * One compact line for logs and pipes, where the live view is not drawn:
 * `12.00 s · published 120/400 · consumed 110 · failed 4 · dlx 3 · dup 2 · ooo 0`.
 */
export function summaryLine(s: Snapshot): string {
  const sum = (rows: QueueRow[], get: (r: QueueRow) => number) =>
    rows.reduce((a, r) => a + get(r), 0);
  const consumed = s.consumers.reduce((a, c) => a + c.processed, 0);
  const failed = s.consumers.reduce((a, c) => a + c.failed, 0);
  const time =
    s.durationMs === undefined
      ? elapsed(s.elapsedMs)
      : `${elapsed(s.elapsedMs)} of ${elapsed(s.durationMs)}`;
  const parts = [
    time,
    `published ${count(s.published)}/${count(s.planned)}`,
    `consumed ${count(consumed)}`,
    `failed ${count(failed)}`,
    ...((s.preexisting ?? 0) > 0 ? [`preexisting ${count(s.preexisting ?? 0)}`] : []),
    `dlx ${count(sum(s.queues, (q) => q.deadLettered))}`,
    `dup ${count(sum(s.queues, (q) => q.duplicates))}`,
    `ooo ${count(sum(s.queues, (q) => q.outOfOrder))}`,
  ];
  const open = s.consumers.filter((c) => c.breaker === "open").map((c) => clean(c.name));
  if (open.length > 0) parts.push(`breaker open: ${open.join(", ")}`);
  const down = s.consumers.filter((c) => c.state === "crashed" || c.state === "killed");
  for (const c of down) parts.push(`${clean(c.name)} ${c.state}`);
  return parts.join(" · ");
}

// ---------------------------------------------------------------------------------------------
// Drawing in place

export type TtyStream = Writable & { isTTY?: boolean; columns?: number; rows?: number };

export interface LiveViewOptions {
  /** Shortest time between two frames (default 250 ms: at most 4 frames a second). */
  intervalMs?: number;
}

const ESC = "\x1b[";
const HIDE_CURSOR = `${ESC}?25l`;
const SHOW_CURSOR = `${ESC}?25h`;
const CLEAR_LINE_END = `${ESC}K`;
const CLEAR_BELOW = `${ESC}J`;
/** Rows assumed when the terminal does not say how many it has: a classic terminal's 24. */
const FALLBACK_ROWS = 24;

/**
 * Draws the dashboard in place on a terminal: each frame is one write that moves the cursor
 * up over the previous frame and overwrites it line by line (no screen clear, so no flicker).
 * A frame fits the terminal's width and height, read before each frame; a resize redraws.
 * `update` may be called as often as the caller likes; frames are drawn at most every
 * `intervalMs`, and the latest snapshot wins. The cursor is hidden while live: call `stop()`
 * (also on errors and Ctrl-C) to draw the final frame, leave it on screen and show the cursor.
 * On a stream that is not a terminal it draws nothing.
 */
export class LiveView {
  private readonly intervalMs: number;
  private latest: Snapshot | undefined;
  private dirty = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Visible width of each line of the frame on screen; empty before the first. */
  private drawn: number[] = [];
  private started = false;
  private stopped = false;
  /** The terminal changed size: draw again (soon, at most every interval). */
  private readonly onResize = (): void => {
    if (this.stopped) return;
    this.dirty = true;
    if (this.timer === undefined) this.draw();
  };

  constructor(
    private readonly stream: TtyStream,
    private readonly theme: Theme,
    options: LiveViewOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 250;
  }

  /** Record the latest snapshot; draw it now if no frame was drawn in the last interval. */
  update(s: Snapshot): void {
    if (this.stopped || this.stream.isTTY !== true) return;
    this.latest = s;
    this.dirty = true;
    if (this.timer === undefined) this.draw();
  }

  /** Draw the final frame, leave it on screen with the cursor below it, and show the cursor. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.started) return;
    this.stream.off("resize", this.onResize);
    this.stream.write(this.frame(this.latest!) + SHOW_CURSOR);
  }

  private draw(): void {
    this.dirty = false;
    this.stream.write(this.frame(this.latest!));
    this.timer = setTimeout(() => this.tick(), this.intervalMs);
    this.timer.unref?.();
  }

  private tick(): void {
    this.timer = undefined;
    if (this.dirty && !this.stopped) this.draw();
  }

  private width(): number {
    const columns = this.stream.columns;
    // One column short of the terminal: a line that fills the last column leaves the cursor
    // there, and "clear to end of line" would then erase its last character.
    return columns !== undefined && columns > 1 ? Math.min(MAX_WIDTH, columns - 1) : MAX_WIDTH;
  }

  private height(): number {
    const rows = this.stream.rows;
    // One row short of the terminal, the row the cursor waits on below the frame: a taller
    // frame scrolls its first lines off the top, where moving the cursor up cannot reach
    // them, and each redraw would leave a copy of them behind.
    return rows !== undefined && rows >= 1 ? Math.max(1, rows - 1) : FALLBACK_ROWS - 1;
  }

  /** The text of one write: back over the previous frame, then the new lines. */
  private frame(s: Snapshot): string {
    const lines = renderDashboard(s, this.theme, this.width(), this.height());
    let out = "";
    if (!this.started) {
      out += HIDE_CURSOR;
      this.started = true;
      this.stream.on("resize", this.onResize);
    }
    // Rows the previous frame takes now: one per line, unless the terminal got narrower since
    // and rewrapped the lines (most terminals do, tmux too).
    const columns = this.stream.columns;
    const wrap = (w: number) =>
      columns !== undefined && columns > 0 ? Math.max(1, Math.ceil(w / columns)) : 1;
    const up = this.drawn.reduce((a, w) => a + wrap(w), 0);
    if (up > 0) out += `${ESC}${up}F`;
    for (const line of lines) out += `${line}${CLEAR_LINE_END}\n`;
    if (lines.length < up) out += CLEAR_BELOW;
    this.drawn = lines.map(visibleWidth);
    return out;
  }
}

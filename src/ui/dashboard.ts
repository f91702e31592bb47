/**
 * The live dashboard of `eventlab play`: a pure frame renderer, a view that redraws it in
 * place on a terminal, and a one-line summary for when there is no terminal.
 *
 * Terminal only: it renders plain snapshot data (names and numbers) and knows nothing of
 * AMQP. Column widths come from the names and from fixed, generous number widths, never from
 * a frame's values, so a table does not jitter while the numbers change; a number too big
 * for its column is shortened (1.2M) rather than widening it.
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

/** At most `width` columns of plain text; cut text ends with "…". */
function truncate(s: string, width: number): string {
  if (width <= 0) return "";
  if (visibleWidth(s) <= width) return s;
  let out = "";
  let w = 0;
  for (const ch of s) {
    const cw = charWidth(ch);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return out + ELLIPSIS;
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
// Tables

type Paint = (s: string) => string;

interface Column<R> {
  header: string;
  width: number;
  align: "left" | "right";
  text(row: R): string;
  paint?(row: R, theme: Theme): Paint | undefined;
}

const GAP = " ";

function renderTable<R>(columns: Column<R>[], rows: R[], theme: Theme, width: number): string[] {
  const header = columns.map((c) => pad(c.header, c.width, c.align)).join(GAP);
  const lines = [theme.dim(header)];
  for (const row of rows) {
    const cells = columns.map((c) => {
      const cell = pad(c.text(row), c.width, c.align);
      const paint = c.paint?.(row, theme);
      return paint ? paint(cell) : cell;
    });
    lines.push(cells.join(GAP));
  }
  return lines.map((l) => fitLine(l, width));
}

/** Columns of fixed width plus free columns sharing what is left, each at most its natural width. */
function shareWidths(natural: number[], minimum: number[], available: number): number[] {
  const widths = natural.map((n, i) => Math.max(minimum[i] ?? 1, n));
  let total = widths.reduce((a, b) => a + b, 0);
  // Shrink the widest column one step at a time until the free columns fit.
  while (total > available) {
    let widest = 0;
    for (let i = 1; i < widths.length; i++) if (widths[i]! > widths[widest]!) widest = i;
    if (widths[widest]! <= (minimum[widest] ?? 1)) break;
    widths[widest]!--;
    total--;
  }
  return widths;
}

const warnIfNonZero =
  (get: (r: QueueRow) => number) =>
  (r: QueueRow, theme: Theme): Paint | undefined =>
    get(r) > 0 ? theme.warn : undefined;

function queueColumns(queues: QueueRow[], width: number): Column<QueueRow>[] {
  const numeric: Column<QueueRow>[] = [
    { header: "depth", width: 8, align: "right", text: (r) => fitNumber(r.depth, 8) },
    { header: "in/s", width: 6, align: "right", text: (r) => fitNumber(r.inRate, 6, rate) },
    { header: "out/s", width: 6, align: "right", text: (r) => fitNumber(r.outRate, 6, rate) },
    { header: "unack", width: 6, align: "right", text: (r) => fitNumber(r.unacked, 6) },
    { header: "redel", width: 6, align: "right", text: (r) => fitNumber(r.redelivered, 6) },
    {
      header: "dlx",
      width: 5,
      align: "right",
      text: (r) => fitNumber(r.deadLettered, 5),
      paint: warnIfNonZero((r) => r.deadLettered),
    },
    {
      header: "dup",
      width: 5,
      align: "right",
      text: (r) => fitNumber(r.duplicates, 5),
      paint: warnIfNonZero((r) => r.duplicates),
    },
    {
      header: "ooo",
      width: 5,
      align: "right",
      text: (r) => fitNumber(r.outOfOrder, 5),
      paint: warnIfNonZero((r) => r.outOfOrder),
    },
  ];
  const fixed = numeric.reduce((a, c) => a + c.width + GAP.length, 0);
  const natural = Math.max("queue".length, ...queues.map((q) => visibleWidth(clean(q.name))));
  const [nameWidth = 5] = shareWidths([natural], [5], width - fixed);
  return [
    { header: "queue", width: nameWidth, align: "left", text: (r) => clean(r.name) },
    ...numeric,
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

function consumerColumns(consumers: ConsumerRow[], width: number): Column<ConsumerRow>[] {
  const fixedColumns: Column<ConsumerRow>[] = [
    { header: "inst", width: 4, align: "right", text: (r) => fitNumber(r.instances, 4) },
    { header: "processed", width: 9, align: "right", text: (r) => fitNumber(r.processed, 9) },
    {
      header: "failed",
      width: 6,
      align: "right",
      text: (r) => fitNumber(r.failed, 6),
      paint: (r, t) => (r.failed > 0 ? t.error : undefined),
    },
    { header: "retried", width: 7, align: "right", text: (r) => fitNumber(r.retried, 7) },
    {
      header: "breaker",
      width: 9,
      align: "left",
      text: (r) => (r.breaker === "open" ? "OPEN" : r.breaker),
      paint: breakerPaint,
    },
    { header: "state", width: 7, align: "left", text: (r) => r.state, paint: statePaint },
  ];
  const fixed = fixedColumns.reduce((a, c) => a + c.width + GAP.length, 0) + GAP.length;
  const [nameWidth = 8, queueWidth = 5] = shareWidths(
    [
      Math.max("consumer".length, ...consumers.map((c) => visibleWidth(clean(c.name)))),
      Math.max("queue".length, ...consumers.map((c) => visibleWidth(clean(c.queue)))),
    ],
    [8, 5],
    width - fixed,
  );
  return [
    { header: "consumer", width: nameWidth, align: "left", text: (r) => clean(r.name) },
    { header: "queue", width: queueWidth, align: "left", text: (r) => clean(r.queue) },
    ...fixedColumns,
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
  ].join(" · ");
  // The scenario's name gives way first (the numbers are what a person watches), but keeps a
  // recognisable start; on a very narrow terminal the line's end is cut instead.
  const name = clean(s.scenario);
  const nameRoom = Math.max(Math.min(visibleWidth(name), 16), width - visibleWidth(rest) - 3);
  return fitLine(`${theme.bold(truncate(name, nameRoom))} · ${rest}`, width);
}

/**
 * One frame of the dashboard: each line at most `width` visible columns (escape codes do not
 * count). Pure: the same snapshot, theme and width give the same lines.
 */
export function renderDashboard(s: Snapshot, theme: Theme, width = MAX_WIDTH): string[] {
  const w = Math.max(1, Math.floor(width));
  const lines = [headerLine(s, theme, w)];
  if (s.queues.length > 0) {
    lines.push("", ...renderTable(queueColumns(s.queues, w), s.queues, theme, w));
  }
  if (s.consumers.length > 0) {
    lines.push("", ...renderTable(consumerColumns(s.consumers, w), s.consumers, theme, w));
  }
  const events = s.events.slice(-MAX_EVENTS);
  if (events.length > 0) {
    lines.push("");
    for (const e of events) {
      lines.push(theme.dim(truncate(`${theme.symbols.info} ${clean(e)}`, w)));
    }
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

export type TtyStream = Writable & { isTTY?: boolean; columns?: number };

export interface LiveViewOptions {
  /** Shortest time between two frames (default 250 ms: at most 4 frames a second). */
  intervalMs?: number;
}

const ESC = "\x1b[";
const HIDE_CURSOR = `${ESC}?25l`;
const SHOW_CURSOR = `${ESC}?25h`;
const CLEAR_LINE_END = `${ESC}K`;
const CLEAR_BELOW = `${ESC}J`;

/**
 * Draws the dashboard in place on a terminal: each frame is one write that moves the cursor
 * up over the previous frame and overwrites it line by line (no screen clear, so no flicker).
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
  /** Lines of the frame on screen; 0 before the first. */
  private drawn = 0;
  private started = false;
  private stopped = false;

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

  /** The text of one write: back over the previous frame, then the new lines. */
  private frame(s: Snapshot): string {
    const lines = renderDashboard(s, this.theme, this.width());
    let out = "";
    if (!this.started) {
      out += HIDE_CURSOR;
      this.started = true;
    }
    if (this.drawn > 0) out += `${ESC}${this.drawn}F`;
    for (const line of lines) out += `${line}${CLEAR_LINE_END}\n`;
    if (lines.length < this.drawn) out += CLEAR_BELOW;
    this.drawn = lines.length;
    return out;
  }
}

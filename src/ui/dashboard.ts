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
import { type Column, nameColumn, numberColumn, type Paint, renderTable } from "./table-layout.js";
import { clean, ELLIPSIS, fitLine, truncate, visibleWidth } from "./text-fit.js";
import type { Theme } from "./theme.js";

export { shortenNames, visibleWidth } from "./text-fit.js";

/** At most this many recent events are shown. */
const MAX_EVENTS = 4;
/** Widest frame drawn, whatever the terminal. */
const MAX_WIDTH = 80;

// ---------------------------------------------------------------------------------------------
// Sections

// The columns left out first on a narrow terminal are the counters the final report repeats
// (redel, ooo, dup, dlx; a consumer's instances, queue, retries and breaker), then the flow
// that only the live view shows (unack, out/s, in/s; a consumer's state). Names, depth,
// processed and failed stay.

const warnIfNonZero =
  (get: (r: QueueRow) => number) =>
  (r: QueueRow, theme: Theme): Paint | undefined =>
    get(r) > 0 ? theme.warn : undefined;

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
  // Only when a consumer checks a schema: the contract's violations so far.
  const contracts = consumers.some((c) => c.violations !== undefined)
    ? [
        numberColumn("invalid", 7, (r: ConsumerRow) => r.violations ?? 0, {
          paint: (r: ConsumerRow, t: Theme) => ((r.violations ?? 0) > 0 ? t.error : undefined),
        }),
      ]
    : [];
  return [
    nameColumn("consumer", consumers, (r) => r.name),
    { ...nameColumn("queue", consumers, (r) => r.queue), drop: 2 },
    numberColumn("inst", 4, (r) => r.instances, { drop: 1 }),
    numberColumn("processed", 9, (r) => r.processed),
    numberColumn("failed", 6, (r) => r.failed, {
      paint: (r, t) => (r.failed > 0 ? t.error : undefined),
    }),
    numberColumn("retried", 7, (r) => r.retried, { drop: 3 }),
    ...contracts,
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
 * The line under the header, when there is anything to say: faults (and those in effect),
 * reconnects, blocked time, and the delivery checker's counts so far.
 */
function troubleLine(s: Snapshot, theme: Theme, width: number): string | undefined {
  const parts = troubleParts(s, theme);
  return parts.length === 0 ? undefined : fitLine(parts.join(" · "), width);
}

function troubleParts(s: Snapshot, theme: Theme): string[] {
  const out: string[] = [];
  if (s.faults) {
    const now = s.faults.now.map(clean);
    out.push(
      theme.warn(`faults ${count(s.faults.count)}${now.length ? ` (now: ${now.join(", ")})` : ""}`),
    );
  }
  if (s.reconnects) out.push(theme.warn(`reconnected ${count(s.reconnects)}`));
  if (s.blockedMs) out.push(theme.warn(`blocked ${elapsed(s.blockedMs)}`));
  const c = s.checker;
  if (c && (s.faults || c.duplicated > 0 || c.recovered > 0)) {
    const dup = c.duplicated > 0 ? theme.error(`dup ${count(c.duplicated)}`) : "dup 0";
    out.push(
      `checker ok ${count(c.ok)} · ${dup} · recovered ${count(c.recovered)} · waiting ${count(c.waiting)}`,
    );
  }
  return out;
}

/** A table of a frame: its header line and rows, and what its rows are called when cut. */
interface Table {
  noun: string;
  lines: string[];
}

/** How much of each part a frame shows. */
interface Fit {
  /** Rows shown of each table (0: a one-line summary, -1: left out). */
  rows: number[];
  events: number;
  /** Blank lines between the parts (0 or 1). */
  blank: number;
}

/** Lines a table takes with `n` of its `all` rows shown: a line "… N more" when cut. */
function tableHeight(n: number, all: number): number {
  if (n < 0) return 0;
  if (n === 0) return 1;
  return 1 + n + (n < all ? 1 : 0);
}

function frameHeight(tables: Table[], fit: Fit): number {
  return tables.reduce(
    (sum, t, i) => {
      const h = tableHeight(fit.rows[i]!, t.lines.length - 1);
      return sum + (h > 0 ? fit.blank + h : 0);
    },
    1 + (fit.events > 0 ? fit.blank + fit.events : 0),
  );
}

/**
 * What fits in `height` lines: the blank lines go first, then the oldest events, then table
 * rows from the end, the longer table first; the header line always stays.
 */
function fitHeight(tables: Table[], events: number, height: number): Fit {
  const fit: Fit = { rows: tables.map((t) => t.lines.length - 1), events, blank: 1 };
  while (frameHeight(tables, fit) > height) {
    if (fit.blank > 0) fit.blank = 0;
    else if (fit.events > 0) fit.events--;
    else {
      let longest = -1;
      for (const [i, n] of fit.rows.entries()) {
        if (n >= 0 && (longest < 0 || n >= fit.rows[longest]!)) longest = i;
      }
      if (longest < 0) break;
      fit.rows[longest]!--;
    }
  }
  // "… 1 more" takes the line its row would: show the row.
  for (const [i, t] of tables.entries()) {
    if (fit.rows[i]! > 0 && fit.rows[i] === t.lines.length - 2) fit.rows[i]!++;
  }
  return fit;
}

/** A table's lines with `n` rows shown, ending in "… N more queues" when cut. */
function tableLines(t: Table, n: number, theme: Theme, width: number): string[] {
  const all = t.lines.length - 1;
  const lines = n > 0 ? t.lines.slice(0, 1 + n) : [];
  if (n < all) {
    const rest = `${count(all - n)}${n > 0 ? " more" : ""} ${t.noun}${all - n === 1 ? "" : "s"}`;
    lines.push(theme.dim(truncate(`${ELLIPSIS} ${rest}`, width)));
  }
  return lines;
}

/**
 * One frame of the dashboard: at most `height` lines, each at most `width` visible columns
 * (escape codes do not count). Pure: the same snapshot, theme and size give the same lines.
 *
 * When the frame is taller than `height`, the blank lines between its parts go first, then the
 * oldest events, then table rows from the end, the longer table first, each cut table ending
 * in a line "… N more queues"; a table with no row left becomes "… N queues", then goes. The
 * header line always stays, and the line of faults and checker counts under it when it has one.
 */
export function renderDashboard(
  s: Snapshot,
  theme: Theme,
  width = MAX_WIDTH,
  height = Number.POSITIVE_INFINITY,
): string[] {
  const w = Math.max(1, Math.floor(width));
  const h = Math.max(1, Math.floor(height));
  const tables: Table[] = [
    { noun: "queue", lines: renderTable(queueColumns(s.queues), s.queues, theme, w) },
    { noun: "consumer", lines: renderTable(consumerColumns(s.consumers), s.consumers, theme, w) },
  ].filter((t) => t.lines.length > 1);
  const events = s.events
    .slice(-MAX_EVENTS)
    .map((e) => theme.dim(truncate(`${theme.symbols.info} ${clean(e)}`, w)));
  const trouble = h > 1 ? troubleLine(s, theme, w) : undefined;
  const fit = fitHeight(tables, events.length, trouble === undefined ? h : h - 1);
  const lines = [headerLine(s, theme, w)];
  if (trouble !== undefined) lines.push(trouble);
  for (const [i, t] of tables.entries()) {
    const n = fit.rows[i]!;
    if (n < 0) continue;
    if (fit.blank > 0) lines.push("");
    lines.push(...tableLines(t, n, theme, w));
  }
  if (fit.events > 0) {
    if (fit.blank > 0) lines.push("");
    lines.push(...events.slice(-fit.events));
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
  if (s.faults) parts.push(`faults ${count(s.faults.count)}`);
  if (s.reconnects) parts.push(`reconnected ${count(s.reconnects)}`);
  if (s.blockedMs) parts.push(`blocked ${elapsed(s.blockedMs)}`);
  const checked = s.consumers.filter((c) => c.violations !== undefined);
  if (checked.length > 0)
    parts.push(`invalid ${count(checked.reduce((a, c) => a + (c.violations ?? 0), 0))}`);
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

/**
 * The live dashboard of `eventlab play`: frames that fit the terminal and do not jitter, drawn
 * in place on a (fake) terminal at most 4 times a second, one write per frame, and a summary
 * line for when there is no terminal.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ConsumerRow, QueueRow, Snapshot } from "../../src/lab/types.js";
import { LiveView, renderDashboard, summaryLine, visibleWidth } from "../../src/ui/dashboard.js";
import { createTheme } from "../../src/ui/theme.js";
import { memoryStream } from "../helpers/cli.js";

const plain = createTheme(false);
const colour = createTheme(true);

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
/** Width of text made of one-column characters, measured without the module under test. */
const asciiWidth = (s: string) => [...s.replace(ANSI, "")].length;

function queue(name: string, over: Partial<QueueRow> = {}): QueueRow {
  return {
    name,
    depth: 0,
    inRate: 0,
    outRate: 0,
    unacked: 0,
    redelivered: 0,
    deadLettered: 0,
    duplicates: 0,
    outOfOrder: 0,
    ...over,
  };
}

function consumer(name: string, queueName: string, over: Partial<ConsumerRow> = {}): ConsumerRow {
  return {
    name,
    queue: queueName,
    instances: 1,
    processed: 0,
    failed: 0,
    retried: 0,
    breaker: "closed",
    state: "running",
    ...over,
  };
}

function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return {
    scenario: "orders-demo",
    elapsedMs: 12_040,
    durationMs: 60_000,
    published: 1_204,
    planned: 6_000,
    confirmed: 1_198,
    queues: [
      queue("orders.inventory", {
        depth: 42,
        inRate: 98.5,
        outRate: 95.2,
        unacked: 10,
        redelivered: 7,
        duplicates: 2,
      }),
      queue("orders.billing", { depth: 3, inRate: 98.5, outRate: 99.1, unacked: 5, outOfOrder: 1 }),
      queue("orders.billing.retry.5s", {
        depth: undefined,
        inRate: 4.2,
        outRate: 3.9,
        unacked: undefined,
      }),
      queue("orders.dead-letter", { depth: 12, inRate: 0.8, deadLettered: 12 }),
    ],
    consumers: [
      consumer("inventory-worker", "orders.inventory", { instances: 2, processed: 1_131 }),
      consumer("billing", "orders.billing", {
        processed: 1_150,
        failed: 48,
        retried: 36,
        breaker: "open",
        state: "paused",
      }),
      consumer("flaky-audit", "orders.inventory", {
        processed: 311,
        breaker: "half-open",
        state: "crashed",
      }),
    ],
    events: [
      "10.2 s billing: breaker OPEN after 5 failures",
      "10.9 s flaky-audit #1 crashed at message 312",
      "11.5 s billing: 12 messages dead-lettered",
      "11.8 s billing: breaker half-open",
      "12.0 s billing: breaker OPEN again",
    ],
    ...over,
  };
}

/** Same names, every number huge: what a long run at full speed looks like. */
function bigNumbers(s: Snapshot): Snapshot {
  return {
    ...s,
    elapsedMs: 3_599_000,
    published: 123_456_789,
    planned: 999_999_999,
    confirmed: 123_456_000,
    queues: s.queues.map((q) => ({
      ...q,
      depth: 98_765_432,
      inRate: 1_234_567.8,
      outRate: 987_654.3,
      unacked: 1_000_000,
      redelivered: 12_345_678,
      deadLettered: 99_999,
      duplicates: 123_456,
      outOfOrder: 7_654_321,
    })),
    consumers: s.consumers.map((c) => ({
      ...c,
      instances: 12_345,
      processed: 9_876_543_210,
      failed: 1_234_567,
      retried: 76_543_210,
    })),
  };
}

const LONG = `orders.${"very-long-segment.".repeat(12)}end`;

describe("renderDashboard", () => {
  it("keeps every line within 80 visible columns, with long names and big numbers", () => {
    const s = bigNumbers(
      snapshot({
        scenario: `scenario-${"x".repeat(150)}`,
        queues: [queue(LONG), queue(`${LONG}.retry`), queue("q")],
        consumers: [consumer(`worker-${"w".repeat(90)}`, LONG), consumer("c", "q")],
        events: [`something happened: ${"e".repeat(200)}`],
      }),
    );
    for (const theme of [plain, colour]) {
      const lines = renderDashboard(s, theme);
      expect(lines.length).toBeGreaterThan(8);
      for (const line of lines) expect(asciiWidth(line)).toBeLessThanOrEqual(80);
    }
    const text = renderDashboard(s, plain).join("\n");
    // Long names are cut with an ellipsis, and the short ones are whole.
    expect(text).toMatch(/^orders\.very-long-seg[^\n ]*… +98\.8M/m);
    expect(text).not.toContain("end ");
    expect(text).toMatch(/^q +/m);
    // Big numbers are shortened to fit their column instead of widening it.
    expect(text).toContain("98.8M");
    expect(text).toContain("1.2M");
    expect(text).not.toContain("98,765,432");
  });

  it("keeps within narrower widths too, and counts wide characters as two columns", () => {
    expect(visibleWidth("\x1b[31m日本\x1b[39m")).toBe(4);
    const s = snapshot({
      queues: [queue("注文.在庫.再試行.五秒.注文.在庫.再試行.五秒"), queue("orders")],
      consumers: [consumer("在庫ワーカー在庫ワーカー在庫ワーカー", "注文.在庫.再試行.五秒")],
    });
    for (const width of [80, 60, 40]) {
      const lines = renderDashboard(s, colour, width);
      for (const line of lines) expect(visibleWidth(line)).toBeLessThanOrEqual(width);
    }
  });

  it("shows the header, both tables and at most four recent events, newest last", () => {
    const lines = renderDashboard(snapshot(), plain);
    expect(lines[0]).toBe(
      "orders-demo · 12.04 s of 1 min 0 s · published 1,204/6,000 · confirmed 1,198",
    );
    const text = lines.join("\n");
    expect(text).toMatch(/^queue +depth +in\/s +out\/s +unack +redel +dlx +dup +ooo$/m);
    expect(text).toMatch(/^consumer +queue +inst +processed +failed +retried +breaker +state/m);
    expect(text).toMatch(/^orders\.billing\.retry\.5s +– +4\.2 +3\.9 +– +0 +0 +0 +0$/m);
    expect(text).toMatch(/^billing +orders\.billing +1 +1,150 +48 +36 +OPEN +paused/m);
    expect(text).toMatch(/^flaky-audit +orders\.inventory +1 +311 +0 +0 +half-open +crashed/m);
    const events = lines.filter((l) => l.startsWith("›"));
    expect(events).toEqual([
      "› 10.9 s flaky-audit #1 crashed at message 312",
      "› 11.5 s billing: 12 messages dead-lettered",
      "› 11.8 s billing: breaker half-open",
      "› 12.0 s billing: breaker OPEN again",
    ]);
    expect(lines.at(-1)).toBe("› 12.0 s billing: breaker OPEN again");
  });

  it("leaves out the duration when there is none", () => {
    const [header] = renderDashboard(snapshot({ durationMs: undefined }), plain);
    expect(header).toBe("orders-demo · 12.04 s · published 1,204/6,000 · confirmed 1,198");
  });

  it("keeps column positions between frames whatever the values", () => {
    const small = renderDashboard(snapshot(), colour);
    const big = renderDashboard(bigNumbers(snapshot()), colour);
    expect(big.length).toBe(small.length);
    const tables = (lines: string[]) =>
      lines
        .map((l) => l.replace(ANSI, ""))
        .filter((l, i) => i > 0 && l !== "" && !l.startsWith("›"));
    const [a, b] = [tables(small), tables(big)];
    expect(a).toHaveLength(9);
    for (let i = 0; i < a.length; i++) expect(visibleWidth(b[i]!)).toBe(visibleWidth(a[i]!));
    // Headers are identical, and every value ends where its header ends (right-aligned).
    const queueHeader = a[0]!;
    expect(b[0]).toBe(queueHeader);
    const depthEnd = queueHeader.indexOf("depth") + "depth".length;
    const oooEnd = queueHeader.indexOf("ooo") + "ooo".length;
    for (const rows of [a, b]) {
      for (const row of rows.slice(1, 5)) {
        expect(row.slice(0, depthEnd).trimEnd()).toHaveLength(depthEnd);
        expect(row[depthEnd]).toBe(" ");
        expect(row.slice(0, oooEnd).trimEnd()).toHaveLength(oooEnd);
      }
    }
    const consumerHeader = a[5]!;
    expect(b[5]).toBe(consumerHeader);
    const breakerAt = consumerHeader.indexOf("breaker");
    for (const rows of [a, b]) {
      for (const row of rows.slice(6, 9)) {
        expect(row[breakerAt - 1]).toBe(" ");
        expect(row.slice(breakerAt)).toMatch(/^(closed|OPEN|half-open)/);
      }
    }
  });

  it("paints an open breaker in the warn colour and dims the events", () => {
    const lines = renderDashboard(snapshot(), colour);
    const billing = lines.find((l) => l.replace(ANSI, "").startsWith("billing "))!;
    expect(billing).toContain(colour.warn("OPEN     "));
    expect(billing).not.toContain(colour.warn("closed"));
    const events = lines.filter((l) => l.replace(ANSI, "").startsWith("›"));
    expect(events).toHaveLength(4);
    for (const e of events) expect(e).toBe(colour.dim(e.replace(ANSI, "")));
  });

  it("has no escape codes without colour (NO_COLOR)", () => {
    const s = bigNumbers(snapshot());
    expect(renderDashboard(s, colour).join("\n")).toContain("\x1b[");
    expect(renderDashboard(s, plain).join("\n")).not.toContain("\x1b");
  });

  it("shows control characters in names escaped, so they cannot break the frame", () => {
    const lines = renderDashboard(
      snapshot({ queues: [queue("bad\nname\x1b[2J")], events: ["oops\r\nagain"] }),
      plain,
    );
    const text = lines.join("\n");
    expect(text).toContain("bad\\x0aname\\x1b[2J");
    expect(text).toContain("› oops\\x0d\\x0aagain");
    expect(text).not.toContain("\x1b");
    expect(text).not.toContain("\r");
  });
});

describe("summaryLine", () => {
  it("sums what was consumed, failed, dead-lettered, duplicated and out of order", () => {
    expect(summaryLine(snapshot())).toBe(
      "12.04 s of 1 min 0 s · published 1,204/6,000 · consumed 2,592 · failed 48 · dlx 12 · dup 2 · ooo 1 · breaker open: billing · flaky-audit crashed",
    );
  });

  it("is short when all is well", () => {
    const s = snapshot({
      durationMs: undefined,
      elapsedMs: 5_000,
      queues: [queue("a", { duplicates: 0 })],
      consumers: [consumer("w", "a", { processed: 110 })],
    });
    expect(summaryLine(s)).toBe(
      "5.00 s · published 1,204/6,000 · consumed 110 · failed 0 · dlx 0 · dup 0 · ooo 0",
    );
  });
});

describe("LiveView on a terminal", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A fake 80-column terminal that records each write and when it happened. */
  function terminal(columns = 80) {
    const stream = memoryStream(true);
    stream.columns = columns;
    const writes: { at: number; text: string }[] = [];
    const write = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      writes.push({ at: Date.now(), text: String(chunk) });
      return write(chunk, ...rest);
    }) as typeof stream.write;
    return { stream, writes };
  }

  /** The lines a write draws: text between cursor moves, each ended by clear-to-end-of-line. */
  const drawnLines = (text: string) =>
    text
      .split("\x1b[K\n")
      .slice(0, -1)
      .map((l) => l.replace(/^(\x1b\[\?25l|\x1b\[\d+F)/, ""));

  it("draws at most 4 frames a second however many updates, latest snapshot in each", () => {
    const { stream, writes } = terminal();
    const view = new LiveView(stream, plain);
    const start = Date.now();
    for (let i = 0; i < 100; i++) {
      view.update(snapshot({ published: i }));
      vi.advanceTimersByTime(20);
    }
    // Over 2 s: a frame at once, then one every 250 ms while updates keep coming.
    expect(writes.length).toBeGreaterThanOrEqual(8);
    expect(writes.length).toBeLessThanOrEqual(9);
    for (let i = 1; i < writes.length; i++) {
      expect(writes[i]!.at - writes[i - 1]!.at).toBeGreaterThanOrEqual(250);
    }
    for (const w of writes) {
      const inOneSecond = writes.filter((x) => x.at >= w.at && x.at < w.at + 1000);
      expect(inOneSecond.length).toBeLessThanOrEqual(4);
    }
    // Each frame shows the newest snapshot at the time it was drawn.
    for (const w of writes) {
      // Updates come at start + 20·i; a frame due at the same instant as an update is drawn first.
      const newest = w.at === start ? 0 : Math.ceil((w.at - start) / 20) - 1;
      expect(w.text).toContain(`published ${newest}/6,000`);
    }
    view.stop();
  });

  it("draws the latest of several quick updates, once", () => {
    const { stream, writes } = terminal();
    const view = new LiveView(stream, plain);
    view.update(snapshot({ published: 1 }));
    view.update(snapshot({ published: 2 }));
    view.update(snapshot({ published: 3 }));
    expect(writes).toHaveLength(1);
    expect(writes[0]!.text).toContain("published 1/");
    vi.advanceTimersByTime(250);
    expect(writes).toHaveLength(2);
    expect(writes[1]!.text).toContain("published 3/");
    expect(writes[1]!.text).not.toContain("published 2/");
    // Nothing new: no redraw, and the timer is not kept going.
    vi.advanceTimersByTime(2_000);
    expect(writes).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
    view.stop();
  });

  it("writes each frame at once, moving up over exactly the previous frame", () => {
    const { stream, writes } = terminal();
    const view = new LiveView(stream, plain);
    const frames = [
      snapshot({ events: [] }),
      snapshot({ events: ["a", "b", "c", "d"] }),
      snapshot({ events: ["e"] }),
      snapshot({ events: ["e", "f"] }),
    ];
    for (const s of frames) {
      view.update(s);
      vi.advanceTimersByTime(250);
    }
    expect(writes).toHaveLength(4);
    let previous = 0;
    for (const [i, w] of writes.entries()) {
      const expected = renderDashboard(frames[i]!, plain, 79);
      expect(drawnLines(w.text)).toEqual(expected);
      if (i === 0) {
        expect(w.text.startsWith("\x1b[?25l")).toBe(true);
        expect(w.text).not.toMatch(/\x1b\[\d+[AF]/);
      } else {
        expect(w.text.startsWith(`\x1b[${previous}F`)).toBe(true);
        expect(w.text.match(/\x1b\[\d+[AF]/g)).toHaveLength(1);
      }
      // No full-screen clear; leftover lines cleared only when the frame got shorter.
      expect(w.text).not.toContain("\x1b[2J");
      expect(w.text.endsWith("\x1b[J")).toBe(expected.length < previous);
      previous = expected.length;
    }
    expect(drawnLines(writes[1]!.text).length).toBe(drawnLines(writes[0]!.text).length + 5);
    view.stop();
  });

  it("stop() draws the final frame, leaves it on screen and shows the cursor", () => {
    const { stream, writes } = terminal();
    const view = new LiveView(stream, plain);
    view.update(snapshot({ published: 10 }));
    view.update(snapshot({ published: 20 }));
    expect(writes).toHaveLength(1);
    const firstLines = drawnLines(writes[0]!.text).length;
    view.stop();
    expect(writes).toHaveLength(2);
    const last = writes[1]!.text;
    expect(last.startsWith(`\x1b[${firstLines}F`)).toBe(true);
    expect(last).toContain("published 20/6,000");
    // The frame stays: after its last line only the cursor is shown again, nothing moves up.
    expect(last.endsWith("\x1b[K\n\x1b[?25h")).toBe(true);
    expect(stream.text().split("\x1b[?25l")).toHaveLength(2);
    expect(stream.text().split("\x1b[?25h")).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
    // Stopped is stopped: later updates and a second stop write nothing.
    view.update(snapshot({ published: 30 }));
    view.stop();
    vi.advanceTimersByTime(1_000);
    expect(writes).toHaveLength(2);
  });

  it("uses the terminal's width, one column short, at most 80", () => {
    for (const [columns, max] of [
      [60, 59],
      [200, 80],
    ] as const) {
      const { stream, writes } = terminal(columns);
      const view = new LiveView(stream, colour);
      view.update(bigNumbers(snapshot({ queues: [queue(LONG)] })));
      view.stop();
      const lines = writes.flatMap((w) => drawnLines(w.text));
      expect(lines.length).toBeGreaterThan(0);
      expect(Math.max(...lines.map(asciiWidth))).toBe(max);
    }
  });

  it("does not keep the process alive with its timer", () => {
    const { stream } = terminal();
    const view = new LiveView(stream, plain);
    const spy = vi.spyOn(globalThis, "setTimeout");
    view.update(snapshot());
    const timer = spy.mock.results[0]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    spy.mockRestore();
    view.stop();
  });

  it("draws nothing on a stream that is not a terminal", () => {
    const stream = memoryStream(false);
    const view = new LiveView(stream, plain);
    view.update(snapshot());
    vi.advanceTimersByTime(1_000);
    view.stop();
    expect(stream.text()).toBe("");
    expect(vi.getTimerCount()).toBe(0);
  });
});

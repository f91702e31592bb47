/**
 * The live dashboard of `eventlab play`: frames that fit the terminal and do not jitter, drawn
 * in place on a (fake) terminal at most 4 times a second, one write per frame, and a summary
 * line for when there is no terminal.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ConsumerRow, QueueRow, Snapshot } from "../../src/lab/types.js";
import {
  LiveView,
  renderDashboard,
  shortenNames,
  summaryLine,
  visibleWidth,
} from "../../src/ui/dashboard.js";
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
  it("a second line under the header: faults (those in effect now), reconnects, blocked time, the checker", () => {
    const s = snapshot({
      faults: { count: 2, now: ["pause worker for 1.00 s"] },
      reconnects: 3,
      blockedMs: 1500,
      checker: { ok: 120, duplicated: 1, recovered: 2, waiting: 40 },
    });
    const lines = renderDashboard(s, plain, 200);
    expect(lines[1]).toBe(
      "faults 2 (now: pause worker for 1.00 s) · reconnected 3 · blocked 1.50 s · checker ok 120 · dup 1 · recovered 2 · waiting 40",
    );
    // Without faults and without anything to say, no such line.
    expect(renderDashboard(snapshot(), plain, 200)[1]).toBe("");
    // It counts against the height: the frame still fits.
    for (const h of [2, 4, 8])
      expect(renderDashboard(s, plain, 80, h).length).toBeLessThanOrEqual(h);
    expect(renderDashboard(s, plain, 80, 2)[1]).toContain("faults 2");
  });

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
    // Long names are shortened with an ellipsis, and stay apart: these two differ only at their
    // end, so their ends are kept. The short one is whole.
    expect(text).toMatch(/^…[^\n ]*segment\.end +98\.8M/m);
    expect(text).toMatch(/^…[^\n ]*segment\.end\.retry +98\.8M/m);
    expect(text).toMatch(/^q +98\.8M/m);
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

  it("counts messages from before the run apart, in the header and the summary line", () => {
    const s = snapshot({ durationMs: undefined, preexisting: 13 });
    expect(renderDashboard(s, plain)[0]).toBe(
      "orders-demo · 12.04 s · published 1,204/6,000 · confirmed 1,198 · preexisting 13",
    );
    expect(summaryLine(s)).toContain("consumed 2,592 · failed 48 · preexisting 13 · dlx 12");
    expect(summaryLine(snapshot())).not.toContain("preexisting");
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

// ---------------------------------------------------------------------------------------------
// Small terminals

/** The queues and consumers of the orders preset, as `eventlab play orders` shows them. */
const ORDERS_QUEUES = ["shop.inventory", "shop.billing", "shop.shipping", "shop.notifications"];

function ordersSnapshot(over: Partial<Snapshot> = {}): Snapshot {
  return snapshot({
    scenario: "orders",
    elapsedMs: 3_030,
    durationMs: 30_000,
    published: 95,
    planned: 105,
    confirmed: 93,
    queues: ORDERS_QUEUES.map((q, i) => queue(q, { depth: i * 3, inRate: 20.9, outRate: 19.5 })),
    consumers: [
      consumer("inventory-worker", "shop.inventory", { processed: 59 }),
      consumer("billing", "shop.billing", { processed: 28 }),
      consumer("shipping-service", "shop.shipping", { processed: 23, failed: 13, retried: 12 }),
      consumer("notification-service", "shop.notifications", { instances: 2, processed: 74 }),
    ],
    events: ["3.0s fault: cut notification-service"],
    ...over,
  });
}

const ORDERS_HEADER = /^orders · /;

/** The names in the first column of the queue table of a frame (shown rows only). */
function queueNames(lines: string[]): string[] {
  const plainLines = lines.map((l) => l.replace(ANSI, ""));
  const start = plainLines.findIndex((l) => /^queue +depth/.test(l));
  expect(start).toBeGreaterThanOrEqual(0);
  const names: string[] = [];
  for (const line of plainLines.slice(start + 1)) {
    if (line === "" || line.startsWith("consumer ") || line.startsWith("… ")) break;
    names.push(line.split(" ")[0]!);
  }
  return names;
}

describe("shortenNames", () => {
  const cases = [
    {
      why: "names that fit stay whole",
      names: ["shop.billing", "shop.inventory"],
      width: 14,
      shown: ["shop.billing", "shop.inventory"],
    },
    {
      why: "a shared start tells nothing apart: keep the end, from a word",
      names: ORDERS_QUEUES,
      width: 10,
      shown: ["…inventory", "…billing", "…shipping", "…fications"],
    },
    {
      why: "the issue's width, where every name used to become shop…",
      names: ORDERS_QUEUES,
      width: 5,
      shown: ["…tory", "…ling", "…ping", "…ions"],
    },
    {
      why: "retry queues of one queue: their last words",
      names: ["shop.shipping", "shop.shipping.retry.1", "shop.shipping.retry.2", "shop.parked"],
      width: 10,
      shown: ["…shipping", "…retry.1", "…retry.2", "…parked"],
    },
    {
      why: "names that differ early: cut the end, as people read",
      names: ["inventory-worker", "billing", "shipping-service", "notification-service"],
      width: 11,
      shown: ["inventory-…", "billing", "shipping-s…", "notificati…"],
    },
    {
      why: "a shared end, where keeping the end would make them equal: cut the end",
      names: ["shop.inventory.dead", "shop.billing.dead"],
      width: 8,
      shown: ["shop.in…", "shop.bi…"],
    },
    {
      why: "differences at both ends: keep both ends",
      names: ["eu.orders.paid", "us.orders.paid", "eu.orders.created"],
      width: 8,
      shown: ["eu.…paid", "us.…paid", "eu.…ated"],
    },
    {
      why: "a word too short to start from is not a reason to drop the rest",
      names: ["orders.eu.created.v1", "orders.eu.paid.v1"],
      width: 10,
      shown: ["…reated.v1", "…paid.v1"],
    },
    {
      why: "wide characters count two columns",
      names: ["在庫.注文.再試行", "在庫.注文.五秒"],
      width: 9,
      shown: ["…再試行", "…五秒"],
    },
  ];
  for (const { why, names, width, shown } of cases) {
    it(`${why} (${width} columns)`, () => {
      const out = shortenNames(names, width);
      expect(out).toEqual(shown);
      for (const n of out) expect(visibleWidth(n)).toBeLessThanOrEqual(width);
      expect(new Set(out).size).toBe(new Set(names).size);
    });
  }

  it("keeps names apart at every width, as far as the width allows", () => {
    const names = [...ORDERS_QUEUES, "shop.shipping.retry.1", "shop.shipping.retry.2"];
    // From 5 columns: a column of names is never narrower than its header ("queue").
    for (let width = 5; width <= 22; width++) {
      const out = shortenNames(names, width);
      for (const n of out) expect(visibleWidth(n)).toBeLessThanOrEqual(width);
      expect(new Set(out).size, `width ${width}: ${out.join(" ")}`).toBe(names.length);
    }
  });
});

describe("renderDashboard in a small space", () => {
  it.each([60, 80, 120])(
    "at %i columns the orders queues keep names that tell them apart",
    (columns) => {
      const width = Math.min(80, columns - 1);
      for (const s of [ordersSnapshot(), bigNumbers(ordersSnapshot())]) {
        const lines = renderDashboard(s, colour, width);
        for (const line of lines) expect(visibleWidth(line)).toBeLessThanOrEqual(width);
        const names = queueNames(lines);
        expect(names).toHaveLength(ORDERS_QUEUES.length);
        expect(new Set(names).size).toBe(ORDERS_QUEUES.length);
        // Each shown name is its queue's, whole or with its distinguishing end.
        for (const [i, n] of names.entries()) {
          expect(ORDERS_QUEUES[i]!.endsWith(n.replace(/^…/, ""))).toBe(true);
        }
      }
    },
  );

  it("shrinks number columns before names, then leaves out the least watched columns", () => {
    const header = (width: number) =>
      renderDashboard(ordersSnapshot(), plain, width)
        .filter((l) => /^(queue|consumer) /.test(l))
        .map((l) => l.split(/ +/).filter((w) => w !== ""));
    // 80 columns: everything, at natural widths.
    expect(header(79)).toEqual([
      ["queue", "depth", "in/s", "out/s", "unack", "redel", "dlx", "dup", "ooo"],
      ["consumer", "queue", "inst", "processed", "failed", "retried", "breaker", "state"],
    ]);
    expect(renderDashboard(ordersSnapshot(), plain, 79)).toContain(
      "shop.notifications        9   20.9   19.5      0      0     0     0     0",
    );
    // 60 columns: every queue column, narrower; the consumers' queue and instances go.
    expect(header(59)).toEqual([
      ["queue", "depth", "in/s", "out/s", "unack", "redel", "dlx", "dup", "ooo"],
      ["consumer", "processed", "failed", "retried", "breaker", "state"],
    ]);
    // 40 columns: what the final report repeats goes first.
    expect(header(39)).toEqual([
      ["queue", "depth", "in/s", "out/s", "unack"],
      ["consumer", "processed", "failed", "state"],
    ]);
  });

  it.each([
    {
      rows: 12,
      shape: [
        "orders",
        "queue",
        "shop.inventory",
        "shop.billing",
        "shop.shipping",
        "… 4 more queues",
        "consumer",
        "inventory-worker",
        "billing",
        "shipping-service",
        "notification-se…",
      ],
    },
    {
      rows: 8,
      shape: [
        "orders",
        "queue",
        "shop.inventory",
        "… 6 more queues",
        "consumer",
        "inventory-worker",
        "… 3 more consumers",
      ],
    },
    { rows: 6, shape: ["orders", "queue", "shop.inventory", "… 6 more queues", "… 4 consumers"] },
    { rows: 4, shape: ["orders", "… 7 queues", "… 4 consumers"] },
    { rows: 2, shape: ["orders"] },
  ])("fits a frame into $rows rows: the header, then rows, then counts", ({ rows, shape }) => {
    const s = ordersSnapshot({
      queues: [
        ...ordersSnapshot().queues,
        queue("shop.shipping.retry.1"),
        queue("shop.shipping.retry.2"),
        queue("shop.shipping.parked"),
      ],
    });
    const full = renderDashboard(s, plain, 79);
    expect(full.length).toBeGreaterThan(rows);
    const lines = renderDashboard(s, plain, 79, rows - 1);
    // Each line by its first word (whole for the counts): which lines made it into the frame.
    expect(lines.map((l) => (l.startsWith("… ") ? l : l.split(" ")[0]))).toEqual(shape);
    expect(lines[0]).toBe(full[0]);
    // The rows shown are the same as in the full frame: same names, same columns.
    for (const line of lines.filter((l) => !l.startsWith("… "))) expect(full).toContain(line);
  });

  it("keeps rows over events, and events over blank lines", () => {
    const s = ordersSnapshot({ events: ["e1", "e2", "e3", "e4"] });
    const full = renderDashboard(s, plain, 79);
    expect(full).toHaveLength(18);
    // Three lines short: the three blank lines go, and the four events stay.
    const minus2 = renderDashboard(s, plain, 79, 15);
    expect(minus2).not.toContain("");
    expect(minus2.slice(-4)).toEqual(["› e1", "› e2", "› e3", "› e4"]);
    // Shorter: the oldest events go before any table row.
    expect(renderDashboard(s, plain, 79, 13).slice(-3)).toEqual([
      "notification-se… …notifications    2        74      0       0 closed    running",
      "› e3",
      "› e4",
    ]);
    expect(renderDashboard(s, plain, 79, 11).filter((l) => l.startsWith("›"))).toHaveLength(0);
    expect(renderDashboard(s, plain, 79, 11)).toHaveLength(11);
    expect(renderDashboard(s, plain, 79, 11).join("\n")).not.toContain("more");
    // 120×12: header, both tables whole.
    expect(renderDashboard(s, plain, 79, 11)).toEqual(
      full.filter((l) => l !== "" && !l.startsWith("›")),
    );
  });
});

/**
 * A small terminal emulator: a rows × columns screen and the lines scrolled off its top, fed
 * with what the live view writes. It knows what the view uses: text, newline (as a terminal
 * shows it, back to the first column), cursor up to the start of a line (ESC[nF), erase to the
 * end of the line (ESC[K) and below (ESC[J); other sequences (colour, cursor shown) change no
 * cell. Writing past the last row scrolls; a resize rewraps the lines, as most terminals do.
 */
class FakeTerminal {
  /** Lines scrolled off the top, oldest first. */
  history: (string | null)[][] = [];
  screen: (string | null)[][];
  row = 0;
  col = 0;

  constructor(
    public rows: number,
    public columns: number,
  ) {
    this.screen = Array.from({ length: rows }, () => this.blank());
  }

  private blank(): (string | null)[] {
    return Array<string | null>(this.columns).fill(null);
  }

  private lineFeed(): void {
    if (this.row < this.rows - 1) this.row++;
    else {
      this.history.push(this.screen.shift()!);
      this.screen.push(this.blank());
    }
  }

  write(text: string): void {
    for (const [token, params = "", command] of text.matchAll(/\x1b\[([0-9;?]*)([@-~])|\n|./gsu)) {
      if (command !== undefined) {
        const n = Number(params || "1");
        if (command === "F") [this.row, this.col] = [Math.max(0, this.row - n), 0];
        else if (command === "A") this.row = Math.max(0, this.row - n);
        else if (command === "K") this.screen[this.row]!.fill(null, this.col);
        else if (command === "J") {
          this.screen[this.row]!.fill(null, this.col);
          for (let r = this.row + 1; r < this.rows; r++) this.screen[r] = this.blank();
        }
        continue;
      }
      if (token === "\n") {
        this.col = 0;
        this.lineFeed();
        continue;
      }
      if (this.col >= this.columns) {
        this.col = 0;
        this.lineFeed();
      }
      this.screen[this.row]![this.col++] = token;
    }
  }

  /**
   * Change size: each line is rewrapped to the new width. Terminals differ in what they keep in
   * place: "top" keeps the screen's first line first while the cursor stays on the screen (so
   * the cursor moves down as lines above it grow), "cursor" keeps the cursor on its row and
   * pushes what no longer fits above it off the top (tmux).
   */
  resize(rows: number, columns: number, keep: "top" | "cursor"): void {
    const used = (cells: (string | null)[]) => {
      let n = cells.length;
      while (n > 0 && cells[n - 1] === null) n--;
      return cells.slice(0, n);
    };
    const lines = [...this.history, ...this.screen.slice(0, this.row + 1)].map(used);
    const oldTop = this.history.length;
    const wrapped: (string | null)[][] = [];
    let top = 0;
    let cursor = 0;
    for (const [i, line] of lines.entries()) {
      if (i === oldTop) top = wrapped.length;
      if (i === lines.length - 1) cursor = wrapped.length + Math.floor(this.col / columns);
      for (let at = 0; at === 0 || at < line.length; at += columns) {
        const part = line.slice(at, at + columns);
        wrapped.push([...part, ...Array<null>(columns - part.length).fill(null)]);
      }
    }
    top = keep === "top" ? Math.max(top, cursor - rows + 1) : cursor - Math.min(this.row, rows - 1);
    [this.rows, this.columns] = [rows, columns];
    this.history = wrapped.slice(0, top);
    this.screen = wrapped.slice(top, top + rows);
    while (this.screen.length < rows) this.screen.push(this.blank());
    this.row = cursor - top;
    this.col = Math.min(this.col, columns - 1);
  }

  /** Every line: the scrolled-off ones, then the screen's. */
  text(): string[] {
    return [...this.history, ...this.screen].map((cells) =>
      cells
        .map((c) => c ?? " ")
        .join("")
        .trimEnd(),
    );
  }

  screenText(): string[] {
    return this.screen.map((cells) =>
      cells
        .map((c) => c ?? " ")
        .join("")
        .trimEnd(),
    );
  }
}

describe("LiveView on a small terminal", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A view on a fake terminal of the given size; what it writes is also drawn on `term`. */
  function liveTerminal(columns: number, rows: number) {
    const term = new FakeTerminal(rows, columns);
    const stream = Object.assign(memoryStream(true), { columns, rows });
    const frames: string[][] = [];
    const write = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      const text = String(chunk);
      term.write(text);
      frames.push(
        text
          .split("\x1b[K\n")
          .slice(0, -1)
          .map((l) => l.replace(/^(\x1b\[\?25l|\x1b\[\d+F)/, "")),
      );
      return write(chunk, ...rest);
    }) as typeof stream.write;
    const view = new LiveView(stream, colour);
    return { term, stream, frames, view };
  }

  const headers = (lines: string[]) => lines.filter((l) => ORDERS_HEADER.test(l)).length;

  it.each([
    { columns: 120, rows: 12 },
    { columns: 80, rows: 8 },
    { columns: 80, rows: 40 },
    { columns: 60, rows: 12 },
    { columns: 60, rows: 40 },
    { columns: 120, rows: 40 },
    { columns: 40, rows: 10 },
  ])("at $columns×$rows, 20 redraws leave one frame: no copies above it", ({ columns, rows }) => {
    const { term, frames, view } = liveTerminal(columns, rows);
    // What `eventlab play` prints before the live view.
    term.write("› playing orders from the orders preset on the embedded broker\n");
    for (let i = 0; i < 20; i++) {
      view.update(bigNumbers(ordersSnapshot({ published: i })));
      vi.advanceTimersByTime(250);
    }
    view.stop();
    expect(frames).toHaveLength(21);
    for (const frame of frames) {
      expect(frame.length).toBeLessThanOrEqual(rows - 1);
      for (const line of frame) expect(visibleWidth(line)).toBeLessThan(columns);
    }
    const text = term.text();
    expect(headers(text)).toBe(1);
    expect(headers(term.screenText())).toBe(1);
    expect(text.filter((l) => /^queue +depth/.test(l))).toHaveLength(1);
    // Nothing written before the view was drawn over.
    expect(text.filter((l) => l.startsWith("› playing orders"))).toHaveLength(1);
    // The final frame is on screen, the cursor below it.
    const last = frames.at(-1)!.map((l) => l.replace(ANSI, "").trimEnd());
    expect(term.screenText().slice(term.row - last.length, term.row)).toEqual(last);
  });

  it("assumes 24 rows when the terminal does not say", () => {
    const stream = memoryStream(true);
    const view = new LiveView(stream, plain);
    const many = Array.from({ length: 30 }, (_, i) => queue(`q${i}`));
    view.update(ordersSnapshot({ queues: many }));
    view.stop();
    const written = stream.text().split("\x1b[K\n").length - 1;
    // Two frames (the first, and the final one of stop()), each 23 lines.
    expect(written).toBe(2 * 23);
  });

  it("redraws at once when the terminal is resized, at most every interval", () => {
    const { term, stream, frames, view } = liveTerminal(100, 40);
    view.update(ordersSnapshot());
    expect(frames).toHaveLength(1);
    expect(stream.listenerCount("resize")).toBe(1);
    vi.advanceTimersByTime(250);
    term.resize(40, 50, "top");
    Object.assign(stream, { columns: 50 });
    stream.emit("resize");
    expect(frames).toHaveLength(2);
    expect(Math.max(...frames[1]!.map(visibleWidth))).toBe(49);
    // However many resize events come, one frame per interval.
    stream.emit("resize");
    stream.emit("resize");
    expect(frames).toHaveLength(2);
    vi.advanceTimersByTime(250);
    expect(frames).toHaveLength(3);
    view.stop();
    expect(stream.listenerCount("resize")).toBe(0);
    stream.emit("resize");
    expect(frames).toHaveLength(4);
  });

  const resizes = [
    { keep: "top", to: { columns: 50, rows: 40 }, copies: 0 },
    { keep: "cursor", to: { columns: 50, rows: 40 }, copies: 1 },
    { keep: "top", to: { columns: 80, rows: 12 }, copies: 1 },
    { keep: "cursor", to: { columns: 80, rows: 12 }, copies: 1 },
    { keep: "top", to: { columns: 50, rows: 12 }, copies: 1 },
  ] as const;
  for (const { keep, to, copies } of resizes) {
    const outcome = copies === 0 ? "no copy" : "at most the one copy the resize makes";
    it(`from 100×40 to ${to.columns}×${to.rows}, keeping the ${keep} in place: ${outcome}`, () => {
      const { term, stream, frames, view } = liveTerminal(100, 40);
      term.write("› playing orders\n");
      view.update(ordersSnapshot());
      vi.advanceTimersByTime(250);
      expect(frames[0]!.length).toBeGreaterThan(12);
      // What the terminal pushes off the top on a resize is out of reach of any program: at
      // most that one copy stays in the history.
      term.resize(to.rows, to.columns, keep);
      Object.assign(stream, to);
      stream.emit("resize");
      const afterResize = headers(term.text());
      expect(afterResize).toBeLessThanOrEqual(1 + copies);
      for (let i = 0; i < 20; i++) {
        view.update(ordersSnapshot({ published: i }));
        vi.advanceTimersByTime(250);
      }
      view.stop();
      for (const frame of frames.slice(1)) {
        expect(frame.length).toBeLessThan(to.rows);
        for (const line of frame) expect(visibleWidth(line)).toBeLessThan(to.columns);
      }
      // Redraws added no copy, and the screen shows the last frame alone, with nothing of an
      // earlier frame around it (what was printed before the view may stay above it).
      expect(headers(term.text())).toBe(afterResize);
      const last = frames.at(-1)!.map((l) => l.replace(ANSI, "").trimEnd());
      const above = term.screenText().slice(0, term.row);
      expect(above.filter((l) => !l.startsWith("› playing"))).toEqual(last);
      expect(term.screenText().slice(term.row).join("")).toBe("");
      expect(term.text().filter((l) => l.startsWith("› playing")).length).toBeLessThanOrEqual(1);
    });
  }
});

import { describe, expect, it } from "vitest";
import { Pacer, paceOf, sleep } from "../../src/lab/pacer.js";

describe("pacing", () => {
  it("turns a rate into an interval, and prefers rate over nothing", () => {
    expect(paceOf(undefined, 1000).intervalMs).toBe(1);
    expect(paceOf(250, undefined).intervalMs).toBe(250);
    expect(paceOf(undefined, undefined).intervalMs).toBe(0);
  });

  it("schedules by absolute due times, so lateness does not accumulate", () => {
    let now = 1000;
    const pacer = new Pacer({ intervalMs: 10 }, () => now);
    expect(pacer.waitFor(0)).toBe(0);
    now = 1003;
    expect(pacer.waitFor(1)).toBe(7);
    now = 1025; // late: message 2 was due at 1020
    expect(pacer.waitFor(2)).toBe(0);
    expect(pacer.waitFor(3)).toBe(5);
  });

  it("sleep resolves at once when aborted", async () => {
    const c = new AbortController();
    const p = sleep(60_000, c.signal);
    c.abort();
    await expect(p).resolves.toBeUndefined();
  });
});

/**
 * The injector's clock: a fault begins no earlier than its `at`, by the run's clock, even when
 * a timer fires early by the wall clock (Node counts timers from the event loop's cached time,
 * so one can fire a millisecond before Date.now() says it is due). Fake timers let the wall
 * clock lag the timers' clock on purpose.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Injector } from "../../src/lab/injector.js";
import type { RunState } from "../../src/lab/state.js";

afterEach(() => {
  vi.useRealTimers();
});

/** The part of the run the injector touches for a fault on a consumer the run does not have. */
function runStub() {
  return {
    started: Date.now(),
    timeline: [] as Array<{ atMs: number; what: string; endMs?: number }>,
    events: [] as string[],
    faultsUnderway: 0,
    options: {},
    event(text: string) {
      this.events.push(text);
    },
  };
}

describe("fault clock", () => {
  it("a timer that fires early waits out the rest: the fault begins at its at, not before", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const run = runStub();
    const injector = new Injector(run as unknown as RunState, {
      groups: [],
      producers: [],
      prepare: async () => {},
    });
    injector.start([{ kind: "consumer", consumer: "worker", action: "pause", at: 1200, for: 500 }]);
    // The wall clock falls 3 ms behind the timers' clock.
    vi.setSystemTime(Date.now() - 3);
    await vi.advanceTimersByTimeAsync(1200);
    expect(Date.now() - run.started).toBe(1197);
    expect(run.timeline).toEqual([]);
    await vi.advanceTimersByTimeAsync(3);
    expect(run.timeline).toEqual([{ atMs: 1200, endMs: 1700, what: "pause worker for 500 ms" }]);
    await injector.stop();
  });

  it("stop before a fault is due: it never happens", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const run = runStub();
    const injector = new Injector(run as unknown as RunState, {
      groups: [],
      producers: [],
      prepare: async () => {},
    });
    injector.start([{ kind: "consumer", consumer: "worker", action: "pause", at: 1000 }]);
    vi.setSystemTime(Date.now() - 3);
    await vi.advanceTimersByTimeAsync(1000);
    await injector.stop();
    await vi.advanceTimersByTimeAsync(10);
    expect(run.timeline).toEqual([]);
  });
});

/**
 * The consumer timeout's timer (src/broker/protocol/ack-timeout.ts), on fake time: it fires
 * one ms after the oldest delivery's limit, follows the oldest delivery as deliveries are
 * settled, uses each delivery's own limit, and leaves no timer behind.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AckTimeout, type Pending } from "../../src/broker/protocol/ack-timeout.js";

interface D extends Pending {
  limit: number | false;
}

function setup() {
  const pending: D[] = [];
  const expired: string[] = [];
  const t = new AckTimeout<D>({
    channelNumber: 7,
    oldest: () => pending[0],
    limitOf: (d) => d.limit,
    expire: (err) => expired.push(err.message),
  });
  const deliver = (limit: number | false = 1000) => {
    pending.push({ at: Date.now(), limit });
    t.changed();
  };
  const settleOldest = () => {
    pending.shift();
    t.changed();
  };
  return { t, pending, expired, deliver, settleOldest };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("AckTimeout", () => {
  it("closes one ms after the limit, with RabbitMQ's text", () => {
    const { expired, deliver } = setup();
    deliver(1000);
    vi.advanceTimersByTime(1000);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual([
      "PRECONDITION_FAILED - delivery acknowledgement on channel 7 timed out. Timeout value used: 1000 ms. This timeout value can be configured, see consumers doc guide to learn more",
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("follows the oldest delivery when the older ones are settled", () => {
    const { expired, deliver, settleOldest } = setup();
    deliver();
    vi.advanceTimersByTime(600);
    deliver();
    settleOldest();
    // The first deadline passes: the second delivery is not due yet.
    vi.advanceTimersByTime(500);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(500);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toHaveLength(1);
  });

  it("takes each delivery's own limit, and an earlier deadline re-arms the timer", () => {
    const { expired, deliver, settleOldest, pending } = setup();
    deliver(10_000);
    deliver(100);
    // Only the oldest delivery counts, as in RabbitMQ: the 100 ms one waits behind it.
    vi.advanceTimersByTime(500);
    expect(expired).toEqual([]);
    settleOldest();
    expect(pending).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(expired[0]).toContain("Timeout value used: 100 ms");
  });

  it("no limit means no timer; nothing pending means no timer; stop clears it", () => {
    const { t, expired, deliver, settleOldest } = setup();
    deliver(false);
    expect(vi.getTimerCount()).toBe(0);
    settleOldest();
    deliver(50);
    expect(vi.getTimerCount()).toBe(1);
    settleOldest();
    expect(vi.getTimerCount()).toBe(0);
    deliver(50);
    t.stop();
    vi.advanceTimersByTime(1000);
    expect(expired).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

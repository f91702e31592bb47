/**
 * `eventlab consume --offset`: the values it takes, what it does not go with, and where a
 * session reading a stream picks up after a lost connection.
 */
import { describe, expect, it } from "vitest";
import { offsetArgument, type StreamOffset } from "../../src/client/consumer.js";
import { StreamPosition } from "../../src/client/stream-position.js";
import { consumeCommand } from "../../src/commands/consume.js";
import { streamOffsetArg } from "../../src/commands/options.js";
import { optionsOf, usageErrorOf } from "../helpers/argv.js";

const NOW = Date.parse("2024-05-01T12:00:00Z");

describe("--offset values", () => {
  it.each<[string, StreamOffset]>([
    ["first", "first"],
    ["last", "last"],
    ["next", "next"],
    ["0", 0],
    ["12345", 12345],
    ["30s", new Date(NOW - 30_000)],
    ["10m", new Date(NOW - 600_000)],
    ["1.5h", new Date(NOW - 5_400_000)],
    ["7d", new Date(NOW - 7 * 86_400_000)],
    ["2024-04-30T09:30:00Z", new Date("2024-04-30T09:30:00Z")],
    ["2024-04-30T09:30:00+02:00", new Date("2024-04-30T07:30:00Z")],
    ["2024-04-30", new Date("2024-04-30T00:00:00Z")],
  ])("%j", (raw, offset) => {
    expect(streamOffsetArg(raw, NOW)).toEqual(offset);
  });

  it.each(["", "start", "-1", "1.5", "10ms", "yesterday", "2024-13-45", "5 m"])(
    "%j is refused with what it takes",
    (raw) => {
      expect(() => streamOffsetArg(raw, NOW)).toThrow(
        "Expected first, last, next, an offset (a whole number), a time (2024-05-01T09:30:00Z) or how long ago (30s, 10m, 2h, 7d).",
      );
    },
  );

  it("a time goes to the broker as an AMQP timestamp, in whole seconds", () => {
    expect(offsetArgument(new Date("2024-04-30T09:30:00.900Z"))).toEqual({
      "!": "timestamp",
      value: Date.parse("2024-04-30T09:30:00Z") / 1000,
    });
    expect([offsetArgument("first"), offsetArgument(7)]).toEqual(["first", 7]);
  });
});

describe("consume --offset argv", () => {
  it("passes the offset to the run", async () => {
    const o = await optionsOf(consumeCommand, ["events", "--offset", "first", "--count", "3"]);
    expect([o.queue, o.offset, o.count]).toEqual(["events", "first", 3]);
  });

  it.each([
    [["--offset", "first", "--no-ack"], "a stream needs acknowledgements: leave out --no-ack"],
    [
      ["--offset", "first", "--requeue"],
      "a stream keeps every message: --reject and --requeue do not apply",
    ],
    [
      ["--offset", "first", "--reject"],
      "a stream keeps every message: --reject and --requeue do not apply",
    ],
    [["--offset", "first", "--prefetch", "0"], "a stream consumer needs a prefetch of at least 1"],
    [["--offset", "nope"], "Expected first, last, next"],
  ])("%j is refused", async (flags, error) => {
    expect(await usageErrorOf(consumeCommand, ["events", ...flags])).toContain(error);
  });

  it("a tap is not a stream", async () => {
    expect(
      await usageErrorOf(consumeCommand, ["--exchange", "orders", "--offset", "first"]),
    ).toContain("--offset reads a stream queue; a tap's temporary queue is not one");
  });
});

describe("where a stream session picks up after a lost connection", () => {
  it("at the oldest delivery not settled, else after the last one", () => {
    const p = new StreamPosition();
    expect(p.resumeAt()).toBeUndefined();
    for (const o of [4, 5, 6, 7]) p.delivered(o);
    p.settled(4);
    p.settled(5);
    expect(p.resumeAt()).toBe(6);
    p.delivered(8);
    p.settled(8);
    expect(p.resumeAt()).toBe(9);
  });
});

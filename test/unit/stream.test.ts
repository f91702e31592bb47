/**
 * The stream queue model (src/broker/model/stream.ts and its log and arguments) without a
 * connection: where consumers start, credit, segments and retention, what a stream keeps of a
 * message, and the arguments it refuses. The numbers in the retention tests are RabbitMQ
 * 3.10's, as the conformance scenarios recorded them.
 */
import { describe, expect, it } from "vitest";
import { Decimal, type FieldTable, Timestamp, Typed } from "../../src/broker/codec/index.js";
import { AmqpError } from "../../src/broker/errors.js";
import { makeMessage } from "../../src/broker/model/message.js";
import type { QueuedMessage } from "../../src/broker/model/queue.js";
import { Stream, type StreamConsumer } from "../../src/broker/model/stream.js";
import {
  maxAgeMs,
  type OffsetSpec,
  offsetSpec,
  streamConsumeSpec,
  streamSettings,
} from "../../src/broker/model/stream-args.js";
import { MemoryStreamLog } from "../../src/broker/model/stream-log.js";

const NAME = "cf-0123456789-ret"; // 17 characters, as in the conformance scenarios

function fixture(args: FieldTable = {}) {
  const clock = { now: 1_700_000_000_000 };
  let stored = 0;
  const stream = new Stream(
    { now: () => clock.now, adjustStored: (d) => (stored += d) },
    { name: NAME, args, settings: streamSettings(NAME, args) },
  );
  const publish = (body = "x".repeat(20), headers?: FieldTable) =>
    stream.enqueue(makeMessage("", NAME, headers ? { headers } : {}, Buffer.from(body)));
  return { stream, clock, publish, stored: () => stored };
}

/** A consumer with `credit` deliveries it may take unacknowledged. */
class Consumer implements StreamConsumer {
  readonly tag = "c";
  got: QueuedMessage[] = [];
  cancelled = false;
  constructor(public credit = Number.POSITIVE_INFINITY) {}
  canTake(): boolean {
    return this.got.length < this.credit;
  }
  deliver(_s: Stream, entry: QueuedMessage): void {
    this.got.push(entry);
  }
  cancelledByServer(): void {
    this.cancelled = true;
  }
  get offsets(): number[] {
    return this.got.map((e) => e.seq);
  }
  get bodies(): string[] {
    return this.got.map((e) => e.message.body.toString());
  }
}

function read(stream: Stream, spec: OffsetSpec): Consumer {
  const c = new Consumer();
  stream.attach(c, spec);
  return c;
}

function code(f: () => unknown): [number, string] | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof AmqpError) return [e.replyCode, e.replyText];
    throw e;
  }
  return undefined;
}

describe("where a consumer starts", () => {
  const f = fixture();
  for (const b of ["a", "b", "c"]) {
    f.publish(b);
    f.clock.now += 1000;
  }
  const t0 = 1_700_000_000_000;
  it.each<[string, OffsetSpec, string[]]>([
    ["first", { kind: "first" }, ["a", "b", "c"]],
    ["last: the last chunk, here the last message", { kind: "last" }, ["c"]],
    ["next: only what comes", { kind: "next" }, []],
    ["an offset", { kind: "offset", offset: 1 }, ["b", "c"]],
    ["before the start", { kind: "offset", offset: -5 }, ["a", "b", "c"]],
    ["past the end", { kind: "offset", offset: 100 }, []],
    [
      "a timestamp: the first written at or after it",
      { kind: "timestamp", ms: t0 + 500 },
      ["b", "c"],
    ],
    ["a timestamp before everything", { kind: "timestamp", ms: 0 }, ["a", "b", "c"]],
    ["a timestamp in the future", { kind: "timestamp", ms: t0 + 10_000 }, []],
  ])("%s", (_what, spec, bodies) => {
    expect(read(f.stream, spec).bodies).toEqual(bodies);
  });

  it("a numeric offset past the end skips later messages below it, as osiris's start offset", () => {
    const g = fixture();
    g.publish("a");
    const far = read(g.stream, { kind: "offset", offset: 3 });
    const next = read(g.stream, { kind: "next" });
    g.publish("b");
    g.publish("c");
    g.publish("d");
    expect(next.offsets).toEqual([1, 2, 3]);
    expect(far.offsets).toEqual([3]);
  });

  it("deliveries carry x-stream-offset as a long, and are never redelivered", () => {
    const c = read(f.stream, { kind: "first" });
    expect(c.got.map((e) => e.message.properties.headers?.["x-stream-offset"])).toEqual([
      new Typed("l", 0),
      new Typed("l", 1),
      new Typed("l", 2),
    ]);
    expect(c.got.every((e) => !e.redelivered)).toBe(true);
  });
});

describe("credit", () => {
  it("a consumer gets what its credit allows, more after drain, and every consumer reads it all", () => {
    const f = fixture();
    for (const b of ["1", "2", "3", "4", "5"]) f.publish(b);
    const slow = new Consumer(2);
    f.stream.attach(slow, { kind: "first" });
    expect(slow.bodies).toEqual(["1", "2"]);
    slow.credit = 3;
    f.stream.drain();
    expect(slow.bodies).toEqual(["1", "2", "3"]);
    expect(read(f.stream, { kind: "first" }).bodies).toEqual(["1", "2", "3", "4", "5"]);
    expect(f.stream.messageCount).toBe(5);
    expect(f.stream.consumerCount).toBe(0);
  });
});

describe("segments and retention (RabbitMQ's numbers)", () => {
  const args = { "x-stream-max-segment-size-bytes": 500, "x-max-length-bytes": 1200 };

  it("x-max-length-bytes: whole segments go; each new segment's tracking entry takes an offset", () => {
    const f = fixture(args);
    for (let i = 0; i < 20; i++) f.publish();
    expect(read(f.stream, { kind: "last" }).offsets).toEqual([25]);
    expect(read(f.stream, { kind: "first" }).offsets).toEqual([20, 21, 22, 24, 25]);
    expect(read(f.stream, { kind: "offset", offset: 5 }).offsets).toEqual([20, 21, 22, 24, 25]);
    expect(f.stream.messageCount).toBe(5);
    expect(f.stored()).toBe(5 * 20);
  });

  it("x-max-age: a segment not full keeps old messages; a full one rolls over when a consumer attaches", () => {
    const age = { "x-stream-max-segment-size-bytes": 500, "x-max-age": "1s" };
    const two = fixture(age);
    const three = fixture(age);
    two.publish();
    two.publish();
    for (let i = 0; i < 3; i++) three.publish();
    two.clock.now += 1500;
    three.clock.now += 1500;
    expect(read(two.stream, { kind: "first" }).offsets).toEqual([0, 1]);
    expect(read(three.stream, { kind: "first" }).offsets).toEqual([]);
    three.publish();
    expect(read(three.stream, { kind: "first" }).offsets).toEqual([4]);
  });

  it("a segment size of 0 (which RabbitMQ 3.10 never finishes writing) gives each message a segment", () => {
    const f = fixture({ "x-stream-max-segment-size-bytes": 0 });
    for (let i = 0; i < 3; i++) f.publish();
    // Each message's segment is preceded by one that holds only a tracking entry.
    expect(read(f.stream, { kind: "first" }).offsets).toEqual([0, 2, 4]);
  });
});

describe("what a stream keeps of a message", () => {
  it("array and table headers are dropped, the rest kept, x-stream-offset replaced", () => {
    const f = fixture();
    const ts = new Timestamp(1_700_000_000);
    f.publish("m", { s: "t", n: 5, ts, list: [1], table: { a: 1 }, "x-stream-offset": "mine" });
    const [entry] = read(f.stream, { kind: "first" }).got;
    expect(entry?.message.properties.headers).toEqual({
      s: "t",
      n: 5,
      ts,
      "x-stream-offset": new Typed("l", 0),
    });
  });

  it("a decimal header crashes RabbitMQ's channel: a 541 with the bare text", () => {
    const f = fixture();
    expect(code(() => f.publish("m", { d: new Decimal(2, 314) }))).toEqual([541, "INTERNAL_ERROR"]);
  });

  it("deleting cancels consumers and gives the memory back", () => {
    const f = fixture();
    f.publish("abc");
    const c = read(f.stream, { kind: "next" });
    expect(f.stored()).toBe(3);
    expect(f.stream.destroy()).toBe(0);
    expect(c.cancelled).toBe(true);
    expect(f.stored()).toBe(0);
  });
});

describe("stream arguments", () => {
  it.each<[string, number | undefined]>([
    ["7D", 7 * 86_400_000],
    ["1h", 3_600_000],
    ["30s", 30_000],
    ["010m", 600_000],
    ["1Y", 365 * 86_400_000],
    ["0s", undefined],
    ["5ms", undefined],
    ["1h ", undefined],
  ])("x-max-age %j", (text, ms) => {
    expect(maxAgeMs(text)).toBe(ms);
  });

  it("x-max-age without a leading digit crashes RabbitMQ (541)", () => {
    expect(code(() => maxAgeMs("h"))).toEqual([541, "INTERNAL_ERROR"]);
  });

  it.each<[FieldTable, string]>([
    [
      { "x-max-length": 5 },
      "invalid arg 'x-max-length' for queue 'q' in vhost '/' of queue type rabbit_stream_queue",
    ],
    [{ "x-max-age": "0s" }, "invalid arg 'x-max-age' for queue 'q' in vhost '/': invalid_max_age"],
    [
      { "x-max-age": 60 },
      "invalid arg 'x-max-age' for queue 'q' in vhost '/': {unacceptable_type,byte}",
    ],
    [
      { "x-max-length-bytes": "a" },
      `invalid arg 'x-max-length-bytes' for queue 'q' in vhost '/': "expected integer, got longstr"`,
    ],
    [
      { "x-stream-max-segment-size-bytes": -1 },
      "invalid arg 'x-stream-max-segment-size-bytes' for queue 'q' in vhost '/': {value_negative,-1}",
    ],
    [
      { "x-initial-cluster-size": 0 },
      "invalid arg 'x-initial-cluster-size' for queue 'q' in vhost '/': {value_zero,0}",
    ],
  ])("declare %j: 406", (args, text) => {
    expect(code(() => streamSettings("q", args))).toEqual([406, `PRECONDITION_FAILED - ${text}`]);
  });

  const NOW = 1_700_000_000_000;
  it.each<[FieldTable, OffsetSpec]>([
    [{}, { kind: "next" }],
    [{ "x-stream-offset": "first" }, { kind: "first" }],
    [{ "x-stream-offset": 7 }, { kind: "offset", offset: 7 }],
    [
      { "x-stream-offset": new Timestamp(1_600_000_000) },
      { kind: "timestamp", ms: 1_600_000_000_000 },
    ],
    [{ "x-stream-offset": "10m" }, { kind: "timestamp", ms: NOW - 600_000 }],
  ])("x-stream-offset %j", (args, spec) => {
    expect(offsetSpec("q", args, NOW)).toEqual(spec);
  });

  it.each<[FieldTable, number]>([
    [{ "x-stream-offset": "0s" }, 406],
    [{ "x-stream-offset": "start" }, 541],
    [{ "x-stream-offset": true }, 541],
    [{ "x-stream-offset": 1.5 }, 541],
  ])("x-stream-offset %j is refused", (args, reply) => {
    expect(code(() => offsetSpec("q", args, NOW))?.[0]).toBe(reply);
  });

  it("basic.consume: a prefetch is needed (406), no-ack is refused (540)", () => {
    const consume = (prefetch: number, noAck: boolean) =>
      code(() => streamConsumeSpec("q", { args: {}, prefetch, noAck, nowMs: NOW }))?.[0];
    expect(consume(0, true)).toBe(406);
    expect(consume(1, true)).toBe(540);
    expect(consume(1, false)).toBeUndefined();
  });
});

describe("MemoryStreamLog", () => {
  it("reads by offset across segments and forgets the oldest ones", () => {
    const log = new MemoryStreamLog();
    for (let i = 0; i < 3; i++) log.append({ timestamp: i, message: undefined, bytes: 10 });
    log.roll();
    for (let i = 3; i < 5; i++) log.append({ timestamp: i, message: undefined, bytes: 10 });
    expect(log.segments().map((s) => [s.firstOffset, s.nextOffset, s.bytes])).toEqual([
      [0, 3, 38],
      [3, 5, 28],
    ]);
    expect(log.read(4)?.timestamp).toBe(4);
    log.dropOldest(5);
    expect([log.firstOffset, log.nextOffset, log.read(2), log.read(3)?.offset]).toEqual([
      3,
      5,
      undefined,
      3,
    ]);
  });
});

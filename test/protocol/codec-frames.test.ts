import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  encodeBodyFrame,
  encodeFrame,
  encodeHeaderFrame,
  encodeMethodFrame,
  type Frame,
  FrameReader,
  type FrameType,
  HEARTBEAT_FRAME,
  PROTOCOL_HEADER,
  type ReadEvent,
} from "../../src/broker/codec/index.js";
import { codecError, hex } from "./codec-helpers.js";

const framesOf = (events: ReadEvent[]): Frame[] =>
  events.flatMap((e) => (e.kind === "frame" ? [e.frame] : []));

const plain = (f: Frame) => ({ type: f.type, channel: f.channel, payload: Buffer.from(f.payload) });

describe("frame encoding", () => {
  it("writes type, channel, size, payload and 0xCE", () => {
    expect(HEARTBEAT_FRAME).toEqual(hex("08 0000 00000000 ce"));
    expect(encodeBodyFrame(5, Buffer.from("hi"))).toEqual(hex("03 0005 00000002 6869 ce"));
    expect(encodeMethodFrame(1, 60, 40, { exchange: "", routingKey: "q" })).toEqual(
      hex("01 0001 0000000a 003c 0028 0000 00 01 71 00 ce"),
    );
    expect(encodeHeaderFrame(1, 2, { deliveryMode: 2 })).toEqual(
      hex("02 0001 0000000f 003c 0000 0000000000000002 1000 02 ce"),
    );
    expect(() => encodeBodyFrame(0x10000, Buffer.alloc(0))).toThrow(RangeError);
  });
});

describe("FrameReader", () => {
  const frameArb: fc.Arbitrary<Frame> = fc.record({
    type: fc.constantFrom<FrameType>(1, 2, 3, 8),
    channel: fc.integer({ min: 0, max: 0xffff }),
    payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  });

  /** Split `buf` at the given fractions; every piece non-empty or not, as a socket might deliver. */
  function chunk(buf: Buffer, cuts: number[]): Buffer[] {
    const points = [...new Set(cuts.map((c) => Math.floor(c * buf.length)))].sort((a, b) => a - b);
    const out: Buffer[] = [];
    let at = 0;
    for (const p of points) {
      out.push(buf.subarray(at, p));
      at = p;
    }
    out.push(buf.subarray(at));
    return out;
  }

  it("decodes the same frames however the stream is chunked", () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 12 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
        fc.boolean(),
        (frames, cuts, withHeader) => {
          const stream = Buffer.concat([
            ...(withHeader ? [PROTOCOL_HEADER] : []),
            ...frames.map((f) => encodeFrame(f.type, f.channel, f.payload)),
          ]);
          const reader = new FrameReader({ frameMax: 4096, protocolHeader: withHeader });
          const events = chunk(stream, cuts).flatMap((c) => reader.push(c));
          if (withHeader) expect(events[0]).toEqual({ kind: "protocol-header" });
          expect(events.filter((e) => e.kind !== "frame")).toHaveLength(withHeader ? 1 : 0);
          expect(framesOf(events).map(plain)).toEqual(frames.map(plain));
          expect(reader.buffered).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("byte-at-a-time delivery works and never holds more than one frame", () => {
    const frames = [
      encodeMethodFrame(0, 10, 31, { channelMax: 1, frameMax: 4096, heartbeat: 0 }),
      HEARTBEAT_FRAME,
      encodeBodyFrame(1, Buffer.alloc(100, 7)),
    ];
    const stream = Buffer.concat(frames);
    const reader = new FrameReader({ frameMax: 4096 });
    const out: Frame[] = [];
    let most = 0;
    for (let i = 0; i < stream.length; i++) {
      out.push(...framesOf(reader.push(stream.subarray(i, i + 1))));
      most = Math.max(most, reader.buffered);
    }
    expect(out.map((f) => f.type)).toEqual([1, 8, 3]);
    expect(out[2]!.payload).toEqual(Buffer.alloc(100, 7));
    expect(most).toBeLessThan(108);
  });

  it("returns frames inside one chunk as views of it, without copying", () => {
    const stream = Buffer.concat([encodeBodyFrame(1, Buffer.from("abc")), HEARTBEAT_FRAME]);
    const [first] = framesOf(new FrameReader({ frameMax: 4096 }).push(stream));
    expect(first!.payload.buffer).toBe(stream.buffer);
  });

  it("accepts a frame of exactly frameMax and refuses one byte more", () => {
    const reader = new FrameReader({ frameMax: 4096 });
    expect(framesOf(reader.push(encodeBodyFrame(1, Buffer.alloc(4088))))).toHaveLength(1);
    const err = codecError(() => reader.push(encodeBodyFrame(1, Buffer.alloc(4089))));
    expect(err.replyCode).toBe(501);
    expect(err.message).toMatch(/frame_max/);
  });

  it("refuses a frame declaring 4 GiB from its 7 header bytes alone, buffering nothing", () => {
    const head = hex("03 0001 ffffffff");
    const whole = new FrameReader({ frameMax: 131072 });
    expect(codecError(() => whole.push(head)).replyCode).toBe(501);
    expect(whole.buffered).toBe(0);
    // the same header split across chunks, after a complete frame
    const split = new FrameReader({ frameMax: 131072 });
    expect(split.push(Buffer.concat([HEARTBEAT_FRAME, head.subarray(0, 3)]))).toHaveLength(1);
    expect(split.buffered).toBe(3);
    expect(codecError(() => split.push(head.subarray(3))).replyCode).toBe(501);
    expect(split.buffered).toBe(0);
  });

  it("applies a lowered frameMax to the next frame", () => {
    const reader = new FrameReader({ frameMax: 131072 });
    expect(framesOf(reader.push(encodeBodyFrame(1, Buffer.alloc(5000))))).toHaveLength(1);
    reader.frameMax = 4096;
    expect(codecError(() => reader.push(encodeBodyFrame(1, Buffer.alloc(5000)))).replyCode).toBe(
      501,
    );
    expect(() => new FrameReader({ frameMax: 0 })).toThrow(RangeError);
  });

  it("refuses a wrong frame-end octet", () => {
    const bad = encodeBodyFrame(1, Buffer.from("abc"));
    bad[bad.length - 1] = 0xcd;
    expect(codecError(() => new FrameReader({ frameMax: 4096 }).push(bad)).replyCode).toBe(501);
    // and when the frame arrives in pieces
    const reader = new FrameReader({ frameMax: 4096 });
    reader.push(bad.subarray(0, 5));
    expect(codecError(() => reader.push(bad.subarray(5))).replyCode).toBe(501);
  });

  it("detects a truncated frame: its declared size runs into the next frame", () => {
    const full = encodeBodyFrame(1, Buffer.from("abcdef"));
    const truncated = Buffer.concat([full.subarray(0, 7), Buffer.from("abc"), HEARTBEAT_FRAME]);
    const reader = new FrameReader({ frameMax: 4096 });
    expect(codecError(() => reader.push(truncated)).replyCode).toBe(501);
  });

  it("holds a truncated tail without emitting anything", () => {
    const reader = new FrameReader({ frameMax: 4096 });
    const full = encodeBodyFrame(1, Buffer.from("abcdef"));
    expect(reader.push(full.subarray(0, full.length - 1))).toEqual([]);
    expect(reader.buffered).toBe(full.length - 1);
    expect(framesOf(reader.push(full.subarray(full.length - 1)))).toHaveLength(1);
  });

  it("refuses an unknown frame type", () => {
    const bad = encodeBodyFrame(1, Buffer.alloc(0));
    bad[0] = 4;
    expect(codecError(() => new FrameReader({ frameMax: 4096 }).push(bad)).replyCode).toBe(501);
  });

  it("stays failed after an error", () => {
    const reader = new FrameReader({ frameMax: 4096 });
    expect(codecError(() => reader.push(hex("09 0000 00000000 ce"))).replyCode).toBe(501);
    expect(codecError(() => reader.push(HEARTBEAT_FRAME)).replyCode).toBe(501);
  });
});

describe("protocol header", () => {
  it("accepts AMQP 0-9-1 in any chunking, then reads frames", () => {
    const stream = Buffer.concat([PROTOCOL_HEADER, HEARTBEAT_FRAME]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const reader = new FrameReader({ frameMax: 4096, protocolHeader: true });
      const events = [
        ...reader.push(stream.subarray(0, cut)),
        ...reader.push(stream.subarray(cut)),
      ];
      expect(events.map((e) => e.kind)).toEqual(["protocol-header", "frame"]);
    }
  });

  const wrong: [string, Buffer][] = [
    ["AMQP 0-9-0", hex("414d5150 00 00 09 00")],
    ["AMQP 0-8 (old style)", hex("414d5150 01 01 08 00")],
    ["HTTP", Buffer.from("GET / HTTP/1.1\r\n")],
    ["a frame without the header", HEARTBEAT_FRAME],
  ];
  for (const [name, bytes] of wrong) {
    it(`reports ${name} as a bad protocol header and ignores the rest`, () => {
      const reader = new FrameReader({ frameMax: 4096, protocolHeader: true });
      const events = [...reader.push(bytes.subarray(0, 3)), ...reader.push(bytes.subarray(3))];
      expect(events).toHaveLength(1);
      const [event] = events;
      expect(event?.kind).toBe("bad-protocol-header");
      if (event?.kind === "bad-protocol-header") {
        expect(bytes.subarray(0, event.received.length)).toEqual(event.received);
      }
      expect(reader.push(HEARTBEAT_FRAME)).toEqual([]);
    });
  }

  it("answers on the first wrong byte, without waiting for eight", () => {
    const reader = new FrameReader({ frameMax: 4096, protocolHeader: true });
    expect(reader.push(Buffer.from("G"))).toEqual([
      { kind: "bad-protocol-header", received: Buffer.from("G") },
    ]);
  });
});

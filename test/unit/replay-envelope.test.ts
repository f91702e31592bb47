/**
 * The pure parts of record and replay: typed header tables read from bytes (written by the
 * broker's own codec, an encoder independent of the reader), typed values checked and turned
 * into amqplib's notation, recordings read and checked line by line, the replay schedule and
 * --speed.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Decimal, encodeTable, Timestamp, Typed } from "../../src/broker/codec/index.js";
import { readRecording } from "../../src/client/envelope.js";
import {
  decodeTypedTable,
  headersTableOf,
  inferTyped,
  toAmqplibHeaders,
  toAmqplibValue,
} from "../../src/client/typed-headers.js";
import { speedArg } from "../../src/commands/produce.js";
import { replaySchedule } from "../../src/commands/run/replay.js";

describe("typed header tables", () => {
  it("reads every field type with its tag, int64 past 2^53 exactly", () => {
    const bytes = encodeTable({
      b: new Typed("b", -1),
      B: new Typed("B", 255),
      s: new Typed("s", -300),
      u: new Typed("u", 65_535),
      I: 7,
      i: new Typed("i", 4_000_000_000),
      l: 2n ** 62n + 1n,
      f: new Typed("f", 0.5),
      d: 0.1,
      nan: Number.NaN,
      D: new Decimal(2, 12_345),
      T: new Timestamp(1_700_000_000),
      S: "text",
      x: Buffer.from([0xff, 0]),
      V: null,
      A: [new Typed("s", 1), "a"],
      F: { inner: new Typed("B", 1) },
      t: false,
    });
    // encodeTable writes the length first: the body follows it.
    const t = decodeTypedTable(bytes.subarray(4));
    expect(t).toEqual({
      b: { type: "int8", value: -1 },
      B: { type: "uint8", value: 255 },
      s: { type: "int16", value: -300 },
      u: { type: "uint16", value: 65_535 },
      I: { type: "int32", value: 7 },
      i: { type: "uint32", value: 4_000_000_000 },
      l: { type: "int64", value: "4611686018427387905" },
      f: { type: "float", value: 0.5 },
      d: { type: "double", value: 0.1 },
      nan: { type: "double", value: "NaN" },
      D: { type: "decimal", value: { places: 2, digits: 12_345 } },
      T: { type: "timestamp", value: 1_700_000_000 },
      S: { type: "string", value: "text" },
      x: { type: "bytes", value: "/wA=" },
      V: { type: "void", value: null },
      A: {
        type: "array",
        value: [
          { type: "int16", value: 1 },
          { type: "string", value: "a" },
        ],
      },
      F: { type: "table", value: { inner: { type: "uint8", value: 1 } } },
      t: { type: "bool", value: false },
    });
  });

  it("a long string that is not UTF-8 keeps its bytes; a truncated table is an error", () => {
    const bytes = encodeTable({ s: new Typed("l", 1) });
    expect(() => decodeTypedTable(bytes.subarray(4, bytes.length - 2))).toThrow(
      /ends inside int64/,
    );
    const raw = Buffer.from([1, 0x6b, 0x53, 0, 0, 0, 2, 0xc3, 0x28]);
    expect(decodeTypedTable(raw)).toEqual({ k: { type: "string", base64: "wyg=" } });
  });

  it("finds the headers table in a content header after content-type and content-encoding", () => {
    const table = encodeTable({ a: 1 });
    const payload = Buffer.concat([
      Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xe0, 0]),
      Buffer.from([4]),
      Buffer.from("text"),
      Buffer.from([0]),
      table,
    ]);
    expect(headersTableOf(payload)?.equals(table.subarray(4))).toBe(true);
    const none = Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x80, 0, 1, 0x78]);
    expect(headersTableOf(none)).toBeUndefined();
  });

  it("typed values become amqplib's notation; what cannot be sent is refused by path", () => {
    expect(toAmqplibValue({ type: "int16", value: 5 }, "h")).toEqual({ "!": "int16", value: 5 });
    expect(toAmqplibValue({ type: "int64", value: "9223372036854775807" }, "h")).toEqual({
      "!": "int64",
      value: 2n ** 63n - 1n,
    });
    expect(toAmqplibValue({ type: "double", value: "-0" }, "h")).toEqual({
      "!": "double",
      value: -0,
    });
    expect(toAmqplibValue({ type: "bytes", value: "/wA=" }, "h")).toEqual(Buffer.from([255, 0]));
    expect(() => toAmqplibValue({ type: "int8", value: 128 }, "headers.x")).toThrow(
      "headers.x: int8 needs a whole number from -128 to 127",
    );
    expect(() => toAmqplibValue({ type: "uint64", value: 1 }, "headers.x")).toThrow(
      /headers\.x: unknown type "uint64"/,
    );
    expect(() =>
      toAmqplibHeaders({ t: { type: "table", value: { "!": { type: "bool", value: true } } } }),
    ).toThrow('headers.t.!: a nested table key "!" cannot be sent');
    expect(() => toAmqplibHeaders({ s: { type: "string", base64: "wyg=" } })).toThrow(
      /headers\.s: a long string whose bytes are not UTF-8/,
    );
  });

  it("infers types from plain values as amqplib does", () => {
    expect(inferTyped(5)).toEqual({ type: "int8", value: 5 });
    expect(inferTyped(300)).toEqual({ type: "int16", value: 300 });
    expect(inferTyped(70_000)).toEqual({ type: "int32", value: 70_000 });
    expect(inferTyped(2 ** 40)).toEqual({ type: "int64", value: 2 ** 40 });
    expect(inferTyped(0.5)).toEqual({ type: "double", value: 0.5 });
  });
});

describe("recordings", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-rec-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function read(text: string) {
    const file = path.join(dir, "r.ndjson");
    await writeFile(file, text);
    return readRecording(file, "r.ndjson");
  }

  it('a json body is its exact text, even when a header or the body holds ,"body":', async () => {
    const body = '{"a":1.0,"body":  12345678901234567890}';
    const head = JSON.stringify({
      exchange: "",
      routingKey: "q",
      headers: { x: 1, body: "y" },
      size: Buffer.byteLength(body),
      bodyEncoding: "json",
    });
    const r = await read(`${head.slice(0, -1)},"body":${body}}\r\n`);
    expect(r.messages[0]?.content.toString()).toBe(body);
    expect(r.plainLines).toBe(1);
  });

  it("a reformatted line whose body no longer matches its size is refused, not sent changed", async () => {
    const line = JSON.stringify({
      exchange: "",
      routingKey: "q",
      size: 9,
      bodyEncoding: "json",
      body: { a: 1 },
    });
    await expect(read(`${line}\n`)).rejects.toThrow(
      "r.ndjson:1: body: 7 bytes, but size says 9 (was the line reformatted?",
    );
  });

  it("bad properties and encodings name the line and the field; an empty file is an error", async () => {
    const ok = { exchange: "", routingKey: "q", bodyEncoding: "utf8", body: "x" };
    const lines = [
      JSON.stringify({ ...ok, properties: { priority: 300 } }),
      JSON.stringify({ ...ok, properties: { colour: "red" } }),
      JSON.stringify({ ...ok, bodyEncoding: "hex" }),
      JSON.stringify({ ...ok, receivedAt: "yesterday" }),
      "[1,2]",
      JSON.stringify({ ...ok, bodyEncoding: "base64", body: "not base64!" }),
    ];
    const err = await read(`${lines.join("\n")}\n`).catch((e: Error) => e);
    expect(String((err as Error).message)).toBe(
      [
        "6 bad lines in r.ndjson:",
        "  r.ndjson:1: properties.priority: expected a whole number from 0 to 255",
        "  r.ndjson:2: properties.colour: not a message property (contentType, contentEncoding, deliveryMode, priority, correlationId, replyTo, expiration, messageId, timestamp, type, userId, appId, clusterId)",
        '  r.ndjson:3: bodyEncoding: expected "json", "utf8" or "base64"',
        "  r.ndjson:4: receivedAt: expected a time like 2026-05-01T09:30:00.123Z",
        "  r.ndjson:5: expected a JSON object: one message a line",
        "  … and 1 more",
      ].join("\n"),
    );
    await expect(read("\n\n")).rejects.toThrow("r.ndjson holds no messages");
  });
});

describe("replay pace", () => {
  it("--speed takes 1x, 2x, 0.5x and max", () => {
    expect(speedArg("1x")).toBe(1);
    expect(speedArg("2x")).toBe(2);
    expect(speedArg("0.5x")).toBe(0.5);
    expect(speedArg("max")).toBe(Number.POSITIVE_INFINITY);
    for (const bad of ["0x", "2", "fast", "-1x"]) expect(() => speedArg(bad)).toThrow(/1x, 2x/);
  });

  it("keeps the recorded spacing, scaled; never earlier than the message before", () => {
    const at = (ms: number | undefined) => ({ receivedAtMs: ms });
    expect(replaySchedule([at(1000), at(1400), at(1300), at(2000)], 1)).toEqual([
      0, 400, 400, 1000,
    ]);
    expect(replaySchedule([at(1000), at(1400), at(2000)], 2)).toEqual([0, 200, 500]);
    expect(replaySchedule([at(1000), at(5000)], Number.POSITIVE_INFINITY)).toEqual([0, 0]);
    expect(replaySchedule([at(undefined), at(undefined)], 1)).toEqual([0, 0]);
  });
});

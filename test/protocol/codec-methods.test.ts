import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BASIC_PROPERTIES,
  type BasicProperties,
  decodeContentHeader,
  decodeMethod,
  encodeContentHeader,
  encodeHeaderFrame,
  encodeMethod,
  encodeMethodByName,
  encodeMethodFrame,
  METHODS,
  methodByName,
} from "../../src/broker/codec/index.js";
import { argValue, methodArgs, table } from "./codec-arbitraries.js";
import { codecError, hex } from "./codec-helpers.js";
import { amqplibDefs } from "./codec-oracle.js";

function frameOf(name: string, channel: number, args: Record<string, unknown>): Buffer {
  const spec = methodByName(name)!;
  return encodeMethodFrame(channel, spec.classId, spec.methodId, args as never);
}

function amqplibFrame(name: string, channel: number, args: Record<string, unknown>): Buffer {
  return amqplibDefs.encodeMethod(methodByName(name)!.id, channel, args);
}

describe("method byte vectors, checked against amqplib's encoder", () => {
  const vectors: [string, Record<string, unknown>][] = [
    [
      "connection.start-ok",
      {
        clientProperties: { product: "eventlab", capabilities: { publisher_confirms: true } },
        mechanism: "PLAIN",
        response: Buffer.from("\0guest\0guest"),
        locale: "en_US",
      },
    ],
    [
      "queue.declare",
      {
        ticket: 0,
        queue: "inventory",
        passive: false,
        durable: true,
        exclusive: false,
        autoDelete: true,
        nowait: false,
        arguments: {
          "x-queue-type": "quorum",
          "x-message-ttl": 60000,
          "x-dead-letter-exchange": "dlx",
        },
      },
    ],
    [
      "basic.publish",
      {
        ticket: 0,
        exchange: "orders",
        routingKey: "order.created.eu",
        mandatory: true,
        immediate: false,
      },
    ],
    [
      "basic.deliver",
      {
        consumerTag: "amq.ctag-1",
        deliveryTag: 42,
        redelivered: true,
        exchange: "orders",
        routingKey: "k",
      },
    ],
    ["basic.nack", { deliveryTag: 7, multiple: true, requeue: false }],
    ["connection.tune", { channelMax: 2047, frameMax: 131072, heartbeat: 60 }],
    [
      "connection.close",
      { replyCode: 320, replyText: "CONNECTION_FORCED - bye", classId: 0, methodId: 0 },
    ],
  ];
  for (const [name, args] of vectors) {
    it(`${name} encodes as amqplib does and decodes back`, () => {
      const ours = frameOf(name, 3, args);
      expect(ours).toEqual(amqplibFrame(name, 3, args));
      const decoded = decodeMethod(ours.subarray(7, ours.length - 1));
      expect(decoded.name).toBe(name);
      expect(decoded.args).toStrictEqual(args);
    });
  }

  it("packs basic.publish's bits and its header exactly", () => {
    expect(
      encodeMethodByName("basic.publish", {
        exchange: "x",
        routingKey: "k",
        mandatory: true,
        immediate: true,
      }),
    ).toEqual(hex("003c 0028 0000 01 78 01 6b 03"));
  });

  it("puts each of exchange.declare's five consecutive bits in its own position", () => {
    const spec = methodByName("exchange.declare")!;
    const flags = ["passive", "durable", "autoDelete", "internal", "nowait"];
    for (const [i, flag] of flags.entries()) {
      const payload = encodeMethod(spec.classId, spec.methodId, { exchange: "e", [flag]: true });
      // class, method, ticket, "e", "direct", bits, empty table
      expect(payload[4 + 2 + 2 + 7]).toBe(1 << i);
    }
  });

  it("accepts a string for a longstr and decodes it as a Buffer", () => {
    const d = decodeMethod(encodeMethodByName("connection.secure", { challenge: "héllo" }));
    expect(d.args).toStrictEqual({ challenge: Buffer.from("héllo") });
  });

  it("fills omitted arguments from the spec's defaults and refuses missing required ones", () => {
    const d = decodeMethod(encodeMethodByName("queue.declare", {}));
    expect(d.args).toStrictEqual({
      ticket: 0,
      queue: "",
      passive: false,
      durable: false,
      exclusive: false,
      autoDelete: false,
      nowait: false,
      arguments: {},
    });
    // A missing required argument is a compile error, and a run-time one for untyped callers.
    // @ts-expect-error deliveryTag, exchange and routingKey have no default
    expect(() => encodeMethodByName("basic.deliver", { consumerTag: "c" })).toThrow(/deliveryTag/);
    expect(() => encodeMethodByName("basic.qos", { prefetchCount: 70000 })).toThrow(RangeError);
    expect(() => encodeMethodByName("basic.publish", { exchange: "x".repeat(256) })).toThrow(
      RangeError,
    );
  });
});

describe("methods, property-based", () => {
  it("every method in the table encodes as amqplib does", () => {
    const arb = fc
      .constantFrom(...METHODS)
      .chain((spec) => fc.tuple(fc.constant(spec), methodArgs(spec, true)));
    fc.assert(
      fc.property(arb, fc.integer({ min: 0, max: 0xffff }), ([spec, args], channel) => {
        const ours = encodeMethodFrame(channel, spec.classId, spec.methodId, args);
        expect(ours).toEqual(amqplibDefs.encodeMethod(spec.id, channel, args));
      }),
      { numRuns: 500 },
    );
  });

  it("every method in the table round-trips, 64-bit values included", () => {
    for (const spec of METHODS) {
      fc.assert(
        fc.property(methodArgs(spec, false), (args) => {
          const d = decodeMethod(encodeMethod(spec.classId, spec.methodId, args));
          expect([d.classId, d.methodId, d.name]).toEqual([spec.classId, spec.methodId, spec.name]);
          expect(d.args).toStrictEqual(args);
        }),
        { numRuns: 30 },
      );
    }
  });
});

const propertyArb: fc.Arbitrary<BasicProperties> = fc
  .record(
    Object.fromEntries(
      BASIC_PROPERTIES.map((p) => [p.key, p.type === "table" ? table : argValue(p.type, true)]),
    ),
    { requiredKeys: [] },
  )
  .map((o) => ({ ...o }) as BasicProperties);

describe("content headers", () => {
  it("a header with every property matches amqplib and decodes back", () => {
    const properties: BasicProperties = {
      contentType: "application/json",
      contentEncoding: "utf-8",
      headers: { region: "eu", attempts: 70000 },
      deliveryMode: 2,
      priority: 5,
      correlationId: "c-1",
      replyTo: "amq.rabbitmq.reply-to",
      expiration: "60000",
      messageId: "m-1",
      timestamp: 1700000000,
      type: "order.created",
      userId: "guest",
      appId: "eventlab",
      clusterId: "",
    };
    const ours = encodeHeaderFrame(1, 1234, properties);
    expect(ours).toEqual(amqplibDefs.encodeProperties(60, 1, 1234, properties as never));
    expect(decodeContentHeader(ours.subarray(7, ours.length - 1))).toStrictEqual({
      classId: 60,
      weight: 0,
      bodySize: 1234,
      properties,
    });
  });

  it("an empty header is 14 bytes with no flags", () => {
    expect(encodeContentHeader({ bodySize: 0 })).toEqual(hex("003c 0000 0000000000000000 0000"));
  });

  it("random properties match amqplib and round-trip", () => {
    fc.assert(
      fc.property(propertyArb, fc.maxSafeNat(), (properties, size) => {
        const ours = encodeHeaderFrame(9, size, properties);
        expect(ours).toEqual(amqplibDefs.encodeProperties(60, 9, size, properties as never));
        const d = decodeContentHeader(ours.subarray(7, ours.length - 1));
        expect(d).toStrictEqual({ classId: 60, weight: 0, bodySize: size, properties });
      }),
      { numRuns: 300 },
    );
  });

  it("body sizes beyond 2^53 survive as bigints", () => {
    const size = 2n ** 64n - 1n;
    expect(decodeContentHeader(encodeContentHeader({ bodySize: size })).bodySize).toBe(size);
  });
});

describe("malformed methods and headers", () => {
  const cases: [string, string, number][] = [
    ["a payload shorter than the ids", "003c", 502],
    ["an unknown class id", "0063 000a", 503],
    ["an unknown method id", "003c 0063", 503],
    ["a truncated argument", "003c 0028 0000 05 6f72", 502],
    ["a shortstr running past the payload", "003c 0028 0000 ff 61", 502],
    ["a table length beyond the payload", "0032 000a 0000 00 00 ffffffff 00", 502],
    ["trailing bytes", "0014 0029 00 ff", 502],
    ["missing bits", "003c 0028 0000 00 00", 502],
  ];
  for (const [name, bytes, code] of cases) {
    it(`rejects ${name} with ${code}`, () => {
      expect(codecError(() => decodeMethod(hex(bytes))).replyCode).toBe(code);
    });
  }

  const headerCases: [string, string, number][] = [
    ["a truncated header", "003c 0000 00000000", 502],
    ["a header for a class without content", "000a 0000 0000000000000000 0000", 503],
    ["a property flag that does not exist", "003c 0000 0000000000000000 0001", 502],
    ["a flagged property that is missing", "003c 0000 0000000000000000 8000", 502],
    ["a property that overruns", "003c 0000 0000000000000000 8000 05 6a", 502],
    ["trailing bytes", "003c 0000 0000000000000000 0000 00", 502],
  ];
  for (const [name, bytes, code] of headerCases) {
    it(`rejects a content header with ${name} (${code})`, () => {
      expect(codecError(() => decodeContentHeader(hex(bytes))).replyCode).toBe(code);
    });
  }
});

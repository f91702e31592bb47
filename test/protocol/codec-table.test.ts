import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Decimal,
  decodeTableBody,
  encodeTable,
  type FieldTable,
  type FieldValue,
  Timestamp,
  Typed,
} from "../../src/broker/codec/index.js";
import { codecError, hex } from "./codec-helpers.js";
import { amqplibTable } from "./codec-oracle.js";

const body = (table: FieldTable) => encodeTable(table).subarray(4);

describe("field table byte vectors", () => {
  it("encodes each JavaScript type with the documented tag", () => {
    expect(encodeTable({ a: true })).toEqual(hex("00000004 01 61 74 01"));
    expect(encodeTable({ n: 1 })).toEqual(hex("00000007 01 6e 49 00000001"));
    expect(encodeTable({ n: -2147483649 })).toEqual(hex("0000000b 01 6e 6c ffffffff7fffffff"));
    expect(encodeTable({ n: 1.5 })).toEqual(hex("0000000b 01 6e 64 3ff8000000000000"));
    expect(encodeTable({ n: -0 })).toEqual(hex("0000000b 01 6e 64 8000000000000000"));
    expect(encodeTable({ n: 5n })).toEqual(hex("0000000b 01 6e 6c 0000000000000005"));
    expect(encodeTable({ s: "hé" })).toEqual(hex("0000000a 01 73 53 00000003 68c3a9"));
    expect(encodeTable({ x: Buffer.from([1, 2]) })).toEqual(hex("00000009 01 78 78 00000002 0102"));
    expect(encodeTable({ v: null })).toEqual(hex("00000003 01 76 56"));
    expect(encodeTable({ d: new Decimal(2, 12345) })).toEqual(hex("00000008 01 64 44 02 00003039"));
    expect(encodeTable({ t: new Timestamp(1700000000) })).toEqual(
      hex("0000000b 01 74 54 000000006553f100"),
    );
    expect(encodeTable({ a: [1, "x"] })).toEqual(
      hex("00000012 01 61 41 0000000b 49 00000001 53 00000001 78"),
    );
    expect(encodeTable({ f: { b: false } })).toEqual(hex("0000000b 01 66 46 00000004 01 62 74 00"));
    expect(encodeTable({ skipped: undefined })).toEqual(hex("00000000"));
  });

  it("decodes every tag RabbitMQ uses", () => {
    const bytes = hex(`
      01 74 74 01
      01 62 62 ff
      01 42 42 ff
      01 73 73 fffe
      01 75 75 fffe
      01 49 49 fffffffd
      01 69 69 fffffffd
      01 6c 6c fffffffffffffffc
      01 4c 6c 7fffffffffffffff
      01 66 66 3fc00000
      01 64 64 3ff8000000000000
      01 44 44 03 00000007
      01 53 53 00000002 6f6b
      01 59 53 00000001 ff
      01 54 54 0000000000000064
      01 56 56
      01 78 78 00000001 09
      01 41 41 00000002 74 00
      01 46 46 00000003 01 7a 56`);
    expect(decodeTableBody(bytes)).toStrictEqual({
      t: true,
      b: -1,
      B: 255,
      s: -2,
      u: 65534,
      I: -3,
      i: 4294967293,
      l: -4,
      L: 9223372036854775807n,
      f: 1.5,
      d: 1.5,
      D: new Decimal(3, 7),
      S: "ok",
      Y: Buffer.from([0xff]),
      T: new Timestamp(100),
      V: null,
      x: Buffer.from([9]),
      A: [false],
      F: { z: null },
    });
  });

  it("grows its output for large values", () => {
    const big = { s: "é".repeat(100_000), x: Buffer.alloc(70_000, 1), n: [1, 2, 3] };
    const bytes = encodeTable(big);
    expect(bytes.length).toBe(4 + (3 + 4 + 200_000) + (3 + 4 + 70_000) + (3 + 4 + 15));
    expect(decodeTableBody(bytes.subarray(4))).toStrictEqual(big);
  });

  it("keeps a __proto__ key as data", () => {
    const t = decodeTableBody(hex("09 5f5f70726f746f5f5f 49 00000001"));
    expect(Object.keys(t)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(t)).toBe(Object.prototype);
  });
});

// ---------------------------------------------------------------- property-based

/** One generated value: what we encode, what amqplib is given for the same wire value, and the decoded result. */
type Triple = readonly [ours: FieldValue, theirs: unknown, decoded: FieldValue];

const safe = (v: bigint): number | bigint =>
  v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;

const typedInt = (tag: "b" | "B" | "s" | "u" | "I" | "i", name: string, min: number, max: number) =>
  fc.integer({ min, max }).map((n): Triple => [new Typed(tag, n), { "!": name, value: n }, n]);

const key = fc
  .string({ unit: "binary", maxLength: 12 })
  .filter((k) => Buffer.byteLength(k) <= 255 && k !== "__proto__");

const scalar: fc.Arbitrary<Triple> = fc.oneof(
  fc.boolean().map((b): Triple => [b, b, b]),
  typedInt("b", "int8", -128, 127),
  typedInt("B", "uint8", 0, 255),
  typedInt("s", "int16", -0x8000, 0x7fff),
  typedInt("u", "uint16", 0, 0xffff),
  typedInt("I", "int32", -0x80000000, 0x7fffffff),
  typedInt("i", "uint32", 0, 0xffffffff),
  fc
    .bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
    .map((n): Triple => [new Typed("l", n), { "!": "int64", value: n }, safe(n)]),
  fc.float().map((n): Triple => [new Typed("f", n), { "!": "float", value: n }, n]),
  fc.double().map((n): Triple => [new Typed("d", n), { "!": "double", value: n }, n]),
  fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffffffff }))
    .map(
      ([s, v]): Triple => [
        new Decimal(s, v),
        { "!": "decimal", value: { places: s, digits: v } },
        new Decimal(s, v),
      ],
    ),
  fc.string({ unit: "binary", maxLength: 30 }).map((s): Triple => [s, s, s]),
  fc
    .uint8Array({ maxLength: 30 })
    .map((a): Triple => [Buffer.from(a), Buffer.from(a), Buffer.from(a)]),
  fc
    .bigInt({ min: 0n, max: 2n ** 64n - 1n })
    .map((n): Triple => [new Timestamp(n), { "!": "timestamp", value: n }, new Timestamp(safe(n))]),
  fc.constant<Triple>([null, null, null]),
);

const { value: anyValue } = fc.letrec<{ value: Triple; table: Triple; array: Triple }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    tie("array"),
    tie("table"),
  ),
  array: fc
    .array(tie("value"), { maxLength: 4 })
    .map(
      (items): Triple => [items.map((t) => t[0]), items.map((t) => t[1]), items.map((t) => t[2])],
    ),
  table: fc
    .uniqueArray(fc.tuple(key, tie("value")), { maxLength: 4, selector: ([k]) => k })
    .map(
      (entries): Triple => [
        Object.fromEntries(entries.map(([k, t]) => [k, t[0]])),
        Object.fromEntries(entries.map(([k, t]) => [k, t[1]])),
        Object.fromEntries(entries.map(([k, t]) => [k, t[2]])),
      ],
    ),
}));

const tables = fc
  .uniqueArray(fc.tuple(key, anyValue), { maxLength: 6, selector: ([k]) => k })
  .map((entries) => ({
    ours: Object.fromEntries(entries.map(([k, t]) => [k, t[0]])) as FieldTable,
    theirs: Object.fromEntries(entries.map(([k, t]) => [k, t[1]])),
    decoded: Object.fromEntries(entries.map(([k, t]) => [k, t[2]])) as FieldTable,
  }));

describe("field tables, property-based", () => {
  it("encode every tag exactly as amqplib does, and decode to the documented values", () => {
    fc.assert(
      fc.property(tables, ({ ours, theirs, decoded }) => {
        const bytes = encodeTable(ours);
        expect(bytes).toEqual(amqplibTable(theirs));
        expect(decodeTableBody(bytes.subarray(4))).toStrictEqual(decoded);
      }),
      { numRuns: 300 },
    );
  });

  it("round-trip plain values unchanged", () => {
    const plain: fc.Arbitrary<FieldValue> = fc.letrec<{ v: FieldValue }>((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        fc.boolean(),
        fc.integer(),
        fc.maxSafeInteger(),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n) => safe(n)),
        fc
          .double()
          .filter((d) => !Number.isInteger(d) || Object.is(d, -0) || Math.abs(d) >= 2 ** 63),
        fc.string({ unit: "binary", maxLength: 20 }),
        fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)),
        fc.constant(null),
        fc.array(tie("v"), { maxLength: 3 }),
        fc.dictionary(key, tie("v"), { maxKeys: 3 }).map((o) => ({ ...o }) as FieldTable),
      ),
    })).v;
    fc.assert(
      fc.property(fc.dictionary(key, plain, { maxKeys: 5 }), (t) => {
        const table = { ...t } as FieldTable;
        expect(decodeTableBody(body(table))).toStrictEqual(table);
      }),
      { numRuns: 300 },
    );
  });

  it("an integer beyond 2^53 decodes as a bigint, the same value", () => {
    expect(decodeTableBody(body({ n: 2 ** 60 }))).toStrictEqual({ n: 2n ** 60n });
    expect(decodeTableBody(body({ n: 2 ** 64 }))).toStrictEqual({ n: 2 ** 64 }); // beyond int64: a double
  });
});

// ---------------------------------------------------------------- malformed

describe("malformed field tables", () => {
  const cases: [string, string][] = [
    ["field name longer than what remains", "0a 6162"],
    ["value missing its tag", "01 61"],
    ["unknown type tag", "01 61 5a 00"],
    ["truncated int32", "01 61 49 0000"],
    ["truncated int64", "01 61 6c 00000000"],
    ["long string longer than what remains", "01 61 53 00000010 6162"],
    ["byte array declaring 4 GiB", "01 61 78 ffffffff 00"],
    ["nested table longer than what remains", "01 61 46 000003e8 0000"],
    ["array longer than what remains", "01 61 41 00000009 49"],
    ["nested table whose content overruns its own length", "01 61 46 00000002 01 62 49 00000001"],
    ["truncated decimal", "01 61 44 02 0000"],
  ];
  for (const [name, bytes] of cases) {
    it(`rejects ${name} with 502 SYNTAX_ERROR`, () => {
      const err = codecError(() => decodeTableBody(hex(bytes)));
      expect(err.replyCode).toBe(502);
      expect(err.message.length).toBeGreaterThan(0);
    });
  }

  it("accepts nesting far deeper than 64 levels, as RabbitMQ does (codec-deep-tables.test.ts has the limit)", () => {
    const depth = 200;
    let inner = Buffer.alloc(0);
    for (let i = 0; i < depth; i++) {
      const head = Buffer.alloc(7);
      head[0] = 1;
      head[1] = 0x61;
      head[2] = 0x46;
      head.writeUInt32BE(inner.length, 3);
      inner = Buffer.concat([head, inner]);
    }
    let t: unknown = decodeTableBody(inner);
    let levels = 0;
    while (t && typeof t === "object" && "a" in t) {
      t = (t as Record<string, unknown>)["a"];
      levels += 1;
    }
    expect(levels).toBe(depth);
  });

  it("rejects, when encoding, values that do not fit their tag", () => {
    expect(() => encodeTable({ a: new Typed("b", 128) })).toThrow(RangeError);
    expect(() => encodeTable({ a: new Typed("i", -1) })).toThrow(RangeError);
    expect(() => encodeTable({ a: 2n ** 63n })).toThrow(RangeError);
    expect(() => encodeTable({ ["k".repeat(256)]: 1 })).toThrow(RangeError);
    expect(() => encodeTable({ a: new Decimal(256, 1) })).toThrow(RangeError);
  });
});

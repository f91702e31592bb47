import fc from "fast-check";
import type {
  AmqpType,
  ArgValue,
  FieldTable,
  FieldValue,
  MethodSpec,
} from "../../src/broker/codec/index.js";

export const shortstr = fc
  .string({ unit: "binary", maxLength: 40 })
  .filter((s) => Buffer.byteLength(s) <= 255);

const key = shortstr.filter((k) => k !== "__proto__");

const safe = (v: bigint): number | bigint => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);

/**
 * Tables whose values amqplib and this codec put on the wire identically (strings, booleans,
 * int32s outside int16 range, fractions, buffers, void, arrays, nested tables), so that both
 * encoders can be compared byte for byte.
 */
export const table: fc.Arbitrary<FieldTable> = fc.letrec<{ v: FieldValue; t: FieldTable }>(
  (tie) => ({
    v: fc.oneof(
      { depthSize: "small" },
      fc.boolean(),
      fc.string({ unit: "binary", maxLength: 16 }),
      fc.oneof(
        fc.integer({ min: -0x80000000, max: -0x8001 }),
        fc.integer({ min: 0x8000, max: 0x7fffffff }),
      ),
      // amqplib cannot encode NaN, infinities or fractions beyond 2^50 (it takes them for int64s)
      fc.double({ noInteger: true, noNaN: true, min: -(2 ** 50), max: 2 ** 50 }),
      fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
      fc.constant(null),
      fc.array(tie("v"), { maxLength: 3 }),
      tie("t"),
    ),
    t: fc.dictionary(key, tie("v"), { maxKeys: 3 }).map((o) => ({ ...o }) as FieldTable),
  }),
).t;

/** A value of one argument type; `oracle` keeps 64-bit values within what amqplib accepts. */
export function argValue(type: AmqpType, oracle: boolean): fc.Arbitrary<ArgValue> {
  switch (type) {
    case "bit":
      return fc.boolean();
    case "octet":
      return fc.integer({ min: 0, max: 0xff });
    case "short":
      return fc.integer({ min: 0, max: 0xffff });
    case "long":
      return fc.integer({ min: 0, max: 0xffffffff });
    case "longlong":
    case "timestamp":
      return oracle ? fc.maxSafeNat() : fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(safe);
    case "shortstr":
      return shortstr;
    case "longstr":
      return fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
    case "table":
      return table;
  }
}

export function methodArgs(
  spec: MethodSpec,
  oracle: boolean,
): fc.Arbitrary<Record<string, ArgValue>> {
  return fc
    .record(Object.fromEntries(spec.args.map((a) => [a.key, argValue(a.type, oracle)])))
    .map((o) => ({ ...o }));
}

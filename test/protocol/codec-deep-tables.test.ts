/**
 * Field tables and arrays nested far deeper than anyone means to, as RabbitMQ takes them:
 * 3.10 accepts headers nested as deep as a 131072-byte frame holds (18,700 tables, 26,000
 * arrays) and gives them back byte for byte. The codec decodes and encodes them with a stack
 * of its own, so depth costs no call stack; past MAX_DEPTH it refuses them with a 502 (or,
 * encoding, a RangeError) that says why.
 */
import { describe, expect, it } from "vitest";
import {
  decodeTableBody,
  encodeTable,
  type FieldTable,
  type FieldValue,
} from "../../src/broker/codec/index.js";
import { MAX_DEPTH } from "../../src/broker/codec/table.js";
import { codecError } from "./codec-helpers.js";

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/**
 * The body of a table {a: {a: … {}}} with `n` tables below it, or of {a: [[…[]]]} with `n`
 * arrays: a chain, so each level's length is known and the bytes are written in one pass.
 */
function nestedBody(n: number, kind: "table" | "array"): Buffer {
  // The outer entry is key "a" and a tag; below it a table level is key, tag and length (7
  // bytes), an array level tag and length (5).
  const step = kind === "table" ? 7 : 5;
  const tag = kind === "table" ? 0x46 : 0x41;
  const out = Buffer.alloc(7 + step * (n - 1));
  out.set([1, 0x61, tag]);
  out.writeUInt32BE(step * (n - 1), 3);
  for (let level = 1, at = 7; level < n; level++, at += step) {
    if (kind === "table") out.set([1, 0x61], at);
    out[at + step - 5] = tag;
    out.writeUInt32BE(step * (n - 1 - level), at + step - 4);
  }
  return out;
}

/** How deep a decoded value nests, walked without recursion. */
function depthOf(v: FieldValue): number {
  let depth = 0;
  let at: FieldValue | undefined = v;
  for (;;) {
    if (Array.isArray(at)) at = (at as FieldValue[])[0];
    else if (at !== null && typeof at === "object" && !(at instanceof Uint8Array))
      at = (at as FieldTable)["a"];
    else return depth;
    if (at === undefined) return depth;
    depth += 1;
  }
}

describe("deeply nested field tables and arrays", () => {
  it.each([
    ["tables", "table", 18_700],
    ["arrays", "array", 26_000],
  ] as const)(
    "decode %s nested as deep as a 131072-byte frame holds, and encode them back",
    (_, kind, n) => {
      const body = nestedBody(n, kind);
      expect(body.length).toBeLessThan(131_072 - 8 - 14);
      const table = decodeTableBody(body);
      expect(depthOf(table)).toBe(n);
      expect(encodeTable(table).subarray(4)).toEqual(body);
    },
  );

  it("decode tables and arrays in turn, and keys beside the deep one", () => {
    // {a: [ {a: [ … ] } ], z: 1}: alternating, then a sibling after the deep value.
    let inner = Buffer.alloc(0);
    for (let i = 0; i < 5000; i++) {
      const array = Buffer.concat([Buffer.from([0x41]), u32(inner.length), inner]);
      const entry = Buffer.concat([Buffer.from([1, 0x61]), array]);
      inner = Buffer.concat([Buffer.from([0x46]), u32(entry.length), entry]);
    }
    const body = Buffer.concat([
      Buffer.from([1, 0x61]),
      inner,
      Buffer.from([1, 0x7a, 0x49]),
      u32(1),
    ]);
    const table = decodeTableBody(body);
    expect(table["z"]).toBe(1);
    expect(depthOf(table)).toBe(10_000);
    expect(encodeTable(table).subarray(4)).toEqual(body);
  });

  it(`refuse nesting deeper than ${MAX_DEPTH} levels with 502, without exhausting the stack`, () => {
    for (const kind of ["table", "array"] as const) {
      expect(decodeTableBody(nestedBody(MAX_DEPTH, kind))).toBeDefined();
      const err = codecError(() => decodeTableBody(nestedBody(MAX_DEPTH + 1, kind)));
      expect(err.replyCode).toBe(502);
      expect(err.message).toContain(`field ${kind} nested deeper than 100,000 levels`);
    }
  });

  it("encode values nested that deep from JavaScript, and refuse deeper (a cycle) with a RangeError", () => {
    const root: FieldTable = {};
    let at = root;
    for (let i = 0; i < MAX_DEPTH; i++) {
      const next: FieldTable = {};
      at["a"] = next;
      at = next;
    }
    expect(encodeTable(root).length).toBe(4 + MAX_DEPTH * 7);
    const cycle: FieldTable = { x: 1 };
    cycle["self"] = cycle;
    expect(() => encodeTable(cycle)).toThrow(
      new RangeError("field table nested deeper than 100,000 levels"),
    );
  });
});

/**
 * The pure routing matchers against RabbitMQ's recorded outcomes (test/fixtures/routing-cases.ts).
 */
import { describe, expect, it } from "vitest";
import {
  compileBinding,
  compileHeaders,
  InvalidMatchError,
  matchWords,
} from "../../src/broker/routing/index.js";
import {
  HEADER_BINDINGS,
  HEADER_MESSAGES,
  HEADERS_EXPECTED,
  TOPIC_EXPECTED,
  TOPIC_KEYS,
} from "../fixtures/routing-cases.js";

describe("topic", () => {
  for (const [pattern, expected] of Object.entries(TOPIC_EXPECTED)) {
    it(`${JSON.stringify(pattern)} routes what RabbitMQ routes`, () => {
      const match = compileBinding("topic", pattern);
      expect(TOPIC_KEYS.filter((k) => match({ routingKey: k }))).toEqual(expected);
    });
  }

  it("handles long keys with several # without blowing up", () => {
    const key = Array.from({ length: 196 }, (_, i) => `w${i % 7}`).join(".");
    expect(compileBinding("topic", "#.w3.#.w5.#.w6")({ routingKey: key })).toBe(true);
    expect(compileBinding("topic", "#.nope.#")({ routingKey: key })).toBe(false);
    expect(matchWords(["#", "a", "#", "b"], ["x", "a", "y", "b"])).toBe(true);
  });
});

describe("headers", () => {
  for (const [name, args] of Object.entries(HEADER_BINDINGS)) {
    it(`${name} routes what RabbitMQ routes`, () => {
      const match = compileBinding("headers", "", args);
      const got = Object.entries(HEADER_MESSAGES)
        .filter(([, headers]) => match({ routingKey: "", headers }))
        .map(([m]) => m);
      expect(got).toEqual(HEADERS_EXPECTED[name]);
    });
  }

  it("refuses an invalid x-match at bind time with RabbitMQ's 406 text", () => {
    expect(() => compileHeaders({ "x-match": "some" })).toThrow(InvalidMatchError);
    expect(() => compileHeaders({ "x-match": "some" })).toThrow(
      'PRECONDITION_FAILED - Invalid x-match field value <<"some">>; expected all, any, all-with-x, or any-with-x',
    );
  });

  it("compares buffers, lists and tables by value, with types", () => {
    const match = compileBinding("headers", "", {
      b: Buffer.from("x"),
      l: [1, "2"],
      t: { k: true },
    });
    expect(
      match({ routingKey: "", headers: { b: Buffer.from("x"), l: [1, "2"], t: { k: true } } }),
    ).toBe(true);
    expect(
      match({ routingKey: "", headers: { b: Buffer.from("x"), l: [1, 2], t: { k: true } } }),
    ).toBe(false);
  });
});

describe("direct and fanout", () => {
  it("direct is exact, fanout takes everything", () => {
    expect(compileBinding("direct", "a.b")({ routingKey: "a.b" })).toBe(true);
    expect(compileBinding("direct", "a.*")({ routingKey: "a.b" })).toBe(false);
    expect(compileBinding("fanout", "ignored")({ routingKey: "anything" })).toBe(true);
  });
});

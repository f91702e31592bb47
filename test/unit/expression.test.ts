/**
 * The filter language (config/expression.ts): what an expression sees of a message (factsOf),
 * what it matches, and how a mistake in it is reported.
 */
import { describe, expect, it } from "vitest";
import { compileExpression, factsOf, type MessageFacts } from "../../src/config/expression.js";
import { UsageError } from "../../src/errors.js";

function message(
  body: Buffer | string | object,
  opts: {
    headers?: Record<string, unknown>;
    properties?: Record<string, unknown>;
    exchange?: string;
    routingKey?: string;
    redelivered?: boolean;
  } = {},
) {
  const content = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  return {
    content,
    fields: {
      exchange: opts.exchange ?? "orders",
      routingKey: opts.routingKey ?? "order.created.eu",
      redelivered: opts.redelivered ?? false,
    },
    properties: { headers: opts.headers ?? {}, ...opts.properties },
  };
}

const order = factsOf(
  message(
    { total: 150, customer: { id: "c-1", vip: true }, tags: ["vip", "new"], status: "FAILED" },
    {
      headers: { region: "eu", attempt: 3, "x-region": "emea", "app.version": "2.1", flag: true },
      properties: { messageId: "m-1", type: "order.created", priority: 5, contentType: undefined },
    },
  ),
);
const text = factsOf(message("hello world", { routingKey: "greeting", redelivered: true }));
const binary = factsOf(message(Buffer.from([0xff, 0xfe, 0x00, 0x80])));

describe("factsOf", () => {
  it("parses a JSON body, keeps a text body as text, and leaves a binary body undefined", () => {
    expect(order.body).toEqual({
      total: 150,
      customer: { id: "c-1", vip: true },
      tags: ["vip", "new"],
      status: "FAILED",
    });
    expect(text.body).toBe("hello world");
    expect(binary.body).toBeUndefined();
    expect(factsOf(message("42")).body).toBe(42);
  });

  it("keeps typed headers, only the properties that are set, and the delivery fields", () => {
    expect(order.headers).toEqual({
      region: "eu",
      attempt: 3,
      "x-region": "emea",
      "app.version": "2.1",
      flag: true,
    });
    expect(order.properties).toEqual({ messageId: "m-1", type: "order.created", priority: 5 });
    expect(text).toMatchObject({ exchange: "orders", routingKey: "greeting", redelivered: true });
    expect(factsOf(message("x", { headers: { b: Buffer.from("bytes") } })).headers).toEqual({
      b: "bytes",
    });
  });
});

const cases: Array<[string, MessageFacts, boolean]> = [
  // JSON bodies, nested and missing properties
  ["body.total > 100", order, true],
  ["body.total >= 150 and body.total <= 150", order, true],
  ["body.total < 100", order, false],
  ['body.customer.id == "c-1"', order, true],
  ["body.customer.vip == true", order, true],
  ["body.customer.missing == 1", order, false],
  ["body.customer.missing != 1", order, false],
  ["not body.customer.missing", order, false],
  ["body.nope.deeper == 1 or body.total > 1", order, false],
  ["exists(body.customer.id)", order, true],
  // arithmetic
  ["body.total % 100 == 50", order, true],
  ["body.total * 2 - 100 == 200", order, true],
  ["body.total / 3 == 50", order, true],
  // in / not in, over literals and over a list in the body
  ['body.customer.id in ("c-1", "c-2")', order, true],
  ['body.customer.id not in ("c-1", "c-2")', order, false],
  ['"vip" in body.tags', order, true],
  ['"old" in body.tags', order, false],
  // regex
  ['routingKey ~= "^order\\\\..*\\\\.eu$"', order, true],
  ['body.customer.id ~= "^c-[0-9]+$"', order, true],
  ['body.total ~= "150"', order, false],
  // headers with their types
  ['headers.region == "eu"', order, true],
  ["headers.attempt >= 3", order, true],
  ['headers.attempt == "3"', order, false],
  ["headers.flag", order, true],
  ["'headers.x-region' == \"emea\"", order, true],
  ["'headers.app.version' == \"2.1\"", order, true],
  // properties and the delivery fields
  ['properties.messageId == "m-1"', order, true],
  ['properties.type in ("order.created", "order.paid")', order, true],
  ["properties.priority > 4", order, true],
  ['properties.correlationId == "x"', order, false],
  ['exchange == "orders" and not redelivered', order, true],
  ["redelivered", text, true],
  // functions
  ['lower(body.status) == "failed"', order, true],
  ["length(body.tags) == 2", order, true],
  // non-JSON and binary bodies
  ['body == "hello world"', text, true],
  ['body ~= "^hello"', text, true],
  ["body.total > 1", text, false],
  ['body == "x"', binary, false],
  // type mismatch is false, not an error
  ["body.customer.id > 1", order, false],
  // no prototype access
  ["body.constructor", order, false],
  ["body.__proto__", order, false],
  ["exists(body.constructor)", order, false],
  ["body.customer.hasOwnProperty", order, false],
  ["body.tags.constructor", order, false],
  // multi-line source
  ['body.total > 100\n  and headers.region == "eu"', order, true],
];

describe("compileExpression: what matches", () => {
  it.each(cases)("%s", (source, facts, expected) => {
    expect(compileExpression(source, "--filter").test(facts)).toBe(expected);
  });

  it("keeps the source", () => {
    expect(compileExpression("body.total > 1", "--filter").source).toBe("body.total > 1");
  });
});

const errors: Array<[string, RegExp]> = [
  [
    "body.total >",
    /^--filter: bad expression at column 13: expected a value \(number, "text", field or parenthesis\), got the end of the expression/,
  ],
  ["body.total = 1", /at column 12: unexpected "="; compare with "=="/],
  ["body.total > 1 && headers.region", /at column 16: unexpected "&&"; write "and" \/ "or"/],
  ["(body.total > 1", /at column 16: expected an operator or "\)", got the end of the expression/],
  ["body.total > 1)", /at column 15: expected an operator, "and"\/"or" or the end, got "\)"/],
  ["body.total > 1 and and 2", /at column 20: expected a value .*got "and"/],
  ["body.aaaaaaaaaaaaaaaaaaaaaaaaa.b == 1 and or 2", /at column 43: expected a value .*got "or"/],
  ["body.x %% 2", /at column 9: expected a value/],
  ['messageId == "m-1"', /at column 1: unknown name "messageId"/],
  ['properties.messageid == "m-1"', /unknown message property "messageid"/],
  ["frob(body.total)", /at column 1: unknown function "frob"/],
  ["body.customer.id == 'c-1'", /at column 21: 'c-1' in single quotes names a field/],
  ['body.customer.id ~= "(["', /at column 21: invalid regular expression/],
  ["body.total >\n  and 1", /at line 2, column 3: expected a value/],
  ["   ", /--filter: the expression is empty/],
  ['routingKey ~= "\\.eu$"', /at column 15: in text, only \\\\ and \\" are escapes/],
];

describe("compileExpression: mistakes", () => {
  it.each(errors)("%s", (source, message) => {
    let caught: unknown;
    try {
      compileExpression(source, "expect[2].message.match");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    const text = (caught as UsageError).message.replace("expect[2].message.match", "--filter");
    expect(text).toMatch(message);
    expect((caught as UsageError).message.startsWith("expect[2].message.match:")).toBe(true);
    expect((caught as UsageError).hint).toBeTruthy();
  });

  it("points at the column under the expression", () => {
    expect(() => compileExpression("body.total = 1", "--filter")).toThrow(
      "\n  body.total = 1\n             ^",
    );
  });
});

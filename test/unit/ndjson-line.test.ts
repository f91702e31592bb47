/**
 * The NDJSON line written field by field is the line JSON.stringify would write: the same
 * fields in the same order, every value quoted the same, across messages that change their
 * exchange and routing key (quoted once per change).
 */
import { describe, expect, it } from "vitest";
import { ndjsonLine, type PrintableMessage } from "../../src/ui/message.js";

/** The line as one JSON.stringify of the whole object, the body spliced last. */
function reference(n: number, m: PrintableMessage, bodyEncoding: string, body: unknown): string {
  return `${JSON.stringify({
    n,
    exchange: m.exchange,
    routingKey: m.routingKey,
    redelivered: m.redelivered,
    properties: m.properties,
    headers: m.headers,
    size: m.body.length,
    bodyEncoding,
    body,
  })}\n`;
}

const message = (over: Partial<PrintableMessage>): PrintableMessage => ({
  exchange: "",
  routingKey: "q",
  redelivered: false,
  headers: {},
  properties: { contentType: "text/plain" },
  body: Buffer.from("x".repeat(100)),
  ...over,
});

describe("NDJSON line, field by field", () => {
  it("matches JSON.stringify for text, binary and JSON bodies, in a stream of changing routes", () => {
    const cases: Array<[PrintableMessage, string, unknown]> = [
      [message({}), "utf8", "x".repeat(100)],
      [message({ exchange: "orders", routingKey: 'a"b\\c\u2028' }), "utf8", "x".repeat(100)],
      [
        message({ exchange: "orders", routingKey: 'a"b\\c\u2028', redelivered: true }),
        "utf8",
        "x".repeat(100),
      ],
      [
        message({
          exchange: "é\n",
          properties: { contentType: "application/json", messageId: "m-1", timestamp: 5 },
          headers: { tenant: "t1", n: 2, nested: { list: [1, "two"] } },
          body: Buffer.from('{"a": 1.0}'),
        }),
        "json",
        { a: 1 },
      ],
      [message({ body: Buffer.from([0xff, 0x00, 0x80]) }), "base64", "/wCA"],
      [message({ properties: {}, body: Buffer.alloc(0) }), "utf8", ""],
      [message({}), "utf8", "x".repeat(100)],
    ];
    let n = 0;
    for (const [m, encoding, body] of cases) {
      n += 1;
      const line = ndjsonLine(n, m);
      if (encoding === "json") {
        // Spliced as it arrived: the text is kept, number literals too.
        expect(line).toBe(`${reference(n, m, encoding, "@").replace('"@"', '{"a": 1.0}')}`);
      } else expect(line).toBe(reference(n, m, encoding, body));
      expect(JSON.parse(line)).toMatchObject({ n, exchange: m.exchange, routingKey: m.routingKey });
    }
  });

  it("makes header values JSON-safe as before: buffers as base64, bigints as text", () => {
    const line = ndjsonLine(
      7,
      message({ headers: { raw: Buffer.from("hi"), big: 12345678901234567890n } }),
    );
    expect(JSON.parse(line).headers).toEqual({ raw: "aGk=", big: "12345678901234567890" });
  });

  it("leaves out what JSON.stringify leaves out, for messages of another shape", () => {
    const odd = { ...message({}), headers: undefined } as unknown as PrintableMessage;
    const line = ndjsonLine(1, odd);
    expect(Object.keys(JSON.parse(line))).not.toContain("headers");
    expect(line).toBe(reference(1, odd, "utf8", "x".repeat(100)));
  });
});

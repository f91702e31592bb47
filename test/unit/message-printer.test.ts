import { describe, expect, it } from "vitest";
import { ndjsonLine, prettyMessage } from "../../src/ui/message.js";
import { createTheme } from "../../src/ui/theme.js";

const msg = (
  body: string | Buffer,
  properties: Record<string, unknown> = {},
  headers: Record<string, unknown> = {},
) => ({
  exchange: "orders",
  routingKey: "order.created",
  redelivered: false,
  headers,
  properties,
  body: Buffer.isBuffer(body) ? body : Buffer.from(body),
});

/** The body's bytes back from a line, as a program reading the NDJSON would get them. */
function bytesOf(line: string): Buffer {
  const parsed = JSON.parse(line) as { bodyEncoding: string; body: unknown };
  if (parsed.bodyEncoding === "base64") return Buffer.from(parsed.body as string, "base64");
  if (parsed.bodyEncoding === "utf8") return Buffer.from(parsed.body as string, "utf8");
  // json: the body stands in the line as it arrived, the last member of the object.
  return Buffer.from(line.slice(line.indexOf(',"body":') + 8, line.trimEnd().length - 1), "utf8");
}

describe("NDJSON lines", () => {
  it("splices a one-line JSON body in as it arrived: spacing and number literals kept", () => {
    const body = ' {"id": 12345678901234567890, "x": 1.0, "y": 1e400} ';
    const line = ndjsonLine(1, msg(body, { contentType: "application/json" }));
    expect(line.endsWith("\n")).toBe(true);
    expect(line.trim().includes("\n")).toBe(false);
    expect(JSON.parse(line)).toMatchObject({
      n: 1,
      exchange: "orders",
      routingKey: "order.created",
      redelivered: false,
      properties: { contentType: "application/json" },
      headers: {},
      size: Buffer.byteLength(body),
      bodyEncoding: "json",
      body: { x: 1 },
    });
    expect(bytesOf(line).toString()).toBe(body);
  });

  it("gives text as UTF-8 text, JSON over several lines too, and binary as base64", () => {
    for (const [body, props, encoding] of [
      ["hello", { contentType: "text/plain" }, "utf8"],
      ['{"a":1}', { contentType: "text/plain" }, "utf8"],
      ["{not json", { contentType: "application/json" }, "utf8"],
      ['{\n  "a": 1\n}', { contentType: "application/json" }, "utf8"],
      ["tab\tand \u0001 control, ünïcödé ✓", {}, "utf8"],
      ["", {}, "utf8"],
      [Buffer.from([0, 1, 2, 255]), {}, "base64"],
      [Buffer.from([0xc3, 0x28]), { contentType: "text/plain" }, "base64"],
    ] as const) {
      const line = ndjsonLine(2, msg(body, props));
      const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
      expect(JSON.parse(line).bodyEncoding, JSON.stringify(body)).toBe(encoding);
      expect(bytesOf(line)).toEqual(bytes);
      expect(line.trim().includes("\n")).toBe(false);
    }
  });

  it("decodes JSON without a content type, and makes header values JSON-safe", () => {
    const parsed = JSON.parse(
      ndjsonLine(
        3,
        msg(
          "[1,2]",
          {},
          {
            raw: Buffer.from("hi"),
            n: 5,
            "x-death": [{ count: 1, time: { "!": "timestamp", value: 1_700_000_000 } }],
          },
        ),
      ),
    );
    expect(parsed.body).toEqual([1, 2]);
    expect(parsed.headers).toEqual({
      raw: Buffer.from("hi").toString("base64"),
      n: 5,
      "x-death": [{ count: 1, time: "2023-11-14T22:13:20.000Z" }],
    });
  });
});

describe("pretty messages", () => {
  const theme = createTheme(false);
  it("shows exchange, key, headers, properties and an indented JSON body", () => {
    const text = prettyMessage(
      4,
      {
        ...msg(
          '{"a":[1]}',
          { contentType: "application/json", timestamp: 0 },
          { region: "eu west" },
        ),
        redelivered: true,
      },
      theme,
    );
    expect(text).toBe(
      [
        "#4 orders → order.created redelivered",
        '  headers     region="eu west"',
        "  properties  contentType=application/json  timestamp=1970-01-01T00:00:00.000Z",
        "  {",
        '    "a": [',
        "      1",
        "    ]",
        "  }",
        "",
        "",
      ].join("\n"),
    );
  });

  it("names the default exchange and shows binary bodies as base64", () => {
    const text = prettyMessage(1, { ...msg(Buffer.from([0, 1])), exchange: "" }, theme);
    expect(text).toContain("#1 (default exchange) → order.created");
    expect(text).toContain("(binary, 2 bytes) AAE=");
  });

  it("tells a number header from a text one, and shows x-death times as dates", () => {
    const text = prettyMessage(
      2,
      msg(
        "x",
        {},
        {
          n: 5,
          s: "5",
          t: "true",
          region: "eu",
          "x-death": [{ count: 2, time: { "!": "timestamp", value: 0 } }],
        },
      ),
      theme,
    );
    expect(text).toContain(
      'headers     n=5  s="5"  t="true"  region=eu  x-death=[{"count":2,"time":"1970-01-01T00:00:00.000Z"}]',
    );
  });

  it("lays out JSON bodies without changing their numbers", () => {
    const text = prettyMessage(
      3,
      msg('{"id":12345678901234567890,"x":1.0,"e":[],"o":{},"s":"a,b:{c}\\""}', {}),
      theme,
    );
    expect(text).toContain(
      [
        "  {",
        '    "id": 12345678901234567890,',
        '    "x": 1.0,',
        '    "e": [],',
        '    "o": {},',
        '    "s": "a,b:{c}\\""',
        "  }",
      ].join("\n"),
    );
  });
});

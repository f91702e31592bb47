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

describe("NDJSON lines", () => {
  it("decodes a JSON body and keeps one line per message", () => {
    const line = ndjsonLine(1, msg('{\n  "a": 1\n}', { contentType: "application/json" }));
    expect(line.endsWith("\n")).toBe(true);
    expect(line.trim().includes("\n")).toBe(false);
    expect(JSON.parse(line)).toEqual({
      n: 1,
      exchange: "orders",
      routingKey: "order.created",
      redelivered: false,
      properties: { contentType: "application/json" },
      headers: {},
      size: 12,
      bodyEncoding: "json",
      body: { a: 1 },
    });
  });

  it("uses base64 for text, binary and invalid JSON", () => {
    for (const [body, props] of [
      ["hello", { contentType: "text/plain" }],
      ["{not json", { contentType: "application/json" }],
      [Buffer.from([0, 1, 2, 255]), {}],
    ] as const) {
      const parsed = JSON.parse(ndjsonLine(2, msg(body, props)));
      expect(parsed.bodyEncoding).toBe("base64");
      expect(Buffer.from(parsed.body, "base64")).toEqual(
        Buffer.isBuffer(body) ? body : Buffer.from(body),
      );
    }
  });

  it("decodes JSON without a content type, and makes buffers in headers JSON-safe", () => {
    const parsed = JSON.parse(ndjsonLine(3, msg("[1,2]", {}, { raw: Buffer.from("hi"), n: 5 })));
    expect(parsed.body).toEqual([1, 2]);
    expect(parsed.headers).toEqual({ raw: Buffer.from("hi").toString("base64"), n: 5 });
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
});

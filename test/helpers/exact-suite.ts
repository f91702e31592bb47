/**
 * Bytes in are bytes out, and produce's summary says what became of each message: one suite,
 * run against the embedded broker (test/e2e) and against RabbitMQ (test/rabbitmq).
 *
 * Property-based: random byte strings (0 B to 1 MiB) through `produce --body-file` and
 * `produce --body -`, and random JSON documents (integers past 2^53, 1.0, 1e400, odd
 * whitespace) through `produce --body`, come back from `consume --json` byte for byte.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp, { type ChannelModel } from "amqplib";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCli, uniqueName } from "./cli.js";

/** How many cases each property runs; the note on the issue quotes these. */
export const CASES = { bytes: 40, stdin: 15, json: 60 } as const;

/** The exact body bytes of one `consume --json` line, whatever its bodyEncoding. */
export function bodyBytes(line: string): Buffer {
  const parsed = JSON.parse(line) as { bodyEncoding: string; body: unknown };
  if (parsed.bodyEncoding === "base64") return Buffer.from(parsed.body as string, "base64");
  if (parsed.bodyEncoding === "utf8") return Buffer.from(parsed.body as string, "utf8");
  // json: the body stands in the line as it arrived, as the object's last member.
  const start = line.indexOf(',"body":') + ',"body":'.length;
  return Buffer.from(line.slice(start, line.trimEnd().length - 1), "utf8");
}

/** Byte strings from 0 B to 1 MiB: small ones that shrink, and large ones filled at random. */
const byteStrings = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 300, max: 1024 * 1024 }).map((n) => randomBytes(n)),
  },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.alloc(0), Buffer.alloc(1024 * 1024, 0x7b)) },
);

/** Whitespace JSON allows between tokens. */
const ws = fc
  .array(fc.constantFrom(" ", "\t", "\n", "\r\n", "  "), { maxLength: 3 })
  .map((a) => a.join(""));

/** Number literals JSON.parse would change: past 2^53, trailing zeros, exponents, -0. */
const numberText = fc.oneof(
  fc.constantFrom(
    "12345678901234567890",
    "-9007199254740993",
    "1.0",
    "1e400",
    "-1E-400",
    "0.10",
    "-0",
    "1.5e+3",
    "100000000000000000000000000000",
  ),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
);

/**
 * Text for JSON strings, without `{{`: in a --body that opens a placeholder (a literal one is
 * written `\{{`, tested on its own below).
 */
const plainText = fc.string().filter((t) => !t.includes("{{") && !t.endsWith("{"));

/** JSON text (always an object or array at the top) with odd spacing and exact numbers. */
const jsonText: fc.Arbitrary<string> = fc
  .letrec<{ value: string; doc: string }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      numberText,
      plainText.map((t) => JSON.stringify(t)),
      fc.constantFrom("true", "false", "null", '"\\u00e9\\n\\"x\\""'),
      tie("doc"),
    ),
    doc: fc.oneof(
      fc
        .array(fc.tuple(ws, plainText, ws, ws, tie("value"), ws), { maxLength: 4 })
        .map(
          (members) =>
            `{${members.map(([a, k, b, c, v, d]) => `${a}${JSON.stringify(k)}${b}:${c}${v}${d}`).join(",")}}`,
        ),
      fc
        .array(fc.tuple(ws, tie("value"), ws), { maxLength: 4 })
        .map((items) => `[${items.map(([a, v, b]) => `${a}${v}${b}`).join(",")}]`),
    ),
  }))
  .doc.chain((doc) => fc.tuple(ws, ws).map(([a, b]) => `${a}${doc}${b}`));

export function exactAndHonestSuite(brokerUrl: () => string): void {
  let conn: ChannelModel;
  let dir: string;
  const queues: string[] = [];

  beforeAll(async () => {
    conn = await amqp.connect(brokerUrl());
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-bytes-"));
  });
  afterAll(async () => {
    // Each queue on a channel of its own: one failed delete must not leave the others behind.
    for (const q of queues) {
      const ch = await conn.createChannel();
      ch.on("error", () => {});
      await ch.deleteQueue(q).catch(() => {});
      await ch.close().catch(() => {});
    }
    await conn.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function queue(prefix: string): Promise<string> {
    const q = uniqueName(prefix);
    const ch = await conn.createChannel();
    await ch.assertQueue(q, { durable: false });
    await ch.close();
    queues.push(q);
    return q;
  }

  const cli = (args: string[], stdin?: Buffer) =>
    runCli(["--url", brokerUrl(), ...args], stdin === undefined ? {} : { stdin });

  /** `produce` of three messages of "x" without confirms, to `exchange` with `key`. */
  const unconfirmed = (exchange: string, key: string, ...extra: string[]) =>
    cli([
      "produce",
      "--no-confirm",
      "--exchange",
      exchange,
      "--key",
      key,
      "--body",
      "x",
      "--amount",
      "3",
      ...extra,
    ]);

  /** Publish with `args`, then read one message back as NDJSON. */
  async function roundTrip(q: string, args: string[], stdin?: Buffer) {
    const produced = await cli(["produce", "--exchange", "", "--key", q, ...args], stdin);
    expect(produced.code, produced.stderr).toBe(0);
    const consumed = await cli(["consume", q, "--count", "1", "--json"]);
    expect(consumed.code, consumed.stderr).toBe(0);
    const line = consumed.stdout.trimEnd();
    expect(line.includes("\n")).toBe(false);
    return { line, message: JSON.parse(line) as Record<string, unknown> };
  }

  it(`random bytes (0 B to 1 MiB) through --body-file come back byte for byte (${CASES.bytes} cases)`, async () => {
    const q = await queue("bytes");
    const file = path.join(dir, "body.bin");
    await fc.assert(
      fc.asyncProperty(byteStrings, async (bytes) => {
        await writeFile(file, bytes);
        const { line, message } = await roundTrip(q, ["--body-file", file]);
        expect(message["size"]).toBe(bytes.length);
        expect(bodyBytes(line).equals(bytes)).toBe(true);
      }),
      { numRuns: CASES.bytes },
    );
  }, 120_000);

  it(`random bytes through --body - (standard input) come back byte for byte (${CASES.stdin} cases)`, async () => {
    const q = await queue("stdin");
    await fc.assert(
      fc.asyncProperty(byteStrings, async (bytes) => {
        const { line } = await roundTrip(q, ["--body", "-"], bytes);
        expect(bodyBytes(line).equals(bytes)).toBe(true);
      }),
      { numRuns: CASES.stdin },
    );
  }, 120_000);

  it(`random JSON documents (big integers, 1.0, 1e400, odd spacing) through --body come back as written (${CASES.json} cases)`, async () => {
    const q = await queue("json");
    await fc.assert(
      fc.asyncProperty(jsonText, async (text) => {
        const { line, message } = await roundTrip(q, ["--body", text]);
        expect(bodyBytes(line).toString("utf8")).toBe(text);
        expect((message["properties"] as Record<string, unknown>)["contentType"]).toBe(
          "application/json",
        );
      }),
      { numRuns: CASES.json },
    );
  }, 120_000);

  it("a literal {{ in a --body is written \\{{ and goes out as {{; a lone {{ is a clear error", async () => {
    const q = await queue("braces");
    const { line } = await roundTrip(q, ["--body", '{"greeting": "\\{{name}} and {", "n": 1.0}']);
    expect(bodyBytes(line).toString()).toBe('{"greeting": "{{name}} and {", "n": 1.0}');
    const r = await cli(["produce", "--exchange", "", "--key", q, "--body", '{"a": "{{"}']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: --body: unterminated placeholder: "{{" without "}}"');
    expect(r.stderr).toContain("write \\{{ for a literal {{");
  });

  it("a binary file is labelled application/octet-stream, not text", async () => {
    const q = await queue("label");
    const file = path.join(dir, "small.bin");
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x7b, 0x80]);
    await writeFile(file, bytes);
    const { message, line } = await roundTrip(q, ["--body-file", file]);
    expect(message).toMatchObject({
      size: 6,
      bodyEncoding: "base64",
      properties: { contentType: "application/octet-stream" },
    });
    expect(bodyBytes(line).equals(bytes)).toBe(true);
  });

  it("--template fills placeholders in a file; without it they go out as written", async () => {
    const q = await queue("tpl");
    const file = path.join(dir, "order.json");
    await writeFile(file, '{"n": {{seq}}, "id": 12345678901234567890}');
    const raw = await roundTrip(q, ["--body-file", file]);
    expect(bodyBytes(raw.line).toString()).toBe('{"n": {{seq}}, "id": 12345678901234567890}');
    const filled = await roundTrip(q, ["--body-file", file, "--template"]);
    expect(bodyBytes(filled.line).toString()).toBe('{"n": 1, "id": 12345678901234567890}');
  });

  it("--no-confirm to a missing exchange: the broker's 404, what may be lost, exit 1", async () => {
    const missing = uniqueName("no-such-exchange");
    const r = await unconfirmed(missing, "k");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^! published 3 · returned 0 · unconfirmed 3 \(may be lost\) in .* — stopped by the error below\n$/,
    );
    expect(r.stderr).toContain(
      `error: cannot publish to exchange "${missing}": exchange "${missing}" does not exist (404 NOT_FOUND - no exchange '${missing}' in vhost '/')`,
    );
    expect(r.stderr).toContain(
      `hint: declare it: eventlab declare exchange ${missing} --type topic`,
    );
    const json = await unconfirmed(missing, "k", "--json");
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      published: 3,
      confirmed: 0,
      unconfirmed: 3,
      confirms: false,
      error: expect.stringContaining("404 NOT_FOUND"),
    });
  });

  it("--no-confirm with an unroutable key: the returns are waited for and counted, exit 3", async () => {
    const key = uniqueName("nobody-listens");
    const r = await unconfirmed("amq.topic", key, "--json");
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ published: 3, returned: 3, unconfirmed: 0 });
    expect(JSON.parse(r.stdout).returnedSamples).toEqual([
      { exchange: "amq.topic", routingKey: key, replyCode: 312, replyText: "NO_ROUTE", count: 3 },
    ]);
    const text = await unconfirmed("amq.topic", key);
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(/^! published 3 · returned 3 · without confirms in /);
    expect(text.stderr).toContain(`3 × 312 NO_ROUTE: exchange amq.topic, routing key "${key}"`);
  });

  it("a userId that is not the connection's user: the cause and the fix, not 'exists with other settings'", async () => {
    const q = await queue("userid");
    const r = await cli([
      "produce",
      "--exchange",
      "",
      "--key",
      q,
      "--body",
      "x",
      "--property",
      "userId=bob",
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /published 1 · confirmed 0 · returned 0 · unconfirmed 1 \(may be lost\)/,
    );
    expect(r.stderr).toContain(
      "the message's userId is not the user the connection logged in as (406 PRECONDITION_FAILED - user_id property set to 'bob' but authenticated user was 'guest')",
    );
    expect(r.stderr).toContain("hint: the broker checks userId against the login (guest)");
    expect(r.stderr).not.toContain("other settings");
  });
}

/**
 * argv → options for produce and consume: every flag lands in the options object,
 * and every bad value is a usage error that names the flag.
 */
import { describe, expect, it } from "vitest";
import { parseConsumeArgs } from "../../src/commands/consume.js";
import { produceCommand } from "../../src/commands/produce.js";
import { optionsOf, usageErrorOf } from "../helpers/argv.js";
import { runCli, testContext } from "../helpers/cli.js";

const produce = (argv: string[]) => optionsOf(produceCommand, argv);
const produceError = (argv: string[]) => usageErrorOf(produceCommand, argv);

describe("produce argv", () => {
  it("maps every flag", async () => {
    // biome-ignore format: one flag a line reads best
    const o = await produce([
      "a", "b",
      "--exchange", "orders",
      "--key", "order.created",
      "--header", "region=eu", "--header", "priority=5", "--header", 'code="5"',
      "--property", "messageId={{uuid}}",
      "--property", "priority=3",
      "--property", "persistent=true",
      "--property", "content-type=text/plain",
      "--property", "timestamp=true",
      "--body", '{"a":1}',
      "--amount", "10",
      "--delay", "250ms",
      "--persistent",
      "--confirm-window", "500",
      "--seed", "42",
      "--json",
      "--settle-timeout", "3s",
      "--explain",
    ]);
    expect(o).toEqual({
      templates: ["a", "b"],
      exchange: "orders",
      routingKey: "order.created",
      headers: { region: "eu", priority: 5, code: "5" },
      properties: {
        messageId: "{{uuid}}",
        priority: 3,
        persistent: true,
        contentType: "text/plain",
        timestamp: true,
      },
      body: { kind: "text", text: '{"a":1}' },
      amount: 10,
      delayMs: 250,
      rate: undefined,
      persistent: true,
      confirm: true,
      mandatory: true,
      window: 500,
      seed: 42,
      json: true,
      settleTimeoutMs: 3000,
      template: false,
      explain: true,
    });
  });

  it("reads the body from stdin with --body - and from a file with --body-file", async () => {
    expect((await produce(["--body", "-"])).body).toEqual({ kind: "stdin" });
    expect((await produce(["--body-file", "b.json"])).body).toEqual({
      kind: "file",
      path: "b.json",
    });
    expect((await produce(["--body-file", "b.bin", "--template"])).template).toBe(true);
  });

  it("defaults: confirms, returns, a window of 1000, a 10 s settle timeout", async () => {
    expect(await produce(["t"])).toMatchObject({
      confirm: true,
      mandatory: true,
      window: 1000,
      settleTimeoutMs: 10_000,
      json: false,
      explain: false,
      template: false,
      headers: {},
      properties: {},
    });
    expect(await produce(["t", "--no-confirm", "--no-mandatory"])).toMatchObject({
      confirm: false,
      mandatory: false,
    });
  });

  const bad: Array<[string, string[], RegExp]> = [
    [
      "negative amount",
      ["--amount", "-1"],
      /--amount <n>' argument '-1' is invalid\. Expected a whole number ≥ 0/,
    ],
    [
      "fractional amount",
      ["--amount", "1.5"],
      /--amount <n>' argument '1\.5' is invalid\. Expected a whole number/,
    ],
    [
      "bad delay",
      ["--delay", "soon"],
      /--delay <duration>' argument 'soon' is invalid\. Expected a duration like 250ms/,
    ],
    [
      "zero rate",
      ["--rate", "0"],
      /--rate <msg\/s>' argument '0' is invalid\. Expected a number > 0/,
    ],
    ["delay and rate", ["--delay", "1s", "--rate", "5"], /either --delay or --rate/],
    ["body and body-file", ["--body", "x", "--body-file", "y"], /either --body or --body-file/],
    [
      "template with a text body",
      ["--body", "x", "--template"],
      /--template goes with --body-file or --body -/,
    ],
    [
      "header without =",
      ["--header", "region"],
      /--header <key=value>' argument 'region' is invalid\. Expected key=value/,
    ],
    [
      "unknown property",
      ["--property", "colour=red"],
      /--property <name=value>' argument 'colour=red' is invalid\. Expected name=value with a known property \(properties: contentType/,
    ],
    [
      "priority out of range",
      ["--property", "priority=300"],
      /argument 'priority=300' is invalid\. Expected priority=<a whole number from 0 to 255>/,
    ],
    [
      "persistent not boolean",
      ["--property", "persistent=yes"],
      /argument 'persistent=yes' is invalid\. Expected persistent=true or persistent=false/,
    ],
    [
      "bad seed",
      ["--seed", "abc"],
      /--seed <n>' argument 'abc' is invalid\. Expected a whole number/,
    ],
    [
      "bad confirm window",
      ["--confirm-window", "0"],
      /--confirm-window <n>' argument '0' is invalid\. Expected a whole number from 1/,
    ],
  ];
  for (const [name, argv, message] of bad) {
    it(`rejects ${name}`, async () => {
      expect(await produceError(argv)).toMatch(message);
    });
  }

  it("property names accept camelCase, kebab-case and snake_case", async () => {
    // biome-ignore format: pairs
    const o = await produce([
      "--property", "correlation-id=c", "--property", "reply_to=r",
      "--property", "appId=a", "--property", "Type=t",
    ]);
    expect(o.properties).toEqual({ correlationId: "c", replyTo: "r", appId: "a", type: "t" });
  });

  it("without a template or --exchange/--key, says what to give (before connecting)", async () => {
    const r = await runCli(["produce", "--url", "amqp://127.0.0.1:1"], { cwd: "/" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /error: nothing to publish: name a template, or give --exchange and --key/,
    );
    expect(r.stderr).toMatch(/hint: /);
  });

  it("an unknown template is named, with the templates there are", async () => {
    const r = await runCli(["produce", "nope", "--url", "amqp://127.0.0.1:1"], { cwd: "/" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: unknown template "nope" \(no config file found\)/);
  });
});

describe("consume argv", () => {
  it("maps every flag", () => {
    expect(
      parseConsumeArgs(undefined, {
        exchange: "alerts",
        key: "k",
        header: ["region=eu", "priority=5"],
        match: "any-with-x",
        prefetch: "10",
        ack: true,
        count: "5",
        idleTimeout: "2s",
        reject: true,
        json: true,
      }),
    ).toEqual({
      queue: undefined,
      exchange: "alerts",
      routingKey: "k",
      headers: { region: "eu", priority: 5 },
      match: "any-with-x",
      prefetch: 10,
      noAck: undefined,
      count: 5,
      idleTimeoutMs: 2000,
      policy: "reject",
      json: true,
    });
    expect(parseConsumeArgs("q", { ack: false })).toMatchObject({
      queue: "q",
      noAck: true,
      policy: undefined,
    });
    expect(parseConsumeArgs("q", { ack: true, requeue: true }).policy).toBe("requeue");
  });

  const bad: Array<[string, string | undefined, Parameters<typeof parseConsumeArgs>[1], RegExp]> = [
    [
      "queue and exchange",
      "q",
      { ack: true, exchange: "x" },
      /give a queue or --exchange, not both/,
    ],
    [
      "key without exchange",
      "q",
      { ack: true, key: "k" },
      /--key, --header and --match go with --exchange/,
    ],
    [
      "reject and requeue",
      "q",
      { ack: true, reject: true, requeue: true },
      /either --reject or --requeue/,
    ],
    ["no-ack with reject", "q", { ack: false, reject: true }, /--reject needs acknowledgements/],
    [
      "bad match",
      undefined,
      { ack: true, exchange: "x", header: ["a=1"], match: "some" },
      /--match expects one of all, any, all-with-x, any-with-x, got "some"/,
    ],
    [
      "match without header",
      undefined,
      { ack: true, exchange: "x", match: "all" },
      /--match needs at least one --header/,
    ],
    ["zero count", "q", { ack: true, count: "0" }, /--count expects a whole number ≥ 1/],
    [
      "prefetch too big",
      "q",
      { ack: true, prefetch: "70000" },
      /--prefetch expects a whole number from 0 to 65535/,
    ],
    [
      "bad idle timeout",
      "q",
      { ack: true, idleTimeout: "-1s" },
      /--idle-timeout expects a duration/,
    ],
  ];
  for (const [name, queue, flags, message] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => parseConsumeArgs(queue, flags)).toThrow(message);
    });
  }

  it("without a queue or exchange, says what to give", async () => {
    const r = await runCli(["consume", "--url", "amqp://127.0.0.1:1"], { cwd: "/" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: name a queue to read, or --exchange to tap/);
  });
});

describe("flag defaults through commander", () => {
  it("consume acknowledges by default; --no-ack turns it off", async () => {
    const { consumeCommand } = await import("../../src/commands/consume.js");
    const ctx = await testContext();
    const seen: Array<Record<string, unknown>> = [];
    const parse = async (argv: string[]) => {
      await consumeCommand(ctx, async (_ctx, o) => {
        seen.push(o as unknown as Record<string, unknown>);
      }).parseAsync(argv, { from: "user" });
      return seen.at(-1)!;
    };
    expect((await parse(["q"])).noAck).toBeUndefined();
    expect((await parse(["q", "--ack"])).noAck).toBeUndefined();
    expect((await parse(["q", "--no-ack"])).noAck).toBe(true);
  });
});

describe("placeholder errors in a message made of flags", () => {
  it("name the flag they came from, not a config path, before any connection", async () => {
    const cases: Array<[string[], string]> = [
      [["--body", '{"a": {{nope}}}'], 'error: --body: "{{nope}}": unknown generator "nope"'],
      [["--key", "k.{{int x}}", "--body", "x"], 'error: --key: "{{int x}}": int takes two'],
      [["--header", "h={{seq 0 1}}", "--body", "x"], 'error: --header h: "{{seq 0 1}}"'],
      [["--property", "messageId={{uuid 3}}", "--body", "x"], "error: --property messageId:"],
    ];
    for (const [args, error] of cases) {
      const r = await runCli(["produce", "--url", "amqp://127.0.0.1:1", "--exchange", "", ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(error);
      expect(r.stderr).not.toMatch(/invalid config|\(flags\)|cannot reach/);
    }
  });
});

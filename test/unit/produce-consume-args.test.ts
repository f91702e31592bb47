/**
 * argv → options for produce and consume: every flag lands in the options object,
 * and every bad value is a usage error that names the flag.
 */
import { describe, expect, it } from "vitest";
import { consumeCommand } from "../../src/commands/consume.js";
import { produceCommand } from "../../src/commands/produce.js";
import { optionsOf, usageErrorOf } from "../helpers/argv.js";
import { runCli } from "../helpers/cli.js";

const produce = (argv: string[]) => optionsOf(produceCommand, argv);
const produceError = (argv: string[]) => usageErrorOf(produceCommand, argv);
const consume = (argv: string[]) => optionsOf(consumeCommand, argv);
const consumeError = (argv: string[]) => usageErrorOf(consumeCommand, argv);

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
      "--reconnect", "forever",
      "--reconnect-timeout", "2m",
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
      reconnect: { attempts: Number.POSITIVE_INFINITY, timeoutMs: 120_000 },
    });
  });

  it("--reconnect N, --no-reconnect, and neither (the config's or the default)", async () => {
    expect((await produce(["t", "--reconnect", "3"])).reconnect).toEqual({
      attempts: 3,
      timeoutMs: undefined,
    });
    expect((await produce(["t", "--no-reconnect"])).reconnect).toEqual({
      attempts: 0,
      timeoutMs: undefined,
    });
    expect((await produce(["t"])).reconnect).toEqual({ attempts: undefined, timeoutMs: undefined });
    expect(await produceError(["t", "--reconnect", "lots"])).toMatch(
      /argument 'lots' is invalid\. Expected a whole number ≥ 0, or "forever"\./,
    );
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
      /^--property colour: not a message property$/,
    ],
    [
      "property without =",
      ["--property", "noequals"],
      /--property <name=value>' argument 'noequals' is invalid\. Expected name=value/,
    ],
    [
      "priority out of range",
      ["--property", "priority=300"],
      /^--property priority: expected a whole number from 0 to 255, got 300$/,
    ],
    [
      "persistent not boolean",
      ["--property", "persistent=yes"],
      /^--property persistent: expected true or false, got "yes"$/,
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
  it("maps every flag", async () => {
    // biome-ignore format: one flag a line reads best
    const o = await consume([
      "--exchange", "alerts",
      "--key", "k",
      "--header", "region=eu", "--header", "priority=5",
      "--match", "any-with-x",
      "--prefetch", "10",
      "--ack",
      "--count", "5",
      "--idle-timeout", "2s",
      "--reject",
      "--json",
    ]);
    expect(o).toEqual({
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
      behaviour: undefined,
      json: true,
      reconnect: { attempts: undefined, timeoutMs: undefined },
    });
    expect((await consume(["q", "--no-reconnect"])).reconnect).toEqual({
      attempts: 0,
      timeoutMs: undefined,
    });
    expect(await consume(["q", "--no-ack"])).toMatchObject({
      queue: "q",
      noAck: true,
      policy: undefined,
    });
    expect((await consume(["q", "--ack", "--requeue"])).policy).toBe("requeue");
  });

  it("maps every behaviour flag to the fields of a consumer profile", async () => {
    // biome-ignore format: one flag a line reads best
    const o = await consume([
      "q",
      "--concurrency", "4",
      "--work-time", "20ms..80ms",
      "--fail-rate", "0.1",
      "--fail-when", "body.n>3",
      "--retry-delays", "1s, 5s",
      "--dead-letter-queue", "q.failed",
      "--dedupe", "messageId",
      "--ordering", "body.user:body.seq",
      "--breaker", "5:2s",
      "--crash-at", "7",
    ]);
    expect(o.behaviour).toEqual({
      concurrency: 4,
      workTime: { minMs: 20, maxMs: 80 },
      failures: { rate: 0.1, when: { field: "body.n", above: 3 } },
      onFailure: "retry",
      retry: { delays: [1000, 5000], deadLetterQueue: "q.failed" },
      dedupe: "messageId",
      ordering: { key: "body.user", sequence: "body.seq" },
      breaker: { failures: 5, pause: 2000 },
      crashAt: 7,
    });
    expect((await consume(["q", "--fail-when", "headers.region=eu"])).behaviour).toEqual({
      failures: { when: { field: "headers.region", equals: "eu" } },
    });
    expect(
      (await consume(["q", "--fail-when", "body.n<2", "--on-failure", "reject"])).behaviour,
    ).toEqual({ failures: { when: { field: "body.n", below: 2 } }, onFailure: "reject" });
  });

  it("acknowledges by default; --no-ack turns it off", async () => {
    expect((await consume(["q"])).noAck).toBeUndefined();
    expect((await consume(["q", "--ack"])).noAck).toBeUndefined();
    expect((await consume(["q", "--no-ack"])).noAck).toBe(true);
  });

  const bad: Array<[string, string[], RegExp]> = [
    ["queue and exchange", ["q", "--exchange", "x"], /give either a queue or --exchange, not both/],
    ["key without exchange", ["q", "--key", "k"], /--key goes with --exchange/],
    ["header without exchange", ["q", "--header", "a=1"], /--header goes with --exchange/],
    ["reject and requeue", ["q", "--reject", "--requeue"], /either --reject or --requeue/],
    [
      "no-ack with reject",
      ["q", "--no-ack", "--reject"],
      /--reject needs acknowledgements; it cannot go with --no-ack/,
    ],
    [
      "bad match",
      ["--exchange", "x", "--header", "a=1", "--match", "some"],
      /--match <mode>' argument 'some' is invalid\. Allowed choices are all, any, all-with-x, any-with-x/,
    ],
    [
      "match without header",
      ["--exchange", "x", "--match", "all"],
      /--match needs --header to match on/,
    ],
    ["zero count", ["q", "--count", "0"], /--count: expected a whole number ≥ 1, got 0/],
    [
      "prefetch too big",
      ["q", "--prefetch", "70000"],
      /--prefetch: expected a whole number from 0 to 65535, got 70000/,
    ],
    [
      "prefetch not a number",
      ["q", "--prefetch", "ten"],
      /--prefetch <n>' argument 'ten' is invalid\. Expected a number\./,
    ],
    [
      "bad idle timeout",
      ["q", "--idle-timeout", "-1s"],
      /--idle-timeout: expected a duration like 250ms.*, got "-1s"/,
    ],
    [
      "fail rate above 1",
      ["q", "--fail-rate", "2"],
      /--fail-rate: expected a fraction from 0 to 1, got 2/,
    ],
    [
      "retry without delays",
      ["q", "--on-failure", "retry"],
      /--on-failure retry needs --retry-delays/,
    ],
    [
      "delays that do not retry",
      ["q", "--on-failure", "requeue", "--retry-delays", "1s"],
      /--retry-delays goes with --on-failure retry/,
    ],
    [
      "a retry delay that is no duration",
      ["q", "--retry-delays", "1s,soon"],
      /--retry-delays: expected a duration .*, got "soon"/,
    ],
    [
      "dead-letter queue without retries",
      ["q", "--dead-letter-queue", "q.dlq"],
      /--dead-letter-queue goes with --retry-delays/,
    ],
    [
      "fail-when without an operator",
      ["q", "--fail-when", "body.n~3"],
      /--fail-when <condition>' argument 'body\.n~3' is invalid\. Expected field=value, field>number or field<number/,
    ],
    ["fail-when above text", ["q", "--fail-when", "body.n>x"], /Expected a number after >/],
    [
      "breaker without a pause",
      ["q", "--breaker", "x"],
      /argument 'x' is invalid\. Expected failures:pause/,
    ],
    [
      "breaker of zero failures",
      ["q", "--breaker", "0:1s"],
      /--breaker: expected a whole number ≥ 1, got 0/,
    ],
    [
      "ordering without a sequence",
      ["q", "--ordering", "body.user"],
      /Expected key-field:sequence-field/,
    ],
    [
      "work time high..low",
      ["q", "--work-time", "200ms..20ms"],
      /--work-time: expected .*\(low\.\.high\), got "200ms\.\.20ms"/,
    ],
    [
      "too many consumers",
      ["q", "--concurrency", "65"],
      /--concurrency: expected a whole number from 1 to 64, got 65/,
    ],
    [
      "a crash without acknowledgements",
      ["q", "--no-ack", "--crash-at", "3"],
      /failures and crashes need acknowledgements; they cannot go with --no-ack/,
    ],
  ];
  for (const [name, argv, message] of bad) {
    it(`rejects ${name}`, async () => {
      expect(await consumeError(argv)).toMatch(message);
    });
  }

  it("reports every problem of the flags at once", async () => {
    const error = await consumeError(["q", "--fail-rate", "2", "--concurrency", "0", "--key", "k"]);
    expect(error).toContain("--fail-rate: expected a fraction from 0 to 1, got 2");
    expect(error).toContain("--concurrency: expected a whole number from 1 to 64, got 0");
    expect(error).toContain("--key goes with --exchange");
  });

  it("without a queue or exchange, says what to give", async () => {
    const r = await runCli(["consume", "--url", "amqp://127.0.0.1:1"], { cwd: "/" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: name a queue to read, or --exchange to tap/);
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

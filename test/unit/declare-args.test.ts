/**
 * argv → options for declare, delete and topology, through commander with a spy run,
 * and the pure conversion of settings to AMQP arguments.
 */
import { describe, expect, it } from "vitest";
import {
  bindingArguments,
  exchangeOptions,
  parseInequivalent,
  queueArguments,
} from "../../src/client/topology.js";
import { declareCommand } from "../../src/commands/declare.js";
import { deleteCommand } from "../../src/commands/delete.js";
import { topologyCommand } from "../../src/commands/topology.js";
import { optionsOf, usageErrorOf } from "../helpers/argv.js";

const declare = (argv: string[]) => optionsOf(declareCommand, argv);
const declareError = (argv: string[]) => usageErrorOf(declareCommand, argv);
const remove = (argv: string[]) => optionsOf(deleteCommand, argv);
const removeError = (argv: string[]) => usageErrorOf(deleteCommand, argv);

describe("declare exchange argv", () => {
  it("defaults: direct, durable", async () => {
    expect(await declare(["exchange", "orders"])).toEqual({
      command: "exchange",
      name: "orders",
      type: "direct",
      durable: true,
      autoDelete: false,
      internal: false,
      arguments: {},
      json: false,
    });
  });
  it("every flag", async () => {
    // biome-ignore format: one flag a line reads best
    const o = await declare([
      "exchange", "alerts",
      "--type", "headers",
      "--no-durable",
      "--auto-delete",
      "--internal",
      "--alternate-exchange", "ae",
      "--arg", "x-custom=5",
      "--json",
    ]);
    expect(o).toEqual({
      command: "exchange",
      name: "alerts",
      type: "headers",
      durable: false,
      autoDelete: true,
      internal: true,
      alternateExchange: "ae",
      arguments: { "x-custom": 5 },
      json: true,
    });
  });
  it("an unknown type names the flag and the choices", async () => {
    expect(await declareError(["exchange", "x", "--type", "topik"])).toMatch(
      /--type <type>' argument 'topik' is invalid\. Allowed choices are direct, topic, fanout, headers/,
    );
  });
  it("the default exchange and amq. names reach the broker, which says why it refuses", async () => {
    expect(await declare(["exchange", ""])).toMatchObject({ name: "" });
    expect(await declare(["exchange", "amq.x"])).toMatchObject({ name: "amq.x" });
  });
  it("an empty alternate exchange is refused, as in the config", async () => {
    expect(await declareError(["exchange", "x", "--alternate-exchange", ""])).toMatch(
      /--alternate-exchange: exchange name must not be empty/,
    );
  });
});

describe("declare queue argv", () => {
  it("every argument flag", async () => {
    // biome-ignore format: one flag a line reads best
    const o = await declare([
      "queue", "work",
      "--message-ttl", "30s",
      "--expires", "1h",
      "--max-length", "100",
      "--max-length-bytes", "1048576",
      "--overflow", "reject-publish",
      "--dead-letter-exchange", "dlx",
      "--dead-letter-routing-key", "dead",
      "--max-priority", "10",
      "--queue-type", "classic",
      "--arg", "x-single-active-consumer=true",
      "--exclusive",
      "--auto-delete",
      "--no-durable",
    ]);
    expect(o).toEqual({
      command: "queue",
      name: "work",
      durable: false,
      exclusive: true,
      autoDelete: true,
      messageTtl: 30_000,
      expires: 3_600_000,
      maxLength: 100,
      maxLengthBytes: 1_048_576,
      overflow: "reject-publish",
      deadLetterExchange: "dlx",
      deadLetterRoutingKey: "dead",
      maxPriority: 10,
      queueType: "classic",
      arguments: { "x-single-active-consumer": true },
      json: false,
    });
  });
  it("defaults: durable, shared, kept", async () => {
    expect(await declare(["queue", "q"])).toEqual({
      command: "queue",
      name: "q",
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
      json: false,
    });
  });
  it("no name: the broker names it", async () => {
    expect(await declare(["queue"])).toMatchObject({ command: "queue", name: "" });
  });
  const bad: Array<[string[], RegExp]> = [
    [["--max-length", "-1"], /--max-length: expected a whole number ≥ 0, got -1/],
    [["--max-length", "many"], /--max-length <n>' argument 'many' is invalid\. Expected a number/],
    [["--max-priority", "0"], /--max-priority: expected a whole number from 1 to 255, got 0/],
    [
      ["--overflow", "drop-tail"],
      /--overflow <mode>' argument 'drop-tail' is invalid\. Allowed choices are drop-head, reject-publish, reject-publish-dlx/,
    ],
    [
      ["--queue-type", "lazy"],
      /--queue-type <type>' argument 'lazy' is invalid\. Allowed choices are classic, quorum, stream/,
    ],
    [["--message-ttl", "soon"], /--message-ttl: expected a duration like 250ms.*, got "soon"/],
    [["--expires", "0"], /--expires: expected a duration above 0/],
    [["--dead-letter-routing-key", "k"], /--dead-letter-routing-key needs --dead-letter-exchange/],
    [["--queue-type", "quorum", "--exclusive"], /a quorum queue cannot have --exclusive/],
    [
      ["--queue-type", "stream", "--no-durable", "--auto-delete"],
      /a stream queue cannot have --no-durable; a stream queue cannot have --auto-delete/,
    ],
    [["--arg", "novalue"], /--arg <key=value>' argument 'novalue' is invalid\. Expected key=value/],
  ];
  for (const [flags, message] of bad) {
    it(`rejects ${flags.join(" ")}`, async () => {
      expect(await declareError(["queue", "q", ...flags])).toMatch(message);
    });
  }
});

describe("declare binding argv", () => {
  it("routing key binding to a queue", async () => {
    expect(await declare(["binding", "orders", "inventory", "--key", "order.*"])).toEqual({
      command: "binding",
      source: "orders",
      destination: "inventory",
      destinationType: "queue",
      routingKey: "order.*",
      match: undefined,
      arguments: {},
      json: false,
    });
  });
  it("without --key, the key is empty; the default exchange reaches the broker", async () => {
    expect(await declare(["binding", "", "q"])).toMatchObject({ source: "", routingKey: "" });
  });
  it("headers binding defaults to x-match all; exchange to exchange", async () => {
    expect(
      await declare(["binding", "alerts", "eu", "--header", "region=eu", "--header", "p=5"]),
    ).toMatchObject({
      match: "all",
      headers: { region: "eu", p: 5 },
    });
    // biome-ignore format: one flag a line reads best
    const o = await declare([
      "binding", "a", "b",
      "--to-exchange",
      "--match", "any-with-x",
      "--header", "x-k=v",
      "--arg", "x-extra=1",
    ]);
    expect(o).toMatchObject({
      destinationType: "exchange",
      match: "any-with-x",
      headers: { "x-k": "v" },
      arguments: { "x-extra": 1 },
    });
  });
  it("--match without --header is refused", async () => {
    expect(await declareError(["binding", "a", "b", "--match", "all"])).toBe(
      "--match needs --header to match on",
    );
  });
  it("an unknown match mode names the choices", async () => {
    expect(await declareError(["binding", "a", "b", "--header", "k=v", "--match", "most"])).toMatch(
      /--match <mode>' argument 'most' is invalid\. Allowed choices are all, any/,
    );
  });
});

describe("delete argv", () => {
  it("queue, exchange and binding flags", async () => {
    expect(await remove(["queue", "q", "--if-empty", "--if-unused", "--json"])).toEqual({
      command: "queue",
      name: "q",
      ifEmpty: true,
      ifUnused: true,
      json: true,
    });
    expect(await remove(["queue", "q"])).toEqual({
      command: "queue",
      name: "q",
      ifEmpty: false,
      ifUnused: false,
      json: false,
    });
    expect(await remove(["exchange", "e", "--if-unused"])).toEqual({
      command: "exchange",
      name: "e",
      ifUnused: true,
      json: false,
    });
    expect(await remove(["binding", "e", "q", "--key", "k"])).toEqual({
      command: "binding",
      source: "e",
      destination: "q",
      destinationType: "queue",
      routingKey: "k",
      match: undefined,
      arguments: {},
      json: false,
    });
  });
  it("a binding is checked as declare checks it", async () => {
    expect(await removeError(["binding", "e", "q", "--match", "any"])).toBe(
      "--match needs --header to match on",
    );
  });
});

describe("topology argv", () => {
  it("apply flags", async () => {
    expect(await optionsOf(topologyCommand, ["apply", "--dry-run", "--json"])).toEqual({
      command: "apply",
      dryRun: true,
      json: true,
    });
  });
});

describe("settings → AMQP arguments", () => {
  it("queue fields become x- arguments, merged with arguments", () => {
    expect(
      queueArguments({
        messageTtl: 1500.4,
        expires: 60_000,
        maxLength: 10,
        maxLengthBytes: 2048,
        overflow: "reject-publish-dlx",
        deadLetterExchange: "dlx",
        deadLetterRoutingKey: "dead",
        maxPriority: 5,
        queueType: "quorum",
        arguments: { "x-delivery-limit": 3 },
      }),
    ).toEqual({
      "x-message-ttl": 1500,
      "x-expires": 60_000,
      "x-max-length": 10,
      "x-max-length-bytes": 2048,
      "x-overflow": "reject-publish-dlx",
      "x-dead-letter-exchange": "dlx",
      "x-dead-letter-routing-key": "dead",
      "x-max-priority": 5,
      "x-queue-type": "quorum",
      "x-delivery-limit": 3,
    });
    expect(queueArguments({})).toEqual({});
  });
  it("alternate exchange becomes an argument; defaults are durable", () => {
    expect(exchangeOptions({ alternateExchange: "ae" })).toEqual({
      durable: true,
      autoDelete: false,
      internal: false,
      arguments: { "alternate-exchange": "ae" },
    });
  });
  it("headers bindings carry x-match", () => {
    expect(bindingArguments({ headers: { a: 1 }, match: "any", arguments: {} })).toEqual({
      a: 1,
      "x-match": "any",
    });
    expect(bindingArguments({ arguments: { x: 1 } })).toEqual({ x: 1 });
  });
  it("parses RabbitMQ's 406 texts", () => {
    const cases: Array<[string, ReturnType<typeof parseInequivalent>]> = [
      [
        "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': received the value '1000' of type 'short' but current is none",
        { setting: "x-message-ttl", requested: "1000", current: "(none)" },
      ],
      [
        "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/': received 'true' but current is 'false'",
        { setting: "durable", requested: "true", current: "false" },
      ],
      [
        "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received none but current is the value '5' of type 'byte'",
        { setting: "x-max-length", requested: "(none)", current: "5" },
      ],
      [
        "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'x' in vhost '/': received 'topic' but current is 'direct'",
        { setting: "type", requested: "topic", current: "direct" },
      ],
      ["PRECONDITION_FAILED - something else", undefined],
    ];
    for (const [text, expected] of cases) expect(parseInequivalent(text)).toEqual(expected);
  });
});

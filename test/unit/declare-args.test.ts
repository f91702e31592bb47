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
import { testContext } from "../helpers/cli.js";

type Seen = { kind: string; options: Record<string, unknown> };

async function declareArgs(argv: string[]): Promise<Seen> {
  let seen: Seen | undefined;
  const spy = (kind: string) => async (_c: unknown, options: unknown) => {
    seen = { kind, options: options as Record<string, unknown> };
  };
  const cmd = declareCommand(await testContext(), {
    exchange: spy("exchange"),
    queue: spy("queue"),
    binding: spy("binding"),
  });
  cmd.exitOverride();
  for (const c of cmd.commands)
    c.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  await cmd.parseAsync(argv, { from: "user" });
  return seen!;
}

async function deleteArgs(argv: string[]): Promise<Seen> {
  let seen: Seen | undefined;
  const spy = (kind: string) => async (_c: unknown, options: unknown) => {
    seen = { kind, options: options as Record<string, unknown> };
  };
  await deleteCommand(await testContext(), {
    exchange: spy("exchange"),
    queue: spy("queue"),
    binding: spy("binding"),
  }).parseAsync(argv, {
    from: "user",
  });
  return seen!;
}

describe("declare exchange argv", () => {
  it("defaults: direct, durable", async () => {
    expect(await declareArgs(["exchange", "orders"])).toEqual({
      kind: "exchange",
      options: {
        name: "orders",
        type: "direct",
        durable: true,
        autoDelete: false,
        internal: false,
        alternateExchange: undefined,
        arguments: {},
        json: false,
      },
    });
  });
  it("every flag", async () => {
    const { options } = await declareArgs([
      "exchange",
      "alerts",
      "--type",
      "headers",
      "--no-durable",
      "--auto-delete",
      "--internal",
      "--alternate-exchange",
      "ae",
      "--arg",
      "x-custom=5",
      "--json",
    ]);
    expect(options).toEqual({
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
    await expect(declareArgs(["exchange", "x", "--type", "topik"])).rejects.toThrow(
      '--type expects one of direct, topic, fanout, headers, got "topik"',
    );
  });
});

describe("declare queue argv", () => {
  it("every argument flag", async () => {
    const { options } = await declareArgs([
      "queue",
      "work",
      "--message-ttl",
      "30s",
      "--expires",
      "1h",
      "--max-length",
      "100",
      "--max-length-bytes",
      "1048576",
      "--overflow",
      "reject-publish",
      "--dead-letter-exchange",
      "dlx",
      "--dead-letter-routing-key",
      "dead",
      "--max-priority",
      "10",
      "--queue-type",
      "classic",
      "--arg",
      "x-single-active-consumer=true",
      "--exclusive",
      "--auto-delete",
      "--no-durable",
    ]);
    expect(options).toEqual({
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
  it("no name: the broker names it", async () => {
    expect((await declareArgs(["queue"])).options.name).toBe("");
  });
  const bad: Array<[string[], string]> = [
    [["--max-length", "-1"], "--max-length expects a whole number ≥ 0"],
    [["--max-priority", "0"], "--max-priority expects a whole number from 1 to 255"],
    [
      ["--overflow", "drop-tail"],
      "--overflow expects one of drop-head, reject-publish, reject-publish-dlx",
    ],
    [["--queue-type", "lazy"], "--queue-type expects one of classic, quorum, stream"],
    [["--message-ttl", "soon"], "--message-ttl expects a duration"],
    [["--expires", "0"], "--expires must be more than 0 ms"],
    [["--dead-letter-routing-key", "k"], "--dead-letter-routing-key needs --dead-letter-exchange"],
    [
      ["--queue-type", "quorum", "--exclusive"],
      "a quorum queue must be durable and shared: drop --exclusive",
    ],
    [["--arg", "novalue"], "--arg expects key=value"],
  ];
  for (const [flags, message] of bad) {
    it(`rejects ${flags.join(" ")}`, async () => {
      await expect(declareArgs(["queue", "q", ...flags])).rejects.toThrow(message);
    });
  }
});

describe("declare binding argv", () => {
  it("routing key binding to a queue", async () => {
    expect(
      (await declareArgs(["binding", "orders", "inventory", "--key", "order.*"])).options,
    ).toEqual({
      source: "orders",
      destination: "inventory",
      destinationType: "queue",
      routingKey: "order.*",
      match: undefined,
      headers: undefined,
      arguments: {},
      json: false,
    });
  });
  it("headers binding defaults to x-match all; exchange to exchange", async () => {
    expect(
      (await declareArgs(["binding", "alerts", "eu", "--header", "region=eu", "--header", "p=5"]))
        .options,
    ).toMatchObject({
      match: "all",
      headers: { region: "eu", p: 5 },
    });
    expect(
      (
        await declareArgs([
          "binding",
          "a",
          "b",
          "--to-exchange",
          "--match",
          "any-with-x",
          "--header",
          "x-k=v",
        ])
      ).options,
    ).toMatchObject({
      destinationType: "exchange",
      match: "any-with-x",
      headers: { "x-k": "v" },
    });
  });
  it("--match without --header is refused", async () => {
    await expect(declareArgs(["binding", "a", "b", "--match", "all"])).rejects.toThrow(
      "--match needs at least one --header",
    );
  });
});

describe("delete argv", () => {
  it("queue, exchange and binding flags", async () => {
    expect(await deleteArgs(["queue", "q", "--if-empty", "--if-unused", "--json"])).toEqual({
      kind: "queue",
      options: { name: "q", ifEmpty: true, ifUnused: true, json: true },
    });
    expect(await deleteArgs(["exchange", "e", "--if-unused"])).toEqual({
      kind: "exchange",
      options: { name: "e", ifUnused: true, json: false },
    });
    expect((await deleteArgs(["binding", "e", "q", "--key", "k"])).options).toMatchObject({
      source: "e",
      destination: "q",
      routingKey: "k",
    });
  });
});

describe("topology argv", () => {
  it("apply flags", async () => {
    let seen: unknown;
    await topologyCommand(await testContext(), {
      apply: async (_c, o) => {
        seen = o;
      },
    }).parseAsync(["apply", "--dry-run", "--json"], { from: "user" });
    expect(seen).toEqual({ dryRun: true, json: true });
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

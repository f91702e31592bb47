/**
 * `eventlab declare exchange|queue|binding`: create topology objects from flags. This file
 * is the commands' definition: their flags fill an exchange, a queue or a binding as the
 * config writes them, checked by the config's own schema; the work is in run/declare.ts,
 * loaded lazily, one module for the three.
 */
import { Command, Option } from "@commander-js/extra-typings";
import { exchangeTypes, overflowModes, queueTypes } from "../config/constants.js";
import type { ExchangeConfig, QueueConfig } from "../config/schema.js";
import type { Context } from "../context.js";
import { type BindingOptions, bindingCommand } from "./binding-flags.js";
import { keyValueArg, numberArg, type Run } from "./options.js";
import { checkFlags, type FlagNames } from "./schema-flags.js";

export type { BindingOptions } from "./binding-flags.js";

export interface DeclareExchangeOptions extends ExchangeConfig {
  name: string;
  json: boolean;
}

export interface DeclareQueueOptions extends QueueConfig {
  /** Empty: the broker names the queue. */
  name: string;
  json: boolean;
}

/** What the run gets: which object, and its settings. */
export type DeclareOptions =
  | ({ command: "exchange" } & DeclareExchangeOptions)
  | ({ command: "queue" } & DeclareQueueOptions)
  | ({ command: "binding" } & BindingOptions);

/** Where each flag lands in an exchange of the config. */
const EXCHANGE_FLAGS: FlagNames = {
  type: "--type",
  "durable=false": "--no-durable",
  autoDelete: "--auto-delete",
  internal: "--internal",
  alternateExchange: "--alternate-exchange",
  arguments: "--arg",
};

/** Where each flag lands in a queue of the config. */
const QUEUE_FLAGS: FlagNames = {
  "durable=false": "--no-durable",
  exclusive: "--exclusive",
  autoDelete: "--auto-delete",
  messageTtl: "--message-ttl",
  expires: "--expires",
  maxLength: "--max-length",
  maxLengthBytes: "--max-length-bytes",
  overflow: "--overflow",
  deadLetterExchange: "--dead-letter-exchange",
  deadLetterRoutingKey: "--dead-letter-routing-key",
  maxPriority: "--max-priority",
  queueType: "--queue-type",
  arguments: "--arg",
};

function exchangeCommand(then: (o: DeclareExchangeOptions) => Promise<void>) {
  return new Command("exchange")
    .description("declare an exchange")
    .argument("<name>", "exchange name")
    .addOption(
      new Option("-t, --type <type>", "exchange type, direct by default").choices(exchangeTypes),
    )
    .option("--no-durable", "transient: gone when the broker restarts")
    .option("--auto-delete", "delete it when its last binding goes")
    .option("--internal", "clients cannot publish to it; only other exchanges can")
    .option("--alternate-exchange <name>", "where messages that match no binding go")
    .option("--arg <key=value>", "extra argument, repeatable (values are typed)", keyValueArg)
    .option("--json", "print the result as JSON", false)
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab declare exchange orders --type topic
  $ eventlab declare exchange alerts --type headers --alternate-exchange alerts.unrouted
  $ eventlab declare exchange orders.audit --type fanout --internal`,
    )
    .action(async (name, flags) => {
      const settings = await checkFlags(
        (m) => m.exchangeSchema,
        {
          type: flags.type,
          durable: flags.durable,
          autoDelete: flags.autoDelete,
          internal: flags.internal,
          alternateExchange: flags.alternateExchange,
          arguments: flags.arg,
        },
        EXCHANGE_FLAGS,
      );
      await then({ name, ...settings, json: flags.json });
    });
}

function queueCommand(then: (o: DeclareQueueOptions) => Promise<void>) {
  return new Command("queue")
    .description("declare a queue (without a name, the broker names it)")
    .argument("[name]", "queue name")
    .option("--no-durable", "transient: gone when the broker restarts")
    .option("--exclusive", "only this connection may use it; deleted when it closes")
    .option("--auto-delete", "delete it when its last consumer goes")
    .option("--message-ttl <duration>", "x-message-ttl: messages expire after this long, e.g. 60s")
    .option("--expires <duration>", "x-expires: delete the queue after it is unused this long")
    .option("--max-length <n>", "x-max-length: at most this many ready messages", numberArg)
    .option(
      "--max-length-bytes <n>",
      "x-max-length-bytes: at most this many bytes of bodies",
      numberArg,
    )
    .addOption(
      new Option("--overflow <mode>", "x-overflow: what a full queue does").choices(overflowModes),
    )
    .option(
      "--dead-letter-exchange <name>",
      "x-dead-letter-exchange: where rejected and expired messages go",
    )
    .option("--dead-letter-routing-key <key>", "x-dead-letter-routing-key: their new routing key")
    .option("--max-priority <n>", "x-max-priority: priorities 0..n (1-255)", numberArg)
    .addOption(new Option("--queue-type <type>", "x-queue-type").choices(queueTypes))
    .option(
      "--arg <key=value>",
      "any other argument, repeatable (values are typed: 5 is a number)",
      keyValueArg,
    )
    .option("--json", "print the result as JSON", false)
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab declare queue inventory
  $ eventlab declare queue inventory --max-length 10000 --overflow reject-publish
  $ eventlab declare queue work --dead-letter-exchange work.dlx --message-ttl 30s
  $ eventlab declare queue orders --queue-type quorum --arg x-delivery-limit=5
  $ eventlab declare queue --exclusive --json        # server-named`,
    )
    .action(async (name, flags) => {
      const settings = await checkFlags(
        (m) => m.queueSchema,
        {
          durable: flags.durable,
          exclusive: flags.exclusive,
          autoDelete: flags.autoDelete,
          messageTtl: flags.messageTtl,
          expires: flags.expires,
          maxLength: flags.maxLength,
          maxLengthBytes: flags.maxLengthBytes,
          overflow: flags.overflow,
          deadLetterExchange: flags.deadLetterExchange,
          deadLetterRoutingKey: flags.deadLetterRoutingKey,
          maxPriority: flags.maxPriority,
          queueType: flags.queueType,
          arguments: flags.arg,
        },
        QUEUE_FLAGS,
      );
      await then({ name: name ?? "", ...settings, json: flags.json });
    });
}

/** `declare` and its three subcommands; `run` gets which object to declare, and how. */
export function declareCommand(ctx: Context, run: Run<DeclareOptions>) {
  return new Command("declare")
    .description("declare an exchange, a queue or a binding")
    .addCommand(exchangeCommand((o) => run(ctx, { command: "exchange", ...o })))
    .addCommand(queueCommand((o) => run(ctx, { command: "queue", ...o })))
    .addCommand(
      bindingCommand(
        "bind a queue (or, with --to-exchange, an exchange) to an exchange",
        `  $ eventlab declare binding orders inventory --key 'order.*'
  $ eventlab declare binding soccer goals --key match.goal
  $ eventlab declare binding alerts eu-high --match all --header region=eu --header priority=high
  $ eventlab declare binding orders orders.audit --to-exchange --key '#'`,
        (o) => run(ctx, { command: "binding", ...o }),
      ),
    )
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab declare exchange orders --type topic
  $ eventlab declare queue inventory --max-length 1000
  $ eventlab declare binding orders inventory --key 'order.*'`,
    );
}

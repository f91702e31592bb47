/**
 * `eventlab declare exchange|queue|binding`: create topology objects from flags.
 */
import { Command } from "commander";
// Light at load time: amqplib is imported there for types only.
import { describeSettings } from "../client/topology.js";
import {
  type ExchangeType,
  exchangeTypes,
  type HeadersMatch,
  type OverflowMode,
  overflowModes,
  type QueueType,
  queueTypes,
} from "../config/constants.js";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { choiceFlag, collect, durationFlag, intFlag, keyValueFlags, matchFlag } from "./options.js";

export interface DeclareExchangeOptions {
  name: string;
  type: ExchangeType;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  alternateExchange?: string | undefined;
  arguments: Record<string, unknown>;
  json: boolean;
}

export interface DeclareQueueOptions {
  /** Empty: the broker names the queue. */
  name: string;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  messageTtl?: number | undefined;
  expires?: number | undefined;
  maxLength?: number | undefined;
  maxLengthBytes?: number | undefined;
  overflow?: OverflowMode | undefined;
  deadLetterExchange?: string | undefined;
  deadLetterRoutingKey?: string | undefined;
  maxPriority?: number | undefined;
  queueType?: QueueType | undefined;
  arguments: Record<string, unknown>;
  json: boolean;
}

export interface BindingOptions {
  source: string;
  destination: string;
  destinationType: "queue" | "exchange";
  routingKey: string;
  match?: HeadersMatch | undefined;
  headers?: Record<string, unknown> | undefined;
  arguments: Record<string, unknown>;
  json: boolean;
}

export interface DeclareRuns {
  exchange(ctx: Context, o: DeclareExchangeOptions): Promise<void>;
  queue(ctx: Context, o: DeclareQueueOptions): Promise<void>;
  binding(ctx: Context, o: BindingOptions): Promise<void>;
}

interface RawExchangeFlags {
  type?: string;
  durable: boolean;
  autoDelete?: boolean;
  internal?: boolean;
  alternateExchange?: string;
  arg?: string[];
  json?: boolean;
}

export function parseDeclareExchange(name: string, f: RawExchangeFlags): DeclareExchangeOptions {
  return {
    name,
    type: choiceFlag("--type", f.type, exchangeTypes) ?? "direct",
    durable: f.durable,
    autoDelete: f.autoDelete === true,
    internal: f.internal === true,
    alternateExchange: f.alternateExchange,
    arguments: keyValueFlags("--arg", f.arg),
    json: f.json === true,
  };
}

interface RawQueueFlags {
  durable: boolean;
  exclusive?: boolean;
  autoDelete?: boolean;
  messageTtl?: string;
  expires?: string;
  maxLength?: string;
  maxLengthBytes?: string;
  overflow?: string;
  deadLetterExchange?: string;
  deadLetterRoutingKey?: string;
  maxPriority?: string;
  queueType?: string;
  arg?: string[];
  json?: boolean;
}

export function parseDeclareQueue(name: string | undefined, f: RawQueueFlags): DeclareQueueOptions {
  const o: DeclareQueueOptions = {
    name: name ?? "",
    durable: f.durable,
    exclusive: f.exclusive === true,
    autoDelete: f.autoDelete === true,
    messageTtl: durationFlag("--message-ttl", f.messageTtl),
    expires: durationFlag("--expires", f.expires),
    maxLength: intFlag("--max-length", f.maxLength, 0),
    maxLengthBytes: intFlag("--max-length-bytes", f.maxLengthBytes, 0),
    overflow: choiceFlag("--overflow", f.overflow, overflowModes),
    deadLetterExchange: f.deadLetterExchange,
    deadLetterRoutingKey: f.deadLetterRoutingKey,
    maxPriority: intFlag("--max-priority", f.maxPriority, 1, 255),
    queueType: choiceFlag("--queue-type", f.queueType, queueTypes),
    arguments: keyValueFlags("--arg", f.arg),
    json: f.json === true,
  };
  if (o.expires === 0)
    throw new UsageError("--expires must be more than 0 ms", "for example --expires 30m");
  if (o.deadLetterRoutingKey !== undefined && o.deadLetterExchange === undefined) {
    throw new UsageError(
      "--dead-letter-routing-key needs --dead-letter-exchange",
      "RabbitMQ refuses a dead-letter routing key alone",
    );
  }
  if (o.queueType === "quorum" || o.queueType === "stream") {
    const bad = [
      !o.durable && "--no-durable",
      o.exclusive && "--exclusive",
      o.autoDelete && "--auto-delete",
    ].filter(Boolean);
    if (bad.length > 0)
      throw new UsageError(
        `a ${o.queueType} queue must be durable and shared: drop ${bad.join(", ")}`,
      );
  }
  return o;
}

interface RawBindingFlags {
  key?: string;
  toExchange?: boolean;
  match?: string;
  header?: string[];
  arg?: string[];
  json?: boolean;
}

export function parseBinding(
  source: string,
  destination: string,
  f: RawBindingFlags,
): BindingOptions {
  const match = matchFlag(f.match);
  const headers = f.header ? keyValueFlags("--header", f.header) : undefined;
  if (match !== undefined && headers === undefined) {
    throw new UsageError(
      "--match needs at least one --header to match on",
      "for example --header region=eu --match all",
    );
  }
  return {
    source,
    destination,
    destinationType: f.toExchange ? "exchange" : "queue",
    routingKey: f.key ?? "",
    match: headers !== undefined ? (match ?? "all") : undefined,
    headers,
    arguments: keyValueFlags("--arg", f.arg),
    json: f.json === true,
  };
}

/** The `binding <source> <destination>` subcommand shared by declare and delete. */
export function addBindingCommand(
  parent: Command,
  description: string,
  examples: string,
  run: (o: BindingOptions) => Promise<void>,
): Command {
  return parent
    .command("binding")
    .description(description)
    .argument("<source>", "the exchange messages come from")
    .argument("<destination>", "the queue (or exchange) they go to")
    .option(
      "-k, --key <routing-key>",
      "binding key: exact for direct, a pattern for topic (* one word, # any)",
      "",
    )
    .option("--to-exchange", "the destination is an exchange (exchange-to-exchange binding)")
    .option(
      "-H, --header <key=value>",
      "header to match, for headers exchanges; repeatable",
      collect,
    )
    .option("--match <mode>", "all, any, all-with-x or any-with-x (default all)")
    .option("--arg <key=value>", "extra binding argument, repeatable", collect)
    .option("--json", "print the result as JSON")
    .addHelpText("after", `\nExamples:\n${examples}`)
    .action(async (source: string, destination: string, flags: RawBindingFlags) =>
      run(parseBinding(source, destination, flags)),
    );
}

export function declareCommand(ctx: Context, runs: DeclareRuns = defaultRuns): Command {
  const cmd = new Command("declare").description("declare an exchange, a queue or a binding");
  cmd
    .command("exchange")
    .description("declare an exchange")
    .argument("<name>", "exchange name")
    .option("-t, --type <type>", "direct, topic, fanout or headers", "direct")
    .option("--no-durable", "transient: gone when the broker restarts")
    .option("--auto-delete", "delete it when its last binding goes")
    .option("--internal", "clients cannot publish to it; only other exchanges can")
    .option("--alternate-exchange <name>", "where messages that match no binding go")
    .option("--arg <key=value>", "extra argument, repeatable (values are typed)", collect)
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab declare exchange orders --type topic
  $ eventlab declare exchange alerts --type headers --alternate-exchange alerts.unrouted
  $ eventlab declare exchange orders.audit --type fanout --internal`,
    )
    .action(async (name: string, flags: RawExchangeFlags) =>
      runs.exchange(ctx, parseDeclareExchange(name, flags)),
    );
  cmd
    .command("queue")
    .description("declare a queue (without a name, the broker names it)")
    .argument("[name]", "queue name")
    .option("--no-durable", "transient: gone when the broker restarts")
    .option("--exclusive", "only this connection may use it; deleted when it closes")
    .option("--auto-delete", "delete it when its last consumer goes")
    .option("--message-ttl <duration>", "x-message-ttl: messages expire after this long, e.g. 60s")
    .option("--expires <duration>", "x-expires: delete the queue after it is unused this long")
    .option("--max-length <n>", "x-max-length: at most this many ready messages")
    .option("--max-length-bytes <n>", "x-max-length-bytes: at most this many bytes of bodies")
    .option("--overflow <mode>", "x-overflow: drop-head, reject-publish or reject-publish-dlx")
    .option(
      "--dead-letter-exchange <name>",
      "x-dead-letter-exchange: where rejected and expired messages go",
    )
    .option("--dead-letter-routing-key <key>", "x-dead-letter-routing-key: their new routing key")
    .option("--max-priority <n>", "x-max-priority: priorities 0..n (1-255)")
    .option("--queue-type <type>", "x-queue-type: classic, quorum or stream")
    .option(
      "--arg <key=value>",
      "any other argument, repeatable (values are typed: 5 is a number)",
      collect,
    )
    .option("--json", "print the result as JSON")
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
    .action(async (name: string | undefined, flags: RawQueueFlags) =>
      runs.queue(ctx, parseDeclareQueue(name, flags)),
    );
  addBindingCommand(
    cmd,
    "bind a queue (or, with --to-exchange, an exchange) to an exchange",
    `  $ eventlab declare binding orders inventory --key 'order.*'
  $ eventlab declare binding soccer goals --key match.goal
  $ eventlab declare binding alerts eu-high --match all --header region=eu --header priority=high
  $ eventlab declare binding orders orders.audit --to-exchange --key '#'`,
    (o) => runs.binding(ctx, o),
  );
  cmd.addHelpText(
    "after",
    `
Examples:
  $ eventlab declare exchange orders --type topic
  $ eventlab declare queue inventory --max-length 1000
  $ eventlab declare binding orders inventory --key 'order.*'`,
  );
  return cmd;
}

const defaultRuns: DeclareRuns = {
  async exchange(ctx, o) {
    const { declareExchange } = await import("../client/topology.js");
    await withConnection(ctx, async (conn) => {
      const r = await declareExchange(conn, o.name, {
        type: o.type,
        durable: o.durable,
        autoDelete: o.autoDelete,
        internal: o.internal,
        alternateExchange: o.alternateExchange,
        arguments: o.arguments,
      });
      printDeclared(ctx, r, o.json);
    });
  },
  async queue(ctx, o) {
    const { declareQueue } = await import("../client/topology.js");
    await withConnection(ctx, async (conn) => {
      const { name, json, ...settings } = o;
      const r = await declareQueue(conn, name, settings);
      printDeclared(ctx, r, json);
    });
  },
  async binding(ctx, o) {
    const { declareBinding } = await import("../client/topology.js");
    await withConnection(ctx, async (conn) => {
      const { json, ...b } = o;
      const r = await declareBinding(conn, b);
      printDeclared(ctx, r, json);
    });
  },
};

export async function withConnection<T>(
  ctx: Context,
  fn: (conn: Awaited<ReturnType<Context["connect"]>>) => Promise<T>,
): Promise<T> {
  const conn = await ctx.connect({ connectionName: "eventlab declare" });
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

export function printDeclared(
  ctx: Context,
  r: { kind: string; name: string; status: string; settings: Record<string, unknown> },
  json: boolean,
): void {
  if (json) {
    ctx.io.out(
      `${JSON.stringify({ kind: r.kind, name: r.name, status: r.status, ...r.settings })}\n`,
    );
    return;
  }
  const { theme } = ctx;
  const details = describeSettings(r.settings);
  const suffix = details ? theme.dim(` (${details})`) : "";
  if (r.status === "exists")
    ctx.io.out(`${theme.dim("•")} ${r.kind} ${theme.bold(r.name)} already exists${suffix}\n`);
  else if (r.status === "bound")
    ctx.io.out(`${theme.ok("✓")} bound ${theme.bold(r.name)}${suffix}\n`);
  else ctx.io.out(`${theme.ok("✓")} created ${r.kind} ${theme.bold(r.name)}${suffix}\n`);
}

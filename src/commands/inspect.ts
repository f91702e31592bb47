/**
 * `eventlab list`, `purge` and `peek`: look inside a live broker through its management HTTP
 * API (RabbitMQ's plugin, or the embedded broker's --http-port). Definitions only; the work is
 * in run/inspect.ts, loaded lazily, one module for the three.
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import type { Context } from "../context.js";
import { intArg, type Run } from "./options.js";

export const LIST_KINDS = ["queues", "exchanges", "bindings", "connections", "consumers"] as const;
export type ListKind = (typeof LIST_KINDS)[number];
export const LIST_SORTS = ["name", "depth", "rate"] as const;

export interface ApiFlag {
  /** --api: the management API's URL; undefined: the config's broker.api, or derived. */
  api: string | undefined;
  vhost: string;
}

export type InspectOptions =
  | ({
      command: "list";
      kind: ListKind;
      name: RegExp | undefined;
      sort: (typeof LIST_SORTS)[number];
      json: boolean;
    } & ApiFlag)
  | ({ command: "purge"; queue: string; yes: boolean; json: boolean } & ApiFlag)
  | ({ command: "peek"; queue: string; count: number; json: boolean } & ApiFlag);

function regexArg(raw: string): RegExp {
  try {
    return new RegExp(raw);
  } catch {
    throw new InvalidArgumentError("Expected a regular expression, e.g. 'order' or '^shop\\.'.");
  }
}

const apiOption = () =>
  new Option(
    "--api <url>",
    "the management API (default: broker.api in the config, else the AMQP URL's host on port 15672, same user)",
  );
const vhostOption = () => new Option("--vhost <name>", "virtual host").default("/");

export function listCommand(ctx: Context, run: Run<InspectOptions>) {
  return new Command("list")
    .description("list queues, exchanges, bindings, connections or consumers of a live broker")
    .argument("<what>", `one of ${LIST_KINDS.join(", ")}`, (raw) => {
      if (!(LIST_KINDS as readonly string[]).includes(raw)) {
        throw new InvalidArgumentError(`Expected one of ${LIST_KINDS.join(", ")}.`);
      }
      return raw as ListKind;
    })
    .option("--name <regex>", "only those whose name matches", regexArg)
    .addOption(
      new Option("--sort <by>", "name, depth (messages held) or rate (messages per second in)")
        .choices(LIST_SORTS)
        .default("name" as const),
    )
    .addOption(apiOption())
    .addOption(vhostOption())
    .option("--json", "print the API's objects as a JSON array", false)
    .addHelpText(
      "after",
      `
Reads RabbitMQ's management HTTP API (the rabbitmq_management plugin), or the embedded
broker's (eventlab broker --http-port 15672). AMQP alone cannot list what a broker holds.

Examples:
  $ eventlab list queues --sort depth
  $ eventlab list bindings --name '^orders'
  $ eventlab list connections --json
  $ eventlab list consumers --api http://admin:s3cret@rabbit.local:15672`,
    )
    .action((kind, f) =>
      run(ctx, {
        command: "list",
        kind,
        name: f.name,
        sort: f.sort,
        api: f.api,
        vhost: f.vhost,
        json: f.json,
      }),
    );
}

export function purgeCommand(ctx: Context, run: Run<InspectOptions>) {
  return new Command("purge")
    .description("remove every ready message from a queue (asks first on a terminal)")
    .argument("<queue>", "queue name")
    .option("-y, --yes", "do not ask: needed without a terminal", false)
    .addOption(apiOption())
    .addOption(vhostOption())
    .option("--json", "print {queue, purged} as JSON", false)
    .addHelpText(
      "after",
      `
Messages delivered and not yet acknowledged stay. Through the management API when it
answers, else over AMQP (queue.purge).

Examples:
  $ eventlab purge inventory
  $ eventlab purge inventory --yes --json`,
    )
    .action((queue, f) =>
      run(ctx, {
        command: "purge",
        queue,
        yes: f.yes,
        api: f.api,
        vhost: f.vhost,
        json: f.json,
      }),
    );
}

export function peekCommand(ctx: Context, run: Run<InspectOptions>) {
  return new Command("peek")
    .description("show the first messages of a queue without consuming them")
    .argument("<queue>", "queue name")
    .addOption(new Option("-n, --count <n>", "how many").argParser(intArg(1, 10_000)).default(5))
    .addOption(apiOption())
    .addOption(vhostOption())
    .option("--json", "one JSON object per message (NDJSON)", false)
    .addHelpText(
      "after",
      `
Uses the management API's get with requeue. The embedded broker leaves the messages exactly
as they were; RabbitMQ takes them and puts them back at their place, marked redelivered (a
consumer then sees redelivered=true): peek says so when it happens.

Examples:
  $ eventlab peek inventory
  $ eventlab peek orders.dlq --count 20 --json`,
    )
    .action((queue, f) =>
      run(ctx, {
        command: "peek",
        queue,
        count: f.count,
        api: f.api,
        vhost: f.vhost,
        json: f.json,
      }),
    );
}

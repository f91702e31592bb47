/**
 * `eventlab broker`: the embedded AMQP 0-9-1 broker on a TCP port until Ctrl-C, with a
 * compact refreshing status line on a terminal. This file is the command's definition
 * (flags, help, argv → options); the work is in run/broker.ts, loaded lazily.
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import type { BrokerUser } from "../broker/index.js";
import type { Context } from "../context.js";
import { intArg, type Run } from "./options.js";

export interface BrokerCommandOptions {
  host: string;
  port: number;
  users: BrokerUser[];
  /** Undefined: the broker's default (128 MiB, as RabbitMQ). */
  maxMessageSize: number | undefined;
  /** Undefined: the broker's default (60 s). */
  heartbeat: number | undefined;
  json: boolean;
}

/** A repeatable `--user name:password`. */
export function userArg(raw: string, previous: BrokerUser[] = []): BrokerUser[] {
  const at = raw.indexOf(":");
  if (at <= 0 || at === raw.length - 1)
    throw new InvalidArgumentError("Expected name:password, for example --user app:s3cret.");
  return [...previous, { username: raw.slice(0, at), password: raw.slice(at + 1) }];
}

export function brokerCommand(ctx: Context, run: Run<BrokerCommandOptions>) {
  return new Command("broker")
    .description("run the embedded AMQP 0-9-1 broker (in memory) until Ctrl-C")
    .option("--host <address>", "interface to listen on", "127.0.0.1")
    .addOption(
      new Option("-p, --port <port>", "TCP port; 0 picks a free one")
        .argParser(intArg(0, 65535))
        .default(5672),
    )
    .option(
      "--user <name:password>",
      "a user who may log in (repeatable; default guest:guest, from this machine only)",
      userArg,
    )
    .option(
      "--max-message-size <bytes>",
      "largest message body accepted (default 134217728)",
      intArg(1),
    )
    .option(
      "--heartbeat <seconds>",
      "heartbeat offered to clients (default 60; 0 for none)",
      intArg(0, 65535),
    )
    .option(
      "--json",
      "print {url, host, port} as one JSON line when ready, and the final stats",
      false,
    )
    .addHelpText(
      "after",
      `
Everything is kept in memory: durable exchanges and queues are accepted, but the broker's
state is lost when it stops. Stream queues are not supported.

Examples:
  $ eventlab broker                          # amqp://guest:guest@127.0.0.1:5672
  $ eventlab broker --port 0 --json          # a free port; the URL as JSON for scripts
  $ eventlab broker --user app:s3cret --host 0.0.0.0
  $ eventlab produce order-created --amount 10   # in another terminal`,
    )
    .action((f) =>
      run(ctx, {
        host: f.host,
        port: f.port,
        users: f.user ?? [],
        maxMessageSize: f.maxMessageSize,
        heartbeat: f.heartbeat,
        json: f.json,
      }),
    );
}

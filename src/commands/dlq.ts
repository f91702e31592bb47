/**
 * `eventlab dlq list|show|replay`: look into a dead-letter queue and move its messages back.
 * Definitions only; the work is in run/dlq.ts, loaded lazily.
 */
import { Command, Option } from "@commander-js/extra-typings";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { intArg, type Run } from "./options.js";

export type DlqOptions =
  | { command: "list"; queue: string; count: number; json: boolean }
  | { command: "show"; queue: string; count: number; json: boolean }
  | {
      command: "replay";
      queue: string;
      count: number;
      json: boolean;
      target:
        | { kind: "origin" }
        | { kind: "exchange"; exchange: string; routingKey: string | undefined };
      /** The --filter expression's source; compiled by the run. */
      filter: string | undefined;
    };

const countOption = (fallback: number, what: string) =>
  new Option("-n, --count <n>", what).argParser(intArg(1, 1_000_000)).default(fallback);

function listCommand(ctx: Context, run: Run<DlqOptions>) {
  return new Command("list")
    .description(
      "group a dead-letter queue's messages by why and where they died (changes nothing)",
    )
    .argument("<queue>", "the dead-letter queue")
    .addOption(countOption(1000, "read at most this many messages from the head"))
    .option("--json", "print the groups as a JSON array", false)
    .addHelpText(
      "after",
      `
Each message is taken without an ack and all are put back by closing the channel: the queue
keeps its messages and their order (RabbitMQ marks them redelivered). Messages are grouped by
their first death (x-first-death-*, x-death): reason, queue, exchange and routing keys.

Examples:
  $ eventlab dlq list orders.dlq
  $ eventlab dlq list orders.dlq --count 10000 --json`,
    )
    .action((queue, f) => run(ctx, { command: "list", queue, count: f.count, json: f.json }));
}

function showCommand(ctx: Context, run: Run<DlqOptions>) {
  return new Command("show")
    .description("print a dead-letter queue's messages with their death history (changes nothing)")
    .argument("<queue>", "the dead-letter queue")
    .addOption(countOption(10, "how many messages from the head"))
    .option("--json", "one JSON object per message (NDJSON), with a deaths array", false)
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab dlq show orders.dlq
  $ eventlab dlq show orders.dlq --count 100 --json | jq '.deaths[0].reason'`,
    )
    .action((queue, f) => run(ctx, { command: "show", queue, count: f.count, json: f.json }));
}

function replayCommand(ctx: Context, run: Run<DlqOptions>) {
  return new Command("replay")
    .description("move dead-lettered messages back to their queue, or to an exchange")
    .argument("<queue>", "the dead-letter queue")
    .option("--to-origin", "each to the queue it first died in (x-first-death-queue)", false)
    .option("--exchange <name>", "publish to this exchange instead ('' is the default exchange)")
    .option(
      "--key <routing-key>",
      "with --exchange: the routing key (default: the first death's first routing key)",
    )
    .option(
      "--filter <expr>",
      "only messages that match (README \"Filter expressions\"), e.g. 'body.amount > 100'",
    )
    .addOption(
      countOption(
        Number.MAX_SAFE_INTEGER,
        "at most this many messages; all: those there when it starts",
      ).default(Number.MAX_SAFE_INTEGER, "all"),
    )
    .option("--json", "print the summary as JSON", false)
    .addHelpText(
      "after",
      `
One message at a time: publish (mandatory, with publisher confirms), wait for the confirm,
then ack it in the dead-letter queue. A message that is returned (unroutable), nacked, or
does not match --filter is not acked and stays, in its order. This is at-least-once: if the
run is killed between a confirm and its ack, that one message is in both places.
Properties and headers go as they are, x-death included (RabbitMQ keeps the history and counts
the next death on); the CC and BCC headers are dropped: they were routed already.
--to-origin publishes through the default exchange straight into the queue, so other queues
bound to the original exchange do not get a second copy.

Exit codes: 0 all selected moved, 2 interrupted, 3 some returned, nacked or uncertain.

Examples:
  $ eventlab dlq replay orders.dlq --to-origin
  $ eventlab dlq replay orders.dlq --to-origin --filter "'headers.x-first-death-reason' == \\"expired\\""
  $ eventlab dlq replay orders.dlq --exchange orders --key order.retry --count 100
  $ eventlab dlq replay orders.dlq --to-origin --filter 'body.amount > 100' --json`,
    )
    .action((queue, f) => {
      if (f.toOrigin && f.exchange !== undefined) {
        throw new UsageError(
          "--to-origin and --exchange both say where to send",
          "pass one: --to-origin, or --exchange <name> [--key <routing-key>]",
        );
      }
      if (!f.toOrigin && f.exchange === undefined) {
        throw new UsageError(
          "dlq replay needs a destination",
          "pass --to-origin (back to the queue each died in) or --exchange <name> --key <routing-key>",
        );
      }
      if (f.key !== undefined && f.exchange === undefined) {
        throw new UsageError("--key needs --exchange", "add --exchange <name>, or drop --key");
      }
      return run(ctx, {
        command: "replay",
        queue,
        count: f.count,
        json: f.json,
        filter: f.filter,
        target:
          f.exchange === undefined
            ? { kind: "origin" }
            : { kind: "exchange", exchange: f.exchange, routingKey: f.key },
      });
    });
}

export function dlqCommand(ctx: Context, run: Run<DlqOptions>) {
  return new Command("dlq")
    .description("dead letters: list them by reason, show them, replay them")
    .addCommand(listCommand(ctx, run))
    .addCommand(showCommand(ctx, run))
    .addCommand(replayCommand(ctx, run))
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab dlq list orders.dlq
  $ eventlab dlq show orders.dlq --count 5
  $ eventlab dlq replay orders.dlq --to-origin`,
    );
}

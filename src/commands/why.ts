/**
 * `eventlab why <message-id>`: the life story of one message — published, routed (and which
 * binding took it), enqueued, delivered, settled, retried, dead-lettered, expired — from a
 * record file, or asked of a running embedded broker started with `--ledger`. This file is
 * the command's definition (flags, help, argv → options); the work is in run/why.ts, loaded
 * lazily.
 */
import { Command } from "@commander-js/extra-typings";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import type { Run } from "./options.js";

export interface WhyOptions {
  id: string;
  /** A record file to read; undefined: ask the broker (--url, EVENTLAB_URL, the config). */
  from: string | undefined;
  mermaid: boolean;
  json: boolean;
}

export function whyCommand(ctx: Context, run: Run<WhyOptions>) {
  return new Command("why")
    .description(
      "tell what happened to one message: each hop, who did it, when, and why it was routed there",
    )
    .argument(
      "<message-id>",
      "the message's id: its message_id property, or the id play gives each message (the report lists them)",
    )
    .option(
      "--from <file>",
      "read a record file (written by `eventlab play --record FILE`) instead of asking a broker",
    )
    .option("--mermaid", "print a mermaid sequenceDiagram of the message's journey", false)
    .option("--json", "print the message's events as NDJSON, one per line", false)
    .addHelpText(
      "after",
      `
Each line is one hop: the time since the message was first seen (+12 ms), the connection that
did it (its connection_name, else its address; "broker" for what the broker did on its own,
such as a TTL expiry), and what happened. Routing hops say which binding took the message,
worked out by the routing code the broker uses (from the record's topology, or live from the
broker's bindings). A retry is the same message id published again, so it shows up as another
"published" hop.

Without --from, the broker named by --url or EVENTLAB_URL (or the config) is asked over AMQP.
Only eventlab's embedded broker started with --ledger keeps such a ledger; RabbitMQ does not:
record a run with \`eventlab play --record FILE\` and use --from.

Examples:
  $ eventlab why order-42 --from run.ndjson
  $ eventlab why order-42 --from run.ndjson --mermaid > order-42.mmd
  $ eventlab why order-42 --from run.ndjson --json | jq -r .kind
  $ eventlab broker --ledger                 # in one terminal; then, in another:
  $ eventlab --url amqp://localhost:5672 why order-42`,
    )
    .action((id, f) => {
      if (f.mermaid && f.json)
        throw new UsageError("--mermaid and --json go separately", "choose one of the two");
      return run(ctx, { id, from: f.from, mermaid: f.mermaid, json: f.json });
    });
}

/**
 * `eventlab reply <queue>`: answer requests from a queue, each to its reply-to with its
 * correlation id, by echoing the body or by running a shell command. This file is the
 * command's definition (flags, help, argv → options); the work is in run/reply.ts.
 */
import { Command, Option } from "@commander-js/extra-typings";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { durationArg, intArg, type Run } from "./options.js";

export type ReplyMode = { kind: "echo" } | { kind: "command"; command: string; timeoutMs: number };

export interface ReplyOptions {
  queue: string;
  mode: ReplyMode;
  /** Exit after answering this many requests. */
  count?: number | undefined;
  /** Declare the queue (classic, durable) if it does not exist. */
  declare: boolean;
}

/** The default --command-timeout. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;

export function replyCommand(ctx: Context, run: Run<ReplyOptions>) {
  return new Command("reply")
    .description("answer requests from a queue: echo them, or reply with a command's output")
    .argument("<queue>", "queue the requests arrive on")
    .option("--echo", "reply with the request's body and content type, unchanged")
    .option(
      "--command <shell-command>",
      "run this for each request, the body on its standard input; reply with its standard output",
    )
    .addOption(
      new Option("--command-timeout <duration>", "stop a --command that runs longer than this")
        .argParser(durationArg)
        .default(DEFAULT_COMMAND_TIMEOUT_MS, "10s"),
    )
    .option("-n, --count <n>", "exit after answering N requests", intArg(1))
    .option("--declare", "declare the queue first (classic, durable) if it does not exist")
    .addHelpText(
      "after",
      `
Each request is answered on the default exchange, routing key = its reply-to, with its
correlation id; the reply is confirmed by the broker before the request is acked, so a
reply that did not go out leaves the request to be delivered again. One request at a time
(prefetch 1). A request without a reply-to is rejected (dead-lettered if the queue has a
dead-letter exchange), since no one waits for it.

--command runs through the shell (sh -c) with the request's body on standard input and
EVENTLAB_CORRELATION_ID, EVENTLAB_ROUTING_KEY and EVENTLAB_REPLY_TO in its environment.
When it exits 0, its standard output is the reply. When it fails (exit code not 0, or it ran
past --command-timeout and was stopped), the reply still goes out, so the requester does not
wait in vain: the body is its standard output, the header x-error holds its standard error
(or what stopped it) and x-exit-code its exit code; \`eventlab request\` shows the error and
exits 1. The request is acked either way: run it again by sending it again.

Without --declare nothing is declared: a queue that does not exist is an error that says so.

Examples:
  $ eventlab reply rpc.requests --echo
  $ eventlab reply rpc.requests --command 'tr a-z A-Z'
  $ eventlab reply rpc.requests --command 'jq -c "{total: (.qty * 9.5)}"' --command-timeout 2s
  $ eventlab reply rpc.requests --echo --count 3 --declare     # answer three, then exit

Exit codes: 0 done (--count reached, or the queue was deleted), 1 error, 2 interrupted (Ctrl-C)`,
    )
    .action(async (queue, flags) => {
      if ((flags.echo === true) === (flags.command !== undefined)) {
        throw new UsageError(
          "give either --echo or --command, one of them",
          "--echo sends each body back; --command 'cmd' replies with what cmd prints",
        );
      }
      if (flags.command !== undefined && flags.command.trim() === "")
        throw new UsageError(
          "--command needs a shell command",
          "for example --command 'tr a-z A-Z'",
        );
      await run(ctx, {
        queue,
        mode:
          flags.command !== undefined
            ? { kind: "command", command: flags.command, timeoutMs: flags.commandTimeout }
            : { kind: "echo" },
        count: flags.count,
        declare: flags.declare === true,
      });
    });
}

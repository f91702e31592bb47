/**
 * `eventlab request <exchange> <key>`: publish a request with direct reply-to and a
 * correlation id, wait for its reply, print it with the round-trip time. This file is the
 * command's definition (flags, help, argv → options); the work is in run/request.ts.
 */
import { Command, Option } from "@commander-js/extra-typings";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { durationArg, intArg, keyValueArg, type Run } from "./options.js";
import type { BodySource } from "./produce.js";

export interface RequestOptions {
  /** A template from the config to take the exchange, key, headers and body from. */
  template?: string | undefined;
  exchange?: string | undefined;
  routingKey?: string | undefined;
  headers: Record<string, unknown>;
  contentType?: string | undefined;
  body?: BodySource | undefined;
  /** How long to wait for each reply. */
  timeoutMs: number;
  /** Requests in a row, each waiting for its reply. */
  count: number;
  json: boolean;
}

/** The default --timeout. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

export function requestCommand(ctx: Context, run: Run<RequestOptions>) {
  return new Command("request")
    .description("send a request (direct reply-to) and print its reply and the round-trip time")
    .argument("[exchange]", "exchange to publish the request to ('' is the default exchange)")
    .argument("[routing-key]", "routing key (for the default exchange: the queue's name)")
    .option(
      "-t, --template <name>",
      "take exchange, key, headers and body from this template of the config",
    )
    .option(
      "-b, --body <text>",
      "body text or JSON; {{placeholders}} are filled; '-' reads standard input",
    )
    .option("--body-file <path>", "send a file's bytes as the body, unchanged")
    .option(
      "-H, --header <key=value>",
      "header, repeatable; values are typed (5 is a number, '\"5\"' a string)",
      keyValueArg,
    )
    .option("--content-type <type>", "content type (default: from what the body holds)")
    .addOption(
      new Option("--timeout <duration>", "how long to wait for each reply")
        .argParser(durationArg)
        .default(DEFAULT_REQUEST_TIMEOUT_MS, "5s"),
    )
    .addOption(
      new Option("-n, --count <n>", "send this many requests in a row, each after the last reply")
        .argParser(intArg(1, 1_000_000))
        .default(1),
    )
    .option("--json", "print each reply as one JSON line: body, properties, headers and rttMs")
    .addHelpText(
      "after",
      `
The request goes out with reply-to amq.rabbitmq.reply-to (RabbitMQ's direct reply-to: no
reply queue to declare) and a correlation id of its own, mandatory and confirmed, with an
expiration of --timeout (unless the template sets one): a request no replier took in time
expires from its queue rather than be answered to no one later. The reply's body is printed
on standard output exactly as it came (--json: one line per reply); the round-trip time goes
to standard error. Something must answer: \`eventlab reply <queue>\`, or a service of your
own that publishes to the request's reply-to (default exchange) with its correlation id.

A request no queue takes is returned by the broker: that fails at once, not after --timeout.
A reply with an x-error header (what \`eventlab reply --command\` sends when the command
fails) is printed, and the exit code is 1.

Examples:
  $ eventlab reply rpc.requests --echo &                           # something to answer
  $ eventlab request '' rpc.requests --body 'hello'                # via the default exchange
  $ eventlab request rpc price.quote --body '{"sku":"A-1","qty":2}' --timeout 2s
  $ eventlab request rpc price.quote --body-file request.json --header tenant=acme --json
  $ eventlab request --template quote-request --count 10           # a template of the config
  $ echo 'ping' | eventlab request '' rpc.requests --body -

Exit codes: 0 every reply came, 1 error (no reply within --timeout, unroutable, an x-error
reply), 2 interrupted`,
    )
    .action(async (exchange, routingKey, flags) => {
      if (flags.template === undefined && (exchange === undefined || routingKey === undefined)) {
        throw new UsageError(
          "name the exchange and the routing key of the request (or --template)",
          "for example: eventlab request '' rpc.requests --body 'hello' (the default exchange routes to the queue of that name)",
        );
      }
      if (flags.body !== undefined && flags.bodyFile !== undefined)
        throw new UsageError("give either --body or --body-file, not both");
      await run(ctx, {
        template: flags.template,
        exchange,
        routingKey,
        headers: flags.header ?? {},
        contentType: flags.contentType,
        body:
          flags.body === "-"
            ? { kind: "stdin" }
            : flags.body !== undefined
              ? { kind: "text", text: flags.body }
              : flags.bodyFile !== undefined
                ? { kind: "file", path: flags.bodyFile }
                : undefined,
        timeoutMs: flags.timeout,
        count: flags.count,
        json: flags.json === true,
      });
    });
}

/**
 * `eventlab route <exchange> [routing-key]`: which queues a message would reach, and why,
 * worked out offline from the config's topology by the routing code the embedded broker
 * uses. Every binding is shown with ✓ or ✗ and the reason. This file is the command's
 * definition (flags, help, argv → options); the work is in run/route.ts, loaded lazily.
 */
import { Command } from "@commander-js/extra-typings";
import type { Context } from "../context.js";
import { keyValueArg, type Run } from "./options.js";

export interface RouteOptions {
  exchange: string;
  routingKey: string;
  headers: Record<string, unknown>;
  json: boolean;
  /** --api: the management API, read when the broker cannot answer routing questions itself. */
  api?: string | undefined;
}

export function routeCommand(ctx: Context, run: Run<RouteOptions>) {
  return new Command("route")
    .description("explain where a message would go: each binding tested, each hop, the queues")
    .argument("<exchange>", "the exchange to publish to ('' for the default exchange)")
    .argument("[routing-key]", "the routing key", "")
    .option(
      "-H, --header <key=value>",
      "a message header (repeatable; values are typed)",
      keyValueArg,
    )
    .option("--json", "print the explanation as JSON, with a top-level queues array", false)
    .option(
      "--api <url>",
      "with --url on RabbitMQ: its management API, to read the live bindings (default: the URL's host on 15672)",
    )
    .addHelpText(
      "after",
      `
The answer comes from the config's topology, offline, using the same routing code as the
embedded broker (and checked against RabbitMQ): topic wildcards, headers matching in all
four x-match modes, exchange-to-exchange bindings, alternate exchanges and cycles. With
--url or EVENTLAB_URL, a running embedded broker answers from its live state instead
(RabbitMQ cannot: bindings cannot be listed over AMQP).

Examples:
  $ eventlab route orders order.created.eu
  $ eventlab route alerts --header region=eu --header priority=high
  $ eventlab route orders order.refunded --json | jq .queues
  $ eventlab route '' inventory                  # the default exchange
  $ eventlab --url amqp://localhost:5672 route orders order.created.eu   # a live embedded broker`,
    )
    .action((exchange, routingKey, f) =>
      run(ctx, { exchange, routingKey, headers: f.header ?? {}, json: f.json, api: f.api }),
    );
}

/**
 * `eventlab route <exchange> [routing-key]`: which queues a message would reach, and why,
 * worked out offline from the config's topology by the routing code the embedded broker
 * uses. Every binding is shown with ✓ or ✗ and the reason.
 */
import { Command } from "commander";
import type { Context } from "../context.js";
import { EventlabError } from "../errors.js";
import { collect, keyValueFlags } from "./options.js";

export interface RouteOptions {
  exchange: string;
  routingKey: string;
  headers: Record<string, unknown>;
  json: boolean;
}

export type RouteRun = (ctx: Context, o: RouteOptions) => Promise<void>;

export function routeCommand(ctx: Context, run: RouteRun = runRoute): Command {
  return new Command("route")
    .description("explain where a message would go: each binding tested, each hop, the queues")
    .argument("<exchange>", "the exchange to publish to ('' for the default exchange)")
    .argument("[routing-key]", "the routing key", "")
    .option("-H, --header <key=value>", "a message header (repeatable; values are typed)", collect)
    .option("--json", "print the explanation as JSON, with a top-level queues array")
    .addHelpText(
      "after",
      `
The answer comes from the config's topology, offline, using the same routing code as the
embedded broker (and checked against RabbitMQ): topic wildcards, headers matching in all
four x-match modes, exchange-to-exchange bindings, alternate exchanges and cycles. With
--url, a running embedded broker answers from its live state instead (RabbitMQ cannot:
bindings cannot be listed over AMQP).

Examples:
  $ eventlab route orders order.created.eu
  $ eventlab route alerts --header region=eu --header priority=high
  $ eventlab route orders order.refunded --json | jq .queues
  $ eventlab route '' inventory                  # the default exchange
  $ eventlab --url amqp://localhost:5672 route orders order.created.eu   # a live embedded broker`,
    )
    .action(
      async (exchange: string, routingKey: string, f: { header?: string[]; json?: boolean }) =>
        run(ctx, {
          exchange,
          routingKey,
          headers: keyValueFlags("--header", f.header),
          json: f.json === true,
        }),
    );
}

/**
 * The explanation of one message as text, from the config's topology: for `produce
 * --explain`. Undefined when the config does not declare the exchange.
 */
export async function explainText(
  ctx: Context,
  message: { exchange: string; routingKey: string; headers: Record<string, unknown> },
): Promise<string | undefined> {
  const { config } = await ctx.loadConfig();
  const [{ routingTableOf }, { explainRoute }, { renderRoute }] = await Promise.all([
    import("../lab/routing.js"),
    import("../broker/routing/index.js"),
    import("../ui/route-view.js"),
  ]);
  const table = routingTableOf(config.topology);
  if (message.exchange !== "" && !table.exchange(message.exchange)) return undefined;
  const e = explainRoute(table, message.exchange, message);
  const refused = e.hops[0]?.internal === true;
  return renderRoute({ ...e, queues: refused ? [] : e.queues }, message, ctx.theme);
}

export async function runRoute(ctx: Context, o: RouteOptions): Promise<void> {
  if (ctx.globals.url) return runLiveRoute(ctx, o);
  const { io, theme } = ctx;
  const { config, file } = await ctx.loadConfig();
  const [{ routingTableOf }, { explainRoute }] = await Promise.all([
    import("../lab/routing.js"),
    import("../broker/routing/index.js"),
  ]);
  const skipped: string[] = [];
  const table = routingTableOf(config.topology, (why) => skipped.push(why));
  if (o.exchange !== "" && !table.exchange(o.exchange)) {
    const known = Object.keys(config.topology.exchanges);
    throw new EventlabError(
      "not-found",
      `no exchange '${o.exchange}' in ${file ?? "the config"}: a publish to it would close the channel with 404 NOT_FOUND`,
      {
        hint: known.length
          ? `exchanges in the config: ${known.join(", ")}; amq.direct, amq.fanout, amq.topic, amq.headers, amq.match and '' always exist`
          : "there is no config topology: run `eventlab init`, or add a topology: section",
      },
    );
  }
  const e = explainRoute(table, o.exchange, { routingKey: o.routingKey, headers: o.headers });
  for (const why of skipped) io.err(`${theme.warn(theme.symbols.warn)} ${why}`);
  await printRoute(ctx, o, e, file);
}

/** --url: the running embedded broker explains from its live state. */
async function runLiveRoute(ctx: Context, o: RouteOptions): Promise<void> {
  const { liveRoute } = await import("../client/route.js");
  const connection = await ctx.connect({ connectionName: "eventlab route" });
  try {
    const live = await liveRoute(connection, o);
    if (!live.exists) {
      throw new EventlabError(
        "not-found",
        `no exchange '${o.exchange}' on ${connection.address.display}: a publish to it would close the channel with 404 NOT_FOUND`,
        { hint: "declare it (`eventlab declare exchange`), or check the name" },
      );
    }
    await printRoute(ctx, o, live.explanation, connection.address.display);
  } finally {
    await connection.close();
  }
}

async function printRoute(
  ctx: Context,
  o: RouteOptions,
  e: import("../broker/routing/index.js").RouteExplanation,
  source: string | undefined,
): Promise<void> {
  const { io, theme } = ctx;
  const { renderRoute, routeVerdict } = await import("../ui/route-view.js");
  const first = e.hops[0];
  const refused = first?.internal === true;
  const queues = refused ? [] : e.queues;
  if (o.json) {
    io.out(
      `${JSON.stringify({
        exchange: o.exchange,
        routingKey: o.routingKey,
        headers: o.headers,
        queues,
        routed: queues.length > 0,
        refused: refused ? "internal exchange: 403 ACCESS_REFUSED" : undefined,
        outcome: routeVerdict({ ...e, queues }, refused),
        exchanges: e.exchanges,
        alternates: e.alternates,
        cyclesStopped: e.cyclesStopped,
        hops: e.hops,
        cycles: e.cycles,
        source,
      })}\n`,
    );
    return;
  }
  io.out(renderRoute({ ...e, queues }, o, theme));
}

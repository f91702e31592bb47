/**
 * What `eventlab route` does once its flags are parsed: explain where a message would go,
 * offline from the config's topology, or (with --url) from a running embedded broker's
 * live state.
 */
import { explainRoute, type RouteExplanation } from "../../broker/routing/index.js";
import { apiRoute } from "../../client/api-route.js";
import { ManagementError } from "../../client/management.js";
import { liveRoute, NotEmbeddedError } from "../../client/route.js";
import type { Context } from "../../context.js";
import { EventlabError } from "../../errors.js";
import { explainText } from "../../lab/explain.js";
import { routingTableOf } from "../../lab/routing.js";
import { renderRoute, routeVerdict } from "../../ui/route-view.js";
import type { RouteOptions } from "../route.js";

export async function runRoute(ctx: Context, o: RouteOptions): Promise<void> {
  // A broker named for this run (--url or EVENTLAB_URL) answers live; otherwise the config.
  const { source } = await ctx.broker();
  if (source === "flag" || source === "env") return runLiveRoute(ctx, o);
  const { io, theme } = ctx;
  const { config, file } = await ctx.loadConfig();
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
  for (const why of skipped) io.err(`${theme.warn(theme.symbols.warn)} ${why}`);
  if (o.json) {
    const e = explainRoute(table, o.exchange, { routingKey: o.routingKey, headers: o.headers });
    io.out(routeJson(o, e, file));
  } else io.out(explainText(config.topology, o, theme) ?? "");
}

/** --url: the running embedded broker explains from its live state. */
async function runLiveRoute(ctx: Context, o: RouteOptions): Promise<void> {
  const connection = await ctx.connect({ connectionName: "eventlab route" });
  try {
    const live = await liveRoute(connection, o).catch(async (err) => {
      // RabbitMQ: read its live bindings through the management API and explain them here.
      if (!(err instanceof NotEmbeddedError)) throw err;
      const api = await ctx.management(o.api);
      const vhost = connection.address.vhost || "/";
      try {
        return await apiRoute(api, vhost, o);
      } catch (apiErr) {
        if (apiErr instanceof ManagementError) {
          throw new EventlabError("broker", `${err.message}, and ${apiErr.message}`, {
            hint: err.hint ?? "",
          });
        }
        throw apiErr;
      }
    });
    if (!live.exists) {
      throw new EventlabError(
        "not-found",
        `no exchange '${o.exchange}' on ${connection.address.display}: a publish to it would close the channel with 404 NOT_FOUND`,
        { hint: "declare it (`eventlab declare exchange`), or check the name" },
      );
    }
    const e = live.explanation;
    ctx.io.out(
      o.json
        ? routeJson(o, e, connection.address.display)
        : renderRoute({ ...e, queues: refused(e) ? [] : e.queues }, o, ctx.theme),
    );
  } finally {
    await connection.close();
  }
}

/** A publish straight to an internal exchange is refused: it reaches no queue. */
function refused(e: RouteExplanation): boolean {
  return e.hops[0]?.internal === true;
}

/** The explanation as one JSON line, the queues (none when refused) at the top level. */
function routeJson(o: RouteOptions, e: RouteExplanation, source: string | undefined): string {
  const isRefused = refused(e);
  const queues = isRefused ? [] : e.queues;
  return `${JSON.stringify({
    exchange: o.exchange,
    routingKey: o.routingKey,
    headers: o.headers,
    queues,
    routed: queues.length > 0,
    refused: isRefused ? "internal exchange: 403 ACCESS_REFUSED" : undefined,
    outcome: routeVerdict({ ...e, queues }, isRefused),
    exchanges: e.exchanges,
    alternates: e.alternates,
    cyclesStopped: e.cyclesStopped,
    hops: e.hops,
    cycles: e.cycles,
    source,
  })}\n`;
}

/**
 * The routing of one message as text, worked out offline from a config's topology by the
 * routing code the embedded broker uses: for `route` and `produce --explain`.
 */
import { explainRoute } from "../broker/routing/index.js";
import type { Topology } from "../config/schema.js";
import { renderRoute } from "../ui/route-view.js";
import type { Theme } from "../ui/theme.js";
import { routingTableOf } from "./routing.js";

export interface MessageToExplain {
  exchange: string;
  routingKey: string;
  headers: Record<string, unknown>;
}

/** Undefined when the topology does not declare the exchange. */
export function explainText(
  topology: Topology,
  message: MessageToExplain,
  theme: Theme,
): string | undefined {
  const table = routingTableOf(topology);
  if (message.exchange !== "" && !table.exchange(message.exchange)) return undefined;
  const e = explainRoute(table, message.exchange, message);
  const refused = e.hops[0]?.internal === true;
  return renderRoute({ ...e, queues: refused ? [] : e.queues }, message, theme);
}

/**
 * Where a message would go on a broker that cannot answer routing questions (RabbitMQ): its
 * live exchanges, queues and bindings read through the management API, then explained
 * offline by the same routing module the embedded broker routes with.
 */
import type { RouteQuestion } from "../broker/route-contract.js";
import {
  type ExchangeType,
  explainRoute,
  type RouteExplanation,
  RoutingTable,
} from "../broker/routing/index.js";
import { type ManagementClient, seg } from "./management.js";

interface ApiExchange {
  name: string;
  type: string;
  internal?: boolean;
  arguments?: Record<string, unknown>;
}
interface ApiBinding {
  source: string;
  destination: string;
  destination_type: "queue" | "exchange";
  routing_key: string;
  arguments?: Record<string, unknown>;
}

export async function apiRoute(
  api: ManagementClient,
  vhost: string,
  q: RouteQuestion,
): Promise<{ explanation: RouteExplanation; exists: boolean }> {
  const [exchanges, queues, bindings] = await Promise.all([
    api.get<ApiExchange[]>(`exchanges/${seg(vhost)}`),
    api.get<{ name: string }[]>(`queues/${seg(vhost)}?columns=name`),
    api.get<ApiBinding[]>(`bindings/${seg(vhost)}`),
  ]);
  const names = new Set(queues.map((x) => x.name));
  const table = new RoutingTable((name) => names.has(name));
  for (const x of exchanges) {
    const args = x.arguments ?? {};
    const delayed = x.type === "x-delayed-message";
    const type = (delayed ? String(args["x-delayed-type"] ?? "direct") : x.type) as ExchangeType;
    const ae = args["alternate-exchange"];
    table.declareExchange({
      name: x.name,
      type,
      delayed,
      internal: x.internal === true,
      alternateExchange: typeof ae === "string" ? ae : undefined,
    });
  }
  // The default exchange's bindings are implicit in the routing table.
  for (const b of bindings) {
    if (b.source === "") continue;
    try {
      table.bind({
        source: b.source,
        destination: b.destination,
        destinationType: b.destination_type,
        routingKey: b.routing_key,
        arguments: b.arguments ?? {},
      });
    } catch {
      // A binding this module cannot compile (an exchange type it does not know) routes nothing.
    }
  }
  const exists = q.exchange === "" || exchanges.some((x) => x.name === q.exchange);
  return { explanation: explainRoute(table, q.exchange, q), exists };
}

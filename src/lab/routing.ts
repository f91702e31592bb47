/**
 * The config's topology as the pure routing table sees it, for predicting where messages
 * go without a broker (`eventlab route`, `eventlab play`).
 */
import { RoutingTable } from "../broker/routing/index.js";
import { bindingArguments } from "../config/arguments.js";
import type { Topology } from "../config/schema.js";

/**
 * The config's topology as the pure routing table sees it (plus the amq.* exchanges). A
 * binding from an exchange the config does not declare (it may exist on a broker only) is
 * left out and passed to `onSkip`.
 */
export function routingTableOf(
  topology: Topology,
  onSkip: (why: string) => void = () => {},
): RoutingTable {
  const queues = new Set(Object.keys(topology.queues));
  const table = new RoutingTable((name) => queues.has(name));
  for (const [name, type] of [
    ["amq.direct", "direct"],
    ["amq.fanout", "fanout"],
    ["amq.topic", "topic"],
    ["amq.headers", "headers"],
    ["amq.match", "headers"],
  ] as const) {
    table.declareExchange({ name, type });
  }
  for (const [name, e] of Object.entries(topology.exchanges)) {
    table.declareExchange({
      name,
      type: e.type,
      internal: e.internal,
      alternateExchange: e.alternateExchange,
    });
  }
  for (const b of topology.bindings) {
    if (!table.exchange(b.source)) {
      onSkip(
        `the binding ${b.source} → ${b.destination} is left out: the config does not declare exchange '${b.source}'`,
      );
      continue;
    }
    const args = bindingArguments(b);
    table.bind({
      source: b.source,
      destination: b.destination,
      destinationType: b.destinationType,
      routingKey: b.routingKey,
      arguments: args,
    });
  }
  return table;
}

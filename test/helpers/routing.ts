/** The pure routing table of a routing scenario (test/fixtures/routing-scenarios.ts). */
import { RoutingTable } from "../../src/broker/routing/index.js";
import type { Scenario } from "../fixtures/routing-scenarios.js";

export function scenarioTable(s: Scenario): RoutingTable {
  const queues = new Set(s.queues);
  const t = new RoutingTable((name) => queues.has(name));
  for (const x of s.exchanges) t.declareExchange(x);
  for (const b of s.bindings) t.bind(b);
  return t;
}

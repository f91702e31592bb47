/**
 * Prometheus metrics (placeholder until the metrics module lands): broker totals only.
 */
import type { Broker } from "../server.js";

export function renderMetrics(broker: Broker, _perObject: boolean): string {
  const s = broker.stats();
  return ["# TYPE rabbitmq_connections gauge", `rabbitmq_connections ${s.connections}`, ""].join(
    "\n",
  );
}

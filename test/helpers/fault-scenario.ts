/**
 * The config the fault tests play: a topic exchange bound to one queue, `amount` messages of
 * one template (order.created) at `rate`, one consumer profile `worker` (5 ms of work), and the
 * scenario `s` with the given faults. Names and settings vary by tier (the embedded broker,
 * RabbitMQ, a cluster with a quorum queue); the shape is the same.
 */
export interface FaultScenario {
  faults: unknown[];
  exchange?: string | undefined;
  queue?: string | undefined;
  /** The queue's settings (default durable, classic). */
  queueSettings?: Record<string, unknown> | undefined;
  amount: number;
  rate?: number | undefined;
  persistent?: boolean | undefined;
  /** More settings of the consumer profile. */
  consumer?: Record<string, unknown> | undefined;
  /** More settings of the scenario. */
  scenario?: Record<string, unknown> | undefined;
}

export function faultScenarioConfig(o: FaultScenario): Record<string, unknown> {
  const exchange = o.exchange ?? "shop";
  const queue = o.queue ?? "work";
  return {
    topology: {
      exchanges: { [exchange]: { type: "topic" } },
      queues: { [queue]: { durable: true, ...o.queueSettings } },
      bindings: [{ source: exchange, destination: queue, routingKey: "order.#" }],
    },
    templates: {
      order: {
        exchange,
        routingKey: "order.created",
        body: { n: "{{seq}}" },
        properties: { persistent: o.persistent ?? true },
        amount: o.amount,
        rate: o.rate ?? 40,
      },
    },
    consumers: { worker: { queue, workTime: "5ms", ...o.consumer } },
    scenarios: {
      s: {
        producers: [{ template: "order" }],
        consumers: ["worker"],
        faults: o.faults,
        ...o.scenario,
      },
    },
  };
}

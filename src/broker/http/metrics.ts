/**
 * Prometheus metrics of the embedded broker, with the names, types and help texts of
 * RabbitMQ 3.10's rabbitmq_prometheus plugin (test/fixtures/metrics/rabbitmq-3.10.txt is its
 * output): GET /metrics sums the queue metrics over all queues, as the plugin does by
 * default; GET /metrics/per-object gives one sample per queue, labelled vhost and queue.
 * The global counters (rabbitmq_global_*) come from the broker's totals, counted in
 * protocol/ as messages pass; gauges are read from the model when scraped. Only the subset
 * the broker can measure is written; Erlang VM metrics have no counterpart here.
 */
import { randomBytes } from "node:crypto";
import type { Queue } from "../model/queue.js";
import type { Stream } from "../model/stream.js";
import type { QueueTypeTotals } from "../protocol/connection.js";
import type { Broker } from "../server.js";
import { Exposition, type Labels, type Sample } from "./exposition.js";
import { nodeName } from "./server.js";

const PROTOCOL = { protocol: "amqp091" } as const;

/** RabbitMQ's queue type modules, the global counters' queue_type label. */
const QUEUE_TYPES = [
  ["classic", "rabbit_classic_queue"],
  ["quorum", "rabbit_quorum_queue"],
  ["stream", "rabbit_stream_queue"],
] as const;

/** Per-queue gauges: name, help (the plugin's), and how to read it from a queue or stream. */
const QUEUE_GAUGES: ReadonlyArray<[string, string, (q: Queue | Stream) => number]> = [
  [
    "rabbitmq_queue_messages_ready",
    "Messages ready to be delivered to consumers",
    (q) => q.messageCount,
  ],
  [
    "rabbitmq_queue_messages_unacked",
    "Messages delivered to consumers but not yet acknowledged",
    (q) => unackedOf(q),
  ],
  [
    "rabbitmq_queue_messages",
    "Sum of ready and unacknowledged messages - total queue depth",
    (q) => q.messageCount + unackedOf(q),
  ],
  ["rabbitmq_queue_consumers", "Consumers on a queue", (q) => q.consumers.length],
  [
    "rabbitmq_queue_messages_ready_bytes",
    "Size in bytes of ready messages",
    (q) => ("readyBytes" in q ? q.readyBytes : 0),
  ],
  [
    "rabbitmq_queue_messages_paged_out",
    "Messages paged out to disk",
    (q) => ("pagedCount" in q ? q.pagedCount : 0),
  ],
];

/** Global counters by queue type: name, help, which total. */
const TYPED_COUNTERS: ReadonlyArray<[string, string, keyof QueueTypeTotals]> = [
  [
    "rabbitmq_global_messages_acknowledged_total",
    "Total number of messages acknowledged by consumers",
    "acknowledged",
  ],
  [
    "rabbitmq_global_messages_delivered_consume_auto_ack_total",
    "Total number of messages delivered to consumers using basic.consume with automatic acknowledgment",
    "consumeAutoAck",
  ],
  [
    "rabbitmq_global_messages_delivered_consume_manual_ack_total",
    "Total number of messages delivered to consumers using basic.consume with manual acknowledgment",
    "consumeManualAck",
  ],
  [
    "rabbitmq_global_messages_delivered_get_auto_ack_total",
    "Total number of messages delivered to consumers using basic.get with automatic acknowledgment",
    "getAutoAck",
  ],
  [
    "rabbitmq_global_messages_delivered_get_manual_ack_total",
    "Total number of messages delivered to consumers using basic.get with manual acknowledgment",
    "getManualAck",
  ],
  [
    "rabbitmq_global_messages_delivered_total",
    "Total number of messages delivered to consumers",
    "delivered",
  ],
  [
    "rabbitmq_global_messages_get_empty_total",
    "Total number of times basic.get operations fetched no message",
    "getEmpty",
  ],
  [
    "rabbitmq_global_messages_redelivered_total",
    "Total number of messages redelivered to consumers",
    "redelivered",
  ],
];

function unackedOf(q: Queue | Stream): number {
  return "unacked" in q && typeof q.unacked === "number" ? q.unacked : 0;
}

/** The cluster's permanent id, as RabbitMQ makes one per cluster: one per broker here. */
const clusterIds = new WeakMap<Broker, string>();

function clusterIdOf(broker: Broker): string {
  let id = clusterIds.get(broker);
  if (id === undefined) {
    id = `rabbitmq-cluster-id-${randomBytes(16).toString("base64url").slice(0, 22)}`;
    clusterIds.set(broker, id);
  }
  return id;
}

/** The text of GET /metrics (`perObject` false) or GET /metrics/per-object. */
export function renderMetrics(broker: Broker, perObject: boolean): string {
  const x = new Exposition();
  const queues: Array<Queue | Stream> = [
    ...broker.vhost.queues.values(),
    ...broker.vhost.streams.values(),
  ];
  for (const [name, help, read] of QUEUE_GAUGES) {
    const samples: Sample[] = perObject
      ? queues.map((q) => ({ labels: { vhost: "/", queue: q.name }, value: read(q) }))
      : [{ value: queues.reduce((n, q) => n + read(q), 0) }];
    x.family(name, "gauge", help, samples);
  }
  const s = broker.stats();
  const t = broker.totals;
  x.family("rabbitmq_connections", "gauge", "Connections currently open", [
    { value: s.connections },
  ]);
  x.family("rabbitmq_channels", "gauge", "Channels currently open", [{ value: s.channels }]);
  x.family("rabbitmq_consumers", "gauge", "Consumers currently connected", [
    { value: s.consumers },
  ]);
  x.family("rabbitmq_queues", "gauge", "Queues available", [{ value: s.queues }]);
  const version = broker.settings.productVersion;
  x.family("rabbitmq_build_info", "untyped", "RabbitMQ & Erlang/OTP version info", [
    {
      labels: {
        rabbitmq_version: version,
        prometheus_plugin_version: version,
        prometheus_client_version: "eventlab",
        erlang_version: "none",
      },
      value: 1,
    },
  ]);
  const node = nodeName();
  x.family("rabbitmq_identity_info", "untyped", "RabbitMQ node & cluster identity info", [
    {
      labels: {
        rabbitmq_node: node,
        rabbitmq_cluster: node,
        rabbitmq_cluster_permanent_id: clusterIdOf(broker),
      },
      value: 1,
    },
  ]);
  x.family("rabbitmq_global_consumers", "gauge", "Current number of consumers", [
    { labels: PROTOCOL, value: s.consumers },
  ]);
  const global = (name: string, help: string, value: number) =>
    x.family(name, "counter", help, [{ labels: PROTOCOL, value }]);
  const typed = (key: keyof QueueTypeTotals): Sample[] =>
    QUEUE_TYPES.map(([type, module]) => ({
      labels: { ...PROTOCOL, queue_type: module } satisfies Labels,
      value: t.queueTypes[type][key],
    }));
  const [acknowledged, ...deliveries] = TYPED_COUNTERS;
  if (acknowledged) x.family(acknowledged[0], "counter", acknowledged[1], typed(acknowledged[2]));
  global(
    "rabbitmq_global_messages_confirmed_total",
    "Total number of messages confirmed to publishers",
    t.confirmed,
  );
  for (const [name, help, key] of deliveries) x.family(name, "counter", help, typed(key));
  global(
    "rabbitmq_global_messages_received_confirm_total",
    "Total number of messages received from publishers expecting confirmations",
    t.receivedConfirm,
  );
  global(
    "rabbitmq_global_messages_received_total",
    "Total number of messages received from publishers",
    t.published,
  );
  global(
    "rabbitmq_global_messages_routed_total",
    "Total number of messages routed to queues or streams",
    t.routed,
  );
  global(
    "rabbitmq_global_messages_unroutable_dropped_total",
    "Total number of messages published as non-mandatory into an exchange and dropped as unroutable",
    t.unroutableDropped,
  );
  global(
    "rabbitmq_global_messages_unroutable_returned_total",
    "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable",
    t.unroutableReturned,
  );
  return x.text();
}

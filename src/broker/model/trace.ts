/**
 * The firehose: with tracing on (RabbitMQ's `rabbitmqctl trace_on`), a copy of every message
 * published and of every message delivered goes to the internal topic exchange
 * amq.rabbitmq.trace, as RabbitMQ 3.10's rabbit_trace builds it (recorded on a node with
 * trace_on; see test/conformance/scenarios-trace.ts):
 *
 * - routing key `publish.<exchange>` (the default exchange as `publish.`) before the message
 *   reaches its queues, routed or not; `deliver.<queue>` for basic.deliver and basic.get-ok,
 *   acknowledged or no-ack;
 * - the original body, and only a headers property: exchange_name, routing_keys (the key,
 *   CC and BCC), properties (the set basic properties, in reverse spec order, integers as
 *   signed 32-bit, headers as a table, everything else as text), node, then for deliveries
 *   redelivered (0 or 1), then vhost, connection (`peer -> broker` address), channel, user,
 *   and for publishes routed_queues (sorted);
 * - never for a message whose exchange is amq.rabbitmq.trace itself (a trace queue's own
 *   deliveries), and not when a broker moves a message itself (dead-lettering): only a
 *   client's publish and the deliveries a client receives.
 *
 * One thing is not kept: numbers inside the original headers table are re-encoded with the
 * codec's default tags (RabbitMQ relays their tags: an int8 stays an int8); clients that
 * decode to plain numbers (amqplib) see no difference.
 *
 * Off (the default), the only cost is the `enabled` check at each hook.
 */
import { hostname } from "node:os";
import {
  type BasicProperties,
  type FieldTable,
  type FieldValue,
  Typed,
  tableField,
} from "../codec/index.js";
import { type Message, makeMessage, routingKeys } from "./message.js";
import type { VHost } from "./vhost.js";

export const TRACE_EXCHANGE = "amq.rabbitmq.trace";

/**
 * The channel a message was published on or delivered to (a protocol Channel is one), so
 * that the hooks pass what they already hold and nothing is built while tracing is off.
 */
export interface TraceOrigin {
  readonly number: number;
  readonly host: {
    readonly user: string;
    /** RabbitMQ's connection name: `<peer address>:<port> -> <broker address>:<port>`. */
    readonly connectionName: string;
  };
}

/** The basic properties in spec order; RabbitMQ lists the set ones in reverse. */
const PROPERTY_NAMES: ReadonlyArray<[keyof BasicProperties, string]> = [
  ["contentType", "content_type"],
  ["contentEncoding", "content_encoding"],
  ["headers", "headers"],
  ["deliveryMode", "delivery_mode"],
  ["priority", "priority"],
  ["correlationId", "correlation_id"],
  ["replyTo", "reply_to"],
  ["expiration", "expiration"],
  ["messageId", "message_id"],
  ["timestamp", "timestamp"],
  ["type", "type"],
  ["userId", "user_id"],
  ["appId", "app_id"],
  ["clusterId", "cluster_id"],
];

/** RabbitMQ's node name has the form name@host; this broker's names itself after its host. */
function nodeName(): string {
  return `eventlab@${hostname().split(".")[0] || "localhost"}`;
}

/** RabbitMQ types property values as signedint (integers), table (headers) or longstr. */
function propertyValue(v: unknown): FieldValue {
  if (typeof v === "number" || typeof v === "bigint") return new Typed("I", v);
  if (typeof v === "string" || Buffer.isBuffer(v)) return v;
  return v as FieldTable;
}

function propertiesTable(p: BasicProperties): FieldTable {
  const out: FieldTable = {};
  for (let i = PROPERTY_NAMES.length - 1; i >= 0; i--) {
    const [key, name] = PROPERTY_NAMES[i] as [keyof BasicProperties, string];
    const v = p[key];
    if (v === undefined) continue;
    if (key !== "headers") out[name] = propertyValue(v);
    else {
      // RabbitMQ removes BCC from a message when it routes it, before tracing.
      const { BCC: _bcc, ...headers } = v as FieldTable;
      out[name] = headers;
    }
  }
  return out;
}

/** RabbitMQ keeps BCC among a message's routing keys though the header itself is removed. */
function allRoutingKeys(m: Message): string[] {
  const bcc = tableField(m.properties.headers, "BCC");
  const extra = Array.isArray(bcc) ? bcc.filter((k): k is string => typeof k === "string") : [];
  return [...routingKeys(m), ...extra];
}

/** What the tracer uses of its virtual host: routing, and the queues to put copies in. */
type TraceHost = Pick<VHost, "name" | "route" | "queues" | "streams">;

export class Tracer {
  /** Whether tracing is on: checked at every hook before anything else is done. */
  enabled: boolean;
  readonly node: string = nodeName();

  constructor(
    private readonly host: TraceHost,
    enabled: boolean,
  ) {
    this.enabled = enabled;
  }

  /**
   * A client published `m`; `routed` names the queues routing found, about to get it (the
   * trace copy goes first, as in RabbitMQ, so a trace consumer sees publish before deliver).
   */
  published(m: Message, routed: readonly string[], from: TraceOrigin): void {
    if (m.exchange === TRACE_EXCHANGE) return;
    const { queues, streams } = this.host;
    this.send(`publish.${m.exchange}`, m, {
      vhost: this.host.name,
      connection: from.host.connectionName,
      channel: new Typed("I", from.number),
      user: from.host.user,
      routed_queues: routed.filter((n) => queues.has(n) || streams.has(n)).sort(),
    });
  }

  /** `m` went out from `queue` in a basic.deliver or basic.get-ok. */
  delivered(queue: string, m: Message, redelivered: boolean, from: TraceOrigin): void {
    if (m.exchange === TRACE_EXCHANGE) return;
    this.send(`deliver.${queue}`, m, {
      redelivered: new Typed("I", redelivered ? 1 : 0),
      vhost: this.host.name,
      connection: from.host.connectionName,
      channel: new Typed("I", from.number),
      user: from.host.user,
    });
  }

  private send(routingKey: string, m: Message, extra: FieldTable): void {
    const headers: FieldTable = {
      exchange_name: m.exchange,
      routing_keys: allRoutingKeys(m),
      properties: propertiesTable(m.properties),
      node: this.node,
      ...extra,
    };
    const copy = makeMessage(TRACE_EXCHANGE, routingKey, { headers }, m.body);
    // Published by the broker itself: no checks, no confirms, and not traced in turn.
    for (const name of this.host.route(TRACE_EXCHANGE, copy).queues) {
      (this.host.queues.get(name) ?? this.host.streams.get(name))?.enqueue(copy);
    }
  }
}

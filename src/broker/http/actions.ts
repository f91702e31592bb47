/**
 * What the management API changes: declare and delete exchanges, queues and bindings, purge,
 * get, publish, and import definitions. Each goes through the same vhost operations as the
 * AMQP methods, so the checks and reply texts are the broker's own; an AmqpError becomes the
 * HTTP status RabbitMQ's API gives for it (api.ts).
 */
import { notFound } from "../errors.js";
import { makeMessage } from "../model/message.js";
import type { Queue, QueuedMessage } from "../model/queue.js";
import type { VHost } from "../model/vhost.js";
import {
  BadRequest,
  type Body,
  count,
  flag,
  type Json,
  jsonProperties,
  jsonTable,
  payloadJson,
  propertiesJson,
} from "./json.js";
import { allBindings, type BindingRow, propertiesKey } from "./views.js";

/** The API is no AMQP connection: this id owns nothing, so exclusive queues stay locked to it. */
const API_CONNECTION = 0;

/** The API names the default exchange amq.default. */
export function exchangeName(name: string): string {
  return name === "amq.default" ? "" : name;
}

/** PUT /api/exchanges/vhost/name: true when it was created, false when it existed. */
export function declareExchange(vhost: VHost, name: string, body: Body): boolean {
  const existed = vhost.exchanges.has(name);
  if (typeof body.type !== "string" || body.type === "") {
    throw new BadRequest("an exchange needs a type");
  }
  vhost.declareExchange({
    name,
    type: body.type,
    passive: false,
    durable: flag(body.durable, "durable", true),
    autoDelete: flag(body.auto_delete, "auto_delete", false),
    internal: flag(body.internal, "internal", false),
    args: jsonTable(body.arguments),
  });
  return !existed;
}

export function declareQueue(vhost: VHost, name: string, body: Body): boolean {
  const existed = vhost.queues.has(name) || vhost.streams.has(name);
  const args = jsonTable(body.arguments);
  vhost.declareQueue(API_CONNECTION, {
    name,
    passive: false,
    durable: flag(body.durable, "durable", true),
    exclusive: false,
    autoDelete: flag(body.auto_delete, "auto_delete", false),
    args,
  });
  return !existed;
}

export function deleteQueue(vhost: VHost, name: string, query: URLSearchParams): void {
  vhost.deleteQueue(
    API_CONNECTION,
    name,
    query.get("if-unused") === "true",
    query.get("if-empty") === "true",
  );
}

/** POST /api/bindings/vhost/e/source/{q|e}/destination; returns the new binding's row. */
export function bind(
  vhost: VHost,
  source: string,
  destinationType: "queue" | "exchange",
  destination: string,
  body: Body,
): BindingRow {
  const routingKey = body.routing_key === undefined ? "" : String(body.routing_key);
  const args = jsonTable(body.arguments);
  vhost.bind(API_CONNECTION, { source, destination, destinationType, routingKey, args }, false);
  return {
    source,
    destination,
    destination_type: destinationType,
    routing_key: routingKey,
    arguments: args,
  };
}

/** The bindings between two objects; with `props`, only the one with that properties_key. */
export function bindingsBetween(
  vhost: VHost,
  source: string,
  destinationType: "queue" | "exchange",
  destination: string,
  props?: string,
): BindingRow[] {
  return allBindings(vhost).filter(
    (b) =>
      b.source === source &&
      b.destination === destination &&
      b.destination_type === destinationType &&
      (props === undefined || propertiesKey(b.routing_key, b.arguments) === props),
  );
}

export function unbind(vhost: VHost, row: BindingRow): void {
  vhost.bind(
    API_CONNECTION,
    {
      source: row.source,
      destination: row.destination,
      destinationType: row.destination_type,
      routingKey: row.routing_key,
      args: row.arguments,
    },
    true,
  );
}

/** POST /api/exchanges/vhost/name/publish → {routed}. */
export function publish(vhost: VHost, exchange: string, body: Body): { routed: boolean } {
  if (body.routing_key === undefined) throw new BadRequest("routing_key is required");
  if (body.payload === undefined) throw new BadRequest("payload is required");
  const encoding = body.payload_encoding ?? "string";
  if (encoding !== "string" && encoding !== "base64") {
    throw new BadRequest(`payload_encoding must be string or base64, not ${String(encoding)}`);
  }
  const payload = String(body.payload);
  const bytes = Buffer.from(payload, encoding === "base64" ? "base64" : "utf8");
  const message = makeMessage(
    exchange,
    String(body.routing_key),
    jsonProperties(body.properties),
    bytes,
  );
  const outcome = vhost.publish(exchange, message);
  return { routed: outcome.routed > 0 };
}

const ACK_MODES = [
  "ack_requeue_true",
  "ack_requeue_false",
  "reject_requeue_true",
  "reject_requeue_false",
] as const;

/**
 * POST /api/queues/vhost/name/get. A requeueing mode only looks: the messages stay exactly as
 * they were (RabbitMQ takes them and puts them back, marked redelivered; see differences).
 */
export function getMessages(vhost: VHost, name: string, body: Body): Json[] {
  const q = vhost.queues.get(name);
  if (!q) {
    if (vhost.streams.has(name)) throw new BadRequest(`queue '${name}' is a stream: consume it`);
    throw notFound("queue", name);
  }
  const mode = body.ackmode;
  if (typeof mode !== "string" || !(ACK_MODES as readonly string[]).includes(mode)) {
    throw new BadRequest(`ackmode must be one of ${ACK_MODES.join(", ")}`);
  }
  const encoding = body.encoding ?? "auto";
  if (encoding !== "auto" && encoding !== "base64") {
    throw new BadRequest(`encoding must be auto or base64, not ${String(encoding)}`);
  }
  const n = count(body.count, "count", 1);
  const truncate = body.truncate === undefined ? undefined : count(body.truncate, "truncate", 0);
  const before = q.messageCount;
  const entries = mode.endsWith("requeue_true") ? q.peek(n) : take(q, n, mode);
  return entries.map((e, i) => {
    const body = truncate === undefined ? e.message.body : e.message.body.subarray(0, truncate);
    return {
      payload_bytes: e.message.body.length,
      redelivered: e.redelivered,
      exchange: e.message.exchange,
      routing_key: e.message.routingKey,
      message_count: Math.max(0, before - i - 1),
      properties: propertiesJson(e.message.properties),
      ...payloadJson(body, encoding),
    };
  });
}

function take(q: Queue, n: number, mode: string): QueuedMessage[] {
  const out: QueuedMessage[] = [];
  while (out.length < n) {
    const e = q.get();
    if (!e) break;
    out.push(e);
  }
  if (mode === "ack_requeue_false") q.settle(out);
  else q.reject(out);
  return out;
}

/**
 * The management API's JSON for each object, with RabbitMQ's field names and shapes for the
 * fields tools read (rabbitmqadmin, exporters, eventlab's own client). Pure: read off the
 * model and the protocol's views when asked. Fields RabbitMQ has and these do not are listed,
 * with why, in test/fixtures/management/differences.ts.
 */
import type { FieldTable } from "../codec/index.js";
import type { Exchange } from "../model/exchange.js";
import type { Queue } from "../model/queue.js";
import type { Stream } from "../model/stream.js";
import type { VHost } from "../model/vhost.js";
import type { ChannelView, ConnectionView, ConsumerView } from "../protocol/views.js";
import { type Json, quotePlus, tableJson } from "./json.js";
import type { Rates } from "./rates.js";

export const VHOST = "/";

/** What every view needs: the node's name and the rates. */
export interface ViewContext {
  node: string;
  rates: Rates;
}

type Obj = { [key: string]: Json };

function withRate(ctx: ViewContext, key: string, name: string, value: number): Obj {
  return { [name]: value, [`${name}_details`]: { rate: ctx.rates.rate(key) } };
}

/** message_stats of one object: each counter with its _details.rate. */
function messageStats(ctx: ViewContext, prefix: string, counters: Record<string, number>): Obj {
  const out: Obj = {};
  for (const [name, value] of Object.entries(counters)) {
    Object.assign(out, withRate(ctx, `${prefix}:${name}`, name, value));
  }
  return out;
}

/** A queue's counters by RabbitMQ's names (the rates sampler reads the same). */
export function queueCounters(q: Queue) {
  const c = q.counts;
  const noAck = c.deliverNoAck + c.getNoAck;
  return {
    publish: c.publish,
    deliver: c.deliver,
    deliver_no_ack: c.deliverNoAck,
    get: c.get,
    get_no_ack: c.getNoAck,
    get_empty: c.getEmpty,
    deliver_get: c.deliver + c.deliverNoAck + c.get + c.getNoAck,
    ack: Math.max(0, c.settled - noAck),
    redeliver: c.redeliver,
  };
}

function queueType(q: Queue | Stream): string {
  return "settings" in q && "type" in q.settings ? String(q.settings.type) : "stream";
}

export function queueJson(ctx: ViewContext, q: Queue | Stream): Obj {
  const isQueue = "counts" in q;
  const ready = isQueue ? q.messageCount : q.messageCount;
  const unacked = isQueue ? q.unacked : 0;
  const bytesReady = isQueue ? q.readyBytes : 0;
  const key = `queue:${q.name}`;
  const type = queueType(q);
  const consumers = q.consumers.length;
  const quorum = type === "quorum" || type === "stream";
  const out: Obj = {
    name: q.name,
    vhost: VHOST,
    type,
    durable: q.durable,
    auto_delete: q.autoDelete,
    exclusive: q.owner !== undefined,
    arguments: tableJson(q.args),
    node: ctx.node,
    state: "running",
    policy: null,
    operator_policy: null,
    effective_policy_definition: {},
    consumers,
    consumer_capacity: consumers > 0 ? 1 : 0,
    consumer_utilisation: consumers > 0 ? 1 : 0,
    // Quorum queues name it _ctag, classic ones _tag (RabbitMQ 3.10).
    [quorum ? "single_active_consumer_ctag" : "single_active_consumer_tag"]:
      (isQueue && q.activeConsumerTag) || null,
    ...withRate(ctx, `${key}:messages`, "messages", ready + unacked),
    ...withRate(ctx, `${key}:messages_ready`, "messages_ready", ready),
    ...withRate(ctx, `${key}:messages_unacknowledged`, "messages_unacknowledged", unacked),
    messages_ram: isQueue ? ready + unacked - q.pagedCount : 0,
    messages_persistent: 0,
    message_bytes: bytesReady,
    message_bytes_ready: bytesReady,
    message_bytes_unacknowledged: 0,
    message_bytes_ram: bytesReady,
    message_bytes_persistent: 0,
    message_stats: isQueue ? messageStats(ctx, key, queueCounters(q)) : {},
  };
  if (quorum) {
    const members = { leader: ctx.node, members: [ctx.node], online: [ctx.node] };
    Object.assign(out, { ...members, messages_dlx: 0, message_bytes_dlx: 0 });
  } else {
    Object.assign(out, {
      exclusive_consumer_tag: null,
      head_message_timestamp: null,
      messages_ready_ram: isQueue ? ready - q.pagedCount : 0,
      messages_unacknowledged_ram: unacked,
      messages_paged_out: isQueue ? q.pagedCount : 0,
      message_bytes_paged_out: 0,
    });
  }
  return out;
}

export function exchangeJson(
  ctx: ViewContext,
  x: Exchange,
  counts?: { in: number; out: number },
): Obj {
  const stats = counts
    ? {
        message_stats: messageStats(ctx, `exchange:${x.name}`, {
          publish_in: counts.in,
          publish_out: counts.out,
        }),
      }
    : {};
  return {
    ...stats,
    name: x.name,
    vhost: VHOST,
    type: x.type,
    durable: x.durable,
    auto_delete: x.autoDelete,
    internal: x.internal,
    arguments: tableJson(x.args),
    user_who_performed_action: x.name === "" || x.name.startsWith("amq.") ? "rmq-internal" : "",
  };
}

/** RabbitMQ's properties_key: the quoted routing key, "~" when empty, plus a hash of arguments. */
export function propertiesKey(routingKey: string, args: FieldTable | undefined): string {
  const hasArgs = args !== undefined && Object.keys(args).length > 0;
  const key = routingKey === "" && !hasArgs ? "~" : quotePlus(routingKey);
  if (!hasArgs) return key;
  let h = 0x811c9dc5;
  for (const ch of JSON.stringify(tableJson(args))) {
    h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  }
  return `${key}~${Buffer.from(h.toString(16)).toString("base64url")}`;
}

export interface BindingRow {
  source: string;
  destination: string;
  destination_type: "queue" | "exchange";
  routing_key: string;
  arguments: FieldTable;
}

export function bindingJson(b: BindingRow): Obj {
  return {
    source: b.source,
    vhost: VHOST,
    destination: b.destination,
    destination_type: b.destination_type,
    routing_key: b.routing_key,
    arguments: tableJson(b.arguments),
    properties_key: propertiesKey(b.routing_key, b.arguments),
  };
}

/** Every binding, the default exchange's implicit ones first (as RabbitMQ lists them). */
export function allBindings(vhost: VHost): BindingRow[] {
  const rows: BindingRow[] = [];
  const queueNames = [...vhost.queues.keys(), ...vhost.streams.keys()].sort();
  for (const name of queueNames) {
    rows.push({
      source: "",
      destination: name,
      destination_type: "queue",
      routing_key: name,
      arguments: {},
    });
  }
  for (const x of [...vhost.exchanges.keys()].sort()) {
    const sorted = vhost.routing
      .bindingsOf(x)
      .sort((a, b) =>
        a.destination === b.destination
          ? a.routingKey.localeCompare(b.routingKey)
          : a.destination.localeCompare(b.destination),
      );
    for (const b of sorted) {
      rows.push({
        source: b.source,
        destination: b.destination,
        destination_type: b.destinationType,
        routing_key: b.routingKey,
        arguments: (b.arguments ?? {}) as FieldTable,
      });
    }
  }
  return rows;
}

function connectionDetails(c: ConnectionView): Obj {
  return { name: c.name, peer_host: c.peerHost ?? null, peer_port: c.peerPort ?? null };
}

export function connectionJson(ctx: ViewContext, c: ConnectionView): Obj {
  return {
    name: c.name,
    node: ctx.node,
    vhost: VHOST,
    user: c.user,
    user_who_performed_action: c.user,
    state: c.state,
    type: "network",
    protocol: "AMQP 0-9-1",
    auth_mechanism: "PLAIN",
    ssl: c.tls,
    host: c.host ?? null,
    port: c.port ?? null,
    peer_host: c.peerHost ?? null,
    peer_port: c.peerPort ?? null,
    channels: c.channels.length,
    ...withRate(ctx, `connection:${c.name}:recv_oct`, "recv_oct", c.recvOct),
    ...withRate(ctx, `connection:${c.name}:send_oct`, "send_oct", c.sendOct),
    recv_cnt: c.recvCnt,
    send_cnt: c.sendCnt,
    send_pend: c.sendPend,
    ssl_protocol: c.tlsDetails?.protocol ?? null,
    ssl_key_exchange: null,
    ssl_cipher: c.tlsDetails?.cipher ?? null,
    ssl_hash: null,
    peer_cert_subject: c.tlsDetails?.peerSubject ?? null,
    peer_cert_issuer: c.tlsDetails?.peerIssuer ?? null,
    peer_cert_validity: c.tlsDetails?.peerValidity ?? null,
    channel_max: c.channelMax,
    frame_max: c.frameMax,
    timeout: c.heartbeat,
    connected_at: c.connectedAt,
    client_properties: tableJson(c.clientProperties),
    ...(c.clientName !== undefined ? { user_provided_name: c.clientName } : {}),
  };
}

function channelName(c: ConnectionView, ch: ChannelView): string {
  return `${c.name} (${ch.number})`;
}

export function channelJson(ctx: ViewContext, c: ConnectionView, ch: ChannelView): Obj {
  return {
    name: channelName(c, ch),
    node: ctx.node,
    vhost: VHOST,
    user: c.user,
    user_who_performed_action: c.user,
    number: ch.number,
    state: "running",
    confirm: ch.mode === "confirm",
    transactional: ch.mode === "tx",
    consumer_count: ch.consumers.length,
    messages_unacknowledged: ch.unacked,
    messages_unconfirmed: 0,
    messages_uncommitted: 0,
    acks_uncommitted: 0,
    prefetch_count: ch.prefetch,
    global_prefetch_count: ch.globalPrefetch,
    connection_details: connectionDetails(c),
  };
}

export function consumerJson(
  ctx: ViewContext,
  c: ConnectionView,
  ch: ChannelView,
  k: ConsumerView,
): Obj {
  return {
    consumer_tag: k.tag,
    queue: { name: k.queue, vhost: VHOST },
    channel_details: {
      name: channelName(c, ch),
      number: ch.number,
      node: ctx.node,
      connection_name: c.name,
      peer_host: c.peerHost ?? null,
      peer_port: c.peerPort ?? null,
      user: c.user,
    },
    ack_required: !k.noAck,
    exclusive: k.exclusive,
    prefetch_count: k.prefetch,
    active: true,
    activity_status: "up",
    arguments: k.priority !== 0 ? { "x-priority": k.priority } : {},
  };
}

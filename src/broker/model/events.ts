/**
 * The message event ledger: with `startBroker({ ledger: true })` (`eventlab broker --ledger`)
 * the broker notes what happens to each message that has an id — published, routed (to which
 * queues) or unroutable, enqueued, delivered, acked, nacked, rejected, dead-lettered (why),
 * expired, dropped (a length limit, a purge, a deleted queue) — for `eventlab why <id>`.
 * Off (the default) there is no ledger object: every hook is one `events` field check. On,
 * it keeps the newest `maxEvents` (default 1,000,000), and its index by id forgets with them.
 *
 * `connection` is the client's connection_name client property, else its peer address;
 * events made on a client's behalf in the same method (enqueued after its publish,
 * dead-lettered after its reject) carry that client's, those the broker makes on its own
 * (TTL expiry, a delayed message released) "broker".
 *
 * Over AMQP: a message to the default exchange with routing key `amq.eventlab.why`, a
 * reply_to (a queue, or amq.rabbitmq.reply-to) and the message id as its body gets a JSON
 * WhyAnswer (correlation_id copied); its routed and dead-lettered events carry `reasons`, the
 * binding that took the message to each queue, from the bindings as they are when asked.
 * Nothing is enqueued for that key. RabbitMQ returns such a question as unroutable.
 */
import {
  type BasicProperties,
  type FieldTable,
  type FieldValue,
  Timestamp,
  Typed,
} from "../codec/index.js";
import { explainRoute, type RoutingTable } from "../routing/index.js";
import { type DeathReason, type Message, makeMessage } from "./message.js";

export type MessageEventKind =
  | "published"
  | "routed"
  | "unroutable"
  | "enqueued"
  | "delivered"
  | "acked"
  | "nacked"
  | "rejected"
  | "dead-lettered"
  | "expired"
  | "dropped";

export interface MessageEvent {
  /** Date.now() when it happened. */
  t: number;
  kind: MessageEventKind;
  /** The message's id (the message_id property unless the ledger's idOf says otherwise). */
  id: string;
  /** The client's connection_name client property, else its peer `host:port`; or "broker". */
  connection: string;
  channel?: number;
  exchange?: string;
  routingKey?: string;
  /** enqueued, delivered, acked, nacked, rejected, dead-lettered (from), expired, dropped. */
  queue?: string;
  /** routed: every queue that got a copy; dead-lettered: the queues the DLX routed it to. */
  queues?: string[];
  deliveryTag?: number;
  redelivered?: boolean;
  consumerTag?: string;
  /** delivered with no-ack: settled as it went out. */
  noAck?: boolean;
  /** nacked, rejected. */
  requeue?: boolean;
  /**
   * dead-lettered: rejected | expired | maxlen | delivery_limit; dropped: why; nacked: set
   * when the broker gave the delivery back itself ("channel closed", "basic.recover").
   */
  reason?: string;
  /** dead-lettered: the dead-letter exchange (its routing key is in routingKey). */
  to?: string;
  /** published: the message's headers, as JSON values (for explaining headers routing). */
  headers?: Record<string, unknown>;
  /** routed, dead-lettered (answers and `why` only): the binding that took it, per queue. */
  reasons?: Record<string, string>;
}

export interface LedgerOptions {
  /** Most events kept (default 1,000,000); the oldest go first. */
  maxEvents?: number;
  /** A message's id; messages without one are not recorded. Default: message_id. */
  idOf?: (props: BasicProperties) => string | undefined;
}

/** A client's channel (a protocol Channel is one), for naming who did something. */
export interface EventOrigin {
  readonly number: number;
  readonly host: {
    /** `peer:port -> broker:port` (RabbitMQ's connection name). */
    readonly connectionName: string;
    /** The client's connection_name client property. */
    readonly clientName?: string | undefined;
  };
}

/** The event as a hook describes it; the ledger adds t, id and (unless given) connection. */
type Draft = Omit<MessageEvent, "t" | "id" | "connection"> & { connection?: string };

const BROKER = "broker";

export function originName(from: EventOrigin): string {
  const { clientName, connectionName } = from.host;
  if (clientName !== undefined && clientName !== "") return clientName;
  const arrow = connectionName.indexOf(" -> ");
  return arrow < 0 ? connectionName : connectionName.slice(0, arrow);
}

const defaultIdOf = (p: BasicProperties): string | undefined => p.messageId;

export class MessageEvents {
  readonly maxEvents: number;
  private readonly idOf: (props: BasicProperties) => string | undefined;
  /** A ring once full: `start` is the oldest. */
  private buf: MessageEvent[] = [];
  private start = 0;
  /** By id: that message's events in order, from `head` on (older ones are gone). */
  private index = new Map<string, { list: MessageEvent[]; head: number }>();
  private readonly listeners = new Set<(e: MessageEvent) => void>();
  /** Who the method being handled came from, for events the broker makes on its behalf. */
  private origin: string | undefined;

  constructor(o: LedgerOptions = {}) {
    const max = o.maxEvents ?? 1_000_000;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError("maxEvents must be ≥ 1");
    this.maxEvents = max;
    this.idOf = o.idOf ?? defaultIdOf;
  }

  /** Events held. */
  get size(): number {
    return this.buf.length;
  }

  /** Messages (distinct ids) held. */
  get messages(): number {
    return this.index.size;
  }

  /** Record an event of the message with these properties; nothing for one without an id. */
  record(props: BasicProperties, draft: Draft): MessageEvent | undefined {
    const id = this.idOf(props);
    if (id === undefined) return undefined;
    const e = { t: Date.now(), id, connection: this.origin ?? BROKER, ...draft } as MessageEvent;
    this.add(e);
    return e;
  }

  private add(e: MessageEvent): void {
    if (this.buf.length < this.maxEvents) this.buf.push(e);
    else {
      const old = this.buf[this.start] as MessageEvent;
      this.buf[this.start] = e;
      this.start = (this.start + 1) % this.maxEvents;
      this.forget(old);
    }
    const slot = this.index.get(e.id);
    if (slot) slot.list.push(e);
    else this.index.set(e.id, { list: [e], head: 0 });
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A listener's failure is its own: the broker goes on.
      }
    }
  }

  /** The oldest event went: it is the oldest of its id too. */
  private forget(old: MessageEvent): void {
    const slot = this.index.get(old.id);
    if (!slot) return;
    slot.head += 1;
    if (slot.head >= slot.list.length) this.index.delete(old.id);
    else if (slot.head > 32 && slot.head * 2 > slot.list.length) {
      slot.list = slot.list.slice(slot.head);
      slot.head = 0;
    }
  }

  /** One message's events, in order. */
  of(id: string): MessageEvent[] {
    const slot = this.index.get(id);
    return slot ? slot.list.slice(slot.head) : [];
  }

  /** Every event held, in order. */
  all(): MessageEvent[] {
    return [...this.buf.slice(this.start), ...this.buf.slice(0, this.start)];
  }

  /** Hear of every event as it is recorded; returns the unsubscribe. */
  subscribe(listener: (e: MessageEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  clear(): void {
    this.buf = [];
    this.start = 0;
    this.index = new Map();
  }

  // ------------------------------------------------------------ hooks

  /** A client's method is being handled: what the broker does meanwhile is on its behalf. */
  enter(from: EventOrigin | undefined): string | undefined {
    const prev = this.origin;
    if (from) this.origin = originName(from);
    return prev;
  }

  leave(prev: string | undefined): void {
    this.origin = prev;
  }

  /**
   * A publish: `published` when a client made it (`from`), then routed to `queues` or
   * unroutable. `held`: an x-delayed-message exchange keeps it, routed when released.
   */
  published(m: Message, queues: readonly string[], from: EventOrigin | undefined, held = false) {
    if (this.idOf(m.properties) === undefined) return;
    const { exchange, routingKey } = m;
    if (from) {
      const draft: Draft = { kind: "published", connection: originName(from), exchange };
      draft.channel = from.number;
      draft.routingKey = routingKey;
      const h = m.properties.headers;
      if (h && Object.keys(h).length > 0) draft.headers = plainTable(h);
      this.record(m.properties, draft);
    }
    if (held) return;
    const connection = from ? originName(from) : (this.origin ?? BROKER);
    const kind = queues.length === 0 ? "unroutable" : "routed";
    const draft: Draft = { kind, connection, exchange, routingKey };
    if (queues.length > 0) draft.queues = [...queues];
    this.record(m.properties, draft);
  }

  /** Queue and stream arrivals, and what a queue refuses or drops without dead-lettering. */
  inQueue(kind: "enqueued" | "dropped" | "expired", queue: string, m: Message, reason?: string) {
    const draft: Draft = { kind, queue };
    if (reason !== undefined) draft.reason = reason;
    this.record(m.properties, draft);
  }

  /** Entries leave a queue (before any dead-lettering): expired, or dropped by a limit. */
  left(
    queue: string,
    messages: Iterable<{ message: Message }>,
    reason: DeathReason | "purged" | "queue deleted",
  ) {
    for (const { message } of messages) {
      if (reason === "expired") this.inQueue("expired", queue, message);
      else this.inQueue("dropped", queue, message, DROP_REASONS[reason] ?? reason);
    }
  }

  /** `m` (as it was in `queue`) went to dead-letter exchange `to` with `key`, reaching `queues`. */
  deadLettered(
    queue: string,
    m: Message,
    reason: DeathReason,
    to: string,
    key: string,
    queues: string[],
  ) {
    const draft: Draft = { kind: "dead-lettered", queue, reason, to, routingKey: key, queues };
    this.record(m.properties, draft);
  }

  /** basic.deliver (with `consumerTag`) or basic.get-ok. */
  delivered(
    queue: string,
    entry: { message: Message; redelivered: boolean },
    tag: number,
    from: EventOrigin,
    consumerTag: string | undefined,
    noAck: boolean,
  ): void {
    const { message: m, redelivered } = entry;
    const draft: Draft = { kind: "delivered", connection: originName(from), channel: from.number };
    Object.assign(draft, { queue, deliveryTag: tag, redelivered });
    if (consumerTag !== undefined) draft.consumerTag = consumerTag;
    if (noAck) draft.noAck = true;
    this.record(m.properties, draft);
  }

  /**
   * A delivery settled: by basic.ack, nack or reject (`method`; a transaction's are told by
   * `how`), or given back by the broker itself (`reason`: channel closed, basic.recover).
   */
  settled(
    how: "ack" | "requeue" | "reject",
    method: SettleMethod | undefined,
    u: SettledDelivery,
    from: EventOrigin,
    reason?: string,
  ): void {
    const kind = how === "ack" ? "acked" : (method ?? (how === "requeue" ? "nacked" : "rejected"));
    const draft: Draft = { kind, connection: originName(from), channel: from.number };
    Object.assign(draft, { queue: u.queue.name, deliveryTag: u.tag });
    if (u.consumer) draft.consumerTag = u.consumer.tag;
    if (kind !== "acked") draft.requeue = how === "requeue";
    if (reason !== undefined) draft.reason = reason;
    this.record((u.entry.stored ?? u.entry.message).properties, draft);
  }
}

/** The method that settled a delivery, when not basic.ack. */
export type SettleMethod = "nacked" | "rejected";

/** What the ledger reads of a settled delivery (the protocol's unacknowledged record). */
export interface SettledDelivery {
  readonly tag: number;
  readonly queue: { readonly name: string };
  readonly entry: { readonly message: Message; readonly stored?: Message | undefined };
  readonly consumer: { readonly tag: string } | undefined;
}

const DROP_REASONS: Record<string, string> = {
  maxlen: "maxlen (x-overflow drop-head)",
  delivery_limit: "delivery_limit (x-delivery-limit)",
};

// ------------------------------------------------------------ JSON values

function plain(v: FieldValue): unknown {
  if (v instanceof Typed || v instanceof Timestamp) return plainNumber(v.value);
  if (typeof v === "bigint") return plainNumber(v);
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.from(v).toString("utf8");
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object" && v.constructor === Object)
    return plainTable(v as FieldTable);
  if (v !== null && typeof v === "object") return String(v);
  return v;
}

function plainNumber(n: number | bigint): number | string {
  if (typeof n === "number") return n;
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(n)
    : n.toString();
}

/** A field table as JSON values: typed numbers as numbers, byte strings as text. */
export function plainTable(t: FieldTable): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(t)) if (v !== undefined) out[k] = plain(v);
  return out;
}

// ------------------------------------------------------------ reasons and answers

/**
 * Why each of `queues` got a message published to `exchange` with this key and headers: the
 * binding that took it (the explanation `eventlab route` prints, from the same routing code).
 */
export function routeReasons(
  table: RoutingTable,
  exchange: string,
  routingKey: string,
  headers: Record<string, unknown> | undefined,
  queues: readonly string[],
): Record<string, string> {
  const e = explainRoute(table, exchange, { routingKey, headers: headers ?? {} });
  const out: Record<string, string> = {};
  const add = (q: string, why: string) => {
    out[q] = out[q] === undefined ? why : `${out[q]}; ${why}`;
  };
  for (const hop of e.hops) {
    const via =
      hop.via.kind === "alternate"
        ? ` (alternate exchange of ${hop.via.from})`
        : hop.via.kind === "binding"
          ? ` (bound from ${hop.via.from})`
          : "";
    if (hop.defaultQueue?.exists && queues.includes(hop.defaultQueue.name))
      add(hop.defaultQueue.name, "the default exchange: the routing key names the queue");
    for (const b of hop.bindings) {
      if (!b.matched || b.destinationType !== "queue" || !queues.includes(b.destination)) continue;
      const key = hop.type === "headers" || hop.type === "fanout" ? "" : ` '${b.routingKey}'`;
      add(b.destination, `${hop.exchange || "(default)"}${via} binding${key}: ${b.reason}`);
    }
  }
  return out;
}

/** The events of one message with reasons added to routed and dead-lettered ones. */
export function withReasons(table: RoutingTable, events: readonly MessageEvent[]): MessageEvent[] {
  let headers: Record<string, unknown> | undefined;
  return events.map((e) => {
    if (e.kind === "published") headers = e.headers;
    const from = e.kind === "routed" ? e.exchange : e.kind === "dead-lettered" ? e.to : undefined;
    if (from === undefined || !e.queues || e.queues.length === 0) return e;
    return { ...e, reasons: routeReasons(table, from, e.routingKey ?? "", headers, e.queues) };
  });
}

/** The routing key of a question to the ledger, on the default exchange. */
export const WHY_ROUTING_KEY = "amq.eventlab.why";

export const NO_LEDGER_ERROR =
  "this broker keeps no ledger: start it with eventlab broker --ledger";

/** The JSON body of the answer to a ledger question. */
export type WhyAnswer =
  | { events: MessageEvent[] /** Messages the ledger holds. */; messages: number }
  | { error: string };

/** The answer to a question (`question.body` is the message id), to its reply_to. */
export function answerWhy(
  ledger: MessageEvents | undefined,
  table: RoutingTable,
  question: Message,
  replyTo: string,
): Message {
  const id = question.body.toString("utf8").trim();
  const answer: WhyAnswer = ledger
    ? { events: withReasons(table, ledger.of(id)), messages: ledger.messages }
    : { error: NO_LEDGER_ERROR };
  const props: BasicProperties = { contentType: "application/json" };
  if (question.properties.correlationId !== undefined)
    props.correlationId = question.properties.correlationId;
  return makeMessage("", replyTo, props, Buffer.from(JSON.stringify(answer)));
}

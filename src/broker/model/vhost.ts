/**
 * The virtual host "/": exchanges, queues and bindings, kept in step with the pure
 * RoutingTable, and the operations the protocol's methods map to, each checked the way
 * RabbitMQ checks it (reserved names, exclusivity, equivalence) with its reply texts.
 */
import { randomBytes } from "node:crypto";
import type { FieldTable } from "../codec/index.js";
import { AmqpError, amqpError, notFound, resource } from "../errors.js";
import { ROUTE_EXCHANGE } from "../route-contract.js";
import { InvalidMatchError, type RouteResult, RoutingTable } from "../routing/index.js";
import { assertArgsEquivalent, assertSame, queueSettings } from "./arguments.js";
import { deadLetter } from "./dead-letter.js";
import { checkDelayedType, DelayedMessages, declaredType, routingOf } from "./delayed.js";
import { isStoredBinding, isStoredExchange, isStoredQueue } from "./durable.js";
import { answerWhy, type MessageEvents, WHY_ROUTING_KEY } from "./events.js";
import { checkReserved, type Exchange, PREDECLARED, text } from "./exchange.js";
import { answerRoute } from "./introspect.js";
import type { Journal, StoredBinding } from "./journal.js";
import type { DeathReason, Message } from "./message.js";
import { type EnqueueResult, Queue, type QueuedMessage, type QueueHost } from "./queue.js";
import type { Pager } from "./ready.js";
import { DirectReplies, isReplyQueueName } from "./reply-to.js";
import { newStream, notSupported, Stream } from "./stream.js";
import { isStreamDeclaration, STREAM_ARGUMENTS } from "./stream-args.js";
import { type TraceOrigin, Tracer } from "./trace.js";

export interface PublishOutcome {
  /** Queues that took the message. */
  routed: number;
  /** A queue refused it (reject-publish overflow): the publisher gets a nack. */
  rejected: boolean;
}

export interface VHostOptions {
  now?: () => number;
  /** Called with the change in stored message bytes. */
  onStored?: (delta: number) => void;
  /** Durable storage (a data directory): told of every durable change. */
  journal?: Journal | undefined;
  /** Reads stored bodies back, so that long durable queues keep them on disk. */
  pager?: Pager | undefined;
  /** Start with the firehose on (trace.ts); `tracer.enabled` switches it at run time. */
  trace?: boolean;
  /** Keep a ledger of what happens to each message (events.ts); none by default. */
  events?: MessageEvents | undefined;
}

export type { Exchange } from "./exchange.js";

/** Told of every publish (the test fixture's record, fixture.ts); none by default. */
export interface PublishObserver {
  /**
   * `queues`: where it was routed (none while an x-delayed-message exchange holds it);
   * `from`: set for a client's publish, absent for the broker's own (a released delayed one);
   * `held`: an x-delayed-message exchange keeps it for now.
   */
  published(
    exchange: string,
    message: Message,
    queues: readonly string[],
    from?: TraceOrigin,
    held?: boolean,
  ): void;
}

export class VHost {
  readonly name = "/";
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  /** Stream queues (stream.ts): queues by name too, but no Queue. */
  readonly streams = new Map<string, Stream>();
  /** The live consumers of amq.rabbitmq.reply-to (reply-to.ts). */
  readonly replies = new DirectReplies();
  readonly routing = new RoutingTable((name) => this.queues.has(name) || this.streams.has(name));
  /** Messages waiting in x-delayed-message exchanges; when due they are published again. */
  readonly delayed: DelayedMessages;
  private readonly now: () => number;
  private readonly onStored: (delta: number) => void;
  readonly journal: Journal | undefined;
  /** What every queue of this host reports to (dead-lettering, expiry, storage). */
  readonly queueHost: QueueHost;
  /** The firehose to amq.rabbitmq.trace (trace.ts), off unless turned on. */
  readonly tracer: Tracer;
  /** The message event ledger (events.ts); undefined when off, and every hook checks this. */
  events: MessageEvents | undefined;
  /**
   * Messages published to each exchange (in) and routed on from it to a queue (out), for the
   * management API's publish_in and publish_out; an exchange appears on its first publish.
   */
  readonly exchangeCounts = new Map<string, { in: number; out: number }>();
  /** Queue declarations that succeeded, queues created and deleted (the API's churn). */
  readonly queueChurn = { declared: 0, created: 0, deleted: 0 };
  /** Told of every publish (fixture.ts); undefined when nobody asks, and publish checks this. */
  observer: PublishObserver | undefined;

  constructor(options: VHostOptions = {}) {
    this.tracer = new Tracer(this, options.trace ?? false);
    this.events = options.events;
    const vhost = this;
    this.now = options.now ?? Date.now;
    this.onStored = options.onStored ?? (() => {});
    this.journal = options.journal;
    this.delayed = new DelayedMessages(this, () => this.now(), options.journal);
    for (const [name, type, internal] of PREDECLARED) {
      this.addExchange({ name, type, durable: true, autoDelete: false, internal, args: {} });
    }
    this.queueHost = {
      now: () => this.now(),
      deadLetter: (q: Queue, entries: QueuedMessage[], reason: DeathReason) =>
        deadLetter(this, q, entries, reason, this.now()),
      autoDelete: (q: Queue) => this.removeQueue(q),
      adjustStored: (delta: number) => this.onStored(delta),
      journal: options.journal,
      pager: options.pager,
      get events() {
        return vhost.events;
      },
    };
  }

  /** Add an exchange as it is (declare has checked it; recovery trusts storage). */
  addExchange(x: Exchange): void {
    this.exchanges.set(x.name, x);
    this.routing.declareExchange({
      name: x.name,
      ...routingOf(x),
      internal: x.internal,
      alternateExchange: text(x.args["alternate-exchange"]),
    });
  }

  // ------------------------------------------------------------ exchanges

  exchange(name: string): Exchange {
    const x = this.exchanges.get(name);
    if (!x) throw notFound("exchange", name);
    return x;
  }

  declareExchange(d: {
    name: string;
    type: string;
    passive: boolean;
    durable: boolean;
    autoDelete: boolean;
    internal: boolean;
    args: FieldTable;
  }): void {
    // As RabbitMQ: the default exchange may not even be checked passively.
    if (d.name === "")
      throw amqpError("ACCESS_REFUSED", "operation not permitted on the default exchange");
    if (d.passive) {
      this.exchange(d.name);
      return;
    }
    checkReserved("exchange", d.name);
    const type = declaredType(d.type);
    const existing = this.exchanges.get(d.name);
    if (existing) {
      assertSame("exchange", d.name, "type", d.type, existing.type);
      assertSame("exchange", d.name, "durable", d.durable, existing.durable);
      assertSame("exchange", d.name, "auto_delete", d.autoDelete, existing.autoDelete);
      assertSame("exchange", d.name, "internal", d.internal, existing.internal);
      assertArgsEquivalent("exchange", d.name, existing.args, d.args, ["alternate-exchange"]);
      return;
    }
    checkDelayedType(type, d.args);
    const x: Exchange = {
      name: d.name,
      type,
      durable: d.durable,
      autoDelete: d.autoDelete,
      internal: d.internal,
      args: d.args,
    };
    this.addExchange(x);
    if (isStoredExchange(x)) this.journal?.exchangeDeclared(x);
  }

  deleteExchange(name: string, ifUnused: boolean): void {
    if (name === "")
      throw amqpError("ACCESS_REFUSED", "operation not permitted on the default exchange");
    // RabbitMQ refuses any amq.* name here, whether such an exchange exists or not.
    if (name.startsWith("amq.")) {
      throw amqpError(
        "ACCESS_REFUSED",
        `deletion of system ${resource("exchange", name)} not allowed`,
      );
    }
    const x = this.exchanges.get(name);
    if (!x) return;
    if (ifUnused && this.routing.bindingsOf(name).length > 0) {
      throw amqpError("PRECONDITION_FAILED", `${resource("exchange", name)} in use`);
    }
    this.dropExchange(x);
  }

  private dropExchange(x: Exchange): void {
    this.exchanges.delete(x.name);
    this.exchangeCounts.delete(x.name);
    this.routing.deleteExchange(x.name);
    this.delayed.dropExchange(x.name);
    if (isStoredExchange(x)) this.journal?.exchangeDeleted(x.name);
  }

  private maybeAutoDeleteExchange(name: string): void {
    const x = this.exchanges.get(name);
    if (x?.autoDelete && this.routing.bindingsOf(name).length === 0) this.dropExchange(x);
  }

  // ------------------------------------------------------------ queues

  /** A queue the connection may use: 404 when missing, 405 when another owns it. */
  queue(name: string, connection: number): Queue {
    const q = this.queues.get(name);
    if (!q) throw notFound("queue", name);
    this.checkOwner(q, connection);
    return q;
  }

  private checkOwner(q: { name: string; owner: number | undefined }, connection: number): void {
    if (q.owner !== connection && (q.owner !== undefined || connection === -1)) {
      throw amqpError(
        "RESOURCE_LOCKED",
        `cannot obtain exclusive access to locked ${resource("queue", q.name)}. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
      );
    }
  }

  declareQueue(
    connection: number,
    d: {
      name: string;
      passive: boolean;
      durable: boolean;
      exclusive: boolean;
      autoDelete: boolean;
      args: FieldTable;
    },
  ): Queue | Stream {
    if (d.passive) {
      const s = this.streams.get(d.name);
      if (s) return s;
      const q = this.queue(d.name, connection);
      q.touch();
      return q;
    }
    let name = d.name;
    if (name === "") name = `amq.gen-${randomBytes(16).toString("base64url").slice(0, 22)}`;
    else checkReserved("queue", name);
    const existing = this.queues.get(name) ?? this.streams.get(name);
    if (existing) {
      // Strict, as RabbitMQ: the owner asked for (none unless exclusive) must be the owner.
      if (existing.owner !== (d.exclusive ? connection : undefined)) this.checkOwner(existing, -1);
      assertSame("queue", name, "durable", d.durable, existing.durable);
      assertSame("queue", name, "auto_delete", d.autoDelete, existing.autoDelete);
      const keys = existing instanceof Stream ? STREAM_ARGUMENTS : undefined;
      assertArgsEquivalent("queue", name, existing.args, d.args, keys);
      existing.touch();
      this.queueChurn.declared += 1;
      return existing;
    }
    if (isStreamDeclaration(d.args)) {
      const s = newStream(this.queueHost, { ...d, name, serverNamed: d.name === "" });
      this.streams.set(name, s);
      this.queueChurn.declared += 1;
      this.queueChurn.created += 1;
      return s;
    }
    const settings = queueSettings(name, d.args);
    if (settings.type === "quorum") {
      if (!d.durable || d.exclusive || d.autoDelete) {
        const prop = !d.durable ? "non-durable" : d.exclusive ? "exclusive-owner" : "auto-delete";
        throw amqpError(
          "PRECONDITION_FAILED",
          `invalid property '${prop}' for ${resource("queue", name)}`,
        );
      }
    }
    const q = new Queue(this.queueHost, {
      name,
      durable: d.durable,
      autoDelete: d.autoDelete,
      owner: d.exclusive ? connection : undefined,
      args: d.args,
      settings,
    });
    this.queues.set(name, q);
    this.queueChurn.declared += 1;
    this.queueChurn.created += 1;
    if (isStoredQueue(q)) this.journal?.queueDeclared(q);
    return q;
  }

  deleteQueue(connection: number, name: string, ifUnused: boolean, ifEmpty: boolean): number {
    // RabbitMQ deletes a stream whatever if-unused and if-empty say, and reports 0 messages.
    const stream = this.streams.get(name);
    if (stream) return this.removeStream(stream);
    const q = this.queues.get(name);
    if (!q) return 0;
    this.checkOwner(q, connection);
    if (ifUnused && q.consumers.length > 0) {
      throw amqpError("PRECONDITION_FAILED", `${resource("queue", name)} in use`);
    }
    if (ifEmpty && q.messageCount > 0) {
      throw amqpError("PRECONDITION_FAILED", `${resource("queue", name)} not empty`);
    }
    return this.removeQueue(q);
  }

  /** Delete a queue however it goes (method, exclusive owner gone, auto-delete, x-expires). */
  removeQueue(q: Queue): number {
    if (this.queues.get(q.name) !== q) return 0;
    this.queues.delete(q.name);
    this.queueChurn.deleted += 1;
    this.unbindQueue(q.name);
    const n = q.destroy();
    if (isStoredQueue(q)) this.journal?.queueDeleted(q.name);
    return n;
  }

  private removeStream(s: Stream): number {
    if (this.streams.get(s.name) !== s) return 0;
    this.streams.delete(s.name);
    this.queueChurn.deleted += 1;
    this.unbindQueue(s.name);
    return s.destroy();
  }

  /** A deleted queue's bindings go, and auto-delete exchanges left without bindings with them. */
  private unbindQueue(name: string): void {
    const sources = new Set(
      [...this.exchanges.keys()].filter((x) =>
        this.routing
          .bindingsOf(x)
          .some((b) => b.destinationType === "queue" && b.destination === name),
      ),
    );
    this.routing.deleteQueue(name);
    for (const s of sources) this.maybeAutoDeleteExchange(s);
  }

  purgeQueue(connection: number, name: string): number {
    const stream = this.streams.get(name);
    if (stream) throw notSupported("queue.purge", stream);
    return this.queue(name, connection).purge();
  }

  // ------------------------------------------------------------ bindings

  bind(
    connection: number,
    b: {
      source: string;
      destination: string;
      destinationType: "queue" | "exchange";
      routingKey: string;
      args: FieldTable;
    },
    unbind: boolean,
  ): void {
    // As RabbitMQ 3.10: the default exchange at either end is refused before anything else;
    // unbinding what is not there is fine; binding checks the source first.
    if (b.source === "" || (b.destinationType === "exchange" && b.destination === "")) {
      throw amqpError("ACCESS_REFUSED", "operation not permitted on the default exchange");
    }
    if (unbind && (!this.exchanges.has(b.source) || !this.exists(b))) return;
    this.exchange(b.source);
    if (b.destinationType === "exchange") this.exchange(b.destination);
    else if (!this.streams.has(b.destination)) this.queue(b.destination, connection);
    const def = {
      source: b.source,
      destination: b.destination,
      destinationType: b.destinationType,
      routingKey: b.routingKey,
      arguments: b.args,
    };
    const stored: StoredBinding | undefined =
      this.journal && isStoredBinding(this, b) ? { ...b } : undefined;
    if (unbind) {
      if (this.routing.unbind(def)) {
        if (stored) this.journal?.unbound(stored);
        this.maybeAutoDeleteExchange(b.source);
      }
      return;
    }
    try {
      this.routing.bind(def);
    } catch (err) {
      if (err instanceof InvalidMatchError) {
        throw amqpError("PRECONDITION_FAILED", err.message.replace(/^PRECONDITION_FAILED - /, ""));
      }
      throw err;
    }
    if (stored) this.journal?.bound(stored);
  }

  private exists(b: { destination: string; destinationType: "queue" | "exchange" }): boolean {
    return b.destinationType === "queue"
      ? this.queues.has(b.destination) || this.streams.has(b.destination)
      : this.exchanges.has(b.destination);
  }

  // ------------------------------------------------------------ publishing

  /** The exchange basic.publish names: 404 when missing, 403 when internal. */
  publishTarget(name: string): Exchange {
    const x = this.exchange(name);
    if (x.internal) {
      throw amqpError(
        "ACCESS_REFUSED",
        `cannot publish to internal ${resource("exchange", x.name)}`,
      );
    }
    return x;
  }

  /** Route and enqueue. Throws 404 for a missing exchange, 403 for an internal one. */
  // `from`: the client's channel, for the firehose (trace.ts) and the ledger (events.ts); the
  // broker's own publishes omit it. `traced`: false when the firehose saw it already (tx).
  publish(
    exchangeName: string,
    message: Message,
    from?: TraceOrigin,
    traced = true,
  ): PublishOutcome {
    const tracing = this.tracer.enabled && from !== undefined && traced;
    const events = this.events;
    // A held message counts as routed (no basic.return) and is confirmed now, as in LavinMQ.
    if (this.delayed.hold(this.publishTarget(exchangeName), message)) {
      // Traced as RabbitMQ with the plugin traces it: at publish, routed nowhere yet.
      if (tracing) this.tracer.published(message, [], from);
      if (events) events.published(message, [], from, true);
      if (this.observer) this.observer.published(exchangeName, message, [], from, true);
      return { routed: 1, rejected: false };
    }
    if (exchangeName === ROUTE_EXCHANGE) return this.answer(message);
    if (exchangeName === "") {
      if (message.routingKey === WHY_ROUTING_KEY) return this.answerWhy(message);
      this.replies.route(message.routingKey, message);
    }
    const route = this.route(exchangeName, message);
    let counts = this.exchangeCounts.get(exchangeName);
    if (!counts) {
      counts = { in: 0, out: 0 };
      this.exchangeCounts.set(exchangeName, counts);
    }
    counts.in += 1;
    if (route.queues.length > 0) counts.out += 1;
    if (tracing) this.tracer.published(message, route.queues, from);
    if (this.observer) this.observer.published(exchangeName, message, route.queues, from);
    const prev = events?.enter(from);
    if (events) events.published(message, route.queues, from);
    let rejected = false;
    let routed = 0;
    try {
      for (const name of route.queues) {
        const q = this.queues.get(name) ?? this.streams.get(name);
        if (!q) continue;
        const r: EnqueueResult = q.enqueue(message);
        if (r === "rejected") rejected = true;
        else routed += 1;
      }
    } finally {
      if (events) events.leave(prev);
    }
    return { routed, rejected };
  }

  /**
   * A question to the ledger (events.ts): the answer goes to its reply_to, a queue or a
   * direct reply-to consumer; nothing is enqueued for the question itself.
   */
  private answerWhy(question: Message): PublishOutcome {
    const replyTo = question.properties.replyTo;
    if (!replyTo) return { routed: 0, rejected: false };
    const reply = answerWhy(this.events, this.routing, question, replyTo);
    if (isReplyQueueName(replyTo)) this.replies.route(replyTo, reply);
    else this.queues.get(replyTo)?.enqueue(reply);
    return { routed: 1, rejected: false };
  }

  /** A routing question (see introspect.ts): the answer goes to its reply-to queue. */
  private answer(question: Message): PublishOutcome {
    const reply = answerRoute(this.routing, question);
    const q = reply && this.queues.get(reply.routingKey);
    if (!reply || !q) return { routed: 0, rejected: false };
    q.enqueue(reply);
    return { routed: 1, rejected: false };
  }

  route(exchange: string, message: Message): RouteResult {
    return this.routing.route(exchange, {
      routingKey: message.routingKey,
      headers: message.properties.headers,
    });
  }

  /** Everything a closing connection owned: its exclusive queues. */
  connectionClosed(connection: number): void {
    for (const q of [...this.queues.values()]) if (q.owner === connection) this.removeQueue(q);
  }

  /**
   * Back to a fresh host (the test fixture's reset): every queue and stream with its messages,
   * every declared exchange (with what its x-delayed-message type held) and every binding go;
   * the predeclared exchanges stay. Storage, when there is any, is told of each deletion.
   */
  reset(): void {
    const predeclared = new Set(PREDECLARED.map(([name]) => name));
    for (const name of predeclared) {
      for (const b of this.routing.bindingsOf(name)) {
        const stored: StoredBinding = {
          source: b.source,
          destination: b.destination,
          destinationType: b.destinationType,
          routingKey: b.routingKey,
          args: (b.arguments ?? {}) as FieldTable,
        };
        const durable = this.journal !== undefined && isStoredBinding(this, stored);
        if (this.routing.unbind(b) && durable) this.journal?.unbound(stored);
      }
    }
    for (const q of [...this.queues.values()]) this.removeQueue(q);
    for (const s of [...this.streams.values()]) this.removeStream(s);
    for (const x of [...this.exchanges.values()])
      if (!predeclared.has(x.name)) this.dropExchange(x);
    this.exchangeCounts.clear();
  }

  /** Stop every timer (broker shutdown). */
  close(): void {
    // What shutting down drops is not a message's fate: the ledger stops here.
    this.events = undefined;
    this.delayed.close();
    for (const q of [...this.queues.values()]) q.destroy();
    this.queues.clear();
    for (const s of [...this.streams.values()]) s.destroy();
    this.streams.clear();
  }
}

export { AmqpError };

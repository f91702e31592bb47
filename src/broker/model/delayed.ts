/**
 * The `x-delayed-message` exchange type, an extension: RabbitMQ needs the community plugin
 * rabbitmq_delayed_message_exchange for it, LavinMQ has it built in. An exchange of this type
 * routes by the built-in type named in its `x-delayed-type` argument; a message published to
 * it with `x-delay` > 0 (routing/delay.ts) is held here until due, then published to the
 * exchange again with `x-delay` negated (as the plugin does, so that it is not held twice and
 * consumers can tell it waited): it meets the bindings as they are then.
 *
 * The vhost keeps one DelayedMessages: held messages in due-time order and one timer for the
 * earliest, as the plugin keeps one timer over its ordered index table. With durable storage,
 * a persistent message held by a durable exchange is also written to the journal, as if in a
 * queue named `amq.delayed.<exchange>` (LavinMQ's name for its delay queue) whose deadline is
 * the due time; it is removed once it has been published again, so a restart holds it anew.
 */
import type { FieldTable } from "../codec/index.js";
import { amqpError } from "../errors.js";
import {
  DELAYED_EXCHANGE_TYPE,
  type DeclaredExchangeType,
  delayOf,
  type ExchangeType,
  isExchangeType,
} from "../routing/index.js";
import type { Journal, RecoveredEntry } from "./journal.js";
import { type Message, withProperties } from "./message.js";
import type { QueuedMessage } from "./queue-types.js";

/** Held messages of exchange X are journaled as placements in `amq.delayed.X`. */
export const DELAYED_QUEUE_PREFIX = "amq.delayed.";

/** The journal's name for what an exchange holds, when it fits a short string. */
export function delayedQueueName(exchange: string): string | undefined {
  const name = DELAYED_QUEUE_PREFIX + exchange;
  return Buffer.byteLength(name, "utf8") <= 255 ? name : undefined;
}

/** Node's longest timer; a later due time is reached in steps of this. */
const MAX_TIMER = 2 ** 31 - 1;

function text(v: unknown): string | undefined {
  return typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("utf8") : undefined;
}

/** exchange.declare's type: a built-in one or x-delayed-message; 503 otherwise, as RabbitMQ. */
export function declaredType(type: string): DeclaredExchangeType {
  if (isExchangeType(type) || type === DELAYED_EXCHANGE_TYPE) return type;
  throw amqpError("COMMAND_INVALID", `unknown exchange type '${type}'`);
}

/**
 * A new delayed-message exchange must name a built-in type in x-delayed-type. The plugin
 * checks this only when it creates the exchange (validate/1), never on a redeclaration;
 * the reply texts are the plugin's, typos included, so that clients matching them work.
 */
export function checkDelayedType(type: DeclaredExchangeType, args: FieldTable): void {
  if (type !== DELAYED_EXCHANGE_TYPE) return;
  const routing = text(args["x-delayed-type"]);
  if (routing === undefined || routing === DELAYED_EXCHANGE_TYPE) {
    // x-delayed-message naming itself would make the plugin recurse; it is refused here.
    throw amqpError(
      "PRECONDITION_FAILED",
      "Invalid argument, 'x-delayed-type' must bean existing exchnage type",
    );
  }
  // The plugin calls rabbit_exchange:check_type, RabbitMQ's own check of a type name.
  declaredType(routing);
}

/** How an exchange's bindings match, and whether it delays (for the RoutingTable). */
export function routingOf(x: { type: DeclaredExchangeType; args: FieldTable }): {
  type: ExchangeType;
  delayed: boolean;
} {
  if (x.type !== DELAYED_EXCHANGE_TYPE) return { type: x.type, delayed: false };
  const routing = text(x.args["x-delayed-type"]);
  // Declaration checked it; a stored exchange is trusted, with direct as a safe fallback.
  return {
    type: routing !== undefined && isExchangeType(routing) ? routing : "direct",
    delayed: true,
  };
}

interface Held {
  readonly due: number;
  readonly exchange: string;
  readonly message: Message;
  /** Its journal entry, when it is stored. */
  readonly stored?: QueuedMessage | undefined;
}

/** Messages waiting in delayed-message exchanges, in due-time order, under one timer. */
export class DelayedMessages {
  /** Sorted by due time; equal due times keep publish order. */
  private held: Held[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (Infinity without one). */
  private timerAt = Number.POSITIVE_INFINITY;

  private seq = 0;

  constructor(
    /** Where a due message is published again: the vhost. */
    private readonly host: { publish(exchange: string, message: Message): unknown },
    private readonly now: () => number,
    /** Durable storage: held persistent messages of durable exchanges are written there. */
    private readonly journal?: Journal | undefined,
  ) {}

  get size(): number {
    return this.held.length;
  }

  /** How many wait in one exchange. */
  heldIn(exchange: string): number {
    return this.held.reduce((n, h) => n + (h.exchange === exchange ? 1 : 0), 0);
  }

  /**
   * Hold a message published to `x` when it is a delayed-message exchange and the message
   * asks for a delay; false when it should be routed now.
   */
  hold(
    x: { name: string; type: DeclaredExchangeType; durable?: boolean },
    message: Message,
  ): boolean {
    if (x.type !== DELAYED_EXCHANGE_TYPE) return false;
    const delay = delayOf(message.properties.headers);
    if (delay === undefined) return false;
    const due = this.now() + delay;
    const entry: Held = { due, exchange: x.name, message, stored: this.store(x, message, due) };
    this.insert(entry);
    return true;
  }

  /** Write a held message to the journal when the exchange is durable and it is persistent. */
  private store(
    x: { name: string; durable?: boolean | undefined },
    message: Message,
    due: number,
  ): QueuedMessage | undefined {
    const queue = delayedQueueName(x.name);
    if (!this.journal || !x.durable || !queue) return undefined;
    const stored: QueuedMessage = {
      message,
      seq: ++this.seq,
      priority: 0,
      expiresAt: due,
      redelivered: false,
      returns: 0,
    };
    this.journal.enqueued(queue, stored);
    return stored.id === undefined ? undefined : stored;
  }

  /** Messages storage gave back at start: held again until their due time. */
  restore(
    exchange: string,
    entries: Iterable<RecoveredEntry>,
    read: (id: number) => Message,
  ): void {
    for (const e of entries) {
      const message = e.message ?? read(e.id);
      const stored: QueuedMessage = { ...e, message };
      if (e.seq > this.seq) this.seq = e.seq;
      this.insert({ due: e.expiresAt, exchange, message, stored });
    }
  }

  private insert(entry: Held): void {
    // Binary search for the first entry due later: equal due times stay in arrival order.
    let lo = 0;
    let hi = this.held.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.held[mid] as Held).due <= entry.due) lo = mid + 1;
      else hi = mid;
    }
    this.held.splice(lo, 0, entry);
    this.schedule();
  }

  /** The exchange is deleted: what waits in it goes too (LavinMQ deletes its delay queue). */
  dropExchange(name: string): number {
    const before = this.held.length;
    // The exchange's deletion record covers its held messages in storage.
    const gone = this.held.filter((h) => h.exchange === name && h.stored);
    this.journal?.released(gone.map((h) => h.stored as QueuedMessage));
    this.held = this.held.filter((h) => h.exchange !== name);
    this.schedule();
    return before - this.held.length;
  }

  /** Broker shutdown: drop everything and stop the timer. */
  close(): void {
    this.held = [];
    this.schedule();
  }

  private schedule(): void {
    const first = this.held[0];
    if (first && this.timer && this.timerAt === first.due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (!first) return;
    this.timerAt = first.due;
    const wait = Math.min(MAX_TIMER, Math.max(0, first.due - this.now()));
    this.timer = setTimeout(() => this.fire(), wait);
    // Waiting messages alone do not keep the process up: the broker's server does.
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.now();
    let n = 0;
    while (n < this.held.length && (this.held[n] as Held).due <= now) n += 1;
    const due = this.held.splice(0, n);
    for (const h of due) {
      try {
        this.host.publish(h.exchange, released(h.message));
      } catch {
        // Its exchange was made unusable meanwhile (a publish would be refused): dropped, as
        // the plugin's one attempt at publishing drops what it cannot route.
      }
      // Published again (and written where it went) before it leaves storage: never lost.
      const queue = delayedQueueName(h.exchange);
      if (h.stored && queue) this.journal?.removed(queue, [h.stored]);
    }
    this.schedule();
  }
}

/** The message as it leaves the holder: x-delay negated, as the plugin's swap_delay_header. */
function released(m: Message): Message {
  const headers = m.properties.headers ?? {};
  const delay = delayOf(headers) ?? 0;
  return withProperties(m, { ...m.properties, headers: { ...headers, "x-delay": -delay } });
}

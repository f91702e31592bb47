/**
 * Where a published message goes: the exchange's bindings, exchange-to-exchange hops,
 * alternate exchanges, and the default exchange, each queue once. Pure: the broker's
 * model and `eventlab route` keep a RoutingTable in step with their declarations.
 *
 * As in RabbitMQ: a hop to an exchange already visited is skipped (cycles end), an
 * exchange whose bindings match nothing hands the message to its alternate exchange,
 * and the default exchange ("") routes to the queue named by the routing key.
 */
import {
  type BindingMatcher,
  compileBinding,
  type ExchangeType,
  type RoutedMessage,
} from "./bindings.js";

export interface ExchangeDef {
  name: string;
  /** How bindings match: for a delayed-message exchange, its x-delayed-type. */
  type: ExchangeType;
  /** A delayed-message exchange: a published message with x-delay > 0 waits first. */
  delayed?: boolean;
  internal?: boolean;
  alternateExchange?: string | undefined;
}

export interface BindingDef {
  source: string;
  destination: string;
  destinationType: "queue" | "exchange";
  routingKey: string;
  arguments?: Readonly<Record<string, unknown>> | undefined;
}

export interface RouteResult {
  /** Destination queues, each once, in the order they were first reached. */
  queues: string[];
  /** Exchanges the message passed through, in order (alternate exchanges included). */
  exchanges: string[];
  /** Alternate exchanges that were used. */
  alternates: string[];
  /** Hops skipped because the exchange was already visited. */
  cyclesStopped: number;
}

/** How the resolution reached an exchange. */
export type Via =
  | { kind: "publish" }
  | { kind: "binding"; from: string }
  | { kind: "alternate"; from: string };

/**
 * Watches a resolution step by step, for `eventlab route`: the same loop that routes,
 * reporting each exchange reached, each binding tested and what it decided.
 */
export interface RouteTracer {
  /** An exchange reached; `def` is undefined when it does not exist. */
  hop(name: string, def: ExchangeDef | undefined, via: Via): void;
  binding(b: BindingDef, matched: boolean): void;
  /** A hop skipped because the exchange was already visited. */
  cycle(name: string, via: Via): void;
  /** Nothing matched and the alternate exchange is named but missing. */
  alternateMissing(from: string, to: string): void;
  /** The default exchange: the queue named by the key, and whether it exists. */
  defaultExchange(queue: string, exists: boolean): void;
}

interface CompiledBinding extends BindingDef {
  match: BindingMatcher;
}

function bindingId(b: BindingDef): string {
  return JSON.stringify([
    b.source,
    b.destinationType,
    b.destination,
    b.routingKey,
    b.arguments ?? {},
  ]);
}

export class RoutingTable {
  private readonly exchanges = new Map<string, ExchangeDef>();
  private readonly bindings = new Map<string, Map<string, CompiledBinding>>();

  constructor(private readonly queueExists: (name: string) => boolean) {}

  declareExchange(def: ExchangeDef): void {
    this.exchanges.set(def.name, def);
    if (!this.bindings.has(def.name)) this.bindings.set(def.name, new Map());
  }

  /** Remove an exchange with its bindings, both as source and as destination. */
  deleteExchange(name: string): void {
    this.exchanges.delete(name);
    this.bindings.delete(name);
    this.dropDestination("exchange", name);
  }

  /** Forget the bindings to a deleted queue. */
  deleteQueue(name: string): void {
    this.dropDestination("queue", name);
  }

  exchange(name: string): ExchangeDef | undefined {
    return this.exchanges.get(name);
  }

  bindingsOf(source: string): BindingDef[] {
    return [...(this.bindings.get(source)?.values() ?? [])];
  }

  /** Add a binding (idempotent). Throws InvalidMatchError for a bad x-match. */
  bind(b: BindingDef): void {
    const source = this.exchanges.get(b.source);
    if (!source) throw new Error(`no exchange '${b.source}'`);
    const match = compileBinding(source.type, b.routingKey, b.arguments);
    this.bindings.get(b.source)?.set(bindingId(b), { ...b, match });
  }

  /** Remove a binding; false when there was none. */
  unbind(b: BindingDef): boolean {
    return this.bindings.get(b.source)?.delete(bindingId(b)) ?? false;
  }

  route(exchange: string, message: RoutedMessage, trace?: RouteTracer): RouteResult {
    const result: RouteResult = { queues: [], exchanges: [], alternates: [], cyclesStopped: 0 };
    const seenQueues = new Set<string>();
    const visited = new Set<string>();
    const addQueue = (q: string) => {
      if (!seenQueues.has(q)) {
        seenQueues.add(q);
        result.queues.push(q);
      }
    };
    if (exchange === "") {
      result.exchanges.push("");
      const exists = this.queueExists(message.routingKey);
      trace?.hop("", this.exchanges.get(""), { kind: "publish" });
      trace?.defaultExchange(message.routingKey, exists);
      if (exists) addQueue(message.routingKey);
      return result;
    }
    const pending: Array<{ name: string; via: Via }> = [
      { name: exchange, via: { kind: "publish" } },
    ];
    // Bounded by the number of exchanges: each is visited at most once.
    while (pending.length > 0) {
      const { name, via } = pending.shift() as { name: string; via: Via };
      if (visited.has(name)) {
        result.cyclesStopped += 1;
        trace?.cycle(name, via);
        continue;
      }
      visited.add(name);
      const def = this.exchanges.get(name);
      trace?.hop(name, def, via);
      if (!def) continue;
      result.exchanges.push(name);
      let matched = 0;
      for (const b of this.bindings.get(name)?.values() ?? []) {
        const ok = b.match(message);
        trace?.binding(b, ok);
        if (!ok) continue;
        matched += 1;
        if (b.destinationType === "queue") addQueue(b.destination);
        else pending.push({ name: b.destination, via: { kind: "binding", from: name } });
      }
      const ae = def.alternateExchange;
      if (matched === 0 && ae !== undefined) {
        if (this.exchanges.has(ae)) {
          result.alternates.push(ae);
          pending.push({ name: ae, via: { kind: "alternate", from: name } });
        } else trace?.alternateMissing(name, ae);
      }
    }
    return result;
  }

  private dropDestination(type: "queue" | "exchange", name: string): void {
    for (const map of this.bindings.values()) {
      for (const [id, b] of map)
        if (b.destinationType === type && b.destination === name) map.delete(id);
    }
  }
}

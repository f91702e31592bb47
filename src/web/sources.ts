/**
 * What the web view shows, adapted from what the process has: a playground run (its
 * snapshots, its scenario, the embedded broker's live topology and ledger) or a running
 * embedded broker (its vhost, stats and ledger). The server (./server.ts) sees only the
 * WebSource shapes; this module is the one place that reads the broker's model for it.
 */
import type { MessageEvent, MessageEvents, RunningBroker } from "../broker/index.js";
import { withReasons } from "../broker/model/events.js";
import type { VHost } from "../broker/model/vhost.js";
import { explainRoute, type RoutingTable } from "../broker/routing/index.js";
import type { Config, ScenarioConfig } from "../config/schema.js";
import type { Snapshot } from "../lab/types.js";
import type { WebSource } from "./server.js";
import type {
  WebConsumerStats,
  WebDot,
  WebEdge,
  WebExplanation,
  WebNode,
  WebQueueStats,
  WebStats,
  WebStoryEvent,
  WebTimelineEntry,
  WebTopology,
} from "./types.js";

// ------------------------------------------------------------ topology

interface ModelView {
  exchanges: Array<{ name: string; type: string; internal: boolean }>;
  queues: Array<{
    name: string;
    deadLetterExchange?: string | undefined;
    deadLetterRoutingKey?: string | undefined;
  }>;
  bindings: Array<{
    source: string;
    destination: string;
    destinationType: "queue" | "exchange";
    routingKey: string;
    arguments?: Readonly<Record<string, unknown>> | undefined;
  }>;
  producers: Array<{ name: string; exchange: string }>;
  consumers: Array<{ id: string; label: string; queue: string }>;
}

const BUILT_IN = /^amq\./;

/** A binding's label: its key, or for a headers exchange its x-match and headers. */
export function bindingLabel(type: string, key: string, args: Record<string, unknown>): string {
  if (type === "fanout") return "(all)";
  if (type !== "headers") return key === "" ? "''" : key;
  const match = String(args["x-match"] ?? "all");
  const pairs = Object.entries(args)
    .filter(([k]) => !k.startsWith("x-"))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return [`x-match=${match}`, ...pairs].join(" ");
}

export const bindingEdgeId = (b: ModelView["bindings"][number]) =>
  `b:${b.source}|${b.destinationType}|${b.destination}|${b.routingKey}|${JSON.stringify(b.arguments ?? {})}`;

/** Exchanges shown: declared ones, and built-in ones something uses. */
function shownExchanges(m: ModelView): ModelView["exchanges"] {
  const used = new Set<string>();
  for (const b of m.bindings) {
    used.add(b.source);
    if (b.destinationType === "exchange") used.add(b.destination);
  }
  for (const p of m.producers) used.add(p.exchange);
  for (const q of m.queues) if (q.deadLetterExchange) used.add(q.deadLetterExchange);
  return m.exchanges.filter((x) => x.name !== "" && (!BUILT_IN.test(x.name) || used.has(x.name)));
}

function nodesOf(m: ModelView): WebNode[] {
  const nodes = new Map<string, WebNode>();
  const add = (n: WebNode) => {
    if (!nodes.has(n.id)) nodes.set(n.id, n);
  };
  for (const p of m.producers) add({ id: `p:${p.name}`, kind: "producer", label: p.name });
  for (const x of shownExchanges(m)) {
    const sub = x.internal ? `${x.type}, internal` : x.type;
    add({ id: `x:${x.name}`, kind: "exchange", label: x.name, sub });
  }
  for (const q of m.queues) {
    const dl = q.deadLetterExchange === undefined ? {} : { deadLetters: q.deadLetterExchange };
    add({ id: `q:${q.name}`, kind: "queue", label: q.name, ...dl });
  }
  for (const c of m.consumers) add({ id: c.id, kind: "consumer", label: c.label, sub: c.queue });
  return [...nodes.values()];
}

function bindingEdge(b: ModelView["bindings"][number], type: string): WebEdge {
  const args = { ...(b.arguments ?? {}) };
  return {
    id: bindingEdgeId(b),
    from: `x:${b.source}`,
    to: `${b.destinationType === "queue" ? "q" : "x"}:${b.destination}`,
    kind: "binding",
    label: bindingLabel(type, b.routingKey, args),
    binding: { ...b, arguments: args, type },
  };
}

/** Where a queue's dead letters go: its exchange, or through the default exchange a queue. */
function deadLetterEdge(q: ModelView["queues"][number]): WebEdge | undefined {
  if (q.deadLetterExchange === undefined) return undefined;
  const viaDefault = q.deadLetterExchange === "";
  if (viaDefault && q.deadLetterRoutingKey === undefined) return undefined;
  return {
    id: `dl:${q.name}`,
    from: `q:${q.name}`,
    to: viaDefault ? `q:${q.deadLetterRoutingKey}` : `x:${q.deadLetterExchange}`,
    kind: "dead-letter",
    label: viaDefault ? "dead letters (default exchange)" : "dead letters",
  };
}

export function graphOf(m: ModelView): WebTopology {
  const nodes = nodesOf(m);
  const ids = new Set(nodes.map((n) => n.id));
  const typeOf = new Map(m.exchanges.map((x) => [x.name, x.type]));
  const edges: WebEdge[] = [];
  for (const p of m.producers)
    edges.push({
      id: `pub:${p.name}`,
      from: `p:${p.name}`,
      to: `x:${p.exchange}`,
      kind: "publish",
    });
  for (const b of m.bindings) edges.push(bindingEdge(b, typeOf.get(b.source) ?? "direct"));
  for (const q of m.queues) {
    const e = deadLetterEdge(q);
    if (e) edges.push(e);
  }
  for (const c of m.consumers)
    edges.push({ id: `con:${c.id}`, from: `q:${c.queue}`, to: c.id, kind: "consume" });
  return { nodes, edges: edges.filter((e) => ids.has(e.from) && ids.has(e.to)) };
}

function vhostView(v: VHost): Omit<ModelView, "producers" | "consumers"> {
  const exchanges = [...v.exchanges.values()].map((x) => ({
    name: x.name,
    type: x.type === "x-delayed-message" ? String(x.args["x-delayed-type"] ?? "direct") : x.type,
    internal: x.internal,
  }));
  const queues = [...v.queues.values()].map((q) => ({
    name: q.name,
    deadLetterExchange: q.settings.deadLetterExchange,
    deadLetterRoutingKey: q.settings.deadLetterRoutingKey,
  }));
  const bindings = exchanges.flatMap((x) => v.routing.bindingsOf(x.name));
  return { exchanges, queues, bindings };
}

function configView(config: Config): Omit<ModelView, "producers" | "consumers"> {
  const t = config.topology;
  return {
    exchanges: Object.entries(t.exchanges).map(([name, x]) => ({
      name,
      type: x.type,
      internal: x.internal === true,
    })),
    queues: Object.entries(t.queues).map(([name, q]) => ({
      name,
      deadLetterExchange: q.deadLetterExchange,
      deadLetterRoutingKey: q.deadLetterRoutingKey,
    })),
    bindings: t.bindings.map((b) => {
      const args: Record<string, unknown> = { ...(b.headers ?? {}) };
      if (b.match !== undefined) args["x-match"] = b.match;
      return {
        source: b.source,
        destination: b.destination,
        destinationType: b.destinationType,
        routingKey: b.routingKey,
        arguments: { ...args, ...(b.arguments ?? {}) },
      };
    }),
  };
}

// ------------------------------------------------------------ dots

/** Messages a second over windows of about a second, from a growing total. */
class Rate {
  private last = 0;
  private at = Date.now();
  value = 0;
  feed(total: number): number {
    const now = Date.now();
    if (now - this.at >= 1000) {
      this.value = ((total - this.last) * 1000) / (now - this.at);
      this.last = total;
      this.at = now;
    }
    return this.value;
  }
}

/**
 * The ledger's events as dots along the graph's edges, and what the page needs counted from
 * every event (not only the sampled dots): the last message on each exchange, consumers'
 * settlements by node.
 */
class DotMapper {
  private listeners = new Set<(d: WebDot) => void>();
  private paths = new Map<string, string[]>();
  private out = new Map<string, WebEdge[]>();
  private edgeIds = new Set<string>();
  /** Queues with a dead-letter exchange: what expires there goes on, it is not lost. */
  private deadLettering = new Set<string>();
  readonly lastSeen: WebStats["lastSeen"] = {};
  readonly settled = new Map<string, { processed: number; failed: number }>();
  published = 0;
  delivered = 0;

  constructor(private readonly consumerOf: (e: MessageEvent) => string | undefined) {}

  setTopology(t: WebTopology): void {
    this.paths.clear();
    this.out.clear();
    this.edgeIds = new Set(t.edges.map((e) => e.id));
    this.deadLettering = new Set(
      t.nodes.filter((n) => n.deadLetters !== undefined).map((n) => n.label),
    );
    for (const e of t.edges) {
      if (e.kind !== "binding") continue;
      const list = this.out.get(e.from) ?? [];
      list.push(e);
      this.out.set(e.from, list);
    }
  }

  listen(l: (d: WebDot) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** The binding edges from exchange `x` to queue `q` (through exchange-to-exchange bindings). */
  private pathTo(x: string, q: string): string[] {
    const key = `${x}\n${q}`;
    const cached = this.paths.get(key);
    if (cached) return cached;
    const start = `x:${x}`;
    const goal = `q:${q}`;
    const prev = new Map<string, WebEdge>();
    const queue = [start];
    const seen = new Set([start]);
    for (let i = 0; i < queue.length && i < 256; i++) {
      const at = queue[i] as string;
      if (at === goal) break;
      for (const e of this.out.get(at) ?? []) {
        if (seen.has(e.to)) continue;
        seen.add(e.to);
        prev.set(e.to, e);
        queue.push(e.to);
      }
    }
    const path: string[] = [];
    for (let at = goal, n = 0; at !== start && n < 32; n++) {
      const e = prev.get(at);
      if (!e) return this.remember(key, []);
      path.unshift(e.id);
      at = e.from;
    }
    return this.remember(key, path);
  }

  private remember(key: string, path: string[]): string[] {
    this.paths.set(key, path);
    return path;
  }

  private emit(d: WebDot): void {
    for (const l of this.listeners) l(d);
  }

  event(e: MessageEvent): void {
    switch (e.kind) {
      case "published":
        this.published += 1;
        if (e.exchange !== undefined && e.routingKey !== undefined)
          this.lastSeen[e.exchange] = { routingKey: e.routingKey, headers: e.headers };
        return;
      case "delivered":
        this.delivered += 1;
        return;
      case "acked":
      case "nacked":
      case "rejected":
        this.settle(e);
        return;
      default:
        if (this.listeners.size > 0) this.route(e);
    }
  }

  private settle(e: MessageEvent): void {
    const c = this.consumerOf(e);
    if (c === undefined) return;
    const ok = e.kind === "acked";
    const n = this.settled.get(c) ?? { processed: 0, failed: 0 };
    if (ok) n.processed += 1;
    else n.failed += 1;
    this.settled.set(c, n);
    const edge = `con:${c}`;
    if (this.listeners.size > 0 && this.edgeIds.has(edge))
      this.emit({ id: e.id, outcome: ok ? "processed" : "failed", path: [edge] });
  }

  private route(e: MessageEvent): void {
    if (e.kind === "routed") this.routed(e);
    else if (e.kind === "dead-lettered") this.deadLettered(e);
    else if (e.kind === "unroutable")
      this.emit({ id: e.id, outcome: "lost", path: [], node: `x:${e.exchange ?? ""}` });
    else if (e.queue === undefined) return;
    // What expires where there is a dead-letter exchange goes on: only the rest is lost.
    else if (e.kind === "dropped" || (e.kind === "expired" && !this.deadLettering.has(e.queue)))
      this.emit({ id: e.id, outcome: "lost", path: [], node: `q:${e.queue}` });
  }

  /** Along the producer's edge and the bindings; a consumer's republish (a retry) is a failure. */
  private routed(e: MessageEvent): void {
    const producer = /producer:(.+)$/.exec(e.connection)?.[1];
    const pub =
      producer !== undefined && this.edgeIds.has(`pub:${producer}`) ? [`pub:${producer}`] : [];
    const outcome = /consumer:/.test(e.connection) ? "failed" : "routed";
    for (const q of e.queues ?? []) {
      const path = [...pub, ...this.pathTo(e.exchange ?? "", q)];
      this.emit({ id: e.id, outcome, path, node: `q:${q}` });
    }
  }

  private deadLettered(e: MessageEvent): void {
    if (e.queue === undefined) return;
    const dl = this.edgeIds.has(`dl:${e.queue}`) ? [`dl:${e.queue}`] : [];
    const targets = e.queues ?? [];
    if (targets.length === 0)
      this.emit({ id: e.id, outcome: "lost", path: dl, node: `q:${e.queue}` });
    for (const q of targets) {
      const path = [...dl, ...this.pathTo(e.to ?? "", q)];
      this.emit({ id: e.id, outcome: "dead-lettered", path, node: `q:${q}` });
    }
  }
}

function explainWith(
  table: RoutingTable,
  exchange: string,
  routingKey: string,
  headers: Record<string, unknown>,
): WebExplanation | undefined {
  if (exchange !== "" && !table.exchange(exchange)) return undefined;
  const e = explainRoute(table, exchange, { routingKey, headers });
  return {
    exchange,
    routingKey,
    headers,
    queues: e.queues,
    hops: e.hops as unknown as WebExplanation["hops"],
  };
}

function storyOf(
  ledger: MessageEvents | undefined,
  table: RoutingTable,
  id: string,
): WebStoryEvent[] | undefined {
  if (!ledger) return undefined;
  if (id === "") return [];
  return withReasons(table, ledger.of(id)) as WebStoryEvent[];
}

export interface LiveSource {
  source: WebSource;
  stop(): void;
}

// ------------------------------------------------------------ play

export interface PlaySourceOptions {
  title: string;
  config: Config;
  scenario: ScenarioConfig;
  /** The embedded broker's vhost now (a restart replaces it); undefined on --url. */
  vhost: () => VHost | undefined;
  /** The routing table of the config's topology, for --url. */
  table: RoutingTable;
  /** The broker's ledger (embedded broker only). */
  ledger: MessageEvents | undefined;
}

const FAULTY =
  /fault|cut|kill|restart|block|blackhole|latenc|crash|paus|stop|lost|reset|partition/i;

export function playSource(o: PlaySourceOptions): LiveSource & { update(s: Snapshot): void } {
  const consumerId = (name: string) => `c:${name}`;
  const mapper = new DotMapper((e) => {
    const name = /consumer:(.+)$/.exec(e.connection)?.[1];
    return name === undefined ? undefined : consumerId(name);
  });
  const unsubscribe = o.ledger?.subscribe((e) => mapper.event(e));
  let last: Snapshot | undefined;
  let done = false;
  const timeline: WebTimelineEntry[] = [];
  const seenEvents = new Set<string>();
  const inRate = new Rate();
  const outRate = new Rate();
  const table = () => o.vhost()?.routing ?? o.table;
  const producers = o.scenario.producers.flatMap((p) => {
    const exchange = o.config.templates[p.template]?.exchange;
    return exchange === undefined ? [] : [{ name: p.template, exchange }];
  });
  const consumers = o.scenario.consumers.flatMap((c) => {
    const queue = o.config.consumers[c]?.queue;
    return queue === undefined ? [] : [{ id: consumerId(c), label: c, queue }];
  });
  const topology = (): WebTopology => {
    const v = o.vhost();
    const t = graphOf({ ...(v ? vhostView(v) : configView(o.config)), producers, consumers });
    mapper.setTopology(t);
    return t;
  };
  topology();

  const stats = (): WebStats => {
    const s = last;
    const queues: Record<string, WebQueueStats> = {};
    const cs: Record<string, WebConsumerStats> = {};
    let processed = 0;
    let failed = 0;
    for (const q of s?.queues ?? []) {
      queues[q.name] = {
        depth: q.depth,
        unacked: q.unacked,
        inRate: q.inRate,
        outRate: q.outRate,
        deadLettered: q.deadLettered,
      };
    }
    // Queues the run does not consume (the audit log, parked, dead letters): their depth.
    const v = o.vhost();
    for (const [name, q] of v?.queues ?? []) {
      queues[name] ??= { depth: q.messageCount, unacked: q.unacked, inRate: 0, outRate: 0 };
    }
    for (const c of s?.consumers ?? []) {
      processed += c.processed;
      failed += c.failed;
      cs[consumerId(c.name)] = {
        processed: c.processed,
        failed: c.failed,
        retried: c.retried,
        instances: c.instances,
        breaker: c.breaker,
        state: c.state,
      };
    }
    const published = s?.published ?? 0;
    return {
      title: o.title,
      mode: "play",
      elapsedMs: s?.elapsedMs ?? 0,
      durationMs: s?.durationMs,
      published,
      planned: s?.planned,
      confirmed: s?.confirmed,
      processed,
      failed,
      inRate: inRate.feed(published),
      outRate: outRate.feed(processed + failed),
      queues,
      consumers: cs,
      lastSeen: mapper.lastSeen,
      faultsNow: s?.faults?.now ?? [],
      done,
    };
  };

  return {
    update(s: Snapshot) {
      last = s;
      for (const text of s.events) {
        if (seenEvents.has(text)) continue;
        seenEvents.add(text);
        const m = /^(\d+(?:\.\d+)?)s (.*)$/.exec(text);
        const atMs = m ? Math.round(Number(m[1]) * 1000) : s.elapsedMs;
        const what = m ? (m[2] as string) : text;
        const fault = (s.faults?.now ?? []).some((f) => what.includes(f)) || FAULTY.test(what);
        timeline.push({ atMs, text: what, kind: fault ? "fault" : "event" });
      }
    },
    source: {
      topology,
      stats,
      timeline: () => timeline,
      dots: (l) => mapper.listen(l),
      explain: (x, key, headers) => explainWith(table(), x, key, headers),
      story: (id) => storyOf(o.ledger, table(), id),
    },
    stop() {
      done = true;
      unsubscribe?.();
    },
  };
}

// ------------------------------------------------------------ broker

export function brokerSource(broker: RunningBroker, title = "eventlab broker"): LiveSource {
  const mapper = new DotMapper((e) =>
    e.queue !== undefined && e.consumerTag !== undefined
      ? `c:${e.queue}/${e.consumerTag}`
      : undefined,
  );
  const unsubscribe = broker.events?.subscribe((e) => mapper.event(e));
  const started = Date.now();
  const inRate = new Rate();
  const outRate = new Rate();
  const queueRates = new Map<string, { in: Rate; out: Rate }>();
  const timeline: WebTimelineEntry[] = [];
  const topology = (): WebTopology => {
    const v = broker.vhost;
    const consumers = [...v.queues.values()].flatMap((q) =>
      q.consumers.map((c) => ({ id: `c:${q.name}/${c.tag}`, label: c.tag, queue: q.name })),
    );
    const t = graphOf({ ...vhostView(v), producers: [], consumers });
    mapper.setTopology(t);
    return t;
  };
  topology();
  const stats = (): WebStats => {
    const s = broker.stats();
    const queues: Record<string, WebQueueStats> = {};
    for (const [name, q] of broker.vhost.queues) {
      let r = queueRates.get(name);
      if (!r) {
        r = { in: new Rate(), out: new Rate() };
        queueRates.set(name, r);
      }
      queues[name] = {
        depth: q.messageCount,
        unacked: q.unacked,
        inRate: r.in.feed(q.counts.publish),
        outRate: r.out.feed(
          q.counts.deliver + q.counts.deliverNoAck + q.counts.get + q.counts.getNoAck,
        ),
      };
    }
    const consumers: Record<string, WebConsumerStats> = {};
    let processed = 0;
    let failed = 0;
    for (const [id, n] of mapper.settled) {
      consumers[id] = { processed: n.processed, failed: n.failed };
      processed += n.processed;
      failed += n.failed;
    }
    return {
      title,
      mode: "broker",
      elapsedMs: Date.now() - started,
      published: s.published,
      processed,
      failed,
      inRate: inRate.feed(s.published),
      outRate: outRate.feed(s.delivered),
      queues,
      consumers,
      lastSeen: mapper.lastSeen,
      faultsNow: s.blocked ? ["publishers blocked (memory alarm)"] : [],
    };
  };
  return {
    source: {
      topology,
      stats,
      timeline: () => timeline,
      dots: (l) => mapper.listen(l),
      explain: (x, key, headers) => explainWith(broker.vhost.routing, x, key, headers),
      story: (id) => storyOf(broker.events, broker.vhost.routing, id),
    },
    stop() {
      unsubscribe?.();
    },
  };
}

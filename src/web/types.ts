/**
 * The data the web view's page receives: plain shapes, shared by the server (src/web/server.ts)
 * and the page (src/web/client/). No AMQP here, no Node or DOM either.
 */

export type WebNodeKind = "producer" | "exchange" | "queue" | "consumer";

export interface WebNode {
  /** `p:<template>`, `x:<exchange>`, `q:<queue>`, `c:<consumer>`. */
  id: string;
  kind: WebNodeKind;
  label: string;
  /** A second line: an exchange's type, a consumer's queue. */
  sub?: string | undefined;
  /** A queue's dead-letter exchange ("" the default exchange), when it has one. */
  deadLetters?: string | undefined;
}

export type WebEdgeKind = "publish" | "binding" | "consume" | "dead-letter";

export interface WebBinding {
  source: string;
  destination: string;
  destinationType: "queue" | "exchange";
  routingKey: string;
  arguments: Record<string, unknown>;
  /** The source exchange's type. */
  type: string;
}

export interface WebEdge {
  id: string;
  from: string;
  to: string;
  kind: WebEdgeKind;
  /** A binding's key, or its x-match headers. */
  label?: string | undefined;
  binding?: WebBinding | undefined;
}

export interface WebTopology {
  nodes: WebNode[];
  edges: WebEdge[];
}

export interface WebQueueStats {
  depth?: number | undefined;
  unacked?: number | undefined;
  inRate: number;
  outRate: number;
  deadLettered?: number | undefined;
}

export interface WebConsumerStats {
  processed: number;
  failed: number;
  retried?: number | undefined;
  instances?: number | undefined;
  breaker?: string | undefined;
  state?: string | undefined;
}

export interface WebStats {
  title: string;
  /** What it is: "play" (a scenario) or "broker". */
  mode: "play" | "broker";
  elapsedMs: number;
  durationMs?: number | undefined;
  published: number;
  planned?: number | undefined;
  confirmed?: number | undefined;
  processed: number;
  failed: number;
  /** Messages a second over the last second: in (published), out (delivered or processed). */
  inRate: number;
  outRate: number;
  queues: Record<string, WebQueueStats>;
  consumers: Record<string, WebConsumerStats>;
  /** The last message seen on each exchange: what a binding's explanation is tried with. */
  lastSeen: Record<string, { routingKey: string; headers?: Record<string, unknown> | undefined }>;
  /** Faults in effect now. */
  faultsNow: string[];
  /** The run is over (play): the page stops its clock. */
  done?: boolean | undefined;
}

/** How a dot is coloured. */
export type DotOutcome = "routed" | "processed" | "failed" | "dead-lettered" | "lost";

export interface WebDot {
  /** The message's id, for its story. */
  id: string;
  outcome: DotOutcome;
  /** Edges it runs along, in order; empty: it flashes at `node`. */
  path: string[];
  node?: string | undefined;
}

export interface WebTimelineEntry {
  atMs: number;
  text: string;
  kind: "event" | "fault";
}

/** The first message on the feed: everything. */
export interface WebSnapshot {
  topology: WebTopology;
  stats: WebStats;
  timeline: WebTimelineEntry[];
  /** How often ticks come, ms. */
  tickMs: number;
  /** The source can tell a message's story (a ledger is kept). */
  stories: boolean;
}

/** Then, every tickMs: the counters, a sample of the dots, new timeline entries. */
export interface WebTick {
  seq: number;
  /** Date.now() on the server when it was sent (the page measures its update latency). */
  sentAt: number;
  stats: WebStats;
  dots: WebDot[];
  /** Message events in this tick, all of them (the dots are a sample). */
  events: number;
  timeline: WebTimelineEntry[];
  /** A new topology, when it changed (a queue declared, a binding added). */
  topology?: WebTopology | undefined;
}

/** /api/explain: a route explanation (src/broker/routing/explain.ts) as JSON. */
export interface WebExplainHop {
  exchange: string;
  type: string | undefined;
  via: { kind: string; from?: string };
  bindings: Array<{
    destination: string;
    destinationType: string;
    routingKey: string;
    arguments: Record<string, unknown>;
    matched: boolean;
    reason: string;
  }>;
  defaultQueue?: { name: string; exists: boolean };
  alternate?: string;
  alternateMissing?: string;
}

export interface WebExplanation {
  exchange: string;
  routingKey: string;
  headers: Record<string, unknown>;
  queues: string[];
  hops: WebExplainHop[];
}

/** /api/why: one message's events from the ledger (src/broker/model/events.ts MessageEvent). */
export interface WebStoryEvent {
  t: number;
  kind: string;
  connection: string;
  exchange?: string;
  routingKey?: string;
  queue?: string;
  queues?: string[];
  redelivered?: boolean;
  requeue?: boolean;
  reason?: string;
  to?: string;
  reasons?: Record<string, string>;
}

/**
 * What a scenario run is given (its options), and what its parts share while it runs: the
 * ledger, the event log, the counters of the producers and the consumers' decisions, and the
 * routing table that says where a dead-lettered copy goes on to.
 */
import type { MessageEvent } from "../broker/index.js";
import type { RoutingTable } from "../broker/routing/index.js";
import type { Connection } from "../client/connect.js";
import type { PublishOutcome } from "../client/publisher.js";
import type { Link, LinkEvent } from "../client/reconnect.js";
import type { Config, ScenarioConfig } from "../config/schema.js";
import type { CompiledTemplate, RenderedMessage } from "../config/templates.js";
import type { Restart } from "./checker.js";
import type { Fault } from "./faults.js";
import { Ledger } from "./ledger.js";
import { type LeftoverPolicy, newRunId } from "./leftovers.js";
import type { Stage } from "./stage.js";
import type { DecisionEvent, Snapshot } from "./types.js";

export interface ScenarioRunOptions {
  name: string;
  scenario: ScenarioConfig;
  config: Config;
  /**
   * A new connection to the broker (one per consumer instance, one per producer). `tag` names
   * who it is for (`producer:<template>`, `consumer:<profile>`), so that a network fault can
   * target it; untagged connections are the run's own (setup).
   */
  connect: (tag?: string) => Promise<Connection>;
  /**
   * A new connection that comes back after a loss (client/reconnect.ts), used instead of
   * `connect` when given: producers publish again what was not confirmed, and consumers
   * start again. Without it, a lost connection ends the run ("connection-lost").
   */
  link?: ((onEvent: (event: LinkEvent) => void, tag?: string) => Promise<Link>) | undefined;
  /** What the faults of the scenario act on besides its own producers and consumers. */
  stage?: Stage | undefined;
  /** A connection to this URL, past any fault proxy: a restarted broker, set up before clients return. */
  connectTo?: ((url: string) => Promise<Connection>) | undefined;
  /** The faults to inflict instead of the scenario's own (an exploration's schedule). */
  faults?: readonly Fault[] | undefined;
  /**
   * The embedded broker's per-message ledger, through restarts: subscribe to its events.
   * Consumers that run a command are judged from it.
   */
  brokerEvents?: ((listener: (e: MessageEvent) => void) => () => void) | undefined;
  /** The URL a connection with this tag uses (a command consumer's EVENTLAB_URL). */
  urlFor?: ((tag: string) => string) | undefined;
  /** Where command consumers run (the config's directory). */
  cwd?: string | undefined;
  /** The broker's consumer timeout, when known (ms): an ack-timeout fault holds acks past it. */
  consumerTimeoutMs?: number | undefined;
  seed?: number | undefined;
  /** Overrides every producer's amount. */
  amount?: number | undefined;
  /** Overrides the scenario's duration. */
  durationMs?: number | undefined;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  /** Depth and unacked of a queue, when the broker is in this process. */
  queueStats?: ((queue: string) => { ready: number; unacked: number } | undefined) | undefined;
  /** Declare the config's topology first (default true). */
  applyTopology?: boolean | undefined;
  /**
   * Messages already in the consumed queues (and their retry queues) before the run: refuse
   * to start, purge them, keep them apart as `preexisting`, or process them as the run's
   * own work (consumers only). Checked with a passive declare before anything starts.
   */
  leftovers: LeftoverPolicy;
  /**
   * The producers' templates, compiled (and their messages planned) by the caller: a round
   * trip renders its messages first to know which queues to consume. By default the runner
   * compiles the config's templates itself.
   */
  templates?: ReadonlyMap<string, CompiledTemplate> | undefined;
  /**
   * How long the run waits, once publishing is done, while no expected copy is settled,
   * before it stops as idle (default: 5 s, or 3 s past the longest retry delay if longer).
   */
  idleMs?: number | undefined;
  /** Called about 4 times a second with the state of the run. */
  onSnapshot?: ((s: Snapshot) => void) | undefined;
  /**
   * Consumers only, no producers (`eventlab consume` with behaviours): run until `count`
   * messages are settled for good, nothing arrives for `idleMs`, or the signal.
   */
  consumeOnly?: { count?: number | undefined; idleMs?: number | undefined } | undefined;
  /** Each decision a consumer made, as it is carried out. */
  onDecision?: ((e: DecisionEvent) => void) | undefined;
  /** Told of each message the producers publish and of the broker's answer (expectations). */
  observer?: PublishObserver | undefined;
}

/** Watches the producers' messages: where the routing sends each, and what the broker said. */
export interface PublishObserver {
  /** Producing starts now (epoch ms): the run's clock, which `within` counts from. */
  started(at: number): void;
  published(id: string, m: RenderedMessage, queues: readonly string[]): void;
  answered(id: string, outcome: PublishOutcome): void;
}

/** Dead-lettered copies are followed through at most this many queues. */
const MAX_HOPS = 8;
/** The event log keeps the latest this many events. */
const MAX_EVENTS = 200;

export class RunState {
  readonly ledger: Ledger;
  readonly events: string[] = [];
  /** Reset when producing starts, so fault times and elapsed time count from there. */
  started = Date.now();
  /** Makes message ids unique to this run, so leftovers of an earlier run are not counted. */
  readonly runId = newRunId();
  /** Messages from before the run deleted before it started (with "purge"). */
  purged: Record<string, number> = {};
  published = 0;
  planned = 0;
  /** The producers' publisher counters, live, once publishing starts. */
  publisherStats: { confirmed: number } | undefined;
  private readonly deciders = new Set<() => void>();
  /** Aborted when a connection of the run is lost for good: the run ends, and says why. */
  readonly lost = new AbortController();
  failure: string | undefined;
  /** Connections of the run that were lost and came back. */
  reconnects = 0;
  /** Broker restarts of the run, for the delivery checker. */
  readonly restarts: Restart[] = [];
  /** The faults as they happened: when (ms from the start), what, and when each ended. */
  readonly timeline: Array<{ atMs: number; what: string; endMs?: number | undefined }> = [];
  /** Time the producers spent blocked by the broker (connection.blocked), ms. */
  blockedMs = 0;
  /** Faults being carried out now (a broker restart, a node stop): the run does not end as idle. */
  faultsUnderway = 0;

  constructor(
    readonly options: ScenarioRunOptions,
    consumed: Iterable<string>,
    readonly table: RoutingTable,
  ) {
    this.ledger = new Ledger(consumed);
  }

  /** A consumer decided about a delivery (whatever it decided): tell whoever watches. */
  decided(): void {
    for (const d of this.deciders) d();
  }

  /** Call `listener` after every decision; returns the function that stops the calls. */
  watchDecisions(listener: () => void): () => void {
    this.deciders.add(listener);
    return () => this.deciders.delete(listener);
  }

  /**
   * A copy dead-lettered out of `from`: follow its dead-letter exchange (and any delay
   * queues with a TTL and a dead-letter exchange of their own) and expect it in the
   * consumed queues it reaches. Bounded: at most MAX_HOPS hops.
   */
  forward(
    from: string,
    id: string,
    routingKey: string,
    headers: Record<string, unknown> | undefined,
    depth = 0,
  ): void {
    const queues = this.options.config.topology.queues;
    const q = queues[from];
    if (!q?.deadLetterExchange || depth >= MAX_HOPS) return;
    const key = q.deadLetterRoutingKey ?? routingKey;
    const route = this.table.route(q.deadLetterExchange, { routingKey: key, headers });
    for (const target of route.queues) {
      if (this.ledger.consumed.has(target)) this.ledger.expect(target, id);
      else if (queues[target]?.messageTtl !== undefined) {
        this.forward(target, id, key, headers, depth + 1);
      } else this.ledger.leave(target);
    }
  }

  /**
   * A copy of message `id` rejected without requeue in `queue`: dead-lettered when the queue
   * has a dead-letter exchange (then expected wherever that leads), else dropped on purpose.
   */
  rejected(queue: string, id: string, routingKey: string, headers: unknown): void {
    const dlx = this.options.config.topology.queues[queue]?.deadLetterExchange;
    if (dlx !== undefined) this.ledger.queue(queue).deadLettered += 1;
    if (this.ledger.settle(queue, id, dlx !== undefined ? "dead-lettered" : "dropped")) {
      this.forward(queue, id, routingKey, headers as Record<string, unknown> | undefined);
    }
  }

  /** A connection that comes back after a loss, its losses and reconnects in the event log. */
  async link(who: string, tag?: string): Promise<Link> {
    const open = this.options.link;
    if (!open) throw new Error("no link: the run connects with connect()");
    return open((e) => {
      if (e.kind === "lost") this.event(`${who} lost its connection (${e.reason}); reconnecting`);
      else if (e.kind === "reconnected") {
        this.reconnects += 1;
        this.event(`${who} reconnected to ${e.reconnect.to} after ${e.reconnect.downMs} ms`);
      }
    }, tag);
  }

  /** `who` lost its connection (or channel) for good: end the run, and say why. */
  fail(who: string, err: Error): void {
    if (this.lost.signal.aborted) return;
    this.failure = `${who}: ${err.message}`;
    this.event(`${who} lost its connection: ${err.message}`);
    this.lost.abort(err);
  }

  event(text: string): void {
    const t = ((Date.now() - this.started) / 1000).toFixed(1);
    this.events.push(`${t}s ${text}`);
    if (this.events.length > MAX_EVENTS) this.events.shift();
  }
}

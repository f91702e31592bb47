/**
 * The playground's runner: a scenario's producers and consumer groups on one broker, with
 * the consumers' behaviours (work time, failures, retries through delay queues, dedupe,
 * ordering checks, a circuit breaker, crashes) and timed faults (kill, pause, cut). Every
 * published copy is accounted for: each message carries an id, and the pure routing table
 * says which queues should get it, so `lost` is measured. Messages that were in the queues
 * before the run are refused, purged or kept apart (leftovers.ts), never counted as the run's.
 */
import type { ConsumeMessage } from "amqplib";
import type { Connection } from "../client/connect.js";
import type { QueueConsumer } from "../client/consumer.js";
import type { Config, ConsumerConfig, QueueConfig, ScenarioConfig } from "../config/schema.js";
import { EventlabError } from "../errors.js";
import { ConsumerBehaviour, type Delivery } from "./behaviour.js";
import { Ledger } from "./ledger.js";
import {
  handleLeftovers,
  ID_HEADER,
  type LeftoverPolicy,
  newRunId,
  publishedBy,
} from "./leftovers.js";
import { Pacer, paceOf, sleep } from "./pacer.js";
import { routingTableOf } from "./routing.js";
import type { Behaviour, ConsumerRow, QueueRow, Snapshot } from "./types.js";

export const SENT_HEADER = "x-eventlab-sent";

export interface ScenarioRunOptions {
  name: string;
  scenario: ScenarioConfig;
  config: Config;
  /** A new connection to the broker (one per consumer instance, one for producers). */
  connect: () => Promise<Connection>;
  seed?: number | undefined;
  /** Overrides every producer's amount. */
  amount?: number | undefined;
  /** Overrides the scenario's duration. */
  durationMs?: number | undefined;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  /** Depth and unacked of a queue, when the broker is in this process. */
  queueStats?: (queue: string) => { ready: number; unacked: number } | undefined;
  /** Declare the config's topology first (default true). */
  applyTopology?: boolean;
  /**
   * Messages already in the consumed queues (and their retry queues) before the run: refuse
   * to start, purge them, keep them apart as `preexisting`, or process them as the run's
   * own work (consumers only). Checked with a passive declare before anything starts.
   */
  leftovers: LeftoverPolicy;
  /** Called about 4 times a second with the state of the run. */
  onSnapshot?: (s: Snapshot) => void;
  /**
   * Consumers only, no producers (`eventlab consume` with behaviours): run until `count`
   * messages are settled for good, nothing arrives for `idleMs`, or the signal.
   */
  consumeOnly?: { count?: number | undefined; idleMs?: number | undefined };
  /** Each decision a consumer made, as it is carried out. */
  onDecision?: (e: DecisionEvent) => void;
}

export interface DecisionEvent {
  consumer: string;
  instance: number;
  message: ConsumeMessage;
  /** What the behaviour decided: ack, duplicate, requeue, reject, retry, dead-letter, crash, breaker-open. */
  outcome: string;
  workMs: number;
  /** For retry and dead-letter: which attempt failed, and where the copy went. */
  attempt?: number;
  to?: string;
  outOfOrder: boolean;
  gap: number;
}

export interface QueueReport {
  name: string;
  /** Copies the routing rules sent here (to queues the scenario consumes). */
  routed: number;
  processed: number;
  duplicates: number;
  retried: number;
  deadLettered: number;
  redelivered: number;
  outOfOrder: number;
  gaps: number;
  /** Copies never settled for good. */
  lost: number;
  /** Messages from before the run settled here (kept with "keep"), not counted above. */
  preexisting: number;
}

export interface PlayReport {
  scenario: string;
  stoppedBy: "done" | "duration" | "interrupted" | "idle";
  elapsedMs: number;
  published: number;
  confirmed: number;
  nacked: number;
  returned: number;
  routed: number;
  consumed: number;
  retried: number;
  deadLettered: number;
  /** Rejected to a queue without a dead-letter exchange: dropped, on purpose. */
  dropped: number;
  duplicates: number;
  outOfOrder: number;
  gaps: number;
  redelivered: number;
  /** Copies routed to queues no consumer of the scenario reads, left there. */
  unconsumed: Record<string, number>;
  /** Messages from before the run consumed and settled (with "keep"), apart from the above. */
  preexisting: number;
  /** Messages from before the run deleted before it started, per queue (with "purge"). */
  purged: Record<string, number>;
  lost: number;
  /** Why lost may be above 0 on purpose, when it may. */
  lostNote?: string | undefined;
  latencyMs: { p50: number; p90: number; p99: number; max: number } | undefined;
  queues: QueueReport[];
  consumers: ConsumerRow[];
  events: string[];
}

function behaviourOf(c: ConsumerConfig): Behaviour {
  return {
    ...(c.workTime ? { workTime: c.workTime } : {}),
    ...(c.failures ? { failures: c.failures } : {}),
    onFailure: c.onFailure ?? "requeue",
    ...(c.retry
      ? {
          retry: {
            delaysMs: c.retry.delays,
            ...(c.retry.deadLetterQueue ? { deadLetterQueue: c.retry.deadLetterQueue } : {}),
          },
        }
      : {}),
    ...(c.dedupe ? { dedupe: c.dedupe } : {}),
    ...(c.ordering ? { ordering: c.ordering } : {}),
    ...(c.breaker ? { breaker: { failures: c.breaker.failures, pauseMs: c.breaker.pause } } : {}),
    ...(c.crashAt ? { crashAt: c.crashAt } : {}),
  };
}

function scenarioError(scenario: string, what: string) {
  return new EventlabError("config", `scenario '${scenario}': ${what}`, {
    hint: "check the scenario's producers and consumers against templates: and consumers:",
  });
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function toDelivery(m: ConsumeMessage): Delivery {
  const text = m.content.toString("utf8");
  let body: unknown = text;
  if (m.properties.contentType?.includes("json") || /^\s*[[{"]/.test(text)) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return {
    ...(m.properties.messageId ? { messageId: String(m.properties.messageId) } : {}),
    ...(m.properties.correlationId ? { correlationId: String(m.properties.correlationId) } : {}),
    headers: (m.properties.headers ?? {}) as Record<string, unknown>,
    body,
    routingKey: m.fields.routingKey,
    redelivered: m.fields.redelivered,
  };
}

interface Instance {
  index: number;
  connection?: Connection | undefined;
  consumer?: QueueConsumer | undefined;
  /** Deliveries waiting for this worker, with the consumer (channel) they came on. */
  inbox: Array<{ msg: ConsumeMessage; via: QueueConsumer }>;
  working: boolean;
  paused: boolean;
  stopped: boolean;
  /** Bumped on every (re)connect: work from an older session is dropped. */
  session: number;
}

/** One consumer profile: its instances, its behaviour, its republishing channel. */
class Group {
  readonly instances: Instance[] = [];
  state: ConsumerRow["state"] = "running";
  /** Point the behaviour's randomness at one message's own stream. */
  reseed: (key: string) => void = () => {};
  private readonly seen = new Map<string, number>();
  /** This run's messages, by decision; messages from before the run only in `preexisting`. */
  readonly counts = { processed: 0, failed: 0, retried: 0, outOfOrder: 0, gaps: 0, preexisting: 0 };
  private publisher: import("amqplib").ConfirmChannel | undefined;
  private publisherConnection: Connection | undefined;

  constructor(
    readonly name: string,
    readonly cfg: ConsumerConfig,
    readonly queue: string,
    readonly behaviour: ConsumerBehaviour,
    private readonly run: Runner,
  ) {
    const n = cfg.concurrency ?? 1;
    for (let i = 0; i < n; i++) {
      this.instances.push({
        index: i + 1,
        inbox: [],
        working: false,
        paused: false,
        stopped: false,
        session: 0,
      });
    }
  }

  async start(): Promise<void> {
    this.publisherConnection = await this.run.options.connect();
    this.publisher = await this.publisherConnection.model.createConfirmChannel();
    await Promise.all(this.instances.map((i) => this.connect(i)));
  }

  private async connect(inst: Instance): Promise<void> {
    const { QueueConsumer } = await import("../client/consumer.js");
    inst.session += 1;
    const session = inst.session;
    inst.inbox = [];
    inst.working = false;
    inst.connection = await this.run.options.connect();
    inst.consumer = await QueueConsumer.start(
      inst.connection,
      { queue: this.queue, prefetch: this.cfg.prefetch ?? 10, noAck: false },
      // Deliveries may arrive before start() resolves: each keeps the consumer it came on.
      (msg, via) => {
        if (inst.session !== session) return;
        inst.inbox.push({ msg, via });
        this.pump(inst, session);
      },
      () => {},
    );
  }

  /** Work through the inbox one message at a time, as a single worker would. */
  private pump(inst: Instance, session: number): void {
    if (inst.working || inst.paused || inst.stopped || inst.session !== session) return;
    const next = inst.inbox.shift();
    if (!next) return;
    inst.working = true;
    void this.handle(inst, session, next.msg, next.via).finally(() => {
      if (inst.session !== session) return;
      inst.working = false;
      this.pump(inst, session);
    });
  }

  private async handle(
    inst: Instance,
    session: number,
    msg: ConsumeMessage,
    via: QueueConsumer,
  ): Promise<void> {
    const ledger = this.run.ledger;
    // Messages from elsewhere carry no id of ours: their messageId, or this delivery.
    const id = String(
      msg.properties.headers?.[ID_HEADER] ??
        msg.properties.messageId ??
        `${this.name}#${inst.index}/${inst.session}/${msg.fields.deliveryTag}`,
    );
    const counters = ledger.queue(this.queue);
    // A message from before the run is worked on like any other, but counted apart.
    const own =
      this.run.options.leftovers === "process" ||
      publishedBy(this.run.runId, msg.properties.headers);
    if (own && msg.fields.redelivered) counters.redelivered += 1;
    // The stream of this message (without the run's id) and of this delivery of it.
    const nth = (this.seen.get(id) ?? 0) + 1;
    this.seen.set(id, nth);
    if (this.seen.size > 100_000) this.seen.delete(this.seen.keys().next().value as string);
    this.reseed(`${id.slice(id.indexOf(":") + 1)}#${nth}`);
    const d = this.behaviour.decide(toDelivery(msg));
    this.run.decided += 1;
    for (const t of this.behaviour.takeTransitions()) {
      this.run.event(`breaker of ${this.name} is ${t === "open" ? "OPEN" : t}`);
    }
    if (d.outcome.kind !== "breaker-open") {
      const oc = d.outcome;
      this.run.options.onDecision?.({
        consumer: this.name,
        instance: inst.index,
        message: msg,
        outcome: oc.kind,
        workMs: d.workMs,
        ...(oc.kind === "retry" || oc.kind === "dead-letter"
          ? { attempt: oc.attempt, to: oc.queue }
          : {}),
        outOfOrder: d.outOfOrder,
        gap: d.gap,
      });
    }
    const o = d.outcome;
    if (own) {
      const n = this.counts;
      if (d.outOfOrder) {
        counters.outOfOrder += 1;
        n.outOfOrder += 1;
      }
      if (d.gap > 0) n.gaps += 1;
      if (o.kind === "ack") n.processed += 1;
      if (o.kind === "retry") n.retried += 1;
      if (["requeue", "reject", "retry", "dead-letter"].includes(o.kind)) n.failed += 1;
    }
    if (o.kind === "crash") {
      this.run.event(
        `${this.name}#${inst.index} crashed at a message, without acking: its messages go back`,
      );
      await this.crash(inst);
      return;
    }
    if (o.kind === "breaker-open") {
      // Hold it: put it back in the inbox and look again after a short wait.
      inst.inbox.unshift({ msg, via });
      await sleep(100, this.run.options.signal);
      return;
    }
    if (d.workMs > 0) await sleep(d.workMs, this.run.options.signal);
    // A fault replaced the connection meanwhile: the broker redelivers this one elsewhere.
    if (inst.session !== session) return;
    const ch = via.channel;
    try {
      switch (o.kind) {
        case "ack":
        case "duplicate":
          ch.ack(msg);
          break;
        case "requeue":
          ch.nack(msg, false, true);
          return;
        case "reject":
          ch.reject(msg, false);
          break;
        case "retry":
        case "dead-letter":
          await this.republish(msg, o.queue);
          ch.ack(msg);
          if (o.kind === "retry") return;
          break;
      }
    } catch {
      // The channel went away (a fault): the broker gives the message to someone else.
      return;
    }
    // Settled for good here. A message from before the run is counted apart.
    if (!own) {
      ledger.settleOlder(this.queue);
      this.counts.preexisting += 1;
      return;
    }
    switch (o.kind) {
      case "ack":
        if (ledger.settle(this.queue, id, "processed")) {
          const sent = Number(msg.properties.headers?.[SENT_HEADER]);
          if (Number.isFinite(sent)) ledger.latencies.push(Date.now() - sent);
        }
        break;
      case "duplicate":
        counters.duplicates += 1;
        ledger.settle(this.queue, id, "duplicate");
        break;
      case "reject": {
        const dlx = this.run.options.config.topology.queues[this.queue]?.deadLetterExchange;
        if (dlx !== undefined) counters.deadLettered += 1;
        if (ledger.settle(this.queue, id, dlx !== undefined ? "dead-lettered" : "dropped")) {
          // Where the dead-lettered copy goes on to, delay queues included.
          this.run.forward(this.queue, id, msg);
        }
        break;
      }
      case "dead-letter":
        counters.deadLettered += 1;
        ledger.settle(this.queue, id, "dead-lettered");
        break;
    }
  }

  private async republish(msg: ConsumeMessage, queue: string): Promise<void> {
    const ch = this.publisher;
    if (!ch) return;
    const { headers, ...props } = msg.properties;
    await new Promise<void>((resolve) => {
      ch.publish(
        "",
        queue,
        msg.content,
        { ...props, headers: { ...(headers ?? {}) } } as never,
        () => resolve(),
      );
    });
  }

  /** Drop an instance's connection without acking; it comes back a second later. */
  async crash(inst: Instance): Promise<void> {
    inst.session += 1;
    const c = inst.connection;
    inst.connection = undefined;
    inst.consumer = undefined;
    destroy(c);
    if (inst.stopped) return;
    await sleep(1000, this.run.options.signal);
    if (!inst.stopped && !this.run.options.signal.aborted) await this.connect(inst).catch(() => {});
  }

  async kill(): Promise<void> {
    this.state = "killed";
    for (const inst of this.instances) {
      inst.stopped = true;
      inst.session += 1;
      await inst.consumer?.close();
      await inst.connection?.close();
    }
  }

  pause(ms: number): void {
    this.state = "paused";
    for (const inst of this.instances) inst.paused = true;
    setTimeout(() => {
      if (this.state === "paused") this.state = "running";
      for (const inst of this.instances) {
        inst.paused = false;
        this.pump(inst, inst.session);
      }
    }, ms).unref();
  }

  async cut(): Promise<void> {
    await Promise.all(this.instances.filter((i) => !i.stopped).map((i) => this.crash(i)));
  }

  async stop(): Promise<void> {
    if (this.state !== "killed") this.state = "done";
    for (const inst of this.instances) {
      inst.stopped = true;
      await inst.consumer?.cancel();
    }
    // Let in-flight work finish (bounded), then close.
    for (let i = 0; i < 50 && this.instances.some((x) => x.working); i++) await sleep(20);
    for (const inst of this.instances) {
      inst.session += 1;
      await inst.consumer?.close();
      await inst.connection?.close();
    }
    await this.publisher?.close().catch(() => {});
    await this.publisherConnection?.close();
  }

  row(): ConsumerRow {
    const n = this.counts;
    return {
      name: this.name,
      queue: this.queue,
      instances: this.instances.filter((i) => !i.stopped || this.state === "done").length,
      processed: n.processed,
      failed: n.failed,
      retried: n.retried,
      preexisting: n.preexisting,
      breaker: this.behaviour.breaker,
      state: this.state,
    };
  }
}

/** Drop a connection's socket at once, as a crashed process would. */
function destroy(c: Connection | undefined): void {
  const stream = (c?.model as unknown as { connection?: { stream?: { destroy(e?: Error): void } } })
    ?.connection?.stream;
  // With an error, so the client notices at once and stops its heartbeat timers.
  if (stream) stream.destroy(new Error("connection dropped on purpose (a simulated crash)"));
  else void c?.close();
}

class Runner {
  readonly ledger = new Ledger();
  readonly rates = new Map<
    string,
    { at: number; in: number; out: number; inRate: number; outRate: number }
  >();
  readonly events: string[] = [];
  /** Reset when producing starts, so fault times and elapsed time count from there. */
  started = Date.now();
  /** Makes message ids unique to this run, so leftovers of an earlier run are not counted. */
  readonly runId = newRunId();
  /** Messages from before the run deleted before it started (with "purge"). */
  purged: Record<string, number> = {};
  published = 0;
  planned = 0;
  confirmed = 0;
  /** Decisions made by all consumers. */
  decided = 0;
  /** The producers' publisher counters, live. */
  publisherStats: { confirmed: number } | undefined;

  constructor(readonly options: ScenarioRunOptions) {}

  /** Set when the scenario starts: the routing table and the queues it consumes. */
  table: import("../broker/routing/index.js").RoutingTable | undefined;
  consumed = new Set<string>();
  /** Copies left in queues the scenario does not consume (audit logs, parking lots). */
  readonly unconsumed: Record<string, number> = {};

  /**
   * A copy dead-lettered out of `from`: follow its dead-letter exchange (and any delay
   * queues with a TTL and a dead-letter exchange of their own) and expect it in the
   * consumed queues it reaches. Bounded: at most 8 hops.
   */
  forward(from: string, id: string, msg: ConsumeMessage, depth = 0): void {
    const q = this.options.config.topology.queues[from];
    if (!q?.deadLetterExchange || !this.table || depth >= 8) return;
    const key = q.deadLetterRoutingKey ?? msg.fields.routingKey;
    const route = this.table.route(q.deadLetterExchange, {
      routingKey: key,
      headers: msg.properties.headers as Record<string, unknown> | undefined,
    });
    for (const target of route.queues) {
      if (this.consumed.has(target)) this.ledger.expect(target, id);
      else if (this.options.config.topology.queues[target]?.messageTtl !== undefined) {
        const hop = { ...msg, fields: { ...msg.fields, routingKey: key } } as ConsumeMessage;
        this.forward(target, id, hop, depth + 1);
      } else this.unconsumed[target] = (this.unconsumed[target] ?? 0) + 1;
    }
  }

  event(text: string): void {
    const t = ((Date.now() - this.started) / 1000).toFixed(1);
    this.events.push(`${t}s ${text}`);
    if (this.events.length > 200) this.events.shift();
  }
}

/** A retry or dead-letter queue a consumer's behaviour needs, and how to declare it. */
interface SupportQueue {
  name: string;
  /** The work queue it serves. */
  serves: string;
  retry: boolean;
  settings: Partial<QueueConfig>;
  /** The topology declares it: its settings are the user's, used as they are. */
  declared: boolean;
}

/**
 * The retry queues (`<queue>.retry.N`) and dead-letter queue of a consumer that retries. A
 * queue the topology declares is used as declared (whatever its arguments). Otherwise it
 * follows the durability of the queue it serves, so parked and delayed messages of a durable
 * queue survive a broker restart; a served queue the config does not declare (it exists on
 * the broker only, and AMQP cannot ask a queue whether it is durable) counts as durable,
 * as every queue eventlab declares is unless told otherwise.
 */
function supportQueues(
  config: Config,
  queue: string,
  topo: ReturnType<typeof ConsumerBehaviour.retryTopology>,
): SupportQueue[] {
  const durable = config.topology.queues[queue]?.durable ?? true;
  const own = (name: string, retry: boolean, settings: Partial<QueueConfig>): SupportQueue => {
    const declared = config.topology.queues[name];
    return {
      name,
      serves: queue,
      retry,
      settings: declared ?? settings,
      declared: declared !== undefined,
    };
  };
  const out = topo.retryQueues.map((r) =>
    own(r.name, true, {
      durable,
      messageTtl: r.ttlMs,
      deadLetterExchange: "",
      deadLetterRoutingKey: r.deadLetterTo,
    }),
  );
  if (topo.deadLetterQueue) out.push(own(topo.deadLetterQueue, false, { durable }));
  return out;
}

/** Declare a support queue; a 406 on one whose settings eventlab chose says what to do. */
async function declareSupportQueue(
  connection: Connection,
  q: SupportQueue,
  declareQueue: typeof import("../client/topology.js").declareQueue,
): Promise<void> {
  try {
    await declareQueue(connection, q.name, q.settings);
  } catch (err) {
    if (q.declared || !(err instanceof EventlabError) || err.code !== "precondition") throw err;
    const what = q.retry ? "retry" : "dead-letter";
    const durability = q.settings.durable === false ? "transient" : "durable";
    throw new EventlabError("precondition", err.message, {
      hint: `it is the ${what} queue of ${q.serves}, declared ${durability} like ${q.serves}: delete it (eventlab delete queue ${q.name}) to let it be declared again, or declare it under topology.queues as it is on the broker`,
      cause: err,
    });
  }
}

export async function runScenario(o: ScenarioRunOptions): Promise<PlayReport> {
  const { config, scenario } = o;
  const run = new Runner(o);
  const { applyTopology, declareQueue } = await import("../client/topology.js");
  const { Publisher } = await import("../client/publisher.js");
  const { compileTemplate } = await import("../config/templates.js");
  const { seededRandom } = await import("../config/random.js");

  for (const f of scenario.faults) {
    if (!scenario.consumers.includes(f.consumer)) {
      throw scenarioError(o.name, `a fault names consumer '${f.consumer}', which it does not run`);
    }
  }
  const setup = await o.connect();
  const groups: Group[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    // Consumer groups, and the retry and dead-letter queues their behaviours need.
    const support: SupportQueue[] = [];
    for (const name of scenario.consumers) {
      const cfg = config.consumers[name];
      if (!cfg) throw scenarioError(o.name, `consumer '${name}' is not in consumers:`);
      if (cfg.queue === undefined) {
        throw scenarioError(
          o.name,
          `consumer '${name}' taps an exchange; a scenario's consumers read queues`,
        );
      }
      const queue = cfg.queue;
      const b = behaviourOf(cfg);
      support.push(...supportQueues(config, queue, ConsumerBehaviour.retryTopology(queue, b)));
      // Decisions draw from a stream keyed by the message and its delivery, not by arrival
      // order: with --seed, each message meets the same fate whichever instance gets it.
      const seed = o.seed ?? Math.floor(Math.random() * 2 ** 32);
      const keyed = { random: seededRandom(seed, name, "behaviour") };
      const behaviour = new ConsumerBehaviour(queue, b, {
        random: () => keyed.random(),
        now: () => Date.now(),
      });
      const group = new Group(name, cfg, queue, behaviour, run);
      group.reseed = (key) => {
        keyed.random = seededRandom(seed, `${name}:${key}`, "behaviour");
      };
      groups.push(group);
    }
    // Before anything is declared or consumed: messages from before the run, in the queues
    // it consumes and in the retry queues that lead back to them.
    run.purged = await handleLeftovers(
      setup,
      [...groups.map((g) => g.queue), ...support.filter((q) => q.retry).map((q) => q.name)],
      o.leftovers,
      (text) => run.event(text),
    );
    if (o.applyTopology !== false) await applyTopology(setup, config.topology, () => {});
    for (const q of support) await declareSupportQueue(setup, q, declareQueue);
    await Promise.all(groups.map((g) => g.start()));
    const consumed = new Set(groups.map((g) => g.queue));
    run.consumed = consumed;

    // Producers: every template at its pace, each message tagged and its copies expected.
    const table = routingTableOf(config.topology);
    run.table = table;
    const producers = await Promise.all(
      scenario.producers.map(async (p) => {
        const template = config.templates[p.template];
        if (!template)
          throw scenarioError(o.name, `producer template '${p.template}' is not in templates:`);
        const t = await compileTemplate(p.template, template, {
          seed: o.seed,
          env: o.env,
        });
        const amount = o.amount ?? p.amount ?? t.amount;
        run.planned += amount;
        return { p, t, amount };
      }),
    );
    const publisher = await Publisher.open(setup, { confirm: true, mandatory: true, window: 1000 });
    run.publisherStats = publisher.stats;
    const unconsumed = run.unconsumed;

    const limit = o.durationMs ?? scenario.duration;
    let stoppedBy: PlayReport["stoppedBy"] = "done";
    // The scenario's clock starts now: setup (topology, connections) is not part of it.
    run.started = Date.now();
    const timeUp = new AbortController();
    if (limit !== undefined) {
      timers.push(
        setTimeout(() => {
          stoppedBy = "duration";
          timeUp.abort();
        }, limit),
      );
    }
    const stop = AbortSignal.any([o.signal, timeUp.signal]);

    for (const f of scenario.faults) {
      const g = groups.find((x) => x.name === f.consumer);
      if (!g) continue;
      timers.push(
        setTimeout(() => {
          run.event(
            `fault: ${f.action} ${f.consumer}${f.action === "pause" ? ` for ${f.for ?? 2000} ms` : ""}`,
          );
          if (f.action === "kill") void g.kill();
          else if (f.action === "pause") g.pause(f.for ?? 2000);
          else void g.cut();
        }, f.at),
      );
    }

    const snapshot = (): Snapshot => snapshotOf(run, groups, o, limit);
    const ticker = setInterval(() => o.onSnapshot?.(snapshot()), 250);
    ticker.unref();
    timers.push(ticker as unknown as NodeJS.Timeout);

    await Promise.all(
      producers.map(async ({ p, t, amount }, pi) => {
        const pacer = new Pacer(paceOf(p.delay ?? t.delayMs, p.rate ?? t.rate));
        for (let i = 0; i < amount && !stop.aborted; i++) {
          await sleep(pacer.waitFor(i), stop);
          if (stop.aborted) break;
          const m = t.render();
          // Per producer, not a shared counter: the same message gets the same id every run.
          const id = `${run.runId}:${pi + 1}.${p.template}-${i + 1}`;
          m.properties.headers = {
            ...m.properties.headers,
            [ID_HEADER]: id,
            [SENT_HEADER]: Date.now(),
          };
          const route = table.route(m.exchange, {
            routingKey: m.routingKey,
            headers: m.properties.headers,
          });
          for (const q of route.queues) {
            if (consumed.has(q)) run.ledger.expect(q, id);
            else unconsumed[q] = (unconsumed[q] ?? 0) + 1;
          }
          if (!publisher.publish(m)) await publisher.ready(stop);
          run.published += 1;
        }
      }),
    );
    await publisher.settle(5000);
    run.confirmed = publisher.stats.confirmed;

    // Wait until every expected copy is settled for good, or nothing moves for a while.
    const maxDelay = Math.max(
      0,
      ...scenario.consumers.flatMap((c) => config.consumers[c]?.retry?.delays ?? []),
    );
    const idleMs = Math.max(5000, maxDelay + 3000);
    let last = -1;
    let quietSince = Date.now();
    const only = o.consumeOnly;
    for (;;) {
      if (stop.aborted) {
        if (stoppedBy === "done") stoppedBy = "interrupted";
        break;
      }
      if (only) {
        // No producers: settled copies count up; an idle queue ends the run.
        if (only.count !== undefined && run.ledger.finals >= only.count) break;
        if (run.decided !== last) {
          last = run.decided;
          quietSince = Date.now();
        } else if (only.idleMs !== undefined && Date.now() - quietSince > only.idleMs) {
          stoppedBy = "idle";
          break;
        }
        await sleep(50, stop);
        continue;
      }
      const left = run.ledger.outstanding(consumed);
      if (left <= 0) break;
      if (left !== last) {
        last = left;
        quietSince = Date.now();
      } else if (Date.now() - quietSince > idleMs) {
        stoppedBy = "idle";
        break;
      }
      await sleep(100, stop);
    }
    o.onSnapshot?.(snapshot());
    await Promise.all(groups.map((g) => g.stop()));
    const pstats = publisher.stats;
    await publisher.close();
    return report(run, groups, o, stoppedBy, pstats, unconsumed, consumed);
  } finally {
    for (const t of timers) clearTimeout(t);
    await setup.close();
  }
}

function snapshotOf(run: Runner, groups: Group[], o: ScenarioRunOptions, limit?: number): Snapshot {
  const now = Date.now();
  const names = [...new Set([...groups.map((g) => g.queue), ...run.ledger.counters.keys()])];
  const queues: QueueRow[] = names.map((name) => {
    const c = run.ledger.queue(name);
    const st = o.queueStats?.(name);
    const rate = run.rates.get(name) ?? { at: now, in: c.in, out: c.out, inRate: 0, outRate: 0 };
    if (now - rate.at >= 1000) {
      rate.inRate = ((c.in - rate.in) * 1000) / (now - rate.at);
      rate.outRate = ((c.out - rate.out) * 1000) / (now - rate.at);
      rate.at = now;
      rate.in = c.in;
      rate.out = c.out;
    }
    run.rates.set(name, rate);
    return {
      name,
      depth: st?.ready,
      unacked: st?.unacked,
      inRate: rate.inRate,
      outRate: rate.outRate,
      redelivered: c.redelivered,
      deadLettered: c.deadLettered,
      duplicates: c.duplicates,
      outOfOrder: c.outOfOrder,
      preexisting: c.preexisting,
    };
  });
  return {
    scenario: o.name,
    elapsedMs: now - run.started,
    durationMs: limit,
    published: run.published,
    planned: run.planned,
    confirmed: run.publisherStats?.confirmed ?? run.confirmed,
    preexisting: queues.reduce((n, q) => n + (q.preexisting ?? 0), 0),
    queues,
    consumers: groups.map((g) => g.row()),
    events: run.events.slice(-4),
  };
}

function report(
  run: Runner,
  groups: Group[],
  o: ScenarioRunOptions,
  stoppedBy: PlayReport["stoppedBy"],
  p: { published: number; confirmed: number; nacked: number; returned: number },
  unconsumed: Record<string, number>,
  consumed: Set<string>,
): PlayReport {
  const l = run.ledger;
  const queues: QueueReport[] = [...consumed].map((name) => {
    const routed = l.expected.get(name) ?? 0;
    const settledCount = l.settledIn(name);
    const c = l.queue(name);
    const gs = groups.filter((g) => g.queue === name);
    return {
      name,
      routed,
      processed: l.count(name, "processed"),
      // Deliveries recognised as duplicates (by the dedupe key), however many per id.
      duplicates: c.duplicates,
      retried: gs.reduce((n, g) => n + g.counts.retried, 0),
      deadLettered: c.deadLettered,
      redelivered: c.redelivered,
      outOfOrder: gs.reduce((n, g) => n + g.counts.outOfOrder, 0),
      gaps: gs.reduce((n, g) => n + g.counts.gaps, 0),
      lost: Math.max(0, routed - settledCount),
      preexisting: c.preexisting,
    };
  });
  const sum = (f: (q: QueueReport) => number) => queues.reduce((n, q) => n + f(q), 0);
  const dropped = [...consumed].reduce((n, q) => n + l.count(q, "dropped"), 0);
  const sorted = [...l.latencies].sort((a, b) => a - b);
  const lost = sum((q) => q.lost);
  return {
    scenario: o.name,
    stoppedBy,
    elapsedMs: Date.now() - run.started,
    published: p.published,
    confirmed: p.confirmed,
    nacked: p.nacked,
    returned: p.returned,
    routed: sum((q) => q.routed),
    consumed: [...consumed].reduce(
      (n, q) => n + l.count(q, "processed") + l.count(q, "duplicate"),
      0,
    ),
    retried: sum((q) => q.retried),
    deadLettered: sum((q) => q.deadLettered),
    dropped,
    duplicates: sum((q) => q.duplicates),
    outOfOrder: sum((q) => q.outOfOrder),
    gaps: sum((q) => q.gaps),
    redelivered: sum((q) => q.redelivered),
    unconsumed,
    preexisting: sum((q) => q.preexisting),
    purged: run.purged,
    lost,
    lostNote:
      lost > 0 && stoppedBy !== "done"
        ? `the run stopped (${stoppedBy}) before every copy was settled`
        : undefined,
    latencyMs:
      sorted.length > 0
        ? {
            p50: percentile(sorted, 0.5),
            p90: percentile(sorted, 0.9),
            p99: percentile(sorted, 0.99),
            max: sorted[sorted.length - 1] as number,
          }
        : undefined,
    queues,
    consumers: groups.map((g) => g.row()),
    events: run.events,
  };
}

/**
 * A scenario's consumer groups: the instances of one consumer profile, each on a connection
 * of its own working through its deliveries one at a time as a single worker would, with the
 * profile's behaviour deciding each message (work time, failures, retries through delay
 * queues, dedupe, ordering checks, a circuit breaker, crashes), and the timed faults a
 * scenario may inflict on them (kill, pause, cut). Every decision is settled on the broker
 * and then in the ledger.
 */
import type { ConfirmChannel, ConsumeMessage } from "amqplib";
import { within } from "../client/bounded.js";
import { type Connection, dropConnection } from "../client/connect.js";
import { QueueConsumer, type StopReason } from "../client/consumer.js";
import { RecentIds } from "../client/recent-ids.js";
import type { Link } from "../client/reconnect.js";
import { seededRandom } from "../config/random.js";
import { ConsumerBehaviour, type Decision } from "./behaviour.js";
import { contractWatch } from "./contracts.js";
import { decisionEvent, settleInLedger, settleOnBroker } from "./decisions.js";
import { toDelivery } from "./fields.js";
import { ID_HEADER, publishedBy } from "./leftovers.js";
import { sleep } from "./pacer.js";
import type { GroupSpec } from "./scenario.js";
import type { RunState } from "./state.js";
import type { ConsumerRow } from "./types.js";

/** How long a crashed instance stays away before it connects again. */
const RESTART_MS = 1000;
/** How long an instance holds a message back while its breaker is open, before it looks again. */
const BREAKER_HOLD_MS = 100;
/** How long stopping waits for work under way to finish. */
const STOP_GRACE_MS = 1000;
/** Ids remembered per group, to tell a message's deliveries apart (oldest dropped first). */
const SEEN_MEMORY = 100_000;

interface Instance {
  index: number;
  connection?: Connection | undefined;
  /** With the runner's `link`: the connection that comes back after a loss. */
  link?: Link | undefined;
  consumer?: QueueConsumer | undefined;
  /** Deliveries waiting for this worker, with the consumer (channel) they came on. */
  inbox: Array<{ msg: ConsumeMessage; via: QueueConsumer }>;
  /** The message being worked on, if any. */
  working: Promise<void> | undefined;
  paused: boolean;
  stopped: boolean;
  /** Bumped on every (re)connect: work from an older session is dropped. */
  session: number;
  /** An ack-timeout fault: acks wait until then (epoch ms). */
  holdAcksUntil: number;
}

/** What the runner, the faults and the report ask of a consumer group, built in or a command. */
export interface ConsumerGroup {
  readonly name: string;
  readonly queue: string;
  /** Its connections' tag: a network fault aimed at this consumer hits them. */
  readonly tag: string;
  readonly counts: {
    processed: number;
    failed: number;
    retried: number;
    outOfOrder: number;
    gaps: number;
    preexisting: number;
  };
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  cut(): Promise<void>;
  pause(ms: number): void;
  holdAcks(ms: number): void;
  row(): ConsumerRow;
}

/** One consumer profile: its instances, its behaviour, its republishing channel. */
export class Group implements ConsumerGroup {
  readonly name: string;
  readonly queue: string;
  readonly instances: Instance[] = [];
  state: ConsumerRow["state"] = "running";
  private readonly behaviour: ConsumerBehaviour;
  /** The behaviour's randomness: one stream per message and delivery (see `reseed`). */
  private random: () => number;
  private readonly seen = new Map<string, number>();
  /** This run's messages, by decision; messages from before the run only in `preexisting`. */
  readonly counts = { processed: 0, failed: 0, retried: 0, outOfOrder: 0, gaps: 0, preexisting: 0 };
  private publisher: ConfirmChannel | undefined;
  /**
   * `eventlab consume` only (its --count means distinct messages): settled lately; after a
   * lost connection, a redelivery of one is its lost ack, acked again without the work. The
   * playground works on it again instead, as a service would, and its checker counts it.
   */
  private readonly settledIds = new RecentIds(SEEN_MEMORY);
  private lostConnection = false;
  private publisherConnection: Connection | undefined;

  constructor(
    private readonly spec: GroupSpec,
    private readonly run: RunState,
    private readonly seed: number,
  ) {
    this.name = spec.name;
    this.queue = spec.queue;
    this.random = seededRandom(seed, spec.name, "behaviour");
    this.behaviour = new ConsumerBehaviour(spec.queue, spec.behaviour, {
      random: () => this.random(),
      now: () => Date.now(),
    });
    for (let i = 0; i < (spec.cfg.concurrency ?? 1); i++) {
      this.instances.push({
        index: i + 1,
        inbox: [],
        working: undefined,
        paused: false,
        stopped: false,
        session: 0,
        holdAcksUntil: 0,
      });
    }
  }

  get tag(): string {
    return `consumer:${this.name}`;
  }

  async start(): Promise<void> {
    // Only a behaviour that retries republishes (to its retry and dead-letter queues).
    if (this.spec.behaviour.onFailure === "retry") {
      this.publisherConnection = await this.run.options.connect(this.tag);
      this.publisher = await this.publisherConnection.model.createConfirmChannel();
    }
    await Promise.all(this.instances.map((i) => this.connect(i)));
  }

  /** Connect (or, given `connection`, use it) and start consuming; older work is dropped. */
  private async connect(inst: Instance, connection?: Connection): Promise<void> {
    inst.session += 1;
    const session = inst.session;
    inst.inbox = [];
    inst.working = undefined;
    const o = this.run.options;
    if (connection) inst.connection = connection;
    else if (o.link) {
      inst.link = await this.run.link(`${this.name}#${inst.index}`, this.tag);
      inst.connection = inst.link.connection;
    } else inst.connection = await o.connect(this.tag);
    inst.consumer = await QueueConsumer.start(
      inst.connection,
      { queue: this.queue, prefetch: this.spec.cfg.prefetch ?? 10, noAck: false },
      // Deliveries may arrive before start() resolves: each keeps the consumer it came on.
      (msg, via) => {
        if (inst.session !== session) return;
        inst.inbox.push({ msg, via });
        this.pump(inst, session);
      },
      (reason, error) => {
        // A fault of the scenario (crash, cut, kill) or the end of the run bumped the session.
        if (inst.session === session && !inst.stopped) void this.lost(inst, reason, error);
      },
    );
  }

  /**
   * The broker closed the channel, cancelled the consumer, or the connection was lost. What
   * the instance held goes back to the queue; it connects again (a lost connection, through
   * its link) or subscribes again (a cancel); when it cannot, the run ends, said why.
   */
  private async lost(inst: Instance, reason: StopReason, error?: Error): Promise<void> {
    inst.session += 1;
    this.lostConnection = true;
    const dead = inst.connection;
    const who = `${this.name}#${inst.index}`;
    let next: Connection | undefined;
    // A cancel, or a channel the broker closed with an error (an ack that timed out) on a
    // connection still open: subscribe again on it.
    if (dead && !dead.closed && (reason === "cancelled-by-broker" || error)) next = dead;
    else if (reason === "channel-closed" && !error && dead && inst.link) {
      next = await inst.link.recover(dead);
    }
    if (!next || inst.stopped) {
      if (!inst.stopped)
        this.run.fail(who, inst.link?.failure ?? error ?? dead?.closeReason ?? new Error(reason));
      return;
    }
    const why =
      reason === "cancelled-by-broker"
        ? "a cancel"
        : `its channel closed (${error?.message ?? reason})`;
    this.run.event(next === dead ? `${who} subscribed again after ${why}` : `${who} reconnected`);
    try {
      await this.connect(inst, next);
    } catch (err) {
      this.run.fail(who, err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Work through the inbox one message at a time, as a single worker would. */
  private pump(inst: Instance, session: number): void {
    if (inst.working || inst.paused || inst.stopped || inst.session !== session) return;
    if (!this.roomForMore()) return;
    const next = inst.inbox.shift();
    if (!next) return;
    inst.working = this.handle(inst, session, next.msg, next.via).finally(() => {
      if (inst.session !== session) return;
      inst.working = undefined;
      // A message that came back (requeued, failed) frees room for any instance that waits.
      for (const other of this.instances) this.pump(other, other.session);
    });
  }

  /**
   * `consume --count N`: start on a message only while the ones settled for good plus the
   * ones under way are fewer than N. The rest stay unacknowledged in the inbox and go back
   * to the queue when the run closes, as RabbitMQ requeues what a closed channel held.
   */
  private roomForMore(): boolean {
    const limit = this.run.options.consumeOnly?.count;
    if (limit === undefined) return true;
    const busy = this.instances.filter((i) => i.working !== undefined).length;
    return this.run.ledger.finals + busy < limit;
  }

  /**
   * Point the behaviour's randomness at this delivery's own stream, keyed by the message and
   * how often this group has seen it, not by arrival order: with --seed, each message meets
   * the same fate whichever instance gets it.
   */
  private reseed(id: string): void {
    const nth = (this.seen.get(id) ?? 0) + 1;
    this.seen.set(id, nth);
    if (this.seen.size > SEEN_MEMORY) this.seen.delete(this.seen.keys().next().value as string);
    const key = `${id.slice(id.indexOf(":") + 1)}#${nth}`;
    this.random = seededRandom(this.seed, `${this.name}:${key}`, "behaviour");
  }

  private async handle(
    inst: Instance,
    session: number,
    msg: ConsumeMessage,
    via: QueueConsumer,
  ): Promise<void> {
    // Messages from elsewhere carry no id of ours: their messageId, or this delivery.
    const id = String(
      msg.properties.headers?.[ID_HEADER] ??
        msg.properties.messageId ??
        `${this.name}#${inst.index}/${inst.session}/${msg.fields.deliveryTag}`,
    );
    if (this.run.options.consumeOnly && msg.fields.redelivered && this.lostConnection) {
      if (this.settledIds.has(id)) {
        if (via.alive) via.channel.ack(msg);
        return;
      }
    }
    // A message from before the run is worked on like any other, but counted apart.
    const own =
      this.run.options.leftovers === "process" ||
      publishedBy(this.run.runId, msg.properties.headers);
    if (own && msg.fields.redelivered) this.run.ledger.queue(this.queue).redelivered += 1;
    this.reseed(id);
    contractWatch(this.run)?.check(this.name, id, msg.properties.messageId, msg.content);
    const d = this.behaviour.decide(toDelivery(msg));
    this.run.decided();
    for (const t of this.behaviour.takeTransitions()) {
      this.run.event(`breaker of ${this.name} is ${t === "open" ? "OPEN" : t}`);
    }
    if (d.outcome.kind !== "breaker-open") {
      this.run.options.onDecision?.(decisionEvent(this.name, inst.index, msg, d));
    }
    const kind = d.outcome.kind;
    if (kind === "crash") {
      this.run.event(
        `${this.name}#${inst.index} crashed at a message, without acking: its messages go back`,
      );
      await this.crash(inst);
      return;
    }
    if (kind === "breaker-open") {
      // Hold it: put it back in the inbox and look again after a short wait.
      inst.inbox.unshift({ msg, via });
      await sleep(BREAKER_HOLD_MS, this.run.options.signal);
      return;
    }
    // A behaviour that acks before it works (an at-least-once bug): a crash during the work
    // loses the message.
    const early = kind === "ack" && this.spec.behaviour.ackBeforeWork === true;
    if (early && !(await settleOnBroker(msg, via, d, this.republisher))) return;
    if (d.workMs > 0) await sleep(d.workMs, this.run.options.signal);
    // The instance crashed (or was killed) during the work: it never finished; the broker
    // redelivers the message unless it was acked already.
    if (inst.session !== session) return;
    if (own) this.count(d);
    // The work is done, whatever becomes of the ack: a copy worked on twice is a duplicate.
    if (own && kind === "ack") this.run.ledger.processed(this.queue, id);
    await this.ackHold(inst);
    if (!early && !(await settleOnBroker(msg, via, d, this.republisher))) return;
    if (this.run.options.consumeOnly) this.settledIds.add(id);
    if (own) settleInLedger(this.run, this.queue, id, msg, d);
    else {
      this.run.ledger.settleOlder(this.queue);
      this.counts.preexisting += 1;
    }
  }

  /** This run's message, decided: the group's counters. */
  private count(d: Decision): void {
    const n = this.counts;
    const kind = d.outcome.kind;
    if (d.outOfOrder) {
      this.run.ledger.queue(this.queue).outOfOrder += 1;
      n.outOfOrder += 1;
    }
    if (d.gap > 0) n.gaps += 1;
    if (kind === "ack") n.processed += 1;
    if (kind === "retry") n.retried += 1;
    if (kind === "requeue" || kind === "reject" || kind === "retry" || kind === "dead-letter") {
      n.failed += 1;
    }
  }

  private readonly republisher = (msg: ConsumeMessage, queue: string) => this.republish(msg, queue);

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

  /** An ack-timeout fault: the work goes on, and acks wait past the broker's consumer timeout. */
  holdAcks(ms: number): void {
    const until = Date.now() + ms;
    for (const inst of this.instances) inst.holdAcksUntil = until;
  }

  private async ackHold(inst: Instance): Promise<void> {
    const wait = inst.holdAcksUntil - Date.now();
    if (wait > 0) await sleep(wait, this.run.options.signal);
  }

  /** Drop an instance's connection without acking; it comes back a second later. */
  async crash(inst: Instance): Promise<void> {
    inst.session += 1;
    const c = inst.connection;
    inst.connection = undefined;
    inst.consumer = undefined;
    dropConnection(c, "connection dropped on purpose (a simulated crash)");
    if (inst.stopped) return;
    await sleep(RESTART_MS, this.run.options.signal);
    if (!inst.stopped && !this.run.options.signal.aborted) await this.connect(inst).catch(() => {});
  }

  async kill(): Promise<void> {
    this.state = "killed";
    for (const inst of this.instances) {
      inst.stopped = true;
      inst.session += 1;
      await inst.consumer?.close();
      await (inst.link ?? inst.connection)?.close();
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
    // Let work under way finish (bounded), then close.
    const working = this.instances.flatMap((i) => (i.working ? [i.working] : []));
    await within(Promise.allSettled(working), STOP_GRACE_MS);
    for (const inst of this.instances) {
      inst.session += 1;
      await inst.consumer?.close();
      await (inst.link ?? inst.connection)?.close();
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
      ...contractWatch(this.run)?.row(this.name),
    };
  }
}

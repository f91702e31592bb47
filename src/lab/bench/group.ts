/**
 * A client group: some of a bench run's producers and consumers, each on its own AMQP
 * connection, driven by one event loop (a worker thread, or the main thread with
 * `--threads 0`). It talks to the coordinator over a MessagePort only.
 */
import type { MessagePort } from "node:worker_threads";
import type amqp from "amqplib";
import type { Channel, ConsumeMessage } from "amqplib";
import { type Connection, connect } from "../../client/connect.js";
import { compileTemplate } from "../../config/templates.js";
import { Pacer, paceOf, sleep } from "../pacer.js";
import { LatencySamples } from "./histogram.js";
import { readStamp, SeenSet, STAMP_BYTES, STAMP_HEADER, wallNow, writeStamp } from "./stamp.js";
import type {
  BenchPlan,
  FromGroup,
  GroupAssignment,
  GroupFinal,
  ProducerFigures,
  ToGroup,
} from "./types.js";

/** How long a producer waits for its outstanding confirms at the end. */
const CONFIRM_SETTLE_MS = 10_000;
/** Pending multi-acks are sent at least this often, so a quiet tail is not left unacked. */
const ACK_FLUSH_MS = 50;

interface Message {
  content: (producer: number, seq: number, sentAt: number) => Buffer;
  /** The same object each time for sized bodies; with the stamp header for templated ones. */
  publishOptions: (producer: number, seq: number, sentAt: number) => amqp.Options.Publish;
}

export async function runGroup(
  port: MessagePort,
  plan: BenchPlan,
  assignment: GroupAssignment,
): Promise<void> {
  const group = new Group(port, plan, assignment);
  try {
    await group.run();
  } catch (err) {
    group.post({ type: "error", message: (err as Error)?.message ?? String(err) });
    await group.closeAll();
  }
}

class Group {
  private readonly connections: Connection[] = [];
  private readonly latency = new LatencySamples();
  private readonly confirmLatency = new LatencySamples();
  private sent = 0;
  private confirmed = 0;
  private nacked = 0;
  private received = 0;
  private readonly sentPerQueue: number[];
  private readonly receivedPerQueue: number[];
  private readonly sentPerProducer = new Map<number, number>();
  private readonly producerFigures: ProducerFigures[] = [];
  private readonly seen = new Map<number, SeenSet>();
  private duplicated = 0;
  private foreign = 0;
  private readonly stopProducers = new AbortController();
  private started!: () => void;
  private readonly startSignal = new Promise<void>((r) => {
    this.started = r;
  });
  private finishing!: () => void;
  private readonly finishSignal = new Promise<void>((r) => {
    this.finishing = r;
  });

  constructor(
    private readonly port: MessagePort,
    private readonly plan: BenchPlan,
    private readonly assignment: GroupAssignment,
  ) {
    this.sentPerQueue = plan.queues.map(() => 0);
    this.receivedPerQueue = plan.queues.map(() => 0);
    port.on("message", (m: ToGroup) => this.onMessage(m));
  }

  post(m: FromGroup): void {
    this.port.postMessage(m);
  }

  private onMessage(m: ToGroup): void {
    switch (m.type) {
      case "start":
        this.started();
        break;
      case "snapshot":
        this.post({
          type: "snapshot",
          id: m.id,
          snapshot: {
            sent: this.sent,
            confirmed: this.confirmed,
            nacked: this.nacked,
            received: this.received,
            sentPerQueue: [...this.sentPerQueue],
            receivedPerQueue: [...this.receivedPerQueue],
            latency: this.latency.take(),
            confirmLatency: this.confirmLatency.take(),
          },
        });
        break;
      case "stop-producers":
        this.stopProducers.abort();
        break;
      case "finish":
        this.finished = true;
        this.stopProducers.abort();
        this.finishing();
        break;
    }
  }

  async run(): Promise<void> {
    const { plan, assignment } = this;
    const message = await messageOf(plan);
    // Consumers first (PerfTest does the same): nothing published is missed.
    const consumers = await Promise.all(assignment.consumers.map((id) => this.openConsumer(id)));
    const producers = await Promise.all(assignment.producers.map((id) => this.openProducer(id)));
    this.post({ type: "ready" });
    await this.startSignal;
    const consuming = Promise.all(consumers.map((start) => start()));
    void consuming.then(() => {
      if (assignment.consumers.length > 0) this.post({ type: "consumers-done" });
    });
    await Promise.all(producers.map((produce) => produce(message)));
    this.post({ type: "producers-done" });
    await this.finishSignal;
    await this.closeAll();
    const final: GroupFinal = {
      seen: [...this.seen].map(([p, s]) => [p, s.bits]),
      duplicated: this.duplicated,
      sentPerProducer: [...this.sentPerProducer],
      producers: this.producerFigures,
      foreign: this.foreign,
      counts: {
        sent: this.sent,
        confirmed: this.confirmed,
        nacked: this.nacked,
        received: this.received,
      },
    };
    this.post({ type: "final", final });
  }

  async closeAll(): Promise<void> {
    // Each close is bounded: a broker that does not answer has the socket dropped.
    await Promise.all(this.connections.map((c) => c.close()));
    this.connections.length = 0;
  }

  /** A connection as the command's own (TLS, SASL, heartbeat watchdog); errors name the URL. */
  private async connect(index: number, role: string): Promise<Connection> {
    const url = this.plan.urls[index % this.plan.urls.length] as string;
    const c = await connect([url], {
      ...this.plan.connect,
      connectionName: `eventlab bench ${role} ${index}`,
    });
    void c.whenClosed.then((err) => {
      if (err && !this.finished)
        this.post({ type: "error", message: `connection lost: ${err.message}` });
    });
    this.connections.push(c);
    return c;
  }

  private finished = false;

  /** Connect a producer; the returned function publishes until it is told to stop. */
  private async openProducer(id: number): Promise<(m: Message) => Promise<void>> {
    const { plan } = this;
    const conn = await this.connect(id, "producer");
    const confirm = plan.confirm > 0;
    const cch = confirm ? await conn.model.createConfirmChannel() : undefined;
    const ch: Channel = cch ?? (await conn.model.createChannel());
    ch.on("error", () => {});
    const qi = id % plan.queues.length;
    const queue = plan.queues[qi] as string;
    return async (message) => {
      const stop = this.stopProducers.signal;
      const pacer = new Pacer(paceOf(undefined, plan.rate));
      const limit = messagesDue(plan);
      const startedAt = performance.now();
      // Each producer ends its own --duration: the coordinator's polling must not stretch it.
      const endAt = startedAt + (plan.durationMs ?? Number.POSITIVE_INFINITY);
      const window = new ConfirmWindow(plan.confirm);
      let seq = 0;
      while (!stop.aborted && seq < limit) {
        if (plan.rate !== undefined) await untilDue(pacer, seq, endAt, stop);
        if (stop.aborted || performance.now() >= endAt) break;
        if (cch) await window.room(stop);
        if (stop.aborted) break;
        const sentAt = wallNow();
        const body = message.content(id, seq, sentAt);
        const options = message.publishOptions(id, seq, sentAt);
        let ok: boolean;
        if (cch) {
          window.add();
          ok = cch.publish("", queue, body, options, (err: unknown) => {
            this.onConfirm(id, qi, sentAt, err);
            window.settle();
          });
        } else ok = ch.publish("", queue, body, options);
        // What this turn publishes leaves in one socket write, as produce's does.
        conn.corkTurn();
        seq++;
        this.onPublished(id, qi);
        if (!ok) await new Promise<void>((r) => ch.once("drain", r));
        else if ((seq & 127) === 0) await new Promise<void>((r) => setImmediate(r));
      }
      this.producerFigures.push({
        id,
        published: seq,
        activeMs: activeTime(startedAt, endAt, seq >= limit ? seq : undefined, plan.rate),
      });
      // The outstanding confirms, within a bound: a broker that never answers must not hang the run.
      await window.empty(CONFIRM_SETTLE_MS);
    };
  }

  private onPublished(producer: number, qi: number): void {
    this.sent++;
    this.sentPerQueue[qi] = (this.sentPerQueue[qi] ?? 0) + 1;
    this.sentPerProducer.set(producer, (this.sentPerProducer.get(producer) ?? 0) + 1);
  }

  private onConfirm(producer: number, qi: number, sentAt: number, err: unknown): void {
    if (err) {
      // A nacked message will not arrive: it is not expected by the missing count.
      this.nacked++;
      this.sentPerQueue[qi] = (this.sentPerQueue[qi] ?? 0) - 1;
      this.sentPerProducer.set(producer, (this.sentPerProducer.get(producer) ?? 0) - 1);
    } else {
      this.confirmed++;
      this.confirmLatency.record(Math.max(0, Math.round((wallNow() - sentAt) * 1000)));
    }
  }

  /** Connect and subscribe a consumer; the returned function resolves when it is done. */
  private async openConsumer(id: number): Promise<() => Promise<void>> {
    const { plan } = this;
    const conn = await this.connect(id, "consumer");
    const ch = await conn.model.createChannel();
    ch.on("error", () => {});
    if (!plan.autoAck && plan.prefetch > 0) await ch.prefetch(plan.prefetch);
    const qi = id % plan.queues.length;
    const queue = plan.queues[qi] as string;
    const limit = plan.cmessages ?? Number.POSITIVE_INFINITY;
    let mine = 0;
    let pending = 0;
    let last: ConsumeMessage | undefined;
    let done!: () => void;
    const finished = new Promise<void>((r) => {
      done = r;
    });
    let tag: string | undefined;
    const flush = () => {
      if (pending > 0 && last) {
        ch.ack(last, true);
        conn.corkTurn();
        pending = 0;
      }
    };
    const flusher =
      plan.autoAck || plan.multiAck <= 1 ? undefined : setInterval(flush, ACK_FLUSH_MS);
    const stopConsumer = async () => {
      if (flusher) clearInterval(flusher);
      flush();
      if (tag !== undefined) await ch.cancel(tag).catch(() => {});
      tag = undefined;
      done();
    };
    const onMessage = (msg: ConsumeMessage | null) => {
      if (msg === null) {
        void stopConsumer();
        return;
      }
      const now = wallNow();
      const headerStamp = msg.properties.headers?.[STAMP_HEADER] as Buffer | undefined;
      const stamp = readStamp(
        Buffer.isBuffer(headerStamp) ? headerStamp : msg.content,
        plan.runTag,
      );
      if (stamp === undefined) this.foreign++;
      else {
        this.latency.record(Math.max(0, Math.round((now - stamp.sentAt) * 1000)));
        let set = this.seen.get(stamp.producer);
        if (!set) {
          set = new SeenSet();
          this.seen.set(stamp.producer, set);
        }
        if (!set.add(stamp.seq)) this.duplicated++;
        this.received++;
        this.receivedPerQueue[qi] = (this.receivedPerQueue[qi] ?? 0) + 1;
        mine++;
      }
      if (!plan.autoAck) {
        // One basic.ack per message (as PerfTest's default), but those of one turn leave
        // in one socket write, as consume's do.
        if (plan.multiAck <= 1) {
          ch.ack(msg);
          conn.corkTurn();
        } else {
          last = msg;
          if (++pending >= plan.multiAck) flush();
        }
      }
      if (mine >= limit && tag !== undefined) void stopConsumer();
    };
    const args: Record<string, unknown> = {};
    if (plan.queueType === "stream") args["x-stream-offset"] = "first";
    const ok = await ch.consume(queue, onMessage, { noAck: plan.autoAck, arguments: args });
    tag = ok.consumerTag;
    void this.finishSignal.then(stopConsumer);
    return () => (limit === Number.POSITIVE_INFINITY ? this.finishSignal : finished);
  }
}

/**
 * How long a producer was active: until it stopped (Ctrl-C, the end of --duration), or,
 * when it sent its `limit` (--pmessages) at a rate, until the next message would have been due.
 */
function activeTime(
  startedAt: number,
  endAt: number,
  limit: number | undefined,
  rate: number | undefined,
): number {
  const stoppedAt = performance.now();
  if (limit === undefined) return Math.min(stoppedAt, endAt) - startedAt;
  return Math.max(stoppedAt - startedAt, rate === undefined ? 0 : (limit * 1000) / rate);
}

/**
 * How many messages a producer sends: --pmessages; paced with a duration, those due before
 * its end, no more (30 s × 1000/s = 30,000); else no limit.
 */
function messagesDue(plan: BenchPlan): number {
  const due =
    plan.rate !== undefined && plan.durationMs !== undefined
      ? Math.ceil((plan.durationMs * plan.rate) / 1000)
      : Number.POSITIVE_INFINITY;
  return Math.min(plan.pmessages ?? Number.POSITIVE_INFINITY, due);
}

/** Wait until message `seq` is due (or the run's end, or stop). */
async function untilDue(
  pacer: Pacer,
  seq: number,
  endAt: number,
  stop: AbortSignal,
): Promise<void> {
  // Timers may fire a little early: wait again until less than a millisecond is left.
  let wait = pacer.waitFor(seq);
  while (wait >= 1 && !stop.aborted && performance.now() < endAt) {
    await sleep(Math.min(wait, endAt - performance.now()), stop);
    wait = pacer.waitFor(seq);
  }
}

/** Publisher confirms in flight, at most `size`: publishing waits for room. */
class ConfirmWindow {
  private outstanding = 0;
  private wake: (() => void) | undefined;

  constructor(private readonly size: number) {}

  add(): void {
    this.outstanding++;
  }

  settle(): void {
    this.outstanding--;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async room(stop: AbortSignal): Promise<void> {
    while (this.outstanding >= this.size && !stop.aborted) await this.settled(100);
  }

  /** Wait for every outstanding confirm, at most `ms`. */
  async empty(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.outstanding > 0 && Date.now() < deadline) await this.settled(100);
  }

  /** One confirm arrived, or `ms` passed. */
  private async settled(ms: number): Promise<void> {
    const tick = new AbortController();
    await Promise.race([
      new Promise<void>((r) => {
        this.wake = r;
      }),
      sleep(ms, tick.signal),
    ]);
    tick.abort();
  }
}

/** The body and properties every producer sends: a sized body, or a template's. */
async function messageOf(plan: BenchPlan): Promise<Message> {
  const base: amqp.Options.Publish = plan.persistent ? { persistent: true } : {};
  if (plan.template === undefined) {
    const size = Math.max(plan.size, STAMP_BYTES);
    const filler = Buffer.alloc(size, 0x78); // "x"
    const options: amqp.Options.Publish = { ...base, contentType: "application/octet-stream" };
    return {
      publishOptions: () => options,
      // A fresh buffer each time: amqplib may keep a large body by reference until written.
      content: (producer, seq, sentAt) => {
        const b = Buffer.allocUnsafe(size);
        filler.copy(b, STAMP_BYTES, STAMP_BYTES);
        writeStamp(b, sentAt, plan.runTag, producer, seq);
        return b;
      },
    };
  }
  const compiled = await compileTemplate(
    plan.template.name,
    plan.template.config as Parameters<typeof compileTemplate>[1],
    { env: plan.env },
  );
  const first = compiled.render();
  const options: amqp.Options.Publish = { ...base, ...first.properties };
  if (plan.persistent) options.persistent = true;
  // The template was compiled once; each message renders its body (generated fields change).
  // Its properties are the first message's, with the stamp added as a header.
  return {
    publishOptions: (producer, seq, sentAt) =>
      stampHeader(options, sentAt, plan.runTag, producer, seq),
    content: () => compiled.render().content,
  };
}

/** The options of a templated message with the stamp as a header. */
function stampHeader(
  options: amqp.Options.Publish,
  sentAt: number,
  runTag: number,
  producer: number,
  seq: number,
): amqp.Options.Publish {
  const stamp = Buffer.allocUnsafe(STAMP_BYTES);
  writeStamp(stamp, sentAt, runTag, producer, seq);
  return { ...options, headers: { ...(options.headers ?? {}), [STAMP_HEADER]: stamp } };
}

/**
 * The coordinator of a bench run: splits producers and consumers into client groups (worker
 * threads, or the main thread), starts them together, polls their counts and latencies ten
 * times a second, reports each second, decides when the run ends (duration, message counts,
 * Ctrl-C), waits for consumers to drain, and merges what every consumer saw into missing and
 * duplicated counts.
 */
import { MessageChannel, type MessagePort, type Worker } from "node:worker_threads";
import { sleep } from "../pacer.js";
import { runGroup } from "./group.js";
import { type Histogram, type LatencySummary, newHistogram, summarize } from "./histogram.js";
import { mergeSeen } from "./stamp.js";
import { startThread } from "./threads.js";
import type {
  BenchPlan,
  FromGroup,
  GroupAssignment,
  GroupFinal,
  ProducerFigures,
  Snapshot,
  ToGroup,
} from "./types.js";

const POLL_MS = 100;
const READY_TIMEOUT_MS = 30_000;
const FINAL_TIMEOUT_MS = 15_000;

export interface EngineOptions {
  plan: BenchPlan;
  /** Client groups on worker threads; 0: one group on the main thread. */
  threads: number;
  durationMs?: number | undefined;
  /** After the producers stop, how long consumers may take to receive the rest. */
  drainTimeoutMs: number;
  signal: AbortSignal;
  onSecond?(s: SecondStats): void;
}

export interface SecondStats {
  /** Seconds since the start, at the end of this interval. */
  second: number;
  sentPerSecond: number;
  receivedPerSecond: number;
  confirmedPerSecond: number;
  latency: LatencySummary | null;
  confirmLatency: LatencySummary | null;
}

export interface EngineResult {
  /** From the start signal to the last consumer's stop. */
  elapsedMs: number;
  /** From the start signal to the last producer's stop. */
  producingMs: number;
  sent: number;
  confirmed: number;
  nacked: number;
  received: number;
  /** Published (not nacked) but never received; null when not checked (see `missingNote`). */
  missing: number | null;
  missingNote?: string;
  duplicated: number;
  foreign: number;
  /** Each producer's published count and active time. */
  producers: ProducerFigures[];
  seconds: SecondStats[];
  latency: Histogram;
  confirmLatency: Histogram;
  interrupted: boolean;
  threads: number;
}

interface GroupHandle {
  port: MessagePort | Worker;
  close(): Promise<void>;
  ready: Promise<void>;
  producersDone: boolean;
  consumersDone: boolean;
  hasConsumers: boolean;
  final?: Promise<GroupFinal>;
}

/** Producers and consumers dealt to `groups` groups in turn, so each group gets a mix. */
export function assign(producers: number, consumers: number, groups: number): GroupAssignment[] {
  const out = Array.from({ length: Math.max(1, groups) }, () => ({
    producers: [] as number[],
    consumers: [] as number[],
  }));
  let k = 0;
  for (let c = 0; c < consumers; c++) (out[k++ % out.length] as GroupAssignment).consumers.push(c);
  for (let p = 0; p < producers; p++) (out[k++ % out.length] as GroupAssignment).producers.push(p);
  return out.filter((a) => a.producers.length + a.consumers.length > 0);
}

export async function runEngine(options: EngineOptions): Promise<EngineResult> {
  const run = new Coordinator(options);
  try {
    await run.ready();
    const end = await run.loop();
    return await run.finish(end);
  } finally {
    await run.close();
  }
}

interface Totals {
  sent: number;
  confirmed: number;
  nacked: number;
  received: number;
}

function totals(snaps: readonly Totals[]): Totals {
  const t = { sent: 0, confirmed: 0, nacked: 0, received: 0 };
  for (const s of snaps) {
    t.sent += s.sent;
    t.confirmed += s.confirmed;
    t.nacked += s.nacked;
    t.received += s.received;
  }
  return t;
}

/** One run: its client groups, what they reported, and when it ends. */
class Coordinator {
  private readonly plan: BenchPlan;
  private readonly handles: GroupHandle[];
  private failure: string | undefined;
  private wakeFailure: (() => void) | undefined;
  private readonly failed = new Promise<void>((r) => {
    this.wakeFailure = r;
  });
  private readonly latency = newHistogram();
  private readonly confirmLatency = newHistogram();
  private secLatency = newHistogram();
  private secConfirm = newHistogram();
  private readonly seconds: SecondStats[] = [];
  private pollId = 0;
  private snaps: Snapshot[] = [];
  private start = 0;
  private lastSecondAt = 0;
  private lastTotals: Totals = { sent: 0, confirmed: 0, nacked: 0, received: 0 };
  /** Seconds are due on an absolute schedule (start + k s), so their labels do not drift. */
  private nextSecond = 1;
  private producingMs: number | undefined;
  private drainDeadline: number | undefined;
  private interrupted = false;

  constructor(private readonly options: EngineOptions) {
    this.plan = options.plan;
    const assignments = assign(
      this.plan.producers,
      this.plan.consumers,
      Math.max(1, options.threads),
    );
    const fail = (message: string) => {
      this.failure ??= message;
      this.wakeFailure?.();
    };
    this.handles = assignments.map((a) => openGroup(this.plan, a, options.threads > 0, fail));
  }

  private send(m: ToGroup): void {
    for (const h of this.handles) h.port.postMessage(m);
  }

  private check(): void {
    if (this.failure) throw new Error(this.failure);
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.close()));
  }

  /** Every group connected its clients (bounded; Ctrl-C gives up). */
  async ready(): Promise<void> {
    let allReady = false;
    const gaveUp = new AbortController();
    const onAbort = () => gaveUp.abort();
    this.options.signal.addEventListener("abort", onAbort, { once: true });
    await Promise.race([
      Promise.all(this.handles.map((h) => h.ready)).then(() => {
        allReady = true;
      }),
      this.failed,
      sleep(READY_TIMEOUT_MS, gaveUp.signal),
    ]);
    gaveUp.abort(); // the timer must not keep the process alive
    this.options.signal.removeEventListener("abort", onAbort);
    this.check();
    if (this.options.signal.aborted) throw new BenchInterrupted();
    if (!allReady) throw new Error("the clients did not connect within 30 s");
  }

  /** Every group's counts, and the latencies recorded since the last poll. */
  private async poll(): Promise<Snapshot[]> {
    const id = ++this.pollId;
    const replies = this.handles.map(
      (h) =>
        new Promise<Snapshot>((resolve) => {
          const on = (m: FromGroup) => {
            if (m.type === "snapshot" && m.id === id) {
              h.port.off("message", on);
              resolve(m.snapshot);
            }
          };
          h.port.on("message", on);
        }),
    );
    this.send({ type: "snapshot", id });
    const snaps = await bounded(
      Promise.race([Promise.all(replies), this.failed.then(() => undefined)]),
      10_000,
    );
    this.check();
    if (!snaps) throw new Error("a client thread stopped answering");
    for (const s of snaps) {
      this.absorb(s.latency, this.latency, this.secLatency);
      this.absorb(s.confirmLatency, this.confirmLatency, this.secConfirm);
    }
    return snaps;
  }

  private absorb(values: Uint32Array | null, total: Histogram, second: Histogram): void {
    if (values === null) return;
    for (const us of values) {
      total.recordValue(us);
      second.recordValue(us);
    }
  }

  private emitSecond(now: number, label: number): void {
    const t = totals(this.snaps);
    const dt = (now - this.lastSecondAt) / 1000;
    if (dt <= 0) return;
    const s: SecondStats = {
      second: label,
      sentPerSecond: (t.sent - this.lastTotals.sent) / dt,
      receivedPerSecond: (t.received - this.lastTotals.received) / dt,
      confirmedPerSecond: (t.confirmed - this.lastTotals.confirmed) / dt,
      latency: summarize(this.secLatency),
      confirmLatency: summarize(this.secConfirm),
    };
    this.seconds.push(s);
    this.options.onSecond?.(s);
    this.lastTotals = t;
    this.lastSecondAt = now;
    this.secLatency = newHistogram();
    this.secConfirm = newHistogram();
  }

  /** Start, poll, report each second, until the run ends; returns when it ended. */
  async loop(): Promise<number> {
    this.start = performance.now();
    this.lastSecondAt = this.start;
    this.send({ type: "start" });
    for (;;) {
      await Promise.race([sleep(POLL_MS), this.failed]);
      this.check();
      this.snaps = await this.poll();
      const now = performance.now();
      if (now - this.start >= this.nextSecond * 1000) {
        this.emitSecond(now, this.nextSecond);
        this.nextSecond = Math.floor((now - this.start) / 1000) + 1;
      }
      if (this.ended(now)) break;
    }
    const endAt = performance.now();
    if (endAt - this.lastSecondAt >= 200)
      this.emitSecond(endAt, Math.round((endAt - this.start) / 100) / 10);
    return endAt;
  }

  /** Whether the run is over at `now`; tells the producers to stop when their time is up. */
  private ended(now: number): boolean {
    const { plan, options } = this;
    const elapsed = now - this.start;
    const producersDone = this.handles.every((h) => h.producersDone);
    const consumersDone = this.handles.every((h) => !h.hasConsumers || h.consumersDone);
    if (options.signal.aborted && !this.interrupted) {
      this.interrupted = true;
      this.send({ type: "stop-producers" });
    }
    const timeUp = options.durationMs !== undefined && elapsed >= options.durationMs;
    const consumersFinished = plan.cmessages !== undefined && plan.consumers > 0 && consumersDone;
    if ((timeUp || consumersFinished) && !producersDone) this.send({ type: "stop-producers" });
    if (!producersDone) return false;
    this.producingMs ??= elapsed;
    if (plan.consumers === 0 || consumersFinished) return true;
    // Each consumer stops at --cmessages: wait for them, unless time is up or Ctrl-C.
    if (plan.cmessages !== undefined) return timeUp || this.interrupted;
    // Producers are done: consumers may still be receiving what is on its way.
    this.drainDeadline ??=
      now + (this.interrupted ? Math.min(2000, options.drainTimeoutMs) : options.drainTimeoutMs);
    return drained(plan, this.snaps) || now >= this.drainDeadline;
  }

  /** Tell the groups to finish, collect what their consumers saw, and add it all up. */
  async finish(endAt: number): Promise<EngineResult> {
    const { plan } = this;
    const finals = this.handles.map((h) => h.final as Promise<GroupFinal>);
    this.send({ type: "finish" });
    const got = await bounded(
      Promise.race([Promise.all(finals), this.failed.then(() => undefined)]),
      FINAL_TIMEOUT_MS,
    );
    if (!got) throw new Error(this.failure ?? "the client threads did not finish in time");
    // Each group's own final counters: the last snapshot may predate the last confirms.
    const t = totals(got.map((f) => f.counts));
    const merged = mergeFinals(plan, got);
    const checkable = plan.consumers > 0 && plan.cmessages === undefined;
    const result: EngineResult = {
      elapsedMs: endAt - this.start,
      producingMs: this.producingMs ?? endAt - this.start,
      // Counted as published: nacked ones too (they were sent).
      sent: t.sent,
      confirmed: t.confirmed,
      nacked: t.nacked,
      received: t.received,
      missing: checkable ? merged.missing : null,
      duplicated: merged.duplicated,
      foreign: merged.foreign,
      producers: got.flatMap((f) => f.producers).sort((x, y) => x.id - y.id),
      seconds: this.seconds,
      latency: this.latency,
      confirmLatency: this.confirmLatency,
      interrupted: this.interrupted,
      threads: this.options.threads,
    };
    if (!checkable)
      result.missingNote =
        plan.consumers === 0
          ? "no consumers"
          : "not checked: --cmessages stops consumers before all messages arrive";
    return result;
  }
}

/** `p`, or undefined after `ms`; the timer is cleared either way. */
async function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export class BenchInterrupted extends Error {
  constructor() {
    super("interrupted");
  }
}

/** Every queue received what was published to it (and not nacked). */
function drained(plan: BenchPlan, snaps: Snapshot[]): boolean {
  for (let q = 0; q < plan.queues.length; q++) {
    let sent = 0;
    let received = 0;
    for (const s of snaps) {
      sent += s.sentPerQueue[q] ?? 0;
      received += s.receivedPerQueue[q] ?? 0;
    }
    if (received < sent) return false;
  }
  return true;
}

function mergeFinals(
  plan: BenchPlan,
  finals: GroupFinal[],
): { missing: number; duplicated: number; foreign: number } {
  const sets = new Map<number, Uint8Array[]>();
  const sentBy = new Map<number, number>();
  let duplicated = 0;
  let foreign = 0;
  for (const f of finals) {
    duplicated += f.duplicated;
    foreign += f.foreign;
    for (const [p, bits] of f.seen) sets.set(p, [...(sets.get(p) ?? []), bits]);
    for (const [p, n] of f.sentPerProducer) sentBy.set(p, (sentBy.get(p) ?? 0) + n);
  }
  let missing = 0;
  for (let p = 0; p < plan.producers; p++) {
    const { distinct, overlap } = mergeSeen(sets.get(p) ?? []);
    duplicated += overlap;
    // Only producers whose queue has a consumer can be checked (validated: all have one).
    if (p % plan.queues.length < plan.consumers)
      missing += Math.max(0, (sentBy.get(p) ?? 0) - distinct);
  }
  return { missing, duplicated, foreign };
}

function openGroup(
  plan: BenchPlan,
  assignment: GroupAssignment,
  threaded: boolean,
  fail: (message: string) => void,
): GroupHandle {
  let port: MessagePort | Worker;
  let close: () => Promise<void>;
  if (threaded) {
    const worker = startThread({ role: "group", plan, assignment });
    worker.on("error", (err) => fail(err.message));
    worker.on("exit", (code) => {
      if (code !== 0) fail(`a client thread exited with code ${code}`);
    });
    port = worker;
    close = async () => {
      await worker.terminate();
    };
  } else {
    const channel = new MessageChannel();
    port = channel.port1;
    void runGroup(channel.port2, plan, assignment);
    close = async () => {
      channel.port1.close();
      channel.port2.close();
    };
  }
  let ready!: () => void;
  let gotFinal!: (f: GroupFinal) => void;
  const handle: GroupHandle = {
    port,
    close,
    ready: new Promise<void>((r) => {
      ready = r;
    }),
    final: new Promise<GroupFinal>((r) => {
      gotFinal = r;
    }),
    producersDone: assignment.producers.length === 0,
    consumersDone: assignment.consumers.length === 0,
    hasConsumers: assignment.consumers.length > 0,
  };
  port.on("message", (m: FromGroup) => {
    switch (m.type) {
      case "ready":
        ready();
        break;
      case "producers-done":
        handle.producersDone = true;
        break;
      case "consumers-done":
        handle.consumersDone = true;
        break;
      case "final":
        gotFinal(m.final);
        break;
      case "error":
        fail(m.message);
        break;
    }
  });
  return handle;
}

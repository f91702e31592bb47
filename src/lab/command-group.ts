/**
 * A consumer that is your own service: a profile with `command:` runs that command (one
 * process per instance, through the shell, in the config's directory) with the broker and the
 * queue in its environment:
 *
 *   EVENTLAB_URL       the AMQP URL to connect to (through the fault proxy when there is one)
 *   EVENTLAB_QUEUE     the queue to consume
 *   EVENTLAB_PREFETCH  the profile's prefetch (default 10)
 *   EVENTLAB_CONSUMER  the profile's name, EVENTLAB_INSTANCE its instance (1-based)
 *
 * eventlab never sees inside it. It judges the service from the broker's side, through the
 * embedded broker's per-message ledger: what it acked, rejected and published. With
 * `doneWhen: ack` (the default) an acked message is processed; with `doneWhen: publish` a
 * message is processed when the service publishes its result carrying the message's id (the
 * message_id, or the x-eventlab-id header), so that a service that acks before it works, and
 * dies before the work is done, is caught losing the message.
 *
 * Faults: kill stops the processes for good (SIGKILL); cut kills them and starts them again a
 * second later, as a supervisor would; pause stops them (SIGSTOP) for `for`. A process that
 * exits by itself is started again too, up to a few times in a row.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { MessageEvent } from "../broker/index.js";
import type { ConsumerGroup } from "./groups.js";
import { sleep } from "./pacer.js";
import type { GroupSpec } from "./scenario.js";
import type { RunState } from "./state.js";
import type { ConsumerRow } from "./types.js";

/** How long a killed or exited process stays away before it is started again. */
const RESTART_MS = 1000;
/** Exits in a row (without a message processed between them) before the run gives up on it. */
const MAX_EXITS = 5;
/** How long stopping waits after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 1000;
/** Lines of a process's output kept in the event log, per process. */
const OUTPUT_LINES = 20;

/** Signal a process's whole group (the shell and what it runs); it may be gone already. */
function signal(child: ChildProcess | undefined, sig: NodeJS.Signals): void {
  if (child?.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    // Gone already.
  }
}

interface Proc {
  index: number;
  child?: ChildProcess | undefined;
  exited?: Promise<void> | undefined;
  stopped: boolean;
  exits: number;
  lines: number;
}

export class CommandGroup implements ConsumerGroup {
  readonly name: string;
  readonly queue: string;
  readonly counts = { processed: 0, failed: 0, retried: 0, outOfOrder: 0, gaps: 0, preexisting: 0 };
  state: ConsumerRow["state"] = "running";
  private readonly procs: Proc[] = [];
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly spec: GroupSpec & { command: string },
    private readonly run: RunState,
  ) {
    this.name = spec.name;
    this.queue = spec.queue;
    for (let i = 0; i < (spec.cfg.concurrency ?? 1); i++) {
      this.procs.push({ index: i + 1, stopped: false, exits: 0, lines: 0 });
    }
  }

  get tag(): string {
    return `consumer:${this.name}`;
  }

  async start(): Promise<void> {
    const events = this.run.options.brokerEvents;
    if (!events)
      throw new Error(
        `consumer ${this.name} runs a command, which needs the embedded broker's ledger`,
      );
    this.unsubscribe = events((e) => this.judge(e));
    for (const p of this.procs) this.spawn(p);
  }

  private spawn(p: Proc): void {
    const o = this.run.options;
    const url = o.urlFor?.(this.tag) ?? "";
    const child = spawn(this.spec.command, {
      shell: true,
      cwd: o.cwd,
      env: {
        // The command is found on the PATH, whatever environment the run was given.
        PATH: process.env["PATH"],
        ...o.env,
        EVENTLAB_URL: url,
        EVENTLAB_QUEUE: this.queue,
        EVENTLAB_PREFETCH: String(this.spec.cfg.prefetch ?? 10),
        EVENTLAB_CONSUMER: this.name,
        EVENTLAB_INSTANCE: String(p.index),
      },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: a signal reaches the shell and whatever it started.
      detached: true,
    });
    p.child = child;
    const who = `${this.name}#${p.index}`;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (line) => {
        if (p.lines++ < OUTPUT_LINES) this.run.event(`${who}: ${line.slice(0, 200)}`);
      });
    }
    p.exited = new Promise<void>((resolve) => {
      child.once("error", (err) => {
        this.run.event(`${who} could not start: ${err.message}`);
        resolve();
      });
      child.once("exit", (code, signal) => {
        resolve();
        if (p.child !== child || p.stopped) return;
        p.child = undefined;
        this.run.event(`${who} exited (${signal ?? `code ${code}`})`);
        if (++p.exits > MAX_EXITS) {
          this.run.fail(
            who,
            new Error(`\`${this.spec.command}\` exited ${MAX_EXITS} times in a row`),
          );
          return;
        }
        void this.restart(p);
      });
    });
  }

  private async restart(p: Proc): Promise<void> {
    await sleep(RESTART_MS, this.run.options.signal);
    if (!p.stopped && !this.run.options.signal.aborted && !p.child) this.spawn(p);
  }

  /** What the broker saw, in this group's queue or published by the service. */
  private judge(e: MessageEvent): void {
    if (e.connection.startsWith("eventlab play")) return;
    const ledger = this.run.ledger;
    const own = e.id.startsWith(`${this.run.runId}:`);
    const byPublish = this.spec.cfg.doneWhen === "publish";
    if (e.kind === "published" && byPublish && own) {
      // Each result published is one piece of work done: twice is a duplicate.
      this.processed(e.id);
      return;
    }
    if (e.queue !== this.queue) return;
    if (!own) {
      if (e.kind === "acked") this.counts.preexisting += 1;
      if (e.kind === "acked") ledger.settleOlder(this.queue);
      return;
    }
    switch (e.kind) {
      case "delivered":
        if (e.redelivered) ledger.queue(this.queue).redelivered += 1;
        if (e.noAck && !byPublish) this.processed(e.id);
        break;
      case "acked":
        if (!byPublish) this.processed(e.id);
        break;
      case "rejected":
      case "nacked": {
        this.counts.failed += 1;
        this.run.decided();
        if (!e.requeue) this.run.rejected(this.queue, e.id, e.routingKey ?? "", e.headers);
        break;
      }
    }
  }

  private processed(id: string): void {
    this.counts.processed += 1;
    for (const p of this.procs) p.exits = 0;
    this.run.ledger.processed(this.queue, id);
    this.run.ledger.settle(this.queue, id, "processed");
    this.run.decided();
  }

  private async killAll(): Promise<void> {
    await Promise.all(
      this.procs.map(async (p) => {
        const child = p.child;
        p.child = undefined;
        signal(child, "SIGKILL");
        await p.exited;
      }),
    );
  }

  async kill(): Promise<void> {
    this.state = "killed";
    for (const p of this.procs) p.stopped = true;
    await this.killAll();
  }

  async cut(): Promise<void> {
    this.run.event(
      `${this.name}: its processes killed (SIGKILL); started again in ${RESTART_MS} ms`,
    );
    await this.killAll();
    await Promise.all(this.procs.filter((p) => !p.stopped).map((p) => this.restart(p)));
  }

  pause(ms: number): void {
    this.state = "paused";
    for (const p of this.procs) signal(p.child, "SIGSTOP");
    setTimeout(() => {
      if (this.state === "paused") this.state = "running";
      for (const p of this.procs) signal(p.child, "SIGCONT");
    }, ms).unref();
  }

  holdAcks(): void {
    this.run.event(
      `${this.name} runs a command: an ack-timeout fault cannot make it hold its acks`,
    );
  }

  async stop(): Promise<void> {
    if (this.state !== "killed") this.state = "done";
    for (const p of this.procs) {
      p.stopped = true;
      signal(p.child, "SIGCONT");
      signal(p.child, "SIGTERM");
    }
    const timer = setTimeout(() => {
      for (const p of this.procs) signal(p.child, "SIGKILL");
    }, STOP_GRACE_MS);
    await Promise.all(this.procs.map((p) => p.exited));
    clearTimeout(timer);
    this.unsubscribe?.();
  }

  row(): ConsumerRow {
    return {
      name: this.name,
      queue: this.queue,
      instances: this.procs.filter((p) => p.child !== undefined || this.state === "done").length,
      processed: this.counts.processed,
      failed: this.counts.failed,
      retried: 0,
      preexisting: this.counts.preexisting,
      breaker: "closed",
      state: this.state,
    };
  }
}

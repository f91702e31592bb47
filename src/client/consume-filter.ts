/**
 * `consume --filter EXPR` and `consume --exec CMD`: a screen between the broker's channel and
 * the consume session, so the session (printing, --count, --idle-timeout, reconnects) sees
 * only what it should and settles as it always does.
 *
 * - Filter: a message that does not match is never printed or counted, and never lost. On a
 *   tap (a temporary queue of copies) or a stream (which keeps every message) it is acked; on
 *   a queue it is held unacked and released (nack with requeue) when the channel is closed at
 *   the end, because requeueing it at once to the only consumer would loop hot. Held messages
 *   use the prefetch window: when they fill it, `onWindowFull` is told once.
 * - Exec: the session settles a printed message through the channel; with --exec that ack
 *   becomes a run of the command (one at a time, body on stdin), and the command's exit
 *   status decides: ack on 0, else nack without requeue (or with, given --exec-requeue).
 *   Closing the channel waits for the runs still queued (each bounded by its timeout);
 *   when interrupted, what did not run goes back to the queue.
 *
 * The screen wraps a Connection: its channels are proxies whose consume() callback, ack() and
 * close() pass through here. Knows nothing of the terminal.
 */
import { spawn } from "node:child_process";
import type { Channel, ConsumeMessage } from "amqplib";
import type { Expression } from "../config/expression.js";
import { factsOf } from "../config/expression.js";
import type { Connection } from "./connect.js";
import { streamOffsetOf } from "./consumer.js";

export interface ExecOptions {
  /** Run through the shell. */
  command: string;
  timeoutMs: number;
  /** A failed run requeues the message instead of nacking it without requeue. */
  requeue: boolean;
  /** The environment the command starts from (EVENTLAB_* are added). */
  env: NodeJS.ProcessEnv;
  /** Where the command's stdout and stderr go (eventlab's stderr: data output stays clean). */
  output(chunk: Buffer): void;
  /** Told after each run that failed: exit status, signal or timeout. */
  onFailure?(what: string, message: ConsumeMessage): void;
}

export interface ScreenOptions {
  filter?: Expression | undefined;
  /** Skipped messages are copies (a tap) or kept anyway (a stream): ack them. */
  tap: boolean;
  noAck: boolean;
  /** The prefetch asked for: held messages that reach it stop deliveries. */
  prefetch: number;
  onWindowFull?(held: number): void;
  exec?: ExecOptions | undefined;
  /** Aborted: the run being executed is killed, what did not run goes back. */
  signal: AbortSignal;
}

export interface ScreenCounts {
  matched: number;
  skipped: number;
  /** Skipped messages held and then handed back to the queue at the end. */
  released: number;
  execAcked: number;
  execNacked: number;
  execRequeued: number;
  /** Of the failed runs, those killed past --exec-timeout. */
  execTimedOut: number;
  /** Printed but not run because the command was interrupted: back in the queue. */
  execNotRun: number;
}

/** How a run ended; requeue-interrupted: stopped (or never started) because of Ctrl-C. */
type Outcome = "ok" | "failed" | "timeout" | "requeue-interrupted";

interface ExecJob {
  channel: Channel;
  message: ConsumeMessage;
}

export class MessageScreen {
  readonly counts: ScreenCounts = {
    matched: 0,
    skipped: 0,
    released: 0,
    execAcked: 0,
    execNacked: 0,
    execRequeued: 0,
    execTimedOut: 0,
    execNotRun: 0,
  };
  private readonly originals = new WeakMap<object, Connection>();
  /** Skipped messages held unacked, per channel. */
  private readonly held = new Map<Channel, ConsumeMessage[]>();
  private warned = false;
  private readonly jobs: ExecJob[] = [];
  private running: Promise<void> | undefined;
  private killCurrent: (() => void) | undefined;
  /** Messages the session took to print: only their acks become runs of the command. */
  private readonly pending = new WeakSet<ConsumeMessage>();
  /** Channels being closed: release and close go on after the session's bounded wait. */
  private readonly closing = new Set<Promise<void>>();

  /** Whether there is a --filter; whether there is an --exec. */
  get filters(): boolean {
    return this.o.filter !== undefined;
  }
  get execs(): boolean {
    return this.o.exec !== undefined;
  }

  constructor(private readonly o: ScreenOptions) {
    o.signal.addEventListener("abort", () => this.killCurrent?.(), { once: true });
  }

  /** The connection the session is given: same connection, screened channels. */
  wrap(connection: Connection): Connection {
    const model = new Proxy(connection.model, {
      get: (target, prop) => {
        if (prop === "createChannel")
          return async () => this.screenChannel(await target.createChannel());
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const wrapped: Connection = {
      model,
      get address() {
        return connection.address;
      },
      get closeReason() {
        return connection.closeReason;
      },
      get closed() {
        return connection.closed;
      },
      get whenClosed() {
        return connection.whenClosed;
      },
      close: () => connection.close(),
      corkTurn: () => connection.corkTurn(),
    };
    this.originals.set(wrapped, connection);
    return wrapped;
  }

  /** The connection a wrapped one stands for (a Link knows its connections by identity). */
  unwrap(connection: Connection): Connection {
    return this.originals.get(connection) ?? connection;
  }

  private screenChannel(channel: Channel): Channel {
    channel.on("close", () => {
      // The broker has the unsettled messages back; nothing is to be released on it.
      this.held.delete(channel);
      this.dropJobs(channel);
    });
    return new Proxy(channel, {
      get: (target, prop) => {
        if (prop === "consume")
          return (
            queue: string,
            onMessage: (m: ConsumeMessage | null) => void,
            options?: Parameters<Channel["consume"]>[2],
          ) =>
            target.consume(
              queue,
              (m) => {
                if (m === null) onMessage(m);
                else if (this.pass(target, m)) {
                  // Marked only afterwards: what the session acks at once, before any output,
                  // is a redelivery it settled already (the ack was lost with a connection),
                  // and the command is not run for it again.
                  onMessage(m);
                  this.pending.add(m);
                }
              },
              options,
            );
        if (prop === "ack" && this.o.exec)
          return (m: ConsumeMessage) => {
            if (this.pending.has(m)) {
              this.pending.delete(m);
              this.enqueue({ channel: target, message: m });
            } else target.ack(m);
          };
        if (prop === "close")
          return () => {
            const closing = this.closeChannel(target);
            this.closing.add(closing);
            return closing.finally(() => this.closing.delete(closing));
          };
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
  }

  /** Whether a delivery goes on to the session; a skipped one is acked or held. */
  private pass(channel: Channel, m: ConsumeMessage): boolean {
    const filter = this.o.filter;
    if (filter === undefined || filter.test(factsOf(m))) {
      if (filter !== undefined) this.counts.matched += 1;
      return true;
    }
    this.counts.skipped += 1;
    if (this.o.noAck) return false;
    if (this.o.tap || streamOffsetOf(m) !== undefined) {
      channel.ack(m);
      return false;
    }
    const list = this.held.get(channel) ?? [];
    list.push(m);
    this.held.set(channel, list);
    if (!this.warned && this.o.prefetch > 0 && list.length >= this.o.prefetch) {
      this.warned = true;
      this.o.onWindowFull?.(list.length);
    }
    return false;
  }

  /** Held skipped messages back to the queue, then the channel closed. */
  private async closeChannel(channel: Channel): Promise<void> {
    await this.drain();
    const list = this.held.get(channel) ?? [];
    this.held.delete(channel);
    for (const m of list) {
      try {
        channel.nack(m, false, true);
        this.counts.released += 1;
      } catch {
        // the channel went meanwhile: the broker requeues them itself
      }
    }
    await channel.close();
  }

  /** What was waiting to run on a channel that closed: the broker delivers it again. */
  private dropJobs(channel: Channel): void {
    for (let i = this.jobs.length - 1; i >= 0; i--) {
      if (this.jobs[i]?.channel === channel) this.jobs.splice(i, 1);
    }
  }

  private enqueue(job: ExecJob): void {
    this.jobs.push(job);
    this.running ??= this.work().finally(() => {
      this.running = undefined;
    });
  }

  /** Wait for queued runs to end (each is bounded by its timeout). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Wait until the channels being closed released what they held and closed: the session
   * waits for a close only a few seconds, and runs of the command may take longer.
   */
  async settled(): Promise<void> {
    await this.drain();
    while (this.closing.size > 0) await Promise.allSettled([...this.closing]);
  }

  private async work(): Promise<void> {
    for (let job = this.jobs.shift(); job !== undefined; job = this.jobs.shift()) {
      if (this.o.signal.aborted) {
        this.settle(job, "requeue-interrupted");
        continue;
      }
      const outcome = await this.run(job.message);
      this.settle(job, outcome);
    }
  }

  private settle({ channel, message }: ExecJob, outcome: Outcome): void {
    const exec = this.o.exec;
    try {
      if (outcome === "ok") {
        channel.ack(message);
        this.counts.execAcked += 1;
      } else if (outcome === "requeue-interrupted") {
        channel.nack(message, false, true);
        this.counts.execNotRun += 1;
      } else {
        if (outcome === "timeout") this.counts.execTimedOut += 1;
        channel.nack(message, false, exec?.requeue === true);
        if (exec?.requeue) this.counts.execRequeued += 1;
        else this.counts.execNacked += 1;
      }
    } catch {
      // the channel closed: the broker delivers the message again
    }
  }

  /** One run of the command for one message. */
  private run(message: ConsumeMessage): Promise<Outcome> {
    const exec = this.o.exec;
    if (exec === undefined) return Promise.resolve("ok");
    return new Promise((resolve) => {
      const child = spawn(exec.command, {
        shell: true,
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
        env: { ...exec.env, ...execEnv(message) },
      });
      let timedOut = false;
      let settled = false;
      const killGroup = (signal: NodeJS.Signals) => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, signal);
        } catch {
          // already gone
        }
      };
      let hardKill: NodeJS.Timeout | undefined;
      const stop = () => {
        killGroup("SIGTERM");
        hardKill = setTimeout(() => killGroup("SIGKILL"), 1000);
      };
      const timer = setTimeout(() => {
        timedOut = true;
        stop();
      }, exec.timeoutMs);
      this.killCurrent = stop;
      const done = (outcome: Outcome, what: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (hardKill) clearTimeout(hardKill);
        this.killCurrent = undefined;
        if (outcome === "failed" || outcome === "timeout") exec.onFailure?.(what, message);
        resolve(outcome);
      };
      child.stdout.on("data", (chunk: Buffer) => exec.output(chunk));
      child.stderr.on("data", (chunk: Buffer) => exec.output(chunk));
      // A command that does not read its stdin closes it: that is not a failure of its own.
      child.stdin.on("error", () => {});
      child.stdin.end(message.content);
      child.on("error", (err) => done("failed", `could not start: ${err.message}`));
      child.on("close", (code, signal) => {
        if (timedOut) done("timeout", `killed after ${exec.timeoutMs} ms (--exec-timeout)`);
        else if (code === 0) done("ok", "");
        // Stopped by Ctrl-C: not the command's failure; the message goes back to the queue.
        else if (this.o.signal.aborted) done("requeue-interrupted", "");
        else done("failed", code !== null ? `exit status ${code}` : `killed by ${signal}`);
      });
    });
  }
}

/** The environment a run gets, besides the inherited one. */
export function execEnv(message: ConsumeMessage): Record<string, string> {
  const id = message.properties.messageId as unknown;
  return {
    EVENTLAB_EXCHANGE: message.fields.exchange,
    EVENTLAB_ROUTING_KEY: message.fields.routingKey,
    EVENTLAB_MESSAGE_ID: typeof id === "string" ? id : "",
    EVENTLAB_REDELIVERED: message.fields.redelivered ? "true" : "false",
    EVENTLAB_HEADERS: JSON.stringify(message.properties.headers ?? {}, (_k, v: unknown) =>
      typeof v === "bigint" ? Number(v) : v,
    ),
  };
}

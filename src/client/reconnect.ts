/**
 * A connection that comes back: when the broker goes away, `Link` connects again, to the next
 * node of the URL list first, with exponential backoff and jitter, until it is back or the
 * policy gives up (attempts, time, Ctrl-C, or an error that another try cannot fix).
 *
 * It does not hide the loss. Whoever used the connection (a publisher, a consumer) sees its
 * channel close, asks `recover()` for a live connection, and opens what it needs on it again.
 * Several users share one reconnect: the first to ask starts it, the others wait for it.
 */
import { EventlabError } from "../errors.js";
import type { Connection } from "./connect.js";
import { parseBrokerUrl } from "./url.js";

export interface ReconnectPolicy {
  /** Tries after a loss, each one a pass over every URL; 0: do not reconnect. */
  attempts: number;
  /** Give up when no connection is back this long after the loss (ms); Infinity: no bound. */
  timeoutMs: number;
  /** The pause before the second try; it doubles up to maxDelayMs, with jitter. */
  initialDelayMs?: number | undefined;
  maxDelayMs?: number | undefined;
}

export const DEFAULT_RECONNECT: ReconnectPolicy = { attempts: 10, timeoutMs: 60_000 };
const INITIAL_DELAY_MS = 100;
const MAX_DELAY_MS = 5000;

/** One reconnect, as the summaries report it. */
export interface Reconnect {
  /** When the loss was seen (ISO time). */
  at: string;
  from: string;
  to: string;
  /** From the loss to the new connection. */
  downMs: number;
  attempts: number;
  reason: string;
}

export type LinkEvent =
  | { kind: "lost"; url: string; reason: string }
  | { kind: "retry"; attempt: number; delayMs: number; error: string }
  | { kind: "reconnected"; reconnect: Reconnect }
  | { kind: "gave-up"; attempts: number; downMs: number; error: string };

export interface LinkOptions {
  /** Open a connection to the first of `urls` that answers (the context's connect). */
  open(urls: readonly string[]): Promise<Connection>;
  urls: readonly string[];
  policy: ReconnectPolicy;
  signal: AbortSignal;
  onEvent?(event: LinkEvent): void;
}

/** Why a connection closed decides whether to connect again: a refused login will not heal. */
export function isTransient(reason: Error | undefined): boolean {
  if (reason === undefined) return true;
  const code = (reason as { code?: unknown }).code;
  // AMQP replies: 320 connection-forced (a node stopping, an operator closing the
  // connection) and 541 internal-error are worth another try; 403, 530 and the 50x protocol
  // errors are not.
  if (typeof code === "number") return code === 320 || code === 541;
  return true;
}

export class Link {
  readonly reconnects: Reconnect[] = [];
  private current: Connection;
  private recovering: Promise<Connection | undefined> | undefined;
  private givenUp: EventlabError | undefined;
  private gaveUp = false;
  private closed = false;
  /** Where the next pass starts: after the node just lost. */
  private next = 0;

  private constructor(
    private readonly o: LinkOptions,
    first: Connection,
  ) {
    this.current = first;
    this.next = this.indexAfter(first);
  }

  static async open(o: LinkOptions): Promise<Link> {
    return new Link(o, await o.open(o.urls));
  }

  get connection(): Connection {
    return this.current;
  }

  /** The URLs it may connect to, in the order of this run. */
  get urls(): readonly string[] {
    return this.o.urls;
  }

  /**
   * Why the link gave up after trying to reconnect. Undefined when it did not try (reconnect
   * off, or a loss no retry heals): then the lost connection's own reason says it best.
   */
  get failure(): EventlabError | undefined {
    return this.givenUp;
  }

  /** True once the link gave up: nothing more will connect. */
  get done(): boolean {
    return this.gaveUp || this.closed;
  }

  /** True while a reconnect is under way. */
  get reconnecting(): boolean {
    return this.recovering !== undefined;
  }

  /**
   * A live connection after `lost` closed: the current one when someone else has already
   * reconnected, a new one, or undefined when the link gives up (see `failure`).
   */
  recover(lost: Connection): Promise<Connection | undefined> {
    if (this.closed || this.gaveUp) return Promise.resolve(undefined);
    if (lost !== this.current && !this.current.closed) return Promise.resolve(this.current);
    this.recovering ??= this.reconnect(lost).finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.current.close();
  }

  private async reconnect(lost: Connection): Promise<Connection | undefined> {
    const { policy, signal } = this.o;
    const reason = lost.closeReason;
    const started = performance.now();
    const at = new Date().toISOString();
    const why = reason?.message ?? "the connection closed";
    this.o.onEvent?.({ kind: "lost", url: lost.address.display, reason: why });
    if (!isTransient(reason) || policy.attempts <= 0) {
      return this.giveUp(0, started, why, reason);
    }
    let last: unknown = reason;
    for (let attempt = 1; attempt <= policy.attempts; attempt++) {
      if (attempt > 1) {
        const delayMs = backoff(attempt - 1, policy);
        const left = started + policy.timeoutMs - performance.now();
        if (left <= 0) break;
        this.o.onEvent?.({ kind: "retry", attempt, delayMs, error: messageOf(last) });
        if (!(await pause(Math.min(delayMs, left), signal))) break;
      }
      if (signal.aborted || this.closed) break;
      try {
        const connection = await this.o.open(this.rotated());
        if (this.closed || signal.aborted) {
          await connection.close();
          break;
        }
        return this.reconnected(connection, lost, at, started, attempt, why);
      } catch (err) {
        last = err;
        if (err instanceof EventlabError && (err.code === "auth" || err.code === "vhost"))
          return this.giveUp(attempt, started, err.message, err);
      }
      if (performance.now() - started >= policy.timeoutMs) {
        return this.giveUp(attempt, started, messageOf(last), last);
      }
    }
    return this.giveUp(policy.attempts, started, messageOf(last), last);
  }

  private reconnected(
    connection: Connection,
    lost: Connection,
    at: string,
    started: number,
    attempts: number,
    reason: string,
  ): Connection {
    this.current = connection;
    this.next = this.indexAfter(connection);
    const reconnect: Reconnect = {
      at,
      from: lost.address.display,
      to: connection.address.display,
      downMs: Math.round(performance.now() - started),
      attempts,
      reason,
    };
    this.reconnects.push(reconnect);
    this.o.onEvent?.({ kind: "reconnected", reconnect });
    return connection;
  }

  private giveUp(attempts: number, started: number, error: string, cause: unknown): undefined {
    const downMs = Math.round(performance.now() - started);
    this.gaveUp = true;
    if (attempts === 0 || this.o.signal.aborted || this.closed) return undefined;
    this.o.onEvent?.({ kind: "gave-up", attempts, downMs, error });
    this.givenUp =
      cause instanceof EventlabError && (cause.code === "auth" || cause.code === "vhost")
        ? cause
        : new EventlabError(
            "connection",
            `the connection to the broker was lost and did not come back after ${attempts === 1 ? "1 try" : `${attempts} tries`} in ${Math.round(downMs / 100) / 10}s (${error})`,
            {
              hint: "check that the broker is running; --reconnect forever and --reconnect-timeout wait longer, and more --url flags name other nodes",
              cause,
            },
          );
    return undefined;
  }

  /** The URLs in the order of the next pass: from the one after the node lost, round. */
  private rotated(): string[] {
    const urls = this.o.urls;
    const start = this.next % urls.length;
    return [...urls.slice(start), ...urls.slice(0, start)];
  }

  private indexAfter(connection: Connection): number {
    const shown = connection.address.display;
    const i = this.o.urls.findIndex((u) => parseBrokerUrl(u).display === shown);
    return i < 0 ? 0 : i + 1;
  }
}

/** Full jitter over an exponential step: half of the step fixed, half random. */
export function backoff(step: number, policy: ReconnectPolicy, random = Math.random): number {
  const initial = policy.initialDelayMs ?? INITIAL_DELAY_MS;
  const max = policy.maxDelayMs ?? MAX_DELAY_MS;
  const ceiling = Math.min(max, initial * 2 ** (step - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Wait, or stop early on abort; false when aborted. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(ok);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err ?? "unknown");
}

/**
 * The scenario's clock for faults: each fault starts at its `at` (from the start of
 * producing) and, when it lasts, ends `for` later. Faults on the run's own producers and
 * consumers go to them; faults on the broker, the network and the nodes go to the stage.
 * Every fault is written in the event log and on the timeline, and whatever is still in
 * effect when the run ends is undone (the network healed, the alarm cleared, stopped nodes
 * started again), so a run leaves the stage as it found it.
 */
import { elapsed } from "../ui/format.js";
import type { Fault } from "./faults.js";
import { describeFault, lasts } from "./faults.js";
import type { ConsumerGroup } from "./groups.js";
import type { ProducerRun } from "./producers.js";
import type { RunState } from "./state.js";

/** How long a fault lasts when it lasts and its `for` is not given. */
const DEFAULT_FOR_MS = { pause: 2000, restart: 1000, crash: 1000, network: 2000, node: 5000 };

export interface InjectorParts {
  groups: readonly ConsumerGroup[];
  producers: readonly ProducerRun[];
  /** Declare the run's topology on a restarted broker, given its URL, before clients return. */
  prepare(url: string): Promise<void>;
  /** The broker's consumer timeout, when known: an ack-timeout fault holds acks past it. */
  consumerTimeoutMs?: number | undefined;
}

export class Injector {
  private readonly timers: NodeJS.Timeout[] = [];
  /** What to do to end each fault still in effect, by a key of what it holds. */
  private readonly undo = new Map<string, () => Promise<void> | void>();
  private readonly work = new Set<Promise<void>>();
  private blockedSince: number | undefined;
  private over = false;

  constructor(
    private readonly run: RunState,
    private readonly parts: InjectorParts,
  ) {}

  start(faults: readonly Fault[]): void {
    for (const f of faults) this.when(f.at, () => this.track(this.begin(f)));
  }

  /**
   * Call fn once the run's clock reads atMs. Node's timers can fire a millisecond early by the
   * wall clock (they count from the event loop's cached time), and a fault must never begin, or
   * end, before the time its scenario gives: an early timer waits out the rest.
   */
  private when(atMs: number, fn: () => void): void {
    const wait = atMs - (Date.now() - this.run.started);
    if (wait <= 0) fn();
    else this.timers.push(setTimeout(() => this.when(atMs, fn), wait));
  }

  /** Stop: pending faults never happen; those in effect are undone; work under way finishes. */
  async stop(): Promise<void> {
    this.over = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.allSettled([...this.work]);
    for (const [key, end] of [...this.undo]) {
      this.undo.delete(key);
      await Promise.resolve(end()).catch(() => {});
    }
    this.endBlock();
  }

  private track(p: Promise<void>): void {
    this.run.faultsUnderway += 1;
    const w = p
      .catch((err: unknown) => {
        this.run.event(`fault failed: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => {
        this.run.faultsUnderway -= 1;
        this.work.delete(w);
      });
    this.work.add(w);
  }

  private forOf(f: Fault): number {
    if (f.for !== undefined) return f.for;
    if (f.kind === "consumer" && f.action === "ack-timeout") {
      return (this.parts.consumerTimeoutMs ?? 1000) + 1000;
    }
    if (f.kind === "consumer" || f.kind === "producer")
      return DEFAULT_FOR_MS[f.action === "crash" ? "crash" : "pause"];
    if (f.kind === "broker") return DEFAULT_FOR_MS.restart;
    return f.kind === "node" ? DEFAULT_FOR_MS.node : DEFAULT_FOR_MS.network;
  }

  /** Start a fault; a lasting one gets its end scheduled (or, for a restart, lasts while it runs). */
  private async begin(f: Fault): Promise<void> {
    if (this.over) return;
    const ms = this.forOf(f);
    const shown = lasts(f) ? { ...f, for: ms } : f;
    const entry = { atMs: Date.now() - this.run.started, what: describeFault(shown) } as {
      atMs: number;
      what: string;
      endMs?: number;
    };
    this.run.timeline.push(entry);
    this.run.event(`fault: ${entry.what}`);
    const ended = () => {
      entry.endMs = Date.now() - this.run.started;
    };
    const end = await this.apply(f, ms, ended);
    const appliedAt = Date.now() - this.run.started;
    if (!end) {
      // Consumers and producers end their pauses and restarts by themselves.
      if (lasts(f) && f.kind !== "broker") entry.endMs = entry.atMs + ms;
      else entry.endMs ??= Date.now() - this.run.started;
      return;
    }
    const key = `${describeFault({ ...f, for: undefined })}@${this.timers.length}:${entry.atMs}`;
    this.undo.set(key, async () => {
      await end();
      ended();
    });
    // A lasting fault lasts its time from when it took effect (a node stop can take seconds).
    this.when(appliedAt + ms, () => {
      const u = this.undo.get(key);
      if (!u || this.over) return;
      this.undo.delete(key);
      this.track(Promise.resolve(u()).then(() => this.run.event(`fault over: ${entry.what}`)));
    });
  }

  /** Do it; returns how to end it when it lasts and ends by itself later, else undefined. */
  private async apply(
    f: Fault,
    ms: number,
    ended: () => void,
  ): Promise<(() => Promise<void> | void) | undefined> {
    const stage = this.run.options.stage;
    switch (f.kind) {
      case "consumer": {
        const g = this.parts.groups.find((x) => x.name === f.consumer);
        if (!g) return undefined;
        if (f.action === "kill") await g.kill();
        else if (f.action === "pause") g.pause(ms);
        else if (f.action === "ack-timeout") g.holdAcks(ms);
        else await g.cut();
        return undefined;
      }
      case "producer": {
        const p = this.parts.producers.find((x) => x.name === f.producer);
        if (f.action === "crash") p?.crash(ms);
        else p?.pause(ms);
        return undefined;
      }
      case "broker": {
        const broker = stage?.broker;
        if (!broker) throw new Error("broker faults need the embedded broker");
        if (f.action === "restart") {
          const atMs = Date.now() - this.run.started;
          const { dataDir } = await broker.restart(ms, (url) => this.parts.prepare(url));
          this.run.restarts.push({ atMs, dataDir });
          this.run.event(
            `broker is back after ${elapsed(Date.now() - this.run.started - atMs)}${dataDir ? " (on its data directory)" : " (empty: no data directory)"}`,
          );
          ended();
          return undefined;
        }
        if (f.action === "unblock") {
          broker.block(false);
          this.endBlock();
          return undefined;
        }
        broker.block(true);
        this.blockedSince ??= Date.now();
        return () => {
          broker.block(false);
          this.endBlock();
        };
      }
      case "network": {
        const net = stage?.network;
        if (!net) throw new Error("network faults need the fault proxy");
        const tags = this.tagsOf(f.target);
        const each = (fn: (tag?: string) => void) => {
          for (const t of tags) fn(t);
        };
        if (f.action === "cut") each((t) => net.cut(t));
        else if (f.action === "reset") each((t) => net.reset(t));
        else if (f.action === "blackhole") {
          each((t) => net.blackhole(true, t));
          return () => each((t) => net.blackhole(false, t));
        } else {
          const shape =
            f.action === "latency"
              ? { delayMs: f.delayMs ?? 0, jitterMs: f.jitterMs ?? 0 }
              : { bytesPerSecond: f.bytesPerSecond ?? 0 };
          each((t) => net.shape(shape, t));
          return () => each((t) => net.shape({}, t));
        }
        return undefined;
      }
      case "node": {
        const nodes = stage?.nodes;
        if (!nodes) throw new Error("node faults need a cluster");
        if (f.action === "start") {
          await nodes.start(f.node);
          return undefined;
        }
        await nodes.stop(f.node);
        this.run.event(`node ${f.node} stopped`);
        return async () => {
          await nodes.start(f.node);
          this.run.event(`node ${f.node} started again`);
        };
      }
    }
  }

  /** The proxy tags of a network fault's target: every connection, or a producer's and a consumer's of that name. */
  private tagsOf(target: string): Array<string | undefined> {
    if (target === "all") return [undefined];
    const tags: string[] = [];
    if (this.parts.producers.some((p) => p.name === target)) tags.push(`producer:${target}`);
    if (this.parts.groups.some((g) => g.name === target)) tags.push(`consumer:${target}`);
    return tags;
  }

  private endBlock(): void {
    if (this.blockedSince === undefined) return;
    this.run.blockedMs += Date.now() - this.blockedSince;
    this.blockedSince = undefined;
  }
}

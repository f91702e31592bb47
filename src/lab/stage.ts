/**
 * The stage a scenario plays on, and what its faults act on besides its own producers and
 * consumers: the broker (the embedded one can be restarted and blocked), the network between
 * each producer or consumer and the broker (a fault proxy in front of every broker URL, one
 * listener per producer and consumer, so a fault can hit one of them or all), and the nodes
 * of a cluster that `eventlab cluster up` started.
 *
 * The proxy is put in only when a fault needs it: network faults, and broker restarts (the
 * restarted embedded broker listens on a new port, and the proxy points there once the
 * broker is ready, so no client reaches it half set up).
 */
import type { BrokerOptions, RunningBroker } from "../broker/index.js";
import { startBroker } from "../broker/index.js";
import { readRecord, startNode, stopNode } from "../cluster/index.js";
import { EventlabError } from "../errors.js";
import { type FaultProxy, type LinkFaults, startProxy } from "../net/proxy.js";
import type { Fault } from "./faults.js";

/** What the runner's faults call. Each part is there only when the stage can do it. */
export interface Stage {
  broker?: {
    /**
     * Stop the embedded broker (clients see 320 CONNECTION_FORCED), keep it down `downMs`,
     * start it again on its data directory if it has one, run `prepare` on it (given its own
     * URL), then let clients back. Resolves with whether it kept a data directory.
     */
    restart(downMs: number, prepare: (url: string) => Promise<void>): Promise<{ dataDir: boolean }>;
    /** Raise (or clear) a memory alarm: publishers get connection.blocked. */
    block(on: boolean): void;
  };
  network?: {
    cut(tag?: string): void;
    reset(tag?: string): void;
    blackhole(on: boolean, tag?: string): void;
    shape(faults: LinkFaults, tag?: string): void;
  };
  nodes?: {
    stop(n: number): Promise<void>;
    start(n: number): Promise<void>;
  };
}

export interface StageOptions {
  /** The broker URLs the run was given, or the embedded broker's. */
  urls: readonly string[];
  /** The embedded broker in this process, with the options it was started with. */
  embedded?: { broker: RunningBroker; options: BrokerOptions } | undefined;
  /** The faults the scenario (or an exploration) may inflict. */
  faults: readonly Fault[];
  /** Every tag a connection of the run may carry (`producer:<t>`, `consumer:<c>`). */
  tags: readonly string[];
  /** A cluster's directory, for node faults. */
  clusterDir?: string | undefined;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
}

export interface OpenStage {
  stage: Stage;
  /** The URLs a connection with this tag uses (through the proxy when there is one). */
  urlsFor(tag?: string): string[];
  /** The embedded broker now (a restart replaces it). */
  embedded(): RunningBroker | undefined;
  close(): Promise<void>;
}

function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  const port = u.port ? Number(u.port) : u.protocol === "amqps:" ? 5671 : 5672;
  return { host: u.hostname.replace(/^\[|\]$/g, ""), port };
}

export async function openStage(o: StageOptions): Promise<OpenStage> {
  const needs = (kind: Fault["kind"]) => o.faults.some((f) => f.kind === kind);
  if (needs("broker") && !o.embedded) {
    throw new EventlabError("usage", "broker faults (restart, block) need the embedded broker", {
      hint: "run the scenario without --url, or drop its broker faults; on RabbitMQ, use node faults on a cluster from `eventlab cluster up`",
    });
  }
  if (needs("node") && (o.clusterDir === undefined || !(await readRecord(o.clusterDir)))) {
    const where = o.clusterDir === undefined ? "" : ` (there is none in ${o.clusterDir})`;
    throw new EventlabError(
      "usage",
      `node faults need a cluster started by \`eventlab cluster up\`${where}`,
      {
        hint: "start one (eventlab cluster up), and play on it: --url once per node URL (eventlab cluster status shows them), and --cluster-dir if it is not in the default directory",
      },
    );
  }
  let current = o.embedded?.broker;
  const proxies: FaultProxy[] = [];
  if (needs("network") || needs("broker")) {
    for (const url of o.urls) {
      proxies.push(await startProxy({ target: hostPort(url), tags: o.tags }));
    }
  }
  const all = (f: (p: FaultProxy) => void) => {
    for (const p of proxies) f(p);
  };
  const scope = (tag?: string) => (tag === undefined ? {} : { tag });
  const stage: Stage = {};
  if (proxies.length > 0) {
    stage.network = {
      cut: (tag) => all((p) => p.cut(scope(tag))),
      reset: (tag) => all((p) => p.reset(scope(tag))),
      blackhole: (on, tag) => all((p) => p.blackhole(on, scope(tag))),
      shape: (faults, tag) => all((p) => p.shape(faults, scope(tag))),
    };
  }
  const embedded = o.embedded;
  if (embedded) {
    stage.broker = {
      async restart(downMs, prepare) {
        all((p) => p.refuse(true));
        try {
          await current?.close();
          await new Promise((r) => setTimeout(r, downMs));
          current = await startBroker({ ...embedded.options, port: 0 });
          await prepare(current.url);
          const target = { host: current.host, port: current.port };
          all((p) => p.retarget(target));
        } finally {
          all((p) => p.refuse(false));
        }
        return { dataDir: embedded.options.dataDir !== undefined };
      },
      block: (on) => current?.alarm(on),
    };
  }
  const dir = o.clusterDir;
  if (dir !== undefined) {
    const deps = { env: o.env, signal: o.signal };
    stage.nodes = {
      stop: async (n) => void (await stopNode(dir, n, deps)),
      start: async (n) => void (await startNode(dir, n, deps)),
    };
  }
  return {
    stage,
    urlsFor: (tag) =>
      proxies.length === 0
        ? [...o.urls]
        : o.urls.map((u, i) => (proxies[i] as FaultProxy).urlFor(u, tag)),
    embedded: () => current,
    async close() {
      await Promise.all(proxies.map((p) => p.close()));
      if (current !== embedded?.broker) await current?.close();
    },
  };
}

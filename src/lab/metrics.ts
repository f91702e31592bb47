/**
 * The playground's own Prometheus metrics (`eventlab play --metrics-port`): what the live
 * view shows, as counters with an `eventlab_` prefix (published, confirmed; processed,
 * failed, retried per consumer; duplicates and lost per queue) and a histogram of delivery
 * latency, from the producer's publish to the consumer's ack. Fed by the run's snapshots
 * (about 4 a second) and its consumers' decisions; served at /metrics by a small node:http
 * server on 127.0.0.1 that closes with the run.
 */
import { createServer } from "node:http";
import { Buckets, CONTENT_TYPE, Exposition, type Sample } from "../broker/http/exposition.js";
import { EventlabError } from "../errors.js";
import type { DecisionEvent, PlayReport, Snapshot } from "./types.js";

/** Upper bounds of the latency histogram, seconds: 1 ms to a minute (retries take long). */
export const LATENCY_BOUNDS_S: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

export class PlayMetrics {
  private snapshot: Snapshot | undefined;
  private readonly latency = new Map<string, Buckets>();
  private lost: PlayReport["queues"] | undefined;

  /** The run's state now (its counters only grow: they are read as they are). */
  update(s: Snapshot): void {
    this.snapshot = s;
  }

  /** A consumer's decision: an ack with a known publish time is one latency observation. */
  decided(e: DecisionEvent): void {
    if (e.outcome !== "ack" || e.latencyMs === undefined) return;
    let b = this.latency.get(e.consumer);
    if (!b) {
      b = new Buckets(LATENCY_BOUNDS_S);
      this.latency.set(e.consumer, b);
    }
    b.observe(Math.max(0, e.latencyMs) / 1000);
  }

  /** The report at the end: the delivery checker's lost copies are known only then. */
  finish(report: PlayReport): void {
    this.lost = report.queues;
    this.snapshot = this.snapshot && {
      ...this.snapshot,
      published: report.published,
      confirmed: report.confirmed,
      consumers: report.consumers,
    };
  }

  render(): string {
    const s = this.snapshot;
    const x = new Exposition();
    const one = (v: number | undefined): Sample[] => [{ value: v ?? 0 }];
    const consumers = s?.consumers ?? [];
    const perConsumer = (pick: (c: Snapshot["consumers"][number]) => number): Sample[] =>
      consumers.map((c) => ({ labels: { consumer: c.name, queue: c.queue }, value: pick(c) }));
    x.family(
      "eventlab_published_total",
      "counter",
      "Messages the playground's producers published",
      one(s?.published),
    );
    x.family(
      "eventlab_confirmed_total",
      "counter",
      "Published messages the broker confirmed",
      one(s?.confirmed),
    );
    x.family(
      "eventlab_processed_total",
      "counter",
      "Messages of this run a consumer processed and acknowledged",
      perConsumer((c) => c.processed),
    );
    x.family(
      "eventlab_failed_total",
      "counter",
      "Messages whose processing failed (requeued, rejected, retried or dead-lettered)",
      perConsumer((c) => c.failed),
    );
    x.family(
      "eventlab_retried_total",
      "counter",
      "Messages a consumer sent to a retry queue",
      perConsumer((c) => c.retried),
    );
    x.family(
      "eventlab_duplicates_total",
      "counter",
      "Repeated deliveries a consumer recognised as duplicates",
      (s?.queues ?? []).map((q) => ({ labels: { queue: q.name }, value: q.duplicates })),
    );
    const lostByQueue = new Map((this.lost ?? []).map((q) => [q.name, q.lost]));
    const queueNames = new Set([...(s?.queues ?? []).map((q) => q.name), ...lostByQueue.keys()]);
    x.family(
      "eventlab_lost_total",
      "counter",
      "Confirmed copies nobody consumed (the delivery checker's lost; counted when the run ends)",
      [...queueNames].map((name) => ({
        labels: { queue: name },
        value: lostByQueue.get(name) ?? 0,
      })),
    );
    x.histogram(
      "eventlab_delivery_latency_seconds",
      "Time from a producer's publish to the consumer's ack, seconds",
      LATENCY_BOUNDS_S,
      [...this.latency].map(([consumer, b]) => ({
        labels: { consumer },
        counts: b.counts,
        sum: b.sum,
      })),
    );
    return x.text();
  }
}

export interface MetricsServer {
  /** http://127.0.0.1:<port>/metrics */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serve `render()` at GET /metrics on `host` (default 127.0.0.1); port 0 picks a free one. */
export function serveMetrics(
  render: () => string,
  port: number,
  host = "127.0.0.1",
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end("not found: the metrics are at /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" });
      res.end();
      return;
    }
    let body: string;
    try {
      body = render();
    } catch (err) {
      res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      res.end(`${err instanceof Error ? err.message : String(err)}\n`);
      return;
    }
    res.writeHead(200, { "content-type": CONTENT_TYPE });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : port;
      const shown = host.includes(":") ? `[${host}]` : host;
      resolve({
        url: `http://${shown}:${bound}/metrics`,
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/**
 * `play --metrics-port`: the run's metrics and their server, or an error that names the port
 * when it is taken. `close()` stops the server.
 */
export async function startPlayMetrics(
  port: number,
): Promise<{ metrics: PlayMetrics; server: MetricsServer }> {
  const metrics = new PlayMetrics();
  try {
    return { metrics, server: await serveMetrics(() => metrics.render(), port) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new EventlabError("io", `cannot serve metrics on 127.0.0.1:${port} (${code ?? err})`, {
      hint:
        code === "EADDRINUSE"
          ? "the port is taken: choose another --metrics-port, or 0 for a free one"
          : "choose another --metrics-port, or 0 for a free one",
      cause: err,
    });
  }
}

/**
 * The web view's server: a small HTTP server on 127.0.0.1 that serves the page (its script
 * built into dist/web/ by `npm run build`, no CDN), a Server-Sent Events feed (a snapshot, then
 * a tick every 100 ms with the counters, a sample of the message dots and new timeline
 * entries), and two questions: why a binding matches (the route explanation) and a message's
 * story (the ledger). It knows only the data shapes of ./types.ts; what it shows comes from a
 * WebSource (./sources.ts adapts a playground run and a running broker).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pageHtml } from "./page.js";
import type {
  WebDot,
  WebExplanation,
  WebSnapshot,
  WebStats,
  WebStoryEvent,
  WebTick,
  WebTimelineEntry,
  WebTopology,
} from "./types.js";

export interface WebSource {
  topology(): WebTopology;
  stats(): WebStats;
  /** Every timeline entry so far, oldest first (the server sends the new ones). */
  timeline(): WebTimelineEntry[];
  /** Hear of every message dot; returns the unsubscribe. */
  dots(listener: (d: WebDot) => void): () => void;
  explain(
    exchange: string,
    routingKey: string,
    headers: Record<string, unknown>,
  ): WebExplanation | undefined;
  /** A message's events from the ledger; undefined when there is no ledger. */
  story(id: string): WebStoryEvent[] | undefined;
}

export interface WebViewOptions {
  source: WebSource;
  /** 0 (the default) picks a free port. */
  port?: number | undefined;
  host?: string | undefined;
  /** How often counters and dots go out (default 100 ms: 10 updates a second). */
  tickMs?: number | undefined;
  /** Dots sent per tick at most, sampled evenly from all (default 40). */
  maxDotsPerTick?: number | undefined;
}

export interface WebView {
  readonly url: string;
  readonly port: number;
  /** Clients connected to the feed now. */
  readonly clients: number;
  /** Send one last tick now (a run that ended). */
  flush(): void;
  close(): Promise<void>;
}

/** The built page script: dist/web/ of the package this module belongs to. */
export function assetsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, "package.json"))) return path.join(dir, "dist", "web");
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return path.join(path.dirname(fileURLToPath(import.meta.url)), "web");
}

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Dots kept by reservoir sampling: every dot of a tick equally likely to be shown. */
class DotSample {
  private kept: WebDot[] = [];
  seen = 0;
  constructor(private readonly max: number) {}
  add(d: WebDot): void {
    this.seen += 1;
    if (this.kept.length < this.max) this.kept.push(d);
    else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < this.max) this.kept[j] = d;
    }
  }
  take(): { dots: WebDot[]; seen: number } {
    const out = { dots: this.kept, seen: this.seen };
    this.kept = [];
    this.seen = 0;
    return out;
  }
}

export async function startWebView(o: WebViewOptions): Promise<WebView> {
  const source = o.source;
  const tickMs = o.tickMs ?? 100;
  const sample = new DotSample(o.maxDotsPerTick ?? 40);
  const clients = new Set<ServerResponse>();
  const dir = assetsDir();
  let script: Buffer | undefined;
  let seq = 0;
  let sentTimeline = 0;
  let topologyText = "";
  let unsubscribe: (() => void) | undefined;
  let ticker: NodeJS.Timeout | undefined;

  const send = (res: ServerResponse, event: string, data: unknown) => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  const tick = () => {
    const { dots, seen } = sample.take();
    const timeline = source.timeline();
    const fresh = timeline.slice(Math.min(sentTimeline, timeline.length));
    sentTimeline = timeline.length;
    const t: WebTick = {
      seq: ++seq,
      sentAt: Date.now(),
      stats: source.stats(),
      dots,
      events: seen,
      timeline: fresh,
    };
    // The topology is looked at once a second: a queue declared, a binding added.
    if (seq % 10 === 0) {
      const topology = source.topology();
      const text = JSON.stringify(topology);
      if (text !== topologyText) {
        topologyText = text;
        t.topology = topology;
      }
    }
    for (const res of clients) send(res, "tick", t);
  };

  const attach = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    const topology = source.topology();
    topologyText = JSON.stringify(topology);
    const timeline = source.timeline();
    sentTimeline = timeline.length;
    const snapshot: WebSnapshot = {
      topology,
      stats: source.stats(),
      timeline,
      tickMs,
      stories: source.story("") !== undefined,
    };
    send(res, "snapshot", snapshot);
    clients.add(res);
    // Dots are heard only while someone watches.
    unsubscribe ??= source.dots((d) => sample.add(d));
    ticker ??= setInterval(tick, tickMs);
    req.on("close", () => {
      clients.delete(res);
      if (clients.size === 0) {
        unsubscribe?.();
        unsubscribe = undefined;
        if (ticker) clearInterval(ticker);
        ticker = undefined;
      }
    });
  };

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // Only this machine's names: a page elsewhere cannot reach the feed through DNS rebinding.
    const host = (req.headers.host ?? "").replace(/:\d+$/, "");
    if (!LOCAL_HOSTS.has(host)) {
      res.writeHead(403).end();
      return;
    }
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end();
      return;
    }
    switch (url.pathname) {
      case "/":
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(pageHtml());
        return;
      case "/app.js": {
        try {
          script ??= await readFile(path.join(dir, "app.js"));
        } catch {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(`the page's script is missing from ${dir}: run \`npm run build\``);
          return;
        }
        res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
        res.end(script);
        return;
      }
      case "/events":
        attach(req, res);
        return;
      case "/api/explain": {
        let headers: Record<string, unknown> = {};
        const h = url.searchParams.get("headers");
        if (h) {
          try {
            headers = JSON.parse(h) as Record<string, unknown>;
          } catch {
            json(res, 400, { error: "headers must be a JSON object" });
            return;
          }
        }
        const e = source.explain(
          url.searchParams.get("exchange") ?? "",
          url.searchParams.get("key") ?? "",
          headers,
        );
        if (e) json(res, 200, e);
        else json(res, 404, { error: "no such exchange" });
        return;
      }
      case "/api/why": {
        const events = source.story(url.searchParams.get("id") ?? "");
        if (events === undefined) json(res, 404, { error: "no ledger is kept" });
        else json(res, 200, { events });
        return;
      }
      default:
        res.writeHead(404, { "content-type": "text/plain" }).end("not found");
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: String(err) });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, o.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    get clients() {
      return clients.size;
    },
    flush: () => {
      if (clients.size > 0) tick();
    },
    async close() {
      unsubscribe?.();
      unsubscribe = undefined;
      if (ticker) clearInterval(ticker);
      ticker = undefined;
      for (const res of clients) res.end();
      clients.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The management HTTP API's routes over the broker: RabbitMQ's paths, methods, status codes
 * and error bodies ({error, reason}), with the list query parameters tools use (columns,
 * sort, sort_reverse, name with use_regex, page and page_size). Basic authentication with
 * the broker's users; guest only from loopback, as for AMQP.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { AmqpError } from "../errors.js";
import * as act from "./actions.js";
import { exportDefinitions, importDefinitions } from "./definitions.js";
import type { ApiHost } from "./host.js";
import { BadRequest, type Body, type Json } from "./json.js";
import { listQuery } from "./query.js";
import { Rates } from "./rates.js";
import { Summary } from "./summary.js";
import {
  allBindings,
  bindingJson,
  channelJson,
  connectionJson,
  consumerJson,
  exchangeJson,
  propertiesKey,
  queueCounters,
  queueJson,
  VHOST,
  type ViewContext,
} from "./views.js";

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const notFound = () => new HttpError(404, "Object Not Found", "Not Found");

/** An AMQP error as RabbitMQ's API reports it. */
function fromAmqp(err: AmqpError): HttpError {
  const reason = err.replyText.replace(/^[A-Z_]+ - /, "");
  if (err.replyCode === 404) return new HttpError(404, "Object Not Found", reason);
  if (err.replyCode === 403) return new HttpError(403, "access_refused", reason);
  return new HttpError(400, "bad_request", reason);
}

type Handler = (r: Request) => Json | undefined | Promise<Json | undefined>;

interface Request {
  method: string;
  parts: string[];
  query: URLSearchParams;
  body: Body;
  rawBody: unknown;
  user: string;
  res: ServerResponse;
}

function vhostOf(segment: string | undefined): void {
  if (segment !== undefined && segment !== VHOST) throw notFound();
}

const MAX_BODY = 64 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, "bad_request", "request body too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return true;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

export class ManagementApi {
  private readonly rates: Rates;
  private readonly ctx: ViewContext;
  private readonly summary: Summary;
  private readonly clusterId =
    `rabbitmq-cluster-id-${randomBytes(16).toString("base64url").slice(0, 22)}`;

  constructor(private readonly host: ApiHost) {
    this.rates = new Rates(() => this.counters());
    this.ctx = { node: host.node, rates: this.rates };
    this.summary = new Summary(host, this.rates, vhostOf);
  }

  close(): void {
    this.rates.close();
  }

  private counters(): Map<string, number> {
    const m = new Map<string, number>();
    for (const q of this.host.vhost.queues.values()) {
      const key = `queue:${q.name}`;
      for (const [name, v] of Object.entries(queueCounters(q))) m.set(`${key}:${name}`, v);
      m.set(`${key}:messages_ready`, q.messageCount);
      m.set(`${key}:messages_unacknowledged`, q.unacked);
      m.set(`${key}:messages`, q.messageCount + q.unacked);
    }
    let ready = 0;
    let unacked = 0;
    for (const q of this.host.vhost.queues.values()) {
      ready += q.messageCount;
      unacked += q.unacked;
    }
    m.set("totals:messages", ready + unacked);
    m.set("totals:messages_ready", ready);
    m.set("totals:messages_unacknowledged", unacked);
    for (const [name, v] of Object.entries(this.host.totals())) m.set(`totals:${name}`, v);
    for (const [name, v] of Object.entries(this.host.churn())) m.set(`churn:${name}`, v);
    m.set("node:disk_free", this.host.diskFree());
    const o = this.host.octets();
    m.set("vhost:recv_oct", o.recv);
    m.set("vhost:send_oct", o.send);
    m.set("node:mem_used", process.memoryUsage().rss);
    return m;
  }

  /** Serve one request; answers everything under /api and /metrics, 404 elsewhere. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (url.pathname === "/metrics" || url.pathname === "/metrics/per-object") {
        const text = this.host.metrics(url.pathname.endsWith("per-object"));
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
        res.end(text);
        return;
      }
      const parts = url.pathname
        .split("/")
        .filter((p, i) => i > 0 && !(p === "" && i === url.pathname.split("/").length - 1))
        .map((p) => decodeURIComponent(p));
      if (parts[0] !== "api") throw notFound();
      const user = this.authenticate(req);
      const raw = req.method === "GET" || req.method === "HEAD" ? "" : await readBody(req);
      let rawBody: unknown = {};
      if (raw.trim() !== "") {
        try {
          rawBody = JSON.parse(raw);
        } catch {
          throw new HttpError(400, "bad_request", "not_json");
        }
      }
      const body = (rawBody && typeof rawBody === "object" ? rawBody : {}) as Body;
      const r: Request = {
        method: req.method ?? "GET",
        parts: parts.slice(1),
        query: url.searchParams,
        body,
        rawBody,
        user,
        res,
      };
      const out = await this.route(r);
      if (res.headersSent) return;
      if (out === undefined) {
        res.writeHead(r.method === "POST" || r.method === "PUT" ? 201 : 204);
        res.end();
        return;
      }
      const json = r.method === "GET" ? listQuery(out, r.query) : out;
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-cache" });
      res.end(JSON.stringify(json));
    } catch (err) {
      this.fail(res, err);
    }
  }

  private fail(res: ServerResponse, err: unknown): void {
    let e: HttpError;
    if (err instanceof HttpError) e = err;
    else if (err instanceof BadRequest) e = new HttpError(400, "bad_request", err.reason);
    else if (err instanceof AmqpError) e = fromAmqp(err);
    else if (err instanceof URIError) e = new HttpError(400, "bad_request", "bad URL encoding");
    else e = new HttpError(500, "internal_server_error", String(err));
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (e.status === 401) headers["www-authenticate"] = 'Basic realm="RabbitMQ Management"';
    res.writeHead(e.status, headers);
    res.end(JSON.stringify({ error: e.error, reason: e.reason }));
  }

  private authenticate(req: IncomingMessage): string {
    const h = req.headers.authorization ?? "";
    const m = /^Basic\s+(.+)$/i.exec(h);
    const refused = new HttpError(401, "not_authorized", "Login failed");
    if (!m?.[1]) throw refused;
    const text = Buffer.from(m[1], "base64").toString("utf8");
    const colon = text.indexOf(":");
    if (colon < 0) throw refused;
    const user = text.slice(0, colon);
    if (!this.host.authenticate(user, text.slice(colon + 1), isLoopback(req.socket.remoteAddress)))
      throw refused;
    return user;
  }

  private route(r: Request): Json | undefined | Promise<Json | undefined> {
    const [top, ...rest] = r.parts;
    const table: Record<string, Handler> = {
      overview: () => this.summary.overview(),
      whoami: () => ({ name: r.user, tags: ["administrator"] }),
      vhosts: () => this.summary.vhosts(rest),
      "aliveness-test": () => {
        vhostOf(rest[0]);
        return { status: "ok" };
      },
      healthchecks: () => ({ status: "ok" }),
      nodes: () => (rest[0] === undefined ? [this.summary.node()] : this.summary.node()),
      users: () => this.host.users.map((name) => ({ name, tags: ["administrator"], limits: {} })),
      permissions: () =>
        this.host.users.map((user) => ({
          user,
          vhost: VHOST,
          configure: ".*",
          write: ".*",
          read: ".*",
        })),
      queues: () => this.queues(r, rest),
      exchanges: () => this.exchanges(r, rest),
      bindings: () => this.bindings(r, rest),
      connections: () => this.connections(r, rest),
      channels: () => this.channels(),
      consumers: () => {
        vhostOf(rest[0]);
        return this.consumers();
      },
      definitions: () => this.definitions(r, rest),
      policies: () => [],
      parameters: () => [],
      "operator-policies": () => [],
      "vhost-limits": () => [],
    };
    const h = top === undefined ? undefined : table[top];
    if (!h) throw notFound();
    const readOnly = ["overview", "whoami", "aliveness-test", "healthchecks", "nodes", "users"];
    const listOnly = ["permissions", "channels", "consumers", "policies", "parameters"];
    if (
      (readOnly.includes(top as string) || listOnly.includes(top as string)) &&
      r.method !== "GET"
    ) {
      throw new HttpError(405, "method_not_allowed", `${r.method} is not allowed here`);
    }
    return h(r);
  }

  private queues(r: Request, rest: string[]): Json | undefined {
    const v = this.host.vhost;
    vhostOf(rest[0]);
    const [, name, sub] = rest;
    if (name === undefined) {
      if (r.method !== "GET") throw new HttpError(405, "method_not_allowed", "use a queue's path");
      return [...v.queues.values(), ...v.streams.values()].map((q) => queueJson(this.ctx, q));
    }
    if (sub === undefined) {
      if (r.method === "PUT") {
        const isNew = act.declareQueue(v, name, r.body);
        return isNew ? undefined : this.noContent(r);
      }
      const q = v.queues.get(name) ?? v.streams.get(name);
      if (!q) throw notFound();
      if (r.method === "DELETE") {
        act.deleteQueue(v, name, r.query);
        return undefined;
      }
      // One queue's view adds its consumers (and, with detailed rates, flows: none here).
      const consumers = this.consumerList().filter(
        (c) => (c["queue"] as { name: string }).name === name,
      );
      return {
        ...queueJson(this.ctx, q),
        consumer_details: consumers,
        incoming: [],
        deliveries: [],
      };
    }
    if (!v.queues.has(name) && !v.streams.has(name)) throw notFound();
    if (sub === "contents" && r.method === "DELETE") {
      v.purgeQueue(0, name);
      return undefined;
    }
    if (sub === "get" && r.method === "POST") {
      const out = act.getMessages(v, name, r.body);
      const mode = String(r.body.ackmode);
      const q = v.queues.get(name);
      if (q && !mode.endsWith("requeue_true") && out.length > 0) {
        const acked = mode === "ack_requeue_false";
        this.host.counted({ kind: "get", queueType: q.settings.type, n: out.length, acked });
      }
      r.res.writeHead(200, { "content-type": "application/json" });
      r.res.end(JSON.stringify(out));
      return undefined;
    }
    if (sub === "bindings" && r.method === "GET") {
      return allBindings(v)
        .filter((b) => b.destination_type === "queue" && b.destination === name)
        .map(bindingJson);
    }
    throw notFound();
  }

  private exchanges(r: Request, rest: string[]): Json | undefined {
    const v = this.host.vhost;
    vhostOf(rest[0]);
    const [, rawName, sub, dir] = rest;
    if (rawName === undefined) {
      if (r.method !== "GET")
        throw new HttpError(405, "method_not_allowed", "use an exchange's path");
      return [...v.exchanges.values()].map((x) =>
        exchangeJson(this.ctx, x, v.exchangeCounts.get(x.name)),
      );
    }
    const name = act.exchangeName(rawName);
    if (sub === undefined) {
      if (r.method === "PUT") {
        const isNew = act.declareExchange(v, name, r.body);
        return isNew ? undefined : this.noContent(r);
      }
      const x = v.exchanges.get(name);
      if (!x) throw notFound();
      if (r.method === "DELETE") {
        v.deleteExchange(name, r.query.get("if-unused") === "true");
        return undefined;
      }
      return {
        ...exchangeJson(this.ctx, x, v.exchangeCounts.get(x.name)),
        incoming: [],
        outgoing: [],
      };
    }
    if (!v.exchanges.has(name)) throw notFound();
    if (sub === "publish" && r.method === "POST") {
      const out = act.publish(v, name, r.body);
      this.host.counted({ kind: "publish", routed: out.routed });
      r.res.writeHead(200, { "content-type": "application/json" });
      r.res.end(JSON.stringify(out));
      return undefined;
    }
    if (sub === "bindings" && (dir === "source" || dir === "destination") && r.method === "GET") {
      return allBindings(v)
        .filter((b) =>
          dir === "source"
            ? b.source === name
            : b.destination_type === "exchange" && b.destination === name,
        )
        .map(bindingJson);
    }
    throw notFound();
  }

  /** 204: a PUT of an object that was there already, or a definitions import. */
  private noContent(r: Request): undefined {
    r.res.writeHead(204);
    r.res.end();
    return undefined;
  }

  private bindings(r: Request, rest: string[]): Json | undefined {
    const v = this.host.vhost;
    vhostOf(rest[0]);
    if (rest.length <= 1) {
      if (r.method !== "GET")
        throw new HttpError(405, "method_not_allowed", "use a binding's path");
      return allBindings(v).map(bindingJson);
    }
    const [, e, source, kind, destination, props] = rest;
    if (e !== "e" || source === undefined || (kind !== "q" && kind !== "e") || !destination) {
      throw notFound();
    }
    const type = kind === "q" ? "queue" : "exchange";
    const src = act.exchangeName(source);
    if (!v.exchanges.has(src)) throw notFound();
    const destExists =
      type === "queue"
        ? v.queues.has(destination) || v.streams.has(destination)
        : v.exchanges.has(destination);
    if (!destExists) throw notFound();
    if (props === undefined) {
      if (r.method === "POST") {
        const row = act.bind(v, src, type, destination, r.body);
        const key = propertiesKey(row.routing_key, row.arguments);
        r.res.writeHead(201, { location: encodeURIComponent(key) });
        r.res.end();
        return undefined;
      }
      if (r.method !== "GET") throw new HttpError(405, "method_not_allowed", "POST to bind");
      return act.bindingsBetween(v, src, type, destination).map(bindingJson);
    }
    const [row] = act.bindingsBetween(v, src, type, destination, props);
    if (!row) throw notFound();
    if (r.method === "DELETE") {
      act.unbind(v, row);
      return undefined;
    }
    return bindingJson(row);
  }

  private connections(r: Request, rest: string[]): Json | undefined {
    const all = this.host.connections();
    const [name, sub] = rest;
    if (name === undefined) return all.map((c) => connectionJson(this.ctx, c));
    const c = all.find((x) => x.name === name);
    if (!c) throw notFound();
    if (sub === "channels") return c.channels.map((ch) => channelJson(this.ctx, c, ch));
    if (r.method === "DELETE") {
      const reason = String(r.res.req.headers["x-reason"] ?? "Closed via management plugin");
      this.host.closeConnection(name, reason);
      return undefined;
    }
    return connectionJson(this.ctx, c);
  }

  private channels(): Json {
    return this.host
      .connections()
      .flatMap((c) => c.channels.map((ch) => channelJson(this.ctx, c, ch)));
  }

  private consumers(): Json {
    return this.consumerList();
  }

  private consumerList(): { [key: string]: Json }[] {
    return this.host
      .connections()
      .flatMap((c) =>
        c.channels.flatMap((ch) => ch.consumers.map((k) => consumerJson(this.ctx, c, ch, k))),
      );
  }

  private definitions(r: Request, rest: string[]): Json | undefined {
    vhostOf(rest[0]);
    const id = {
      version: this.host.version,
      node: this.host.node,
      clusterId: this.clusterId,
      users: [...this.host.users],
      passwordHash: (user: string) => this.host.passwordHash(user),
    };
    if (r.method === "GET") {
      return exportDefinitions(this.host.vhost, id, rest[0] === undefined) as unknown as Json;
    }
    if (r.method === "POST") {
      importDefinitions(this.host.vhost, r.rawBody, id);
      return this.noContent(r);
    }
    throw new HttpError(405, "method_not_allowed", "GET or POST definitions");
  }
}

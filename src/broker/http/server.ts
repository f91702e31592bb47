/**
 * The broker's HTTP listener: the management API (api.ts) and Prometheus metrics
 * (metrics.ts) over one Broker, as RabbitMQ's management and prometheus plugins serve them.
 */

import { statfsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { hostname } from "node:os";
import type { QueueTypeTotals } from "../protocol/connection.js";
import type { Broker } from "../server.js";
import { ManagementApi } from "./api.js";
import { rabbitPasswordHash } from "./definitions.js";
import { renderMetrics } from "./metrics.js";

/** Bytes free on the file system of `dir` (the data directory, or the working directory). */
function diskFree(dir: string): number {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return 0;
  }
}

export interface HttpListener {
  readonly port: number;
  close(): Promise<void>;
}

/** The node name the API and metrics report (RabbitMQ's rabbit@host). */
export function nodeName(): string {
  return `eventlab@${hostname().split(".")[0] ?? "localhost"}`;
}

export function startHttp(
  broker: Broker,
  o: {
    host: string;
    port: number;
    amqpHost: string;
    amqpPort: () => number;
    tlsPort: () => number | undefined;
  },
): Promise<HttpListener> {
  let httpPort = o.port;
  const api = new ManagementApi({
    vhost: broker.vhost,
    version: broker.settings.productVersion,
    node: nodeName(),
    users: broker.userNames,
    passwordHash: (user) => rabbitPasswordHash(broker.passwordOf(user) ?? ""),
    get listeners() {
      const tls = o.tlsPort();
      return [
        { protocol: "amqp", host: o.amqpHost, port: o.amqpPort() },
        ...(tls === undefined ? [] : [{ protocol: "amqp/ssl", host: o.amqpHost, port: tls }]),
        { protocol: "http", host: o.host, port: httpPort },
      ];
    },
    memoryLimit: broker.stats().memory.highWatermark,
    memoryAlarm: () => broker.memoryBlocked,
    authenticate: (u, p, loopback) => broker.authenticate(u, p, loopback),
    connections: () => broker.connectionViews(),
    closeConnection: (name, reason) => broker.closeConnection(name, reason),
    totals: () => {
      const t = broker.totals;
      const sum = (k: keyof QueueTypeTotals) =>
        Object.values(t.queueTypes).reduce((n, q) => n + q[k], 0);
      return {
        publish: t.published,
        confirm: t.confirmed,
        return_unroutable: t.unroutableReturned,
        drop_unroutable: t.unroutableDropped,
        deliver: sum("consumeManualAck"),
        deliver_no_ack: sum("consumeAutoAck"),
        get: sum("getManualAck"),
        get_no_ack: sum("getAutoAck"),
        get_empty: sum("getEmpty"),
        deliver_get: t.delivered,
        redeliver: sum("redelivered"),
        ack: sum("acknowledged"),
      };
    },
    churn: () => {
      const c = broker.churnCounts();
      const q = broker.vhost.queueChurn;
      return {
        channel_closed: c.channelClosed,
        channel_created: c.channelCreated,
        connection_closed: c.connectionClosed,
        connection_created: c.connectionCreated,
        queue_created: q.created,
        queue_declared: q.declared,
        queue_deleted: q.deleted,
      };
    },
    octets: () => broker.octets(),
    counted: (e) => {
      const t = broker.totals;
      if (e.kind === "publish") {
        t.published += 1;
        if (e.routed) t.routed += 1;
        else t.unroutableDropped += 1;
        return;
      }
      const q = t.queueTypes[e.queueType === "quorum" ? "quorum" : "classic"];
      t.delivered += e.n;
      q.delivered += e.n;
      q.getManualAck += e.n;
      if (e.acked) q.acknowledged += e.n;
    },
    diskFree: () => diskFree(broker.store?.dir ?? process.cwd()),
    metrics: (perObject) => renderMetrics(broker, perObject),
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => void api.handle(req, res));
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : o.port;
      httpPort = port;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            api.close();
            server.close(() => done());
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}

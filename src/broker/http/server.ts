/**
 * The broker's HTTP listener: the management API (api.ts) and Prometheus metrics
 * (metrics.ts) over one Broker, as RabbitMQ's management and prometheus plugins serve them.
 */
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { hostname } from "node:os";
import type { Broker } from "../server.js";
import { ManagementApi } from "./api.js";
import { renderMetrics } from "./metrics.js";
import { queueCounters } from "./views.js";

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
  o: { host: string; port: number; amqpPort: () => number; tlsPort: () => number | undefined },
): Promise<HttpListener> {
  const api = new ManagementApi({
    vhost: broker.vhost,
    version: broker.settings.productVersion,
    node: nodeName(),
    users: broker.userNames,
    get listeners() {
      const tls = o.tlsPort();
      return [
        { protocol: "amqp", port: o.amqpPort() },
        ...(tls === undefined ? [] : [{ protocol: "amqp/ssl", port: tls }]),
      ];
    },
    authenticate: (u, p, loopback) => broker.authenticate(u, p, loopback),
    connections: () => broker.connectionViews(),
    closeConnection: (name, reason) => broker.closeConnection(name, reason),
    totals: () => {
      // Queue counts of the queues there now; the broker's own totals where it keeps them.
      const sums: Record<string, number> = {};
      for (const q of broker.vhost.queues.values()) {
        for (const [k, v] of Object.entries(queueCounters(q))) sums[k] = (sums[k] ?? 0) + v;
      }
      return { ...sums, publish: broker.totals.published, deliver_get: broker.totals.delivered };
    },
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

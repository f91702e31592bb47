/**
 * The management API's broker-wide views: /api/overview, /api/nodes and /api/vhosts, each
 * counter with its `_details` rate, in RabbitMQ's shapes.
 */
import { availableParallelism } from "node:os";
import { type ApiHost, EXCHANGE_TYPES } from "./host.js";
import type { Json } from "./json.js";
import type { Rates } from "./rates.js";
import { VHOST } from "./views.js";

export class Summary {
  constructor(
    private readonly host: ApiHost,
    private readonly rates: Rates,
    /** Throws the API's 404 when a path names a vhost other than "/". */
    private readonly vhostOf: (segment: string | undefined) => void,
  ) {}

  overview(): Json {
    const vhost = this.host.vhost;
    let ready = 0;
    let unacked = 0;
    let consumers = 0;
    for (const q of vhost.queues.values()) {
      ready += q.messageCount;
      unacked += q.unacked;
      consumers += q.consumers.length;
    }
    const conns = this.host.connections();
    const rate = (k: string) => ({ rate: this.rates.rate(`totals:${k}`) });
    return {
      management_version: this.host.version,
      rates_mode: "basic",
      exchange_types: EXCHANGE_TYPES,
      product_version: this.host.version,
      product_name: "eventlab",
      rabbitmq_version: this.host.version,
      cluster_name: this.host.node,
      node: this.host.node,
      disable_stats: false,
      enable_queue_totals: false,
      statistics_db_event_queue: 0,
      sample_retention_policies: { global: [600], basic: [600], detailed: [600] },
      message_stats: this.globalStats(),
      churn_rates: this.withRates("churn", this.host.churn()),
      queue_totals: {
        messages: ready + unacked,
        messages_details: rate("messages"),
        messages_ready: ready,
        messages_ready_details: rate("messages_ready"),
        messages_unacknowledged: unacked,
        messages_unacknowledged_details: rate("messages_unacknowledged"),
      },
      object_totals: {
        channels: conns.reduce((n, c) => n + c.channels.length, 0),
        connections: conns.length,
        consumers,
        exchanges: vhost.exchanges.size,
        queues: vhost.queues.size + vhost.streams.size,
      },
      listeners: this.host.listeners.map((l) => ({
        node: this.host.node,
        protocol: l.protocol,
        ip_address: l.host,
        port: l.port,
        socket_opts: { port: l.port, ip: l.host },
      })),
      contexts: this.host.listeners
        .filter((l) => l.protocol === "http")
        .map((l) => ({
          node: this.host.node,
          description: "eventlab management API",
          path: "/",
          ip: l.host,
          port: String(l.port),
          ssl_opts: [],
        })),
    };
  }

  /** The broker-wide message_stats: every counter with its rate. */
  private globalStats(): { [key: string]: Json } {
    return this.withRates("totals", this.host.totals());
  }

  /** Each counter and its `_details` rate, as RabbitMQ writes counters. */
  private withRates(prefix: string, counters: Record<string, number>): { [key: string]: Json } {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(counters)) {
      out[k] = v;
      out[`${k}_details`] = { rate: this.rates.rate(`${prefix}:${k}`) };
    }
    return out;
  }

  node(): Json {
    return {
      name: this.host.node,
      type: "disc",
      running: true,
      ...this.withRates("node", {
        mem_used: process.memoryUsage().rss,
        disk_free: this.host.diskFree(),
      }),
      ...this.withRates("churn", this.host.churn()),
      disk_free_limit: 50_000_000,
      mem_limit: this.host.memoryLimit,
      mem_alarm: this.host.memoryAlarm(),
      disk_free_alarm: false,
      partitions: [],
      exchange_types: EXCHANGE_TYPES,
      auth_mechanisms: ["PLAIN", "AMQPLAIN", "EXTERNAL"].map((name) => ({
        name,
        description: `SASL ${name}`,
        enabled: name !== "EXTERNAL",
      })),
      uptime: Math.round(process.uptime() * 1000),
      os_pid: String(process.pid),
      processors: availableParallelism(),
      rates_mode: "basic",
    };
  }

  vhosts(rest: string[]): Json {
    const v = this.host.vhost;
    let ready = 0;
    let unacked = 0;
    for (const q of v.queues.values()) {
      ready += q.messageCount;
      unacked += q.unacked;
    }
    const rate = (k: string) => ({ rate: this.rates.rate(`totals:${k}`) });
    const one = {
      name: VHOST,
      message_stats: this.globalStats(),
      ...this.withRates("vhost", {
        recv_oct: this.host.octets().recv,
        send_oct: this.host.octets().send,
      }),
      messages_details: rate("messages"),
      messages_ready_details: rate("messages_ready"),
      messages_unacknowledged_details: rate("messages_unacknowledged"),
      description: "Default virtual host",
      tags: [],
      metadata: { description: "Default virtual host", tags: [] },
      default_queue_type: "classic",
      tracing: v.tracer.enabled,
      messages: ready + unacked,
      messages_ready: ready,
      messages_unacknowledged: unacked,
      cluster_state: { [this.host.node]: "running" },
    };
    if (rest[0] === undefined) return [one];
    this.vhostOf(rest[0]);
    return one;
  }
}

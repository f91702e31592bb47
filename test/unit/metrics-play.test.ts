/**
 * The playground's own metrics (src/lab/metrics.ts): counters from the run's snapshot, the
 * latency histogram from the consumers' decisions, lost from the final report, all read back
 * with the strict 0.0.4 parser; and the small HTTP server on 127.0.0.1 port 0.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  LATENCY_BOUNDS_S,
  type MetricsServer,
  PlayMetrics,
  serveMetrics,
} from "../../src/lab/metrics.js";
import type {
  ConsumerRow,
  DecisionEvent,
  PlayReport,
  QueueRow,
  Snapshot,
} from "../../src/lab/types.js";
import { familiesByName, sampleValue } from "../helpers/prometheus-text.js";

const servers: MetricsServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

function queueRow(name: string, duplicates: number): QueueRow {
  return {
    name,
    inRate: 0,
    outRate: 0,
    redelivered: 0,
    deadLettered: 0,
    duplicates,
    outOfOrder: 0,
  };
}

function consumerRow(
  name: string,
  queue: string,
  processed: number,
  failed: number,
  retried: number,
): ConsumerRow {
  return {
    name,
    queue,
    instances: 1,
    processed,
    failed,
    retried,
    breaker: "closed",
    state: "running",
  };
}

function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return {
    scenario: "orders",
    elapsedMs: 1000,
    published: 10,
    planned: 20,
    confirmed: 9,
    queues: [queueRow("inventory", 1), queueRow("billing", 0)],
    consumers: [
      consumerRow("inventory", "inventory", 6, 2, 1),
      consumerRow("billing", "billing", 3, 0, 0),
    ],
    events: [],
    ...over,
  };
}

function decision(consumer: string, outcome: string, latencyMs?: number): DecisionEvent {
  return {
    consumer,
    instance: 1,
    routingKey: "order.created",
    redelivered: false,
    outcome,
    workMs: 1,
    outOfOrder: false,
    gap: 0,
    latencyMs,
  };
}

describe("the playground's metrics", () => {
  it("are valid before the first snapshot: zero counters, no series yet", () => {
    const f = familiesByName(new PlayMetrics().render());
    expect(sampleValue(f, "eventlab_published_total")).toBe(0);
    expect(f.get("eventlab_processed_total")?.samples).toEqual([]);
    expect(f.get("eventlab_delivery_latency_seconds")?.type).toBe("histogram");
  });

  it("count what the run's snapshot says, per consumer and per queue", () => {
    const m = new PlayMetrics();
    m.update(snapshot());
    const f = familiesByName(m.render());
    for (const name of [
      "eventlab_published_total",
      "eventlab_confirmed_total",
      "eventlab_processed_total",
      "eventlab_failed_total",
      "eventlab_retried_total",
      "eventlab_duplicates_total",
      "eventlab_lost_total",
    ]) {
      expect([name, f.get(name)?.type]).toEqual([name, "counter"]);
    }
    expect(sampleValue(f, "eventlab_published_total")).toBe(10);
    expect(sampleValue(f, "eventlab_confirmed_total")).toBe(9);
    const inventory = { consumer: "inventory", queue: "inventory" };
    expect(sampleValue(f, "eventlab_processed_total", inventory)).toBe(6);
    expect(sampleValue(f, "eventlab_failed_total", inventory)).toBe(2);
    expect(sampleValue(f, "eventlab_retried_total", inventory)).toBe(1);
    expect(sampleValue(f, "eventlab_processed_total", { consumer: "billing" })).toBe(3);
    expect(sampleValue(f, "eventlab_duplicates_total", { queue: "inventory" })).toBe(1);
    expect(sampleValue(f, "eventlab_lost_total", { queue: "billing" })).toBe(0);
  });

  it("observe the publish-to-ack latency of acks only, per consumer, in seconds", () => {
    const m = new PlayMetrics();
    m.decided(decision("inventory", "ack", 3));
    m.decided(decision("inventory", "ack", 40));
    m.decided(decision("inventory", "ack", 120_000));
    m.decided(decision("inventory", "requeue", 5));
    m.decided(decision("inventory", "ack", undefined));
    m.decided(decision("billing", "ack", 0.5));
    const f = familiesByName(m.render());
    const h = "eventlab_delivery_latency_seconds";
    expect(sampleValue(f, `${h}_count`, { consumer: "inventory" })).toBe(3);
    expect(sampleValue(f, `${h}_sum`, { consumer: "inventory" })).toBeCloseTo(120.043, 6);
    expect(sampleValue(f, `${h}_bucket`, { consumer: "inventory", le: "0.005" })).toBe(1);
    expect(sampleValue(f, `${h}_bucket`, { consumer: "inventory", le: "0.05" })).toBe(2);
    expect(sampleValue(f, `${h}_bucket`, { consumer: "inventory", le: "60" })).toBe(2);
    expect(sampleValue(f, `${h}_bucket`, { consumer: "inventory", le: "+Inf" })).toBe(3);
    expect(sampleValue(f, `${h}_bucket`, { consumer: "billing", le: "0.001" })).toBe(1);
    const buckets = f
      .get(h)
      ?.samples.filter((s) => s.name === `${h}_bucket` && s.labels["consumer"] === "billing");
    expect(buckets?.length).toBe(LATENCY_BOUNDS_S.length + 1);
  });

  it("take lost from the report at the end", () => {
    const m = new PlayMetrics();
    m.update(snapshot());
    const q = (name: string, lost: number) => ({ name, lost }) as PlayReport["queues"][number];
    m.finish({
      published: 20,
      confirmed: 20,
      consumers: snapshot().consumers,
      queues: [q("inventory", 0), q("billing", 2)],
    } as PlayReport);
    const f = familiesByName(m.render());
    expect(sampleValue(f, "eventlab_lost_total", { queue: "billing" })).toBe(2);
    expect(sampleValue(f, "eventlab_published_total")).toBe(20);
  });

  it("are served at /metrics on 127.0.0.1, 404 elsewhere, until closed", async () => {
    const m = new PlayMetrics();
    m.update(snapshot());
    const server = await serveMetrics(() => m.render(), 0);
    servers.push(server);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
    expect(server.port).toBeGreaterThan(0);
    const res = await fetch(server.url, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(sampleValue(familiesByName(await res.text()), "eventlab_published_total")).toBe(10);
    const other = await fetch(new URL("/", server.url), { signal: AbortSignal.timeout(5000) });
    expect(other.status).toBe(404);
    await other.text();
    servers.pop();
    await server.close();
    await expect(fetch(server.url, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
  });
});

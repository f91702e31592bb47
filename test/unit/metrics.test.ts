/**
 * The embedded broker's Prometheus metrics (src/broker/http/metrics.ts): renderMetrics on a
 * Broker that amqplib drives over 127.0.0.1 (port 0), read with the strict 0.0.4 parser; the
 * names of issue 15 with their types, the queue gauges against the broker's state, and the
 * global counters against what RabbitMQ 3.10 counted for the same state (the recorded
 * fixture); then GET /metrics over the broker's HTTP listener.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import path from "node:path";
import amqp, { type ChannelModel } from "amqplib";
import { afterEach, describe, expect, it } from "vitest";
import { renderMetrics } from "../../src/broker/http/metrics.js";
import { Broker, type RunningBroker, startBroker } from "../../src/broker/index.js";
import { makeRecordedState } from "../fixtures/metrics/scenario.js";
import { familiesByName, type ParsedFamily, sampleValue } from "../helpers/prometheus-text.js";
import { within } from "../helpers/wait.js";

const WAIT_MS = 10_000;
const fixtures = path.resolve(import.meta.dirname, "../fixtures/metrics");

let broker: Broker | undefined;
let server: Server | undefined;
let running: RunningBroker | undefined;
const connections: ChannelModel[] = [];

afterEach(async () => {
  for (const c of connections.splice(0)) await c.close().catch(() => {});
  broker?.shutdown();
  broker = undefined;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  await running?.close();
  running = undefined;
});

/** A Broker of the test's own, listening on 127.0.0.1 port 0; returns its AMQP URL. */
async function listening(): Promise<{ broker: Broker; url: string }> {
  const b = new Broker({ version: "9.9.9" });
  broker = b;
  const s = createServer((socket) => b.accept(socket, true));
  server = s;
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const address = s.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { broker: b, url: `amqp://guest:guest@127.0.0.1:${port}` };
}

async function connect(url: string): Promise<ChannelModel> {
  const c = await within(amqp.connect(url), "connecting", WAIT_MS);
  connections.push(c);
  return c;
}

const metricsOf = (b: Broker, perObject: boolean) => familiesByName(renderMetrics(b, perObject));

/** Issue 15's names, with the plugin's types. */
const REQUIRED: Array<[string, string]> = [
  ["rabbitmq_connections", "gauge"],
  ["rabbitmq_channels", "gauge"],
  ["rabbitmq_consumers", "gauge"],
  ["rabbitmq_queues", "gauge"],
  ["rabbitmq_queue_messages_ready", "gauge"],
  ["rabbitmq_queue_messages_unacked", "gauge"],
  ["rabbitmq_queue_messages", "gauge"],
  ["rabbitmq_queue_consumers", "gauge"],
  ["rabbitmq_global_messages_received_total", "counter"],
  ["rabbitmq_global_messages_routed_total", "counter"],
  ["rabbitmq_global_messages_confirmed_total", "counter"],
  ["rabbitmq_global_messages_received_confirm_total", "counter"],
  ["rabbitmq_global_messages_unroutable_dropped_total", "counter"],
  ["rabbitmq_global_messages_unroutable_returned_total", "counter"],
  ["rabbitmq_global_messages_delivered_total", "counter"],
  ["rabbitmq_global_messages_acknowledged_total", "counter"],
  ["rabbitmq_build_info", "untyped"],
  ["rabbitmq_identity_info", "untyped"],
];

/** The global counters RabbitMQ and the embedded broker should agree on, with their labels. */
const GLOBALS: Array<[string, Record<string, string>]> = [
  ["rabbitmq_global_messages_received_total", { protocol: "amqp091" }],
  ["rabbitmq_global_messages_received_confirm_total", { protocol: "amqp091" }],
  ["rabbitmq_global_messages_routed_total", { protocol: "amqp091" }],
  ["rabbitmq_global_messages_confirmed_total", { protocol: "amqp091" }],
  ["rabbitmq_global_messages_unroutable_dropped_total", { protocol: "amqp091" }],
  ["rabbitmq_global_messages_unroutable_returned_total", { protocol: "amqp091" }],
  ...[
    "delivered",
    "delivered_consume_manual_ack",
    "delivered_consume_auto_ack",
    "delivered_get_manual_ack",
    "delivered_get_auto_ack",
    "get_empty",
    "redelivered",
    "acknowledged",
  ].map((k): [string, Record<string, string>] => [
    `rabbitmq_global_messages_${k}_total`,
    { protocol: "amqp091", queue_type: "rabbit_classic_queue" },
  ]),
];

const queue = (name: string) => ({ vhost: "/", queue: name });

describe("the embedded broker's /metrics", () => {
  it.each([false, true])(
    "has issue 15's names with the plugin's types (per-object: %s)",
    async (perObject) => {
      const { broker: b, url } = await listening();
      const c = await connect(url);
      const ch = await c.createChannel();
      await ch.assertQueue("m.one", { durable: false });
      const f = metricsOf(b, perObject);
      for (const [name, type] of REQUIRED) expect([name, f.get(name)?.type]).toEqual([name, type]);
      expect(sampleValue(f, "rabbitmq_connections")).toBe(1);
      expect(sampleValue(f, "rabbitmq_channels")).toBe(1);
      expect(sampleValue(f, "rabbitmq_queues")).toBe(1);
      const build = f.get("rabbitmq_build_info")?.samples[0]?.labels;
      expect(build?.["rabbitmq_version"]).toBe("9.9.9");
      const identity = f.get("rabbitmq_identity_info")?.samples[0]?.labels ?? {};
      expect(Object.keys(identity)).toEqual([
        "rabbitmq_node",
        "rabbitmq_cluster",
        "rabbitmq_cluster_permanent_id",
      ]);
      const labelled = (fam: ParsedFamily | undefined) => fam?.samples.map((s) => s.labels);
      if (perObject)
        expect(labelled(f.get("rabbitmq_queue_messages_ready"))).toEqual([queue("m.one")]);
      else expect(labelled(f.get("rabbitmq_queue_messages_ready"))).toEqual([{}]);
    },
  );

  it("counts the recorded scenario as RabbitMQ 3.10 did: queue gauges and global counters", async () => {
    const { broker: b, url } = await listening();
    await within(makeRecordedState(await connect(url)), "the recorded scenario", WAIT_MS);
    const mine = metricsOf(b, true);
    const theirs = familiesByName(
      readFileSync(path.join(fixtures, "rabbitmq-3.10-per-object.txt"), "utf8"),
    );
    for (const q of ["metrics.ready", "metrics.unacked", "metrics.consumed"]) {
      for (const name of [
        "rabbitmq_queue_messages_ready",
        "rabbitmq_queue_messages_unacked",
        "rabbitmq_queue_messages",
        "rabbitmq_queue_consumers",
      ]) {
        const got = [name, q, sampleValue(mine, name, queue(q))];
        expect(got).toEqual([name, q, sampleValue(theirs, name, queue(q))]);
      }
    }
    // The values themselves, not only agreement: 3 ready, 2 unacked after basic.get.
    expect(sampleValue(mine, "rabbitmq_queue_messages_ready", queue("metrics.ready"))).toBe(3);
    expect(sampleValue(mine, "rabbitmq_queue_messages_unacked", queue("metrics.unacked"))).toBe(2);
    for (const [name, labels] of GLOBALS) {
      expect([name, sampleValue(mine, name, labels)]).toEqual([
        name,
        sampleValue(theirs, name, labels),
      ]);
    }
    expect(
      sampleValue(mine, "rabbitmq_global_messages_received_total", { protocol: "amqp091" }),
    ).toBe(7);
    const summed = metricsOf(b, false);
    expect(sampleValue(summed, "rabbitmq_queue_messages_ready")).toBe(3);
    expect(sampleValue(summed, "rabbitmq_queue_messages_unacked")).toBe(2);
    expect(sampleValue(summed, "rabbitmq_queue_messages")).toBe(5);
    expect(sampleValue(summed, "rabbitmq_queue_consumers")).toBe(1);
    expect(sampleValue(summed, "rabbitmq_consumers")).toBe(1);
  });

  it("counts returns, automatic acks, get-empty, redeliveries, nacks and quorum queues apart", async () => {
    const { broker: b, url } = await listening();
    const c = await connect(url);
    const ch = await c.createChannel();
    await ch.assertQueue("m.classic", { durable: false });
    await ch.assertQueue("m.quorum", { durable: true, arguments: { "x-queue-type": "quorum" } });
    const returned = new Promise<void>((resolve) => ch.once("return", () => resolve()));
    ch.publish("amq.direct", "nowhere", Buffer.from("r"), { mandatory: true });
    await within(returned, "basic.return", WAIT_MS);
    for (let i = 0; i < 3; i++) ch.sendToQueue("m.classic", Buffer.from(`c${i}`));
    ch.sendToQueue("m.quorum", Buffer.from("q"));
    // Automatic ack, then manual: one nacked back (redelivered next), one rejected for good.
    expect(await ch.get("m.classic", { noAck: true })).not.toBe(false);
    const nacked = await ch.get("m.classic", { noAck: false });
    const rejected = await ch.get("m.classic", { noAck: false });
    if (!nacked || !rejected) throw new Error("expected two messages");
    ch.nack(nacked, false, true);
    ch.reject(rejected, false);
    const again = await ch.get("m.classic", { noAck: false });
    if (!again) throw new Error("expected the nacked message back");
    expect(again.fields.redelivered).toBe(true);
    ch.ack(again);
    expect(await ch.get("m.classic", { noAck: false })).toBe(false);
    const q = await ch.get("m.quorum", { noAck: false });
    if (!q) throw new Error("expected the quorum queue's message");
    ch.ack(q);
    // A round trip, so that the acks above have arrived.
    await ch.checkQueue("m.classic");
    const f = metricsOf(b, false);
    const classic = { protocol: "amqp091", queue_type: "rabbit_classic_queue" };
    const quorum = { protocol: "amqp091", queue_type: "rabbit_quorum_queue" };
    const v = (name: string, labels: Record<string, string> = { protocol: "amqp091" }) =>
      sampleValue(f, `rabbitmq_global_messages_${name}_total`, labels);
    expect({
      received: v("received"),
      receivedConfirm: v("received_confirm"),
      routed: v("routed"),
      returned: v("unroutable_returned"),
      dropped: v("unroutable_dropped"),
      delivered: v("delivered", classic),
      getAuto: v("delivered_get_auto_ack", classic),
      getManual: v("delivered_get_manual_ack", classic),
      getEmpty: v("get_empty", classic),
      redelivered: v("redelivered", classic),
      acknowledged: v("acknowledged", classic),
      quorumDelivered: v("delivered", quorum),
      quorumAcknowledged: v("acknowledged", quorum),
    }).toEqual({
      received: 5,
      receivedConfirm: 0,
      routed: 4,
      returned: 1,
      dropped: 0,
      delivered: 4,
      getAuto: 1,
      getManual: 3,
      getEmpty: 1,
      redelivered: 1,
      acknowledged: 1,
      quorumDelivered: 1,
      quorumAcknowledged: 1,
    });
  });

  it("is served over HTTP at /metrics and /metrics/per-object by startBroker({ httpPort: 0 })", async () => {
    running = await startBroker({ port: 0, httpPort: 0 });
    const base = running.httpUrl;
    if (!base) throw new Error("no httpUrl");
    const c = await connect(running.url);
    const ch = await c.createChannel();
    await ch.assertQueue("m.http", { durable: false });
    ch.sendToQueue("m.http", Buffer.from("x"));
    await ch.checkQueue("m.http");
    for (const [endpoint, labels] of [
      ["metrics", {}],
      ["metrics/per-object", queue("m.http")],
    ] as const) {
      const res = await fetch(new URL(endpoint, base), { signal: AbortSignal.timeout(WAIT_MS) });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const f = familiesByName(await res.text());
      expect(sampleValue(f, "rabbitmq_queue_messages_ready", labels)).toBe(1);
      expect(sampleValue(f, "rabbitmq_connections")).toBe(1);
    }
  });
});

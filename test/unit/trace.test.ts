/**
 * The firehose (model/trace.ts) on a VHost: nothing while off, the runtime switch, and the
 * trace messages' routing keys, headers and header types as RabbitMQ 3.10 sends them.
 */
import { describe, expect, it } from "vitest";
import { Typed } from "../../src/broker/codec/index.js";
import { makeMessage } from "../../src/broker/model/message.js";
import type { Queue } from "../../src/broker/model/queue.js";
import { TRACE_EXCHANGE, type TraceOrigin } from "../../src/broker/model/trace.js";
import { VHost } from "../../src/broker/model/vhost.js";

const FROM: TraceOrigin = {
  number: 3,
  host: { user: "guest", connectionName: "127.0.0.1:40000 -> 127.0.0.1:5672" },
};

function setup(trace: boolean) {
  const v = new VHost({ trace });
  const declare = (name: string) =>
    v.declareQueue(1, {
      name,
      passive: false,
      durable: false,
      exclusive: false,
      autoDelete: false,
      args: {},
    }) as Queue;
  const tq = declare("tq");
  const q = declare("q");
  v.bind(
    1,
    {
      source: TRACE_EXCHANGE,
      destination: "tq",
      destinationType: "queue",
      routingKey: "#",
      args: {},
    },
    false,
  );
  return { v, tq, q };
}

const drain = (q: Queue) => {
  const out = [];
  for (let e = q.get(); e; e = q.get()) {
    q.settle([e]);
    out.push(e.message);
  }
  return out;
};

describe("the firehose", () => {
  it("traces nothing while off, whatever is published", () => {
    const { v, tq, q } = setup(false);
    v.publish("", makeMessage("", "q", {}, Buffer.from("a")), FROM);
    v.publish("amq.direct", makeMessage("amq.direct", "none", {}, Buffer.from("b")), FROM);
    expect(q.messageCount).toBe(1);
    expect(tq.messageCount).toBe(0);
    expect(v.tracer.enabled).toBe(false);
  });

  it("is switched at run time; a publish is traced before its queues get it", () => {
    const { v, tq } = setup(false);
    v.tracer.enabled = true;
    v.publish("", makeMessage("", "q", {}, Buffer.from("a")), FROM);
    v.tracer.enabled = false;
    v.publish("", makeMessage("", "q", {}, Buffer.from("b")), FROM);
    expect(drain(tq).map((m) => [m.exchange, m.routingKey, m.body.toString()])).toEqual([
      [TRACE_EXCHANGE, "publish.", "a"],
    ]);
  });

  it("builds RabbitMQ's headers: properties reversed and typed, BCC kept as a key only", () => {
    const { v, tq } = setup(true);
    const props = {
      contentType: "text/plain",
      headers: { a: "x", CC: ["cc-q"], BCC: ["q"] },
      deliveryMode: 2,
      priority: 3,
      messageId: "m1",
      timestamp: 1_700_000_000,
    };
    v.publish("", makeMessage("", "q", props, Buffer.from("body")), FROM);
    const [m] = drain(tq);
    expect(m?.body.toString()).toBe("body");
    expect(Object.keys(m?.properties ?? {})).toEqual(["headers"]);
    const h = m?.properties.headers ?? {};
    expect(Object.keys(h)).toEqual([
      "exchange_name",
      "routing_keys",
      "properties",
      "node",
      "vhost",
      "connection",
      "channel",
      "user",
      "routed_queues",
    ]);
    expect(h["routing_keys"]).toEqual(["q", "cc-q", "q"]);
    expect(h["properties"]).toEqual({
      timestamp: new Typed("I", 1_700_000_000),
      message_id: "m1",
      priority: new Typed("I", 3),
      delivery_mode: new Typed("I", 2),
      headers: { a: "x", CC: ["cc-q"] },
      content_type: "text/plain",
    });
    expect(Object.keys(h["properties"] as object)[0]).toBe("timestamp");
    expect(h["channel"]).toEqual(new Typed("I", 3));
    expect(h["connection"]).toBe(FROM.host.connectionName);
    expect(h["routed_queues"]).toEqual(["q"]);
    expect(h["node"]).toMatch(/^[^@]+@[^@]+$/);
  });

  it("traces an unroutable publish with no routed queues, and never a trace message", () => {
    const { v, tq } = setup(true);
    v.publish("amq.direct", makeMessage("amq.direct", "none", {}, Buffer.from("u")), FROM);
    const [m] = drain(tq);
    expect(m?.routingKey).toBe("publish.amq.direct");
    expect(m?.properties.headers?.["routed_queues"]).toEqual([]);
    v.tracer.delivered("tq", m!, false, FROM);
    expect(tq.messageCount).toBe(0);
  });

  it("traces a delivery as deliver.<queue> with redelivered as a number", () => {
    const { v, tq } = setup(true);
    v.tracer.delivered("q", makeMessage("", "q", {}, Buffer.from("d")), true, FROM);
    const [m] = drain(tq);
    expect(m?.routingKey).toBe("deliver.q");
    expect(Object.keys(m?.properties.headers ?? {})).toEqual([
      "exchange_name",
      "routing_keys",
      "properties",
      "node",
      "redelivered",
      "vhost",
      "connection",
      "channel",
      "user",
    ]);
    expect(m?.properties.headers?.["redelivered"]).toEqual(new Typed("I", 1));
  });
});

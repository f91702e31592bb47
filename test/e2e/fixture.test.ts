/**
 * The broker as a unit-test fixture (`eventlab/broker`): reset, queue peek and messages,
 * published() with routing, waitFor, close — through amqplib, as a user's test would.
 */
import amqp, { type Channel, type ChannelModel } from "amqplib";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BrokerFixtureError, type RunningBroker, startBroker } from "../../src/broker/entry.js";
import { startBroker as startPlain } from "../../src/broker/index.js";
import { PREDECLARED } from "../../src/broker/model/exchange.js";
import { within } from "../helpers/wait.js";

let broker: RunningBroker;
let conn: ChannelModel;
let ch: Channel;

beforeAll(async () => {
  broker = await startBroker({ port: 0 });
});
afterAll(async () => {
  await broker.close();
});
beforeEach(async () => {
  await broker.reset();
  conn = await amqp.connect(broker.url);
  ch = await conn.createChannel();
});
afterEach(async () => {
  await conn.close().catch(() => {});
});

const send = (exchange: string, key: string, body: unknown, headers?: Record<string, unknown>) =>
  ch.publish(exchange, key, Buffer.from(JSON.stringify(body)), {
    contentType: "application/json",
    ...(headers ? { headers } : {}),
  });

/** Wait until `queue` holds `n` ready messages. */
const holds = (queue: string, n: number) =>
  broker.waitFor(() => broker.queue(queue).messageCount === n, { timeout: 3000 });

describe("queue(name)", () => {
  it("messages() returns every ready message in order, with its exchange, key, headers and body", async () => {
    await ch.assertExchange("orders", "topic", { durable: false });
    await ch.assertQueue("billing", { durable: false });
    await ch.bindQueue("billing", "orders", "order.#");
    for (let i = 1; i <= 3; i++) send("orders", `order.created.${i}`, { n: i }, { region: "eu" });
    await holds("billing", 3);
    const msgs = broker.queue("billing").messages();
    expect(msgs.map((m) => m.json())).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(msgs.map((m) => m.routingKey)).toEqual([
      "order.created.1",
      "order.created.2",
      "order.created.3",
    ]);
    const first = msgs[0];
    expect(first?.exchange).toBe("orders");
    expect(first?.properties.contentType).toBe("application/json");
    expect(first?.headers["region"]).toEqual("eu");
    expect(first?.text()).toBe('{"n":1}');
    expect(Buffer.isBuffer(first?.body)).toBe(true);
    expect(first?.redelivered).toBe(false);
  });

  it("peek() neither consumes nor changes a message: a consumer still gets it, not redelivered", async () => {
    await ch.assertQueue("work", { durable: false });
    send("", "work", "a");
    send("", "work", "b");
    await holds("work", 2);
    expect(
      broker
        .queue("work")
        .peek()
        .map((m) => m.json()),
    ).toEqual(["a"]);
    expect(
      broker
        .queue("work")
        .peek(5)
        .map((m) => m.json()),
    ).toEqual(["a", "b"]);
    expect(broker.queue("work").peek(1)).toHaveLength(1);
    expect(broker.queue("work").messageCount).toBe(2);
    const got = await ch.get("work", { noAck: true });
    if (!got) throw new Error("basic.get found the queue empty");
    expect(got.content.toString()).toBe('"a"');
    expect(got.fields.redelivered).toBe(false);
    expect(
      broker
        .queue("work")
        .messages()
        .map((m) => m.json()),
    ).toEqual(["b"]);
  });

  it("shows a requeued message as redelivered, in its place", async () => {
    await ch.assertQueue("retry", { durable: false });
    send("", "retry", 1);
    send("", "retry", 2);
    await holds("retry", 2);
    const got = await ch.get("retry");
    expect(got).not.toBe(false);
    if (got) ch.nack(got, false, true);
    await holds("retry", 2);
    const msgs = broker.queue("retry").messages();
    expect(msgs.map((m) => [m.json(), m.redelivered])).toEqual([
      [1, true],
      [2, false],
    ]);
  });

  it("an unknown queue or vhost is a clear error naming what exists", async () => {
    await ch.assertQueue("known", { durable: false });
    expect(() => broker.queue("nope")).toThrow(BrokerFixtureError);
    expect(() => broker.queue("nope")).toThrow("no queue 'nope' in vhost '/' (its queues: known)");
    expect(() => broker.queue("known", { vhost: "other" })).toThrow(
      "no vhost 'other': the embedded broker has one vhost, '/'",
    );
    expect(broker.queue("known", { vhost: "/" }).messages()).toEqual([]);
  });
});

describe("published()", () => {
  it("lists every publish in order with where it was routed, unroutable ones too", async () => {
    await ch.assertExchange("events", "topic", { durable: false });
    await ch.assertQueue("eu", { durable: false });
    await ch.assertQueue("all", { durable: false });
    await ch.bindQueue("eu", "events", "*.eu");
    await ch.bindQueue("all", "events", "#");
    send("events", "order.eu", { id: 1 });
    send("events", "order.us", { id: 2 });
    send("", "nowhere", { id: 3 });
    const list = await broker.waitFor(() => {
      const p = broker.published();
      return p.length === 3 && p;
    });
    expect(list.map((p) => [p.seq, p.exchange, p.routingKey, p.queues])).toEqual([
      [1, "events", "order.eu", ["eu", "all"]],
      [2, "events", "order.us", ["all"]],
      [3, "", "nowhere", []],
    ]);
    expect(list.map((p) => p.json())).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect(list[0]?.properties.contentType).toBe("application/json");
    expect(list.trimmed).toBe(0);
  });

  it("keeps the last `limit` and says how many were trimmed", async () => {
    const small = await startBroker({ port: 0, record: { limit: 3 } });
    const c = await amqp.connect(small.url);
    try {
      const chan = await c.createChannel();
      for (let i = 1; i <= 5; i++) chan.publish("", "q", Buffer.from(String(i)));
      const list = await small.waitFor(() => {
        const p = small.published();
        return p.trimmed === 2 && p;
      });
      expect(list.map((p) => [p.seq, p.text()])).toEqual([
        [3, "3"],
        [4, "4"],
        [5, "5"],
      ]);
    } finally {
      await c.close();
      await small.close();
    }
  });

  it("is off on the main entry's startBroker unless asked for, with a hint", async () => {
    const plain = await startPlain({ port: 0 });
    try {
      expect(() => plain.published()).toThrow(/startBroker\(\{ record: true \}\)/);
    } finally {
      await plain.close();
    }
  });
});

describe("waitFor()", () => {
  it("resolves with the predicate's first truthy value, after a consumer acks", async () => {
    await ch.assertQueue("acks", { durable: false });
    send("", "acks", "x");
    await holds("acks", 1);
    const consumer = await conn.createChannel();
    await consumer.consume("acks", (m) => {
      if (m) consumer.ack(m);
    });
    const stats = await broker.waitFor(() => {
      const s = broker.stats();
      return s.ready === 0 && s.unacked === 0 && s;
    });
    expect(stats.ready).toBe(0);
    expect(stats.consumers).toBe(1);
  });

  it("resolves at once when the predicate already holds", async () => {
    await expect(broker.waitFor(() => "now")).resolves.toBe("now");
  });

  it("rejects on timeout with the predicate's last error", async () => {
    const t0 = Date.now();
    const err = await broker
      .waitFor(() => broker.queue("never").messageCount > 0, { timeout: 150 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerFixtureError);
    expect((err as Error).message).toMatch(
      /^broker\.waitFor timed out after 150 ms \(\d+ checks; last check threw: no queue 'never'/,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it("rejects on timeout when the predicate stays falsy", async () => {
    await expect(broker.waitFor(() => false, { timeout: 50 })).rejects.toThrow(
      "the predicate never returned a truthy value",
    );
  });
});

describe("reset()", () => {
  it("empties the broker, closes connections and keeps the URL and the predeclared exchanges", async () => {
    await ch.assertExchange("mine", "fanout", { durable: false });
    await ch.assertQueue("left", { durable: false });
    await ch.bindQueue("left", "mine", "");
    await ch.bindExchange("amq.fanout", "amq.direct", "k");
    send("mine", "", "m");
    await holds("left", 1);
    // amqplib reports a server-initiated close as an error (close's argument, and "error").
    conn.on("error", () => {});
    const closed = new Promise<Error | undefined>((resolve) => {
      conn.once("close", (e?: Error) => resolve(e));
    });
    const url = broker.url;
    await broker.reset();
    expect((await within(closed, "the client sees its connection closed", 3000))?.message).toMatch(
      /CONNECTION_FORCED/,
    );
    expect(broker.url).toBe(url);
    expect(broker.stats()).toMatchObject({ connections: 0, queues: 0, ready: 0, consumers: 0 });
    expect([...broker.vhost.exchanges.keys()].sort()).toEqual(
      PREDECLARED.map(([name]) => name).sort(),
    );
    expect(broker.vhost.routing.bindingsOf("amq.fanout")).toEqual([]);
    expect(broker.vhost.routing.bindingsOf("amq.direct")).toEqual([]);
    expect(broker.published()).toEqual([]);
    expect(() => broker.queue("left")).toThrow("it has no queues");
    // The same URL serves a fresh broker: the old names are free again.
    conn = await amqp.connect(url);
    ch = await conn.createChannel();
    await ch.assertExchange("mine", "direct", { durable: false });
    await ch.assertQueue("left", { durable: false });
    expect(broker.queue("left").messageCount).toBe(0);
  });
});

describe("close()", () => {
  it("stops the listener, and a pending waitFor rejects", async () => {
    const b = await startBroker({ port: 0 });
    const c = await amqp.connect(b.url);
    c.on("error", () => {});
    const pending = b.waitFor(() => false, { timeout: 10_000 }).catch((e: unknown) => e);
    await b.close();
    expect(((await pending) as Error).message).toBe(
      "broker.waitFor: the broker was closed while waiting",
    );
    await expect(amqp.connect(b.url)).rejects.toThrow(/ECONNREFUSED/);
    await expect(b.waitFor(() => true)).rejects.toThrow("the broker is closed");
  });
});

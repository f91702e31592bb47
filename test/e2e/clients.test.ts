/**
 * Two unmodified third-party AMQP 0-9-1 clients against the embedded broker over TCP (port 0):
 * amqplib (promise API) and @cloudamqp/amqp-client. The same story for both: topology, confirms,
 * consume with prefetch and ack, get, nack/requeue, dead-lettering with x-death, a returned
 * mandatory publish, a channel error that leaves the connection usable, and a clean close.
 * Every wait is bounded.
 */
import { AMQPClient, type AMQPMessage } from "@cloudamqp/amqp-client";
import amqp from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/server.js";
import { within as withinMs } from "../helpers/wait.js";

const WAIT = 3000;

/** Resolve with the promise, or fail after `ms` (default WAIT). */
function within<T>(p: Promise<T>, what: string, ms = WAIT): Promise<T> {
  return withinMs(p, what, ms);
}

/** How long, and how often, to look again at what the broker counts. */
const POLL = { timeout: WAIT, interval: 5 } as const;

let broker: RunningBroker;

beforeAll(async () => {
  broker = await startBroker({ port: 0 });
});

/** Connections a failed test may leave open; closed after each test so the next starts clean. */
const leftovers = new Set<{ close(): Promise<unknown> }>();
function track<T extends { close(): Promise<unknown> }>(conn: T): T {
  leftovers.add(conn);
  return conn;
}

afterEach(async () => {
  for (const c of leftovers)
    await within(c.close(), "closing a leftover connection").catch(() => {});
  leftovers.clear();
  await vi.waitFor(
    () => expect(broker.stats().connections, "connections left after the test").toBe(0),
    POLL,
  );
});

afterAll(async () => {
  await broker?.close();
});

type Death = Record<string, unknown>;

/** Deliveries of one queue not yet acknowledged, as the broker counts them. */
const unackedIn = (queue: string): number => broker.vhost.queues.get(queue)?.unacked ?? -1;

describe("amqplib (promise API)", () => {
  const p = "amqplib";

  it("declares, publishes with confirms, consumes with prefetch, gets, nacks, dead-letters, returns, recovers from a channel error, and closes", async () => {
    const conn = track(await within(amqp.connect(broker.url), "connect"));
    const connErrors: Error[] = [];
    conn.on("error", (e: Error) => connErrors.push(e));
    const ch = await conn.createConfirmChannel();

    // Topology: topic exchange, queue, binding; a DLX with its own queue.
    await ch.assertExchange(`${p}.events`, "topic", { durable: false, autoDelete: false });
    await ch.assertExchange(`${p}.dlx`, "fanout", { durable: false });
    const dead = await ch.assertQueue(`${p}.dead`, { durable: false });
    await ch.bindQueue(dead.queue, `${p}.dlx`, "");
    const q = await ch.assertQueue(`${p}.work`, {
      durable: false,
      deadLetterExchange: `${p}.dlx`,
    });
    expect(q).toMatchObject({ queue: `${p}.work`, messageCount: 0, consumerCount: 0 });
    await ch.bindQueue(q.queue, `${p}.events`, "order.*");

    // Publish with confirms: each callback gets no error.
    const confirmed = await within(
      Promise.all(
        [1, 2, 3].map(
          (i) =>
            new Promise<void>((resolve, reject) => {
              ch.publish(
                `${p}.events`,
                "order.created",
                Buffer.from(`m${i}`),
                { contentType: "text/plain" },
                (err) => (err ? reject(err) : resolve()),
              );
            }),
        ),
      ),
      "publisher confirms",
    );
    expect(confirmed).toHaveLength(3);
    await within(ch.waitForConfirms(), "waitForConfirms");
    expect((await ch.checkQueue(q.queue)).messageCount).toBe(3);

    // Consume with prefetch 1 and ack: deliveries come one at a time, in order.
    const consumeCh = await conn.createChannel();
    await consumeCh.prefetch(1);
    const bodies: string[] = [];
    let maxUnacked = 0;
    const done = new Promise<void>((resolve) => {
      void consumeCh.consume(q.queue, (msg) => {
        if (!msg) return;
        bodies.push(msg.content.toString());
        maxUnacked = Math.max(maxUnacked, unackedIn(q.queue));
        setImmediate(() => {
          consumeCh.ack(msg);
          if (bodies.length === 3) resolve();
        });
      });
    });
    await within(done, "three deliveries");
    expect(bodies).toEqual(["m1", "m2", "m3"]);
    expect(maxUnacked).toBe(1);
    await consumeCh.close();
    await expect.poll(() => unackedIn(q.queue), { ...POLL, message: "acks applied" }).toBe(0);

    // basic.get, then nack with requeue: the message comes back redelivered.
    ch.publish(`${p}.events`, "order.paid", Buffer.from("again"));
    await ch.waitForConfirms();
    const first = await ch.get(q.queue);
    expect(first).not.toBe(false);
    if (first === false) return;
    expect(first.content.toString()).toBe("again");
    expect(first.fields.redelivered).toBe(false);
    ch.nack(first, false, true);
    const second = await ch.get(q.queue);
    if (second === false) throw new Error("the nacked message was not requeued");
    expect(second.fields.redelivered).toBe(true);

    // Reject without requeue: dead-lettered with x-death.
    ch.nack(second, false, false);
    let dl: amqp.GetMessage | false = false;
    await expect
      .poll(() => broker.vhost.queues.get(dead.queue)?.messageCount, {
        ...POLL,
        message: "dead letter",
      })
      .toBe(1);
    dl = await ch.get(dead.queue, { noAck: true });
    if (dl === false) throw new Error("nothing dead-lettered");
    expect(dl.content.toString()).toBe("again");
    const deaths = dl.properties.headers?.["x-death"] as unknown as Death[];
    expect(deaths).toHaveLength(1);
    expect(deaths[0]).toMatchObject({
      count: 1,
      reason: "rejected",
      queue: q.queue,
      exchange: `${p}.events`,
      "routing-keys": ["order.paid"],
    });
    expect(dl.properties.headers?.["x-first-death-reason"]).toBe("rejected");

    // Mandatory and unroutable: returned with 312 NO_ROUTE.
    const returned = new Promise<amqp.Message>((resolve) => ch.once("return", resolve));
    ch.publish(`${p}.events`, "nobody.listens", Buffer.from("lost"), { mandatory: true });
    const ret = await within(returned, "basic.return");
    expect(ret.fields).toMatchObject({
      replyCode: 312,
      replyText: "NO_ROUTE",
      routingKey: "nobody.listens",
    });
    expect(ret.content.toString()).toBe("lost");
    await ch.waitForConfirms();

    // A channel error (passive declare of a missing queue) closes that channel only.
    const errCh = await conn.createChannel();
    const chErrors: Error[] = [];
    errCh.on("error", (e: Error) => chErrors.push(e));
    const closed = new Promise<void>((resolve) => errCh.once("close", () => resolve()));
    await expect(errCh.checkQueue(`${p}.missing`)).rejects.toThrow(
      /404.*NOT_FOUND - no queue 'amqplib\.missing' in vhost '\/'/,
    );
    await within(closed, "channel close event");
    expect(chErrors).toHaveLength(1);
    const again = await conn.createChannel();
    expect((await again.checkQueue(q.queue)).queue).toBe(q.queue);
    await again.close();

    // Clean close.
    await ch.deleteQueue(q.queue);
    await ch.deleteQueue(dead.queue);
    await ch.deleteExchange(`${p}.events`);
    await ch.deleteExchange(`${p}.dlx`);
    await ch.close();
    await conn.close();
    expect(connErrors).toEqual([]);
  });
});

describe("@cloudamqp/amqp-client", () => {
  const p = "cloudamqp";

  it("declares, publishes with confirms, consumes with prefetch, gets, nacks, dead-letters, returns, recovers from a channel error, and closes", async () => {
    const client = new AMQPClient(broker.url);
    const conn = track(await within(client.connect(), "connect"));
    const ch = await conn.channel();
    await ch.confirmSelect();

    await ch.exchangeDeclare(`${p}.events`, "topic", { durable: false });
    await ch.exchangeDeclare(`${p}.dlx`, "fanout", { durable: false });
    const dead = await ch.queueDeclare(`${p}.dead`, { durable: false });
    await ch.queueBind(dead.name, `${p}.dlx`, "");
    const q = await ch.queueDeclare(
      `${p}.work`,
      { durable: false },
      { "x-dead-letter-exchange": `${p}.dlx` },
    );
    expect(q).toMatchObject({ name: `${p}.work`, messageCount: 0, consumerCount: 0 });
    await ch.queueBind(q.name, `${p}.events`, "order.*");

    // With confirm mode on, basicPublish resolves when the broker acks.
    const tags = await within(
      Promise.all(
        [1, 2, 3].map((i) =>
          ch.basicPublish(`${p}.events`, "order.created", `m${i}`, { contentType: "text/plain" }),
        ),
      ),
      "publisher confirms",
    );
    expect(tags).toEqual([1, 2, 3]);
    expect((await ch.queueDeclare(q.name, { passive: true })).messageCount).toBe(3);

    // Consume with prefetch 1 and ack.
    const consumeCh = await conn.channel();
    await consumeCh.prefetch(1);
    const bodies: string[] = [];
    let maxUnacked = 0;
    let allThree: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      allThree = resolve;
    });
    const consumer = await consumeCh.basicConsume(
      q.name,
      { noAck: false },
      async (msg: AMQPMessage) => {
        bodies.push(msg.bodyToString() ?? "");
        expect(msg.properties.contentType).toBe("text/plain");
        maxUnacked = Math.max(maxUnacked, unackedIn(q.name));
        await new Promise((r) => setImmediate(r));
        await msg.ack();
        if (bodies.length === 3) allThree();
      },
    );
    await within(done, "three deliveries");
    expect(bodies).toEqual(["m1", "m2", "m3"]);
    expect(maxUnacked).toBe(1);
    await consumer.cancel();
    await consumeCh.close();
    await expect.poll(() => unackedIn(q.name), { ...POLL, message: "acks applied" }).toBe(0);

    // basic.get, nack with requeue, get again: redelivered.
    await ch.basicPublish(`${p}.events`, "order.paid", "again");
    const first = await ch.basicGet(q.name, { noAck: false });
    if (!first) throw new Error("basic.get returned nothing");
    expect(first.bodyToString()).toBe("again");
    expect(first.redelivered).toBe(false);
    await first.nack(true);
    const second = await ch.basicGet(q.name, { noAck: false });
    if (!second) throw new Error("the nacked message was not requeued");
    expect(second.redelivered).toBe(true);

    // Reject without requeue: dead-lettered with x-death.
    await second.nack(false);
    await expect
      .poll(() => broker.vhost.queues.get(dead.name)?.messageCount, {
        ...POLL,
        message: "dead letter",
      })
      .toBe(1);
    const dl = await ch.basicGet(dead.name, { noAck: true });
    if (!dl) throw new Error("nothing dead-lettered");
    expect(dl.bodyToString()).toBe("again");
    const deaths = dl.properties.headers?.["x-death"] as unknown as Death[];
    expect(deaths).toHaveLength(1);
    expect(deaths[0]).toMatchObject({
      count: 1,
      reason: "rejected",
      queue: q.name,
      exchange: `${p}.events`,
      "routing-keys": ["order.paid"],
    });

    // Mandatory and unroutable: returned.
    const returned = new Promise<AMQPMessage>((resolve) => {
      ch.onReturn = resolve;
    });
    await ch.basicPublish(`${p}.events`, "nobody.listens", "lost", {}, true);
    const ret = await within(returned, "basic.return");
    expect(ret.replyCode).toBe(312);
    expect(ret.replyText).toBe("NO_ROUTE");
    expect(ret.bodyToString()).toBe("lost");

    // Channel error: 404 on a passive declare; the connection stays usable.
    const errCh = await conn.channel();
    await expect(errCh.queueDeclare(`${p}.missing`, { passive: true })).rejects.toThrow(
      /NOT_FOUND - no queue 'cloudamqp\.missing' in vhost '\/'/,
    );
    expect(errCh.closed).toBe(true);
    expect(conn.closed).toBe(false);
    const again = await conn.channel();
    expect((await again.queueDeclare(q.name, { passive: true })).name).toBe(q.name);
    await again.close();

    await ch.queueDelete(q.name);
    await ch.queueDelete(dead.name);
    await ch.exchangeDelete(`${p}.events`);
    await ch.exchangeDelete(`${p}.dlx`);
    await ch.close();
    await conn.close();
    expect(conn.closed).toBe(true);
  });
});

describe("both clients at once", () => {
  it("exchange messages across libraries, and the broker is back to 0 connections after both close", async () => {
    const a = track(await within(amqp.connect(broker.url), "amqplib connect"));
    const b = track(await within(new AMQPClient(broker.url).connect(), "amqp-client connect"));
    await expect.poll(() => broker.stats().connections, POLL).toBe(2);

    const bch = await b.channel();
    const q = await bch.queueDeclare("cross-client", { durable: false, exclusive: true });
    const received = new Promise<AMQPMessage>((resolve) => {
      void bch.basicConsume(q.name, { noAck: true }, resolve);
    });
    const ach = await a.createConfirmChannel();
    ach.sendToQueue(q.name, Buffer.from("hello from amqplib"), { headers: { from: "amqplib" } });
    await ach.waitForConfirms();
    const msg = await within(received, "cross-client delivery");
    expect(msg.bodyToString()).toBe("hello from amqplib");
    expect(msg.properties.headers?.["from"]).toBe("amqplib");

    await a.close();
    await b.close();
    await expect.poll(() => broker.stats().connections, POLL).toBe(0);
    expect(broker.stats()).toMatchObject({ connections: 0, channels: 0, consumers: 0 });
    // The exclusive queue went with its connection.
    expect(broker.vhost.queues.has("cross-client")).toBe(false);
  });
});

/**
 * The message event ledger (src/broker/model/events.ts): its bounds and index, each kind of
 * event recorded through real amqplib clients against the embedded broker, and the ledger
 * question over AMQP (`amq.eventlab.why`), with the ledger on and off. Every wait is bounded.
 */
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from "amqplib";
import { afterEach, describe, expect, it } from "vitest";
import {
  type MessageEvent,
  MessageEvents,
  type RunningBroker,
  startBroker,
} from "../../src/broker/index.js";
import { NO_LEDGER_ERROR, WHY_ROUTING_KEY } from "../../src/broker/model/events.js";
import { within } from "../helpers/wait.js";

const opened: ChannelModel[] = [];
const brokers: RunningBroker[] = [];

afterEach(async () => {
  for (const c of opened.splice(0)) await within(c.close(), "close client", 3000).catch(() => {});
  for (const b of brokers.splice(0)) await within(b.close(), "close broker", 3000);
});

async function broker(ledger: boolean | { maxEvents: number } = true): Promise<RunningBroker> {
  const b = await startBroker({ port: 0, ledger });
  brokers.push(b);
  return b;
}

async function client(b: RunningBroker, name: string): Promise<Channel> {
  const c = await within(
    amqp.connect(b.url, { clientProperties: { connection_name: name } }),
    "connect",
    3000,
  );
  opened.push(c);
  const ch = await c.createChannel();
  ch.on("error", () => {});
  return ch;
}

/** Resolve once the ledger holds an event `pred` accepts (already, or when it comes). */
function eventually(
  ledger: MessageEvents,
  pred: (e: MessageEvent) => boolean,
  what: string,
): Promise<MessageEvent> {
  const found = ledger.all().find(pred);
  if (found) return Promise.resolve(found);
  let off = () => {};
  const p = new Promise<MessageEvent>((resolve) => {
    off = ledger.subscribe((e) => {
      if (pred(e)) resolve(e);
    });
  });
  return within(p, what, 3000).finally(() => off());
}

const kinds = (events: MessageEvent[]) =>
  events.map((e) => (e.queue ? `${e.kind} ${e.queue}` : e.kind));

/** The next message a consumer on `queue` gets. */
function nextMessage(ch: Channel, queue: string): Promise<ConsumeMessage> {
  return within(
    new Promise<ConsumeMessage>((resolve) => {
      void ch.consume(queue, (m) => {
        if (m) resolve(m);
      });
    }),
    `a delivery from ${queue}`,
    3000,
  );
}

describe("the ledger's bounds and index", () => {
  const props = (id: string) => ({ messageId: id });

  it("keeps the newest maxEvents in order, and the index by id in step", () => {
    const l = new MessageEvents({ maxEvents: 4 });
    for (const [i, id] of ["a", "b", "a", "c", "a", "b"].entries())
      l.record(props(id), { kind: "published", routingKey: String(i) });
    expect(l.all().map((e) => `${e.id}${e.routingKey}`)).toEqual(["a2", "c3", "a4", "b5"]);
    expect(l.of("a").map((e) => e.routingKey)).toEqual(["2", "4"]);
    expect(l.of("b").map((e) => e.routingKey)).toEqual(["5"]);
    expect(l.size).toBe(4);
    expect(l.messages).toBe(3);
    l.record(props("c"), { kind: "acked" });
    l.record(props("c"), { kind: "acked" });
    // "a2" and "c3" went: a keeps one, c only its new ones.
    expect(l.of("a").map((e) => e.routingKey)).toEqual(["4"]);
    expect(l.of("c").map((e) => e.kind)).toEqual(["acked", "acked"]);
    l.record(props("x"), { kind: "acked" });
    l.record(props("x"), { kind: "acked" });
    expect(l.of("a")).toEqual([]);
    expect(l.messages).toBe(2);
  });

  it("a long-lived id keeps exactly its newest events as old ones go", () => {
    const l = new MessageEvents({ maxEvents: 50 });
    for (let i = 0; i < 500; i++) l.record(props("same"), { kind: "delivered", deliveryTag: i });
    const tags = l.of("same").map((e) => e.deliveryTag);
    expect(tags).toHaveLength(50);
    expect(tags[0]).toBe(450);
    expect(tags[49]).toBe(499);
  });

  it("records nothing without an id; idOf chooses the id; subscribe and clear", () => {
    const l = new MessageEvents({ idOf: (p) => p.correlationId });
    const seen: string[] = [];
    const off = l.subscribe((e) => seen.push(e.id));
    expect(l.record({ messageId: "m" }, { kind: "published" })).toBeUndefined();
    l.record({ correlationId: "c1" }, { kind: "published" });
    off();
    l.record({ correlationId: "c2" }, { kind: "published" });
    expect(seen).toEqual(["c1"]);
    expect(l.all().map((e) => e.id)).toEqual(["c1", "c2"]);
    l.clear();
    expect([l.size, l.messages, l.of("c1").length]).toEqual([0, 0, 0]);
  });
});

describe("the ledger in the embedded broker", () => {
  it("is off by default: no ledger at all", async () => {
    const b = await startBroker({ port: 0 });
    brokers.push(b);
    expect(b.events).toBeUndefined();
    expect(b.vhost.events).toBeUndefined();
  });

  it("a publish routed to two queues, then basic.get and ack (multiple too)", async () => {
    const b = await broker();
    const ledger = b.events as MessageEvents;
    const pub = await client(b, "shop");
    await pub.assertExchange("orders", "topic", { durable: false });
    for (const [q, key] of [
      ["inventory", "order.*"],
      ["billing", "order.#"],
    ] as const) {
      await pub.assertQueue(q, { durable: false });
      await pub.bindQueue(q, "orders", key);
    }
    pub.publish("orders", "order.created", Buffer.from("{}"), { messageId: "m1" });
    pub.publish("orders", "nowhere", Buffer.from("{}"), { messageId: "m-lost" });
    pub.publish("orders", "order.created", Buffer.from("{}")); // no id: not recorded
    await eventually(ledger, (e) => e.id === "m-lost", "the unroutable publish");
    expect(kinds(ledger.of("m1"))).toEqual([
      "published",
      "routed",
      "enqueued inventory",
      "enqueued billing",
    ]);
    const [published, routed] = ledger.of("m1");
    expect(published).toMatchObject({ connection: "shop", exchange: "orders", channel: 1 });
    expect(routed?.queues).toEqual(["inventory", "billing"]);
    expect(ledger.of("m1")[2]?.connection).toBe("shop");
    expect(kinds(ledger.of("m-lost"))).toEqual(["published", "unroutable"]);
    expect(ledger.messages).toBe(2);

    const got = await client(b, "clerk");
    const m = await within(Promise.resolve(got.get("inventory")), "get", 3000);
    if (!m) throw new Error("basic.get found nothing");
    got.ack(m);
    await eventually(ledger, (e) => e.kind === "acked", "the ack");
    expect(ledger.of("m1").slice(4)).toMatchObject([
      { kind: "delivered", queue: "inventory", connection: "clerk", deliveryTag: 1 },
      { kind: "acked", queue: "inventory", connection: "clerk", deliveryTag: 1 },
    ]);
    expect(ledger.of("m1")[4]?.consumerTag).toBeUndefined();

    for (const id of ["g1", "g2", "g3"])
      pub.publish("", "billing", Buffer.from(id), { messageId: id });
    await eventually(ledger, (e) => e.id === "g3" && e.kind === "enqueued", "g3 enqueued");
    // billing holds m1, the message without an id, g1, g2, g3.
    const taken = [];
    for (let i = 0; i < 5; i++) taken.push(await got.get("billing"));
    const last = taken[4];
    if (!last || last === true) throw new Error("basic.get found nothing");
    got.ack(last, true);
    await eventually(ledger, (e) => e.id === "g3" && e.kind === "acked", "the multiple ack");
    for (const id of ["m1", "g1", "g2", "g3"])
      expect(ledger.of(id).filter((e) => e.kind === "acked" && e.queue === "billing")).toHaveLength(
        1,
      );
  });

  it("nack with requeue, then the redelivery", async () => {
    const b = await broker();
    const ledger = b.events as MessageEvents;
    const ch = await client(b, "worker");
    await ch.assertQueue("jobs", { durable: false });
    ch.sendToQueue("jobs", Buffer.from("x"), { messageId: "j1" });
    const seen: boolean[] = [];
    await ch.consume(
      "jobs",
      (m) => {
        if (!m) return;
        seen.push(m.fields.redelivered);
        if (seen.length === 1) ch.nack(m, false, true);
        else ch.ack(m);
      },
      { consumerTag: "w1" },
    );
    await eventually(ledger, (e) => e.kind === "acked", "the ack after the redelivery");
    expect(kinds(ledger.of("j1"))).toEqual([
      "published",
      "routed",
      "enqueued jobs",
      "delivered jobs",
      "nacked jobs",
      "delivered jobs",
      "acked jobs",
    ]);
    const events = ledger.of("j1");
    expect(events[4]).toMatchObject({ requeue: true, consumerTag: "w1", deliveryTag: 1 });
    expect(events[5]).toMatchObject({ redelivered: true, deliveryTag: 2 });
  });

  it("reject to a dead-letter exchange: rejected, dead-lettered (rejected), enqueued", async () => {
    const b = await broker();
    const ledger = b.events as MessageEvents;
    const ch = await client(b, "picky");
    await ch.assertExchange("dlx", "fanout", { durable: false });
    await ch.assertQueue("dead", { durable: false });
    await ch.bindQueue("dead", "dlx", "");
    await ch.assertQueue("work", { durable: false, deadLetterExchange: "dlx" });
    ch.sendToQueue("work", Buffer.from("x"), { messageId: "r1" });
    ch.reject(await nextMessage(ch, "work"), false);
    await eventually(ledger, (e) => e.kind === "enqueued" && e.queue === "dead", "dead-lettered");
    expect(kinds(ledger.of("r1")).slice(3)).toEqual([
      "delivered work",
      "rejected work",
      "dead-lettered work",
      "enqueued dead",
    ]);
    const [, rejected, dead] = ledger.of("r1").slice(3);
    expect(rejected).toMatchObject({ requeue: false, connection: "picky" });
    expect(dead).toMatchObject({
      reason: "rejected",
      to: "dlx",
      routingKey: "work",
      queues: ["dead"],
      connection: "picky",
    });
  });

  it("TTL expiry: expired, then dead-lettered (expired), by the broker", async () => {
    const b = await broker();
    const ledger = b.events as MessageEvents;
    const ch = await client(b, "timer");
    await ch.assertQueue("later", { durable: false });
    await ch.assertQueue("short", {
      durable: false,
      messageTtl: 20,
      deadLetterExchange: "",
      deadLetterRoutingKey: "later",
    });
    ch.sendToQueue("short", Buffer.from("x"), { messageId: "t1" });
    await eventually(ledger, (e) => e.queue === "later", "the expired message dead-lettered");
    const events = ledger.of("t1");
    expect(kinds(events)).toEqual([
      "published",
      "routed",
      "enqueued short",
      "expired short",
      "dead-lettered short",
      "enqueued later",
    ]);
    expect(events[3]?.connection).toBe("broker");
    expect(events[4]).toMatchObject({ reason: "expired", to: "", routingKey: "later" });
    expect((events[3]?.t ?? 0) - (events[2]?.t ?? 0)).toBeGreaterThanOrEqual(15);
  });

  it("max-length: drop-head drops the oldest, reject-publish refuses the newest", async () => {
    const b = await broker();
    const ledger = b.events as MessageEvents;
    const ch = await client(b, "flood");
    await ch.assertQueue("head", { durable: false, maxLength: 1 });
    await ch.assertQueue("full", {
      durable: false,
      maxLength: 1,
      arguments: { "x-overflow": "reject-publish" },
    });
    for (const id of ["h1", "h2"]) ch.sendToQueue("head", Buffer.from(id), { messageId: id });
    for (const id of ["f1", "f2"]) ch.sendToQueue("full", Buffer.from(id), { messageId: id });
    await eventually(ledger, (e) => e.id === "f2" && e.kind === "dropped", "the refused publish");
    expect(kinds(ledger.of("h1"))).toEqual([
      "published",
      "routed",
      "enqueued head",
      "dropped head",
    ]);
    expect(ledger.of("h1")[3]).toMatchObject({
      reason: "maxlen (x-overflow drop-head)",
      connection: "flood",
    });
    expect(kinds(ledger.of("h2"))).toEqual(["published", "routed", "enqueued head"]);
    expect(kinds(ledger.of("f2"))).toEqual(["published", "routed", "dropped full"]);
    expect(ledger.of("f2")[2]?.reason).toBe("queue full (reject-publish)");
    await ch.purgeQueue("head");
    expect(ledger.of("h2").at(-1)).toMatchObject({ kind: "dropped", reason: "purged" });
  });
});

describe("the ledger question over AMQP", () => {
  /** Ask over direct reply-to, as `eventlab why` does; the raw reply and whether it came back. */
  async function ask(b: RunningBroker, id: string) {
    const ch = await client(b, "asker");
    const replies: ConsumeMessage[] = [];
    const returned: string[] = [];
    ch.on("return", (m: ConsumeMessage) => returned.push(m.fields.routingKey));
    const got = new Promise<ConsumeMessage>((resolve) => {
      void ch.consume(
        "amq.rabbitmq.reply-to",
        (m) => {
          if (m) resolve(m);
        },
        { noAck: true },
      );
    });
    ch.publish("", WHY_ROUTING_KEY, Buffer.from(id), {
      replyTo: "amq.rabbitmq.reply-to",
      correlationId: "q-1",
      mandatory: true,
    });
    replies.push(await within(got, "the ledger's answer", 3000));
    // A round trip: a basic.return for the question would have arrived before its answer.
    await ch.prefetch(1);
    return { reply: replies[0] as ConsumeMessage, returned };
  }

  it("answers with the message's events, and why each queue got it", async () => {
    const b = await broker();
    const ch = await client(b, "asker");
    await ch.assertExchange("orders", "topic", { durable: false });
    await ch.assertQueue("eu", { durable: false });
    await ch.bindQueue("eu", "orders", "order.*.eu");
    ch.publish("orders", "order.created.eu", Buffer.from("{}"), { messageId: "o-7" });
    await eventually(b.events as MessageEvents, (e) => e.kind === "enqueued", "enqueued");
    const { reply, returned } = await ask(b, "o-7");
    expect(reply.properties.correlationId).toBe("q-1");
    const answer = JSON.parse(reply.content.toString()) as {
      events: MessageEvent[];
      messages: number;
    };
    expect(kinds(answer.events)).toEqual(["published", "routed", "enqueued eu"]);
    expect(answer.messages).toBe(1);
    expect(answer.events[1]?.reasons?.["eu"]).toBe(
      "orders binding 'order.*.eu': `*` took 'created'",
    );
    // Nothing was enqueued for the question, and it did not come back unroutable.
    expect(b.stats().ready).toBe(1);
    expect(returned).toEqual([]);
    const unknown = JSON.parse((await ask(b, "nope")).reply.content.toString());
    expect(unknown).toEqual({ events: [], messages: 1 });
  });

  it("says so when the broker keeps no ledger", async () => {
    const b = await broker(false);
    const { reply } = await ask(b, "o-7");
    expect(JSON.parse(reply.content.toString())).toEqual({ error: NO_LEDGER_ERROR });
    expect(NO_LEDGER_ERROR).toContain("eventlab broker --ledger");
  });

  it("a reply_to naming a queue gets the answer there", async () => {
    const b = await broker();
    const ch = await client(b, "asker");
    await ch.assertQueue("answers", { durable: false });
    ch.publish("", WHY_ROUTING_KEY, Buffer.from("x"), { replyTo: "answers", correlationId: "c" });
    const m = await nextMessage(ch, "answers");
    expect(m.properties.correlationId).toBe("c");
    expect(JSON.parse(m.content.toString())).toEqual({ events: [], messages: 0 });
  });
});

/**
 * The x-delayed-message exchange (an extension: RabbitMQ needs the community plugin
 * rabbitmq_delayed_message_exchange, LavinMQ has it built in), driven with amqplib against
 * the embedded broker on port 0. Absence is shown without sleeping: a later sentinel message
 * through the same queue arrives first, or the holder is seen empty.
 */
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from "amqplib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { within } from "../helpers/wait.js";
import { WAIT_MS } from "./broker-helpers.js";

let broker: RunningBroker;
let conn: ChannelModel;
let ch: ConfirmChannel;

beforeEach(async () => {
  broker = await startBroker({ port: 0 });
  conn = await amqp.connect(broker.url);
  ch = await conn.createConfirmChannel();
});

afterEach(async () => {
  await conn.close().catch(() => {});
  await broker.close();
});

/** Collect what arrives on `queue` until `n` messages are in; bounded by WAIT_MS. */
async function take(c: Channel, queue: string, n: number): Promise<amqp.ConsumeMessage[]> {
  const got: amqp.ConsumeMessage[] = [];
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const { consumerTag } = await c.consume(
    queue,
    (m) => {
      if (!m) return;
      got.push(m);
      if (got.length === n) done();
    },
    { noAck: true },
  );
  await within(all, `${n} messages on ${queue} (got ${got.length})`, WAIT_MS);
  await c.cancel(consumerTag);
  return got;
}

const bodies = (ms: amqp.ConsumeMessage[]) => ms.map((m) => m.content.toString());

async function delayedExchange(name: string, type: string): Promise<void> {
  await ch.assertExchange(name, "x-delayed-message", {
    durable: false,
    arguments: { "x-delayed-type": type },
  });
}

async function publish(x: string, key: string, body: string, headers: object): Promise<void> {
  ch.publish(x, key, Buffer.from(body), { headers });
  await ch.waitForConfirms();
}

describe("x-delayed-message", () => {
  it("holds each message for its x-delay and delivers in due order, x-delay negated", async () => {
    await delayedExchange("later", "direct");
    await ch.assertQueue("q", { durable: false });
    await ch.bindQueue("q", "later", "k");
    const sent = Date.now();
    await publish("later", "k", "300", { "x-delay": 300 });
    await publish("later", "k", "100", { "x-delay": 100 });
    await publish("later", "k", "200", { "x-delay": 200 });
    await publish("later", "k", "now", {});
    // Confirmed on acceptance: held, not yet in the queue.
    expect((await ch.checkQueue("q")).messageCount).toBe(1);
    expect(broker.vhost.delayed.size).toBe(3);
    const got = await take(ch, "q", 4);
    expect(bodies(got)).toEqual(["now", "100", "200", "300"]);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(290);
    expect(got.map((m) => m.properties.headers?.["x-delay"])).toEqual([
      undefined,
      -100,
      -200,
      -300,
    ]);
  });

  it("x-delay absent, 0 or negative routes at once, the header left as it was", async () => {
    await delayedExchange("later", "fanout");
    await ch.assertQueue("q", { durable: false });
    await ch.bindQueue("q", "later", "");
    await publish("later", "", "none", {});
    await publish("later", "", "zero", { "x-delay": 0 });
    await publish("later", "", "negative", { "x-delay": -5000 });
    expect(broker.vhost.delayed.size).toBe(0);
    const got = await take(ch, "q", 3);
    expect(bodies(got)).toEqual(["none", "zero", "negative"]);
    expect(got[2]?.properties.headers?.["x-delay"]).toBe(-5000);
  });

  it("routes by x-delayed-type: topic", async () => {
    await delayedExchange("later", "topic");
    for (const [q, key] of [
      ["eu", "order.*.eu"],
      ["all", "order.#"],
      ["us", "order.*.us"],
    ]) {
      await ch.assertQueue(q as string, { durable: false });
      await ch.bindQueue(q as string, "later", key as string);
    }
    await publish("later", "order.created.eu", "m", { "x-delay": 50 });
    await publish("later", "order.created.us", "sentinel", { "x-delay": 60 });
    expect(bodies(await take(ch, "eu", 1))).toEqual(["m"]);
    expect(bodies(await take(ch, "all", 2))).toEqual(["m", "sentinel"]);
    expect(bodies(await take(ch, "us", 1))).toEqual(["sentinel"]);
  });

  it("routes by x-delayed-type: headers", async () => {
    await delayedExchange("later", "headers");
    await ch.assertQueue("eu", { durable: false });
    await ch.assertQueue("all", { durable: false });
    await ch.bindQueue("eu", "later", "", { "x-match": "all", region: "eu" });
    await ch.bindQueue("all", "later", "", { "x-match": "any", region: "eu", kind: "x" });
    await publish("later", "", "us", { "x-delay": 40, region: "us" });
    await publish("later", "", "eu", { "x-delay": 50, region: "eu" });
    await publish("later", "", "sentinel", { "x-delay": 60, kind: "x" });
    expect(bodies(await take(ch, "eu", 1))).toEqual(["eu"]);
    expect(bodies(await take(ch, "all", 2))).toEqual(["eu", "sentinel"]);
  });

  it("routes by the bindings as they are when the message is due", async () => {
    await delayedExchange("later", "direct");
    await ch.assertQueue("before", { durable: false });
    await ch.assertQueue("after", { durable: false });
    await ch.bindQueue("before", "later", "k");
    await publish("later", "k", "m", { "x-delay": 150 });
    await ch.unbindQueue("before", "later", "k");
    await ch.bindQueue("after", "later", "k");
    expect(bodies(await take(ch, "after", 1))).toEqual(["m"]);
    expect((await ch.checkQueue("before")).messageCount).toBe(0);
  });

  it("what waits in a deleted exchange goes with it; a redeclared one starts empty", async () => {
    await delayedExchange("later", "direct");
    await ch.assertQueue("q", { durable: false });
    await ch.bindQueue("q", "later", "k");
    await publish("later", "k", "lost", { "x-delay": 100 });
    expect(broker.vhost.delayed.heldIn("later")).toBe(1);
    await ch.deleteExchange("later");
    expect(broker.vhost.delayed.size).toBe(0);
    await delayedExchange("later", "direct");
    await ch.bindQueue("q", "later", "k");
    await publish("later", "k", "sentinel", { "x-delay": 150 });
    expect(bodies(await take(ch, "q", 1))).toEqual(["sentinel"]);
    expect((await ch.checkQueue("q")).messageCount).toBe(0);
  });

  it("mandatory: a held message is accepted, not returned, even with no binding", async () => {
    await delayedExchange("later", "direct");
    const returned: string[] = [];
    ch.on("return", (m: amqp.Message) => returned.push(m.content.toString()));
    ch.publish("later", "k", Buffer.from("held"), { mandatory: true, headers: { "x-delay": 50 } });
    ch.publish("later", "k", Buffer.from("now"), { mandatory: true });
    await within(ch.waitForConfirms(), "confirms", WAIT_MS);
    // basic.return comes before the confirm of its publish: by now both would have arrived.
    expect(returned).toEqual(["now"]);
  });

  it("exchange.declare without x-delayed-type is refused: 406 with the plugin's text", async () => {
    const c = await conn.createChannel();
    const closed = new Promise<Error>((resolve) => c.on("error", resolve));
    await expect(c.assertExchange("later", "x-delayed-message", {})).rejects.toThrow();
    const err = await within(closed, "channel close", WAIT_MS);
    expect(err.message).toContain("406");
    expect(err.message).toContain("'x-delayed-type' must bean existing exchnage type");
  });
});

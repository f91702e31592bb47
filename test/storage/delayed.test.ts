/**
 * A durable x-delayed-message exchange with a data directory: the exchange, its x-delayed-type
 * and its bindings survive a restart and route as before. The messages it held do not: they
 * are kept in memory only (unlike the plugin, which keeps them in Mnesia; see
 * src/broker/model/delayed.ts), and this test pins that down so that a change is deliberate.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { afterAll, expect, test } from "vitest";
import { startBroker } from "../../src/broker/index.js";
import { within } from "../helpers/wait.js";

const root = mkdtempSync(join(tmpdir(), "eventlab-delayed-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test("a durable delayed exchange survives a restart; what it held does not", async () => {
  const dir = join(root, "d");
  let b = await startBroker({ port: 0, dataDir: dir });
  let c = await amqp.connect(b.url);
  let ch = await c.createConfirmChannel();
  await ch.assertExchange("later", "x-delayed-message", {
    durable: true,
    arguments: { "x-delayed-type": "topic" },
  });
  await ch.assertQueue("q", { durable: true });
  await ch.bindQueue("q", "later", "order.#");
  ch.publish("later", "order.new", Buffer.from("held"), {
    persistent: true,
    headers: { "x-delay": 60_000 },
  });
  await ch.waitForConfirms();
  expect(b.vhost.delayed.size).toBe(1);
  await c.close();
  await b.close();

  b = await startBroker({ port: 0, dataDir: dir });
  try {
    expect(b.vhost.exchanges.get("later")).toMatchObject({ type: "x-delayed-message" });
    expect(b.vhost.routing.exchange("later")).toMatchObject({ type: "topic", delayed: true });
    expect(b.vhost.delayed.size).toBe(0);
    c = await amqp.connect(b.url);
    ch = await c.createConfirmChannel();
    ch.publish("later", "order.paid", Buffer.from("after"), {
      persistent: true,
      headers: { "x-delay": 30 },
    });
    await ch.waitForConfirms();
    const m = await within(
      new Promise<amqp.ConsumeMessage>((resolve) => {
        void ch.consume("q", (msg) => msg && resolve(msg), { noAck: true });
      }),
      "the delayed message after the restart",
      2000,
    );
    expect(m.content.toString()).toBe("after");
    expect(m.properties.headers?.["x-delay"]).toBe(-30);
    await c.close();
  } finally {
    await b.close();
  }
});

/**
 * A durable x-delayed-message exchange with a data directory: the exchange, its x-delayed-type
 * and its bindings survive a restart and route as before, and the persistent messages it
 * held are held again until their due time (the plugin keeps them in Mnesia, LavinMQ in its
 * delay queue). Transient ones and those of a non-durable exchange go; a message already
 * released does not come back.
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

test("held persistent messages survive a restart and leave at their due time, once", async () => {
  const dir = join(root, "d");
  let b = await startBroker({ port: 0, dataDir: dir });
  let c = await amqp.connect(b.url);
  let ch = await c.createConfirmChannel();
  await ch.assertExchange("later", "x-delayed-message", {
    durable: true,
    arguments: { "x-delayed-type": "topic" },
  });
  await ch.assertExchange("gone", "x-delayed-message", {
    durable: false,
    arguments: { "x-delayed-type": "fanout" },
  });
  await ch.assertQueue("q", { durable: true });
  await ch.bindQueue("q", "later", "order.#");
  await ch.bindQueue("q", "gone", "");
  const published = Date.now();
  const delay = { "x-delay": 1500 };
  ch.publish("later", "order.new", Buffer.from("kept"), { persistent: true, headers: delay });
  ch.publish("later", "order.new", Buffer.from("transient"), { headers: delay });
  ch.publish("gone", "", Buffer.from("non-durable exchange"), { persistent: true, headers: delay });
  ch.publish("later", "order.soon", Buffer.from("released"), {
    persistent: true,
    headers: { "x-delay": 50 },
  });
  await ch.waitForConfirms();
  // "released" leaves the holder into q before the restart.
  await within(
    (async () => {
      while ((await ch.checkQueue("q")).messageCount < 1)
        await new Promise((r) => setTimeout(r, 20));
    })(),
    "the short delay",
    5000,
  );
  expect(b.vhost.delayed.size).toBe(3);
  await c.close();
  await b.close();

  b = await startBroker({ port: 0, dataDir: dir });
  try {
    expect(b.vhost.exchanges.get("later")).toMatchObject({ type: "x-delayed-message" });
    expect(b.vhost.routing.exchange("later")).toMatchObject({ type: "topic", delayed: true });
    expect(b.vhost.delayed.size).toBe(1);
    c = await amqp.connect(b.url);
    ch = await c.createConfirmChannel();
    const got: { body: string; at: number; delay: unknown }[] = [];
    await ch.consume(
      "q",
      (m) => {
        if (m)
          got.push({
            body: m.content.toString(),
            at: Date.now(),
            delay: m.properties.headers?.["x-delay"],
          });
      },
      { noAck: true },
    );
    await within(
      (async () => {
        while (got.length < 2) await new Promise((r) => setTimeout(r, 20));
      })(),
      "the held message after the restart",
      5000,
    );
    expect(got.map((g) => g.body)).toEqual(["released", "kept"]);
    expect(got[1]?.at).toBeGreaterThanOrEqual(published + 1500);
    expect(got[1]?.delay).toBe(-1500);
    await c.close();
  } finally {
    await b.close();
  }
  // Released and delivered: nothing is held, and "kept" is not held again.
  b = await startBroker({ port: 0, dataDir: dir });
  expect(b.vhost.delayed.size).toBe(0);
  await b.close();
});

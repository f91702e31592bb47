/**
 * `eventlab broker` spawned as a user runs it (bin/eventlab.cjs, so `npm run build` first), fed
 * by amqplib, stopped with SIGINT as Ctrl-C does: its closing line and --json stats count every
 * message delivered, whichever way it left (a tap's exclusive queue gone with its connection,
 * a queue deleted, a consumer still connected at Ctrl-C), never only what the queues still
 * held. Reported as "delivered: 0 after 2.5 M deliveries" when the count was a sum over the
 * queues left at exit.
 */
import amqp, { type ChannelModel } from "amqplib";
import { afterEach, describe, expect, it } from "vitest";
import { startBrokerProcess, stopAll } from "../helpers/broker-process.js";
import { waitFor } from "../protocol/broker-helpers.js";

const N = 3000;

const connections: ChannelModel[] = [];

afterEach(async () => {
  for (const c of connections.splice(0)) await c.close().catch(() => {});
  stopAll();
});

async function connect(url: string): Promise<ChannelModel> {
  const c = await amqp.connect(url);
  connections.push(c);
  return c;
}

/** Consume `queue`, acking unless noAck; `received()` counts what arrived. */
async function consume(conn: ChannelModel, queue: string, noAck: boolean) {
  const ch = await conn.createChannel();
  await ch.prefetch(100);
  let got = 0;
  await ch.consume(
    queue,
    (m) => {
      if (!m) return;
      if (!noAck) ch.ack(m);
      got += 1;
    },
    { noAck },
  );
  return { received: () => got };
}

describe("eventlab broker's closing stats after Ctrl-C", () => {
  it("count every delivery: a tap that went away, a deleted queue, a consumer still there", async () => {
    const broker = await startBrokerProcess(["--json"]);
    const { url } = JSON.parse(broker.first) as { url: string };

    // A tap: an exclusive, auto-delete, server-named queue on amq.topic, consumed without acks.
    const tap = await connect(url);
    const tapCh = await tap.createChannel();
    const { queue: tapQueue } = await tapCh.assertQueue("", { exclusive: true, autoDelete: true });
    await tapCh.bindQueue(tapQueue, "amq.topic", "order.#");
    const tapped = await consume(tap, tapQueue, true);
    // A work queue consumed with acks, deleted afterwards; and one consumed at Ctrl-C.
    const worker = await connect(url);
    const admin = await worker.createChannel();
    await admin.assertQueue("work", { durable: false });
    await admin.assertQueue("still-consumed", { durable: false });
    const worked = await consume(worker, "work", false);
    // Without acks, so that nothing is left unacknowledged (and "dropped") at Ctrl-C.
    const stayed = await consume(await connect(url), "still-consumed", true);

    const publisher = await connect(url);
    const pub = await publisher.createConfirmChannel();
    for (let i = 0; i < N; i++) {
      pub.publish("amq.topic", "order.created", Buffer.from(String(i)));
      pub.sendToQueue("work", Buffer.from(String(i)));
      pub.sendToQueue("still-consumed", Buffer.from(String(i)));
    }
    await pub.waitForConfirms();
    await waitFor(
      () => tapped.received() === N && worked.received() === N && stayed.received() === N,
      `${N} messages to each consumer`,
      30_000,
    );
    await tap.close();
    await admin.deleteQueue("work");

    expect(await broker.stop("SIGINT"), broker.stderr()).toBe(0);
    expect(broker.stderr()).toContain(
      `broker stopped: ${(3 * N).toLocaleString("en-US")} published, ${(3 * N).toLocaleString("en-US")} delivered, 0 messages dropped with it`,
    );
    const final = JSON.parse(broker.stdout().trim().split("\n").pop() as string);
    expect(final).toMatchObject({ stopped: true, published: 3 * N, delivered: 3 * N });
  }, 60_000);
});

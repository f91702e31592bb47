/**
 * The embedded broker's totals (published, delivered) are cumulative over its life: they keep
 * counting what went through queues that were deleted since, however they went (queue.delete,
 * an exclusive tap's connection closing, auto-delete, x-expires, shutdown). Driven with amqplib
 * against the broker on port 0, and through `eventlab broker`'s closing line in-process.
 */
import { Readable } from "node:stream";
import amqp, { type Channel, type ChannelModel } from "amqplib";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { main } from "../../src/cli.js";
import { memoryStream } from "../helpers/cli.js";
import { WAIT_MS, waitFor } from "./broker-helpers.js";

const N = 100;

let broker: RunningBroker | undefined;
const connections: ChannelModel[] = [];

afterEach(async () => {
  for (const c of connections.splice(0)) await c.close().catch(() => {});
  await broker?.close();
  broker = undefined;
});

async function connect(url: string): Promise<ChannelModel> {
  const c = await amqp.connect(url);
  connections.push(c);
  return c;
}

/** Publish N messages on a confirm channel and wait for the confirms. */
async function publishN(conn: ChannelModel, exchange: string, key: string): Promise<void> {
  const ch = await conn.createConfirmChannel();
  for (let i = 0; i < N; i++) ch.publish(exchange, key, Buffer.from(String(i)));
  await ch.waitForConfirms();
  await ch.close();
}

/**
 * Consume (acking) from `queue`, run `publish`, and wait until N messages arrived, bounded by
 * WAIT_MS; returns the consumer tag.
 */
async function consumeN(ch: Channel, queue: string, publish: () => Promise<void>): Promise<string> {
  let got = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const { consumerTag } = await ch.consume(queue, (m) => {
    if (!m) return;
    ch.ack(m);
    got += 1;
    if (got === N) done();
  });
  await publish();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${got} of ${N} delivered in ${WAIT_MS} ms`)),
      WAIT_MS,
    );
  });
  try {
    await Promise.race([all, late]);
  } finally {
    clearTimeout(timer);
  }
  return consumerTag;
}

/** Each way a queue leaves the broker after delivering N messages. */
const REMOVALS: Array<[string, (url: string) => Promise<void>]> = [
  [
    "a client deletes the queue",
    async (url) => {
      const conn = await connect(url);
      const ch = await conn.createChannel();
      await ch.assertQueue("orders", { durable: false });
      await ch.cancel(await consumeN(ch, "orders", () => publishN(conn, "", "orders")));
      expect((await ch.deleteQueue("orders")).messageCount).toBe(0);
    },
  ],
  [
    "a client deletes the queue it emptied with basic.get",
    async (url) => {
      const conn = await connect(url);
      const ch = await conn.createChannel();
      await ch.assertQueue("fetched", { durable: false });
      await publishN(conn, "", "fetched");
      for (let i = 0; i < N; i++) expect(await ch.get("fetched", { noAck: true })).not.toBe(false);
      expect((await ch.deleteQueue("fetched")).messageCount).toBe(0);
    },
  ],
  [
    "the connection of an exclusive auto-delete tap queue closes",
    async (url) => {
      const tap = await connect(url);
      const ch = await tap.createChannel();
      const { queue } = await ch.assertQueue("", { exclusive: true, autoDelete: true });
      await ch.bindQueue(queue, "amq.topic", "#");
      const publisher = await connect(url);
      await consumeN(ch, queue, () => publishN(publisher, "amq.topic", "order.created"));
      await tap.close();
    },
  ],
  [
    "the last consumer of an auto-delete queue cancels",
    async (url) => {
      const conn = await connect(url);
      const ch = await conn.createChannel();
      await ch.assertQueue("leaves", { durable: false, autoDelete: true });
      await ch.cancel(await consumeN(ch, "leaves", () => publishN(conn, "", "leaves")));
    },
  ],
  [
    "x-expires runs out after the last consumer cancels",
    async (url) => {
      const conn = await connect(url);
      const ch = await conn.createChannel();
      // While consumed the queue cannot expire; its clock starts at the cancel.
      await ch.assertQueue("expiring", { durable: false, expires: 300 });
      await ch.cancel(await consumeN(ch, "expiring", () => publishN(conn, "", "expiring")));
    },
  ],
];

describe("the embedded broker's totals include queues deleted since", () => {
  it.each(REMOVALS)("%s: still 100 published, 100 delivered", async (_, remove) => {
    const b = await startBroker({ port: 0 });
    broker = b;
    await remove(b.url);
    await waitFor(() => b.stats().queues === 0, "the queue is gone", 5000);
    expect(b.stats()).toMatchObject({
      queues: 0,
      ready: 0,
      unacked: 0,
      published: N,
      delivered: N,
    });
  });

  it("counts each delivery once when the owner deletes its exclusive queue, then closes", async () => {
    const b = await startBroker({ port: 0 });
    broker = b;
    const conn = await connect(b.url);
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue("", { exclusive: true });
    await ch.cancel(await consumeN(ch, queue, () => publishN(conn, "", queue)));
    await ch.deleteQueue(queue);
    await conn.close();
    await waitFor(() => b.stats().connections === 0, "the connection is gone");
    expect(b.stats()).toMatchObject({ queues: 0, published: N, delivered: N });
  });

  it("keeps its totals after shutdown, which drops the queues that were left", async () => {
    const b = await startBroker({ port: 0 });
    broker = b;
    const conn = await connect(b.url);
    const ch = await conn.createChannel();
    await ch.assertQueue("kept", { durable: false });
    await consumeN(ch, "kept", () => publishN(conn, "", "kept"));
    expect(b.stats()).toMatchObject({ queues: 1, published: N, delivered: N });
    await b.close();
    expect(b.stats()).toMatchObject({ queues: 0, published: N, delivered: N });
  });
});

describe("eventlab broker's closing line", () => {
  it("says 100 published, 100 delivered after a tap consumed them and went away", async () => {
    const stdout = memoryStream(false);
    const stderr = memoryStream(false);
    const stop = new AbortController();
    const exited = main(["broker", "--port", "0", "--json"], {
      streams: { stdin: Readable.from([]), stdout, stderr },
      env: { NO_COLOR: "1" },
      cwd: process.cwd(),
      signal: stop.signal,
    });
    try {
      await waitFor(() => stdout.text().includes("\n"), "the broker's URL on stdout", 10_000);
      const { url } = JSON.parse(stdout.text().split("\n")[0] as string) as { url: string };
      const tap = await connect(url);
      const ch = await tap.createChannel();
      const { queue } = await ch.assertQueue("", { exclusive: true, autoDelete: true });
      await ch.bindQueue(queue, "amq.topic", "#");
      const publisher = await connect(url);
      await consumeN(ch, queue, () => publishN(publisher, "amq.topic", "order.created"));
      for (const c of connections.splice(0)) await c.close();
    } finally {
      stop.abort();
    }
    expect(await exited, stderr.text()).toBe(0);
    expect(stderr.text()).toContain(
      "broker stopped: 100 published, 100 delivered, 0 messages dropped with it",
    );
    const final = JSON.parse(stdout.text().trim().split("\n").pop() as string);
    expect(final).toMatchObject({ stopped: true, queues: 0, published: N, delivered: N });
  });
});

describe("stream queues in the stats", () => {
  it("count as queues, their consumers as consumers, and nothing of theirs as ready", async () => {
    broker = await startBroker({ port: 0 });
    const c = await connect(broker.url);
    const ch = await c.createChannel();
    await ch.assertQueue("s", { durable: true, arguments: { "x-queue-type": "stream" } });
    await ch.prefetch(10);
    await ch.consume("s", () => {}, { noAck: false });
    await publishN(c, "", "s");
    const s = broker.stats();
    expect({ queues: s.queues, consumers: s.consumers, ready: s.ready }).toEqual({
      queues: 1,
      consumers: 1,
      ready: 0,
    });
  });
});

/**
 * Produce and consume across a lost connection, through the network-fault proxy: the same
 * suite runs on the embedded broker (test/e2e/failover.test.ts) and on RabbitMQ
 * (test/rabbitmq/failover.test.ts). Each run checks, by message id, that nothing eventlab
 * reported as confirmed or settled is missing, and that duplicates are only what it said
 * could be duplicated.
 */
import amqp, { type Channel, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../src/client/connect.js";
import { ConsumeSession } from "../../src/client/consume-session.js";
import { type FaultProxy, startProxy } from "../../src/net/proxy.js";
import { runCli, uniqueName } from "./cli.js";

export interface FailoverTarget {
  url(): string;
}

/** Where a URL points, for the proxy. */
export function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 5672) };
}

/** Wait for `check` to be true, polling, at most `timeoutMs`. */
export async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Take every message of `queue` (no-ack) and return their message ids, bounded in time. */
export async function drainIds(ch: Channel, queue: string, timeoutMs = 60_000): Promise<string[]> {
  const { messageCount } = await ch.checkQueue(queue);
  const ids: string[] = [];
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  if (messageCount === 0) done();
  const { consumerTag } = await ch.consume(
    queue,
    (m) => {
      if (!m) return;
      ids.push(String(m.properties.messageId));
      if (ids.length >= messageCount) done();
    },
    { noAck: true },
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    all,
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`drained ${ids.length} of ${messageCount}`)),
        timeoutMs,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  await ch.cancel(consumerTag);
  return ids;
}

export function failoverSuite(target: FailoverTarget): void {
  let proxy: FaultProxy;
  let admin: ChannelModel;
  let ch: Channel;
  const queues: string[] = [];

  beforeAll(async () => {
    proxy = await startProxy({ target: hostPort(target.url()) });
    admin = await amqp.connect(target.url());
    ch = await admin.createConfirmChannel();
  });

  afterAll(async () => {
    for (const q of queues) await ch?.deleteQueue(q).catch(() => {});
    await admin?.close().catch(() => {});
    await proxy?.close();
  });

  async function freshQueue(prefix: string): Promise<string> {
    const queue = uniqueName(prefix);
    queues.push(queue);
    await ch.assertQueue(queue, { durable: false });
    return queue;
  }

  describe("across a lost connection", () => {
    it("produce 100,000 with confirms, every connection cut at 40%: exit 0, every confirmed id on the queue, duplicates at most republished", async () => {
      const queue = await freshQueue("fo-produce");
      const run = runCli([
        ...["--url", proxy.urlFor(target.url())],
        ...["produce", "--exchange", "", "--key", queue, "--body", "x"],
        ...["--amount", "100000", "--json", "--reconnect-timeout", "20s"],
      ]);
      await until(
        "40% on the queue",
        async () => (await ch.checkQueue(queue)).messageCount >= 40_000,
      );
      proxy.cut();
      const r = await run;
      expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout);
      expect(s).toMatchObject({
        published: 100_000,
        confirmed: 100_000,
        unconfirmed: 0,
        nacked: 0,
      });
      expect(s.reconnects.length).toBeGreaterThanOrEqual(1);
      expect(r.stderr).toMatch(/! lost the connection to amqp:\/\/guest:\*\*\*@127\.0\.0\.1:\d+/);
      expect(r.stderr).toMatch(/✓ reconnected to amqp:\/\/guest:\*\*\*@127\.0\.0\.1:\d+ after /);

      const ids = await drainIds(ch, queue);
      const distinct = new Set(ids);
      // Every message id eventlab assigned (run-1 … run-100000) is there: all were confirmed.
      const prefix = ids[0]?.replace(/-\d+$/, "");
      expect(prefix).toMatch(/^[0-9a-f]{8}$/);
      for (let n = 1; n <= 100_000; n++) {
        if (!distinct.has(`${prefix}-${n}`)) throw new Error(`confirmed ${prefix}-${n} is missing`);
      }
      expect(distinct.size).toBe(100_000);
      expect(ids.length - distinct.size).toBeLessThanOrEqual(s.republished);
    }, 120_000);

    it("consume --count 50,000 with a cut midway: exactly 50,000 distinct settled, the rest still queued", async () => {
      const queue = await freshQueue("fo-consume");
      const total = 100_000;
      const body = Buffer.from("x");
      for (let i = 1; i <= total; i++) {
        if (!ch.sendToQueue(queue, body, { messageId: `m-${i}` }))
          await new Promise((r) => ch.once("drain", r));
      }
      await (ch as amqp.ConfirmChannel).waitForConfirms();
      const run = runCli([
        ...["--url", proxy.urlFor(target.url())],
        ...["consume", queue, "--count", "50000", "--json", "--reconnect-timeout", "20s"],
      ]);
      await until(
        "a quarter consumed",
        async () => (await ch.checkQueue(queue)).messageCount <= 75_000,
      );
      proxy.cut();
      const r = await run;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/✓ reconnected to /);
      const lines = r.stdout.trim().split("\n");
      const ids = new Set(lines.map((l) => JSON.parse(l).properties.messageId as string));
      expect(ids.size, `${lines.length} lines\n${r.stderr}`).toBe(50_000);
      expect(r.stderr).toMatch(/✓ consumed 50,000 from /);
      const left = await ch.checkQueue(queue);
      expect(left.messageCount + ids.size).toBe(total);
    }, 120_000);

    it("consume with behaviours through a cut: it connects again and settles --count 1,000", async () => {
      const queue = await freshQueue("fo-behave");
      for (let i = 1; i <= 2000; i++)
        ch.sendToQueue(queue, Buffer.from("x"), { messageId: `b-${i}` });
      await (ch as amqp.ConfirmChannel).waitForConfirms();
      const run = runCli([
        ...["--url", proxy.urlFor(target.url())],
        ...["consume", queue, "--work-time", "1ms", "--count", "1000", "--json"],
        ...["--reconnect-timeout", "20s"],
      ]);
      await until("some consumed", async () => (await ch.checkQueue(queue)).messageCount <= 1800);
      proxy.cut();
      const r = await run;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/✓ reconnected to /);
      expect(r.stderr).toMatch(/: 1000 processed · /);
      const left = (await ch.checkQueue(queue)).messageCount;
      // An ack lost in the cut brings its message back to be processed again.
      const again = Number(/(\d+) redelivered/.exec(r.stderr)?.[1] ?? 0);
      expect(left).toBeLessThanOrEqual(1000);
      expect(left).toBeGreaterThanOrEqual(1000 - again);
    }, 60_000);

    it("consume with behaviours and --no-reconnect: a cut ends it with exit 1 and the summary, never a hang", async () => {
      const queue = await freshQueue("fo-behave-stop");
      for (let i = 1; i <= 500; i++)
        ch.sendToQueue(queue, Buffer.from("x"), { messageId: `c-${i}` });
      await (ch as amqp.ConfirmChannel).waitForConfirms();
      const run = runCli([
        ...["--url", proxy.urlFor(target.url())],
        ...["consume", queue, "--work-time", "20ms", "--count", "500", "--no-reconnect"],
      ]);
      await until("some consumed", async () => (await ch.checkQueue(queue)).messageCount <= 480);
      proxy.cut();
      const r = await run;
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/processed · /);
      expect(r.stderr).toMatch(/error: the connection to the broker was lost/);
      await until(
        "the unsettled back in the queue",
        async () => (await ch.checkQueue(queue)).consumerCount === 0,
        10_000,
      );
    }, 60_000);

    it("Ctrl-C while reconnecting: exit 2, and the summary still accounts for every message", async () => {
      const queue = await freshQueue("fo-abort");
      const controller = new AbortController();
      const run = runCli(
        [
          ...["--url", proxy.urlFor(target.url())],
          ...["produce", "--exchange", "", "--key", queue, "--body", "x"],
          ...["--amount", "1000000", "--rate", "2000", "--json", "--reconnect", "forever"],
        ],
        { signal: controller.signal },
      );
      let r: Awaited<typeof run>;
      try {
        await until("publishing", async () => (await ch.checkQueue(queue)).messageCount >= 500);
        const refusedBefore = proxy.stats.refused;
        proxy.refuse(true);
        proxy.cut();
        await until("a reconnect try", () => proxy.stats.refused > refusedBefore, 10_000);
        controller.abort();
        r = await run;
      } finally {
        proxy.heal();
      }
      expect(r.code, r.stderr).toBe(2);
      const s = JSON.parse(r.stdout);
      expect(s.interrupted).toBe(true);
      expect(s.error).toBeUndefined();
      expect(s.published).toBe(s.confirmed + s.unconfirmed + s.nacked);
      const depth = (await ch.checkQueue(queue)).messageCount;
      expect(depth).toBeGreaterThanOrEqual(s.confirmed);
      expect(depth).toBeLessThanOrEqual(s.published);
    }, 60_000);

    it("a blackholed link is noticed within two heartbeats (--heartbeat 2, --no-reconnect)", async () => {
      const queue = await freshQueue("fo-blackhole");
      const run = runCli([
        ...["--url", proxy.urlFor(target.url()), "--heartbeat", "2"],
        ...["produce", "--exchange", "", "--key", queue, "--body", "x"],
        ...["--amount", "1000000", "--rate", "200", "--json", "--no-reconnect"],
      ]);
      await until("publishing", async () => (await ch.checkQueue(queue)).messageCount >= 50);
      proxy.blackhole(true);
      const cutAt = performance.now();
      let r: Awaited<typeof run>;
      try {
        r = await run;
      } finally {
        proxy.heal();
      }
      const noticedMs = performance.now() - cutAt;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/heartbeat timeout: nothing from the broker for/);
      const s = JSON.parse(r.stdout);
      expect(s.published).toBe(s.confirmed + s.unconfirmed + s.nacked);
      // Two intervals of 2 s, and a little for the run to wind down.
      expect(noticedMs).toBeLessThan(4_250);
    }, 60_000);

    it("a connection lost while acks wait for a slow output: no crash, the unsettled messages are counted out", async () => {
      const queue = await freshQueue("fo-slow-out");
      for (let i = 1; i <= 50; i++)
        ch.sendToQueue(queue, Buffer.from("x"), { messageId: `s-${i}` });
      await (ch as amqp.ConfirmChannel).waitForConfirms();
      const connection = await connect([proxy.urlFor(target.url())]);
      const held: Array<() => void> = [];
      const session = new ConsumeSession({
        spec: { queue, prefetch: 10, noAck: false },
        policy: "ack",
        count: 50,
        format: (n) => `${n}\n`,
        // The output takes a long time: nothing is settled until it says so.
        output: { write: (_text, done) => held.push(() => done()), lagBytes: 0 },
        signal: new AbortController().signal,
      });
      await session.start(connection);
      await until("deliveries", () => held.length > 0, 10_000);
      proxy.cut();
      await until("the close", () => connection.closed, 10_000);
      for (const release of held.splice(0)) release();
      const result = await session.finish();
      expect(result.stoppedBy).toBe("channel-closed");
      expect(result.acked).toBe(0);
      expect(result.consumed).toBe(0);
      expect(result.lostInFlight).toBeGreaterThan(0);
      await connection.close();
      await until(
        "every message back in the queue",
        async () => (await ch.checkQueue(queue)).messageCount === 50,
        10_000,
      );
    }, 60_000);
  });
}

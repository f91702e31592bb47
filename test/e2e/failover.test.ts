/**
 * Produce and consume across a lost connection on the embedded broker, through the
 * network-fault proxy. The same suite runs on RabbitMQ in test/rabbitmq/failover.test.ts.
 * Also here: a publisher blocked by the broker's memory alarm whose connection then dies.
 */
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { startProxy } from "../../src/net/proxy.js";
import { startCli, uniqueName } from "../helpers/cli.js";
import { failoverSuite, hostPort, until } from "../helpers/failover-suite.js";

describe("failover on the embedded broker", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ port: 0 });
  });
  afterAll(async () => {
    await broker?.close();
  });
  failoverSuite({ url: () => broker.url });
});

describe("a blocked publisher", () => {
  it("blocked by the memory alarm, then its connection dies: the summary counts it, exit 1, no hang", async () => {
    // Blocked as soon as one message waits in a queue.
    const broker = await startBroker({ port: 0, memoryHighWatermark: 1 });
    const proxy = await startProxy({ target: hostPort(broker.url) });
    const admin = await amqp.connect(broker.url);
    try {
      const queue = uniqueName("blocked");
      await (await admin.createChannel()).assertQueue(queue);
      const run = startCli([
        ...["--url", proxy.urlFor(broker.url)],
        ...["produce", "--exchange", "", "--key", queue, "--body", "x", "--amount", "1000"],
        ...["--settle-timeout", "500ms", "--json", "--no-reconnect"],
      ]);
      // The client has been told it is blocked: then the link goes.
      await until(
        "the client blocked",
        () => run.stderr.text().includes("blocked publishing"),
        10_000,
      );
      proxy.cut();
      const code = await run.exited;
      const r = { code, stdout: run.stdout.text(), stderr: run.stderr.text() };
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain("! the broker blocked publishing");
      const s = JSON.parse(r.stdout);
      expect(s.blocked).toBeGreaterThanOrEqual(1);
      // Held by the broker and never confirmed: uncertain, and said so.
      expect(s.unconfirmed).toBeGreaterThan(0);
      expect(s.published).toBe(s.confirmed + s.unconfirmed + s.nacked);
    } finally {
      await admin.close().catch(() => {});
      await proxy.close();
      await broker.close();
    }
  }, 30_000);
});

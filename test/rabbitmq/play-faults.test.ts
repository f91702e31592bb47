/**
 * RabbitMQ tier: `eventlab --url <rabbitmq> play` with network faults through the fault proxy
 * (latency on the consumer, a reset of the producer's connection, a blackhole on every
 * connection), checked with the delivery checker's counts; and a broker fault, which needs the
 * embedded broker, refused with what to do. Each test declares its own exchange and durable
 * queue (unique names), deleted in teardown.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp, { type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { PlayReport } from "../../src/lab/types.js";
import { RABBITMQ_URL, runCli, trackedNames } from "../helpers/cli.js";
import { exists } from "../helpers/exists.js";
import { faultScenarioConfig } from "../helpers/fault-scenario.js";
import { startTimeoutNode, type TimeoutNode } from "../helpers/timeout-node.js";

const url = RABBITMQ_URL ?? "";
const AMOUNT = 60;

type Report = PlayReport & { broker: string };

describe.skipIf(!RABBITMQ_URL)("eventlab --url <rabbitmq> play: scenario faults", () => {
  let conn: ChannelModel;
  let dir = "";
  const names = trackedNames();

  beforeAll(async () => {
    conn = await amqp.connect(url);
    conn.on("error", () => {});
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-rmq-faults-"));
  });

  afterAll(async () => {
    for (const q of names.queues) {
      const ch = await conn.createChannel();
      await ch.deleteQueue(q);
      await ch.close();
    }
    for (const x of names.exchanges) {
      const ch = await conn.createChannel();
      await ch.deleteExchange(x);
      await ch.close();
    }
    const left: string[] = [];
    for (const q of names.queues) if (await exists(conn, "queue", q)) left.push(q);
    for (const x of names.exchanges) if (await exists(conn, "exchange", x)) left.push(x);
    await conn?.close();
    await rm(dir, { recursive: true, force: true });
    expect(left).toEqual([]);
  });

  /**
   * A topic exchange and a durable queue of their own, `AMOUNT` persistent messages at 40/s,
   * one consumer (5 ms of work): the scenario `s` with these faults, in its own directory.
   */
  async function writeScenario(
    faults: unknown[],
  ): Promise<{ cwd: string; queue: string; exchange: string }> {
    const exchange = names.x("faults-x");
    const queue = names.q("faults-q");
    const cwd = await mkdtemp(path.join(dir, "run-"));
    await writeFile(
      path.join(cwd, "eventlab.config.yaml"),
      stringify(faultScenarioConfig({ faults, exchange, queue, amount: AMOUNT })),
    );
    return { cwd, queue, exchange };
  }

  async function play(cwd: string, ...flags: string[]) {
    return runCli(["--url", url, "play", "s", "--json", "--purge", ...flags], {
      cwd,
      env: { EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
      signal: AbortSignal.timeout(90_000),
    });
  }

  /** Every copy accounted for: consumed ok, twice, or recovered; none lost or unexpected. */
  function allThere(r: Report): void {
    const c = r.checker.counts;
    expect(r).toMatchObject({ broker: "url", stoppedBy: "done", lost: 0 });
    expect(c.lost, JSON.stringify(r.checker)).toBe(0);
    expect(c.unexpected).toBe(0);
    expect(c["unconfirmed-lost"]).toBe(0);
    expect(c.ok + c.duplicated + c.recovered).toBe(AMOUNT);
  }

  it("latency 150 ms on the consumer, then a reset of the producer's connection: none lost, the producer reconnects", async () => {
    const { cwd } = await writeScenario([
      { at: "0ms", network: "latency", target: "worker", delay: "150ms", for: "1s" },
      { at: "1200ms", network: "reset", target: "order" },
    ]);
    const r = await play(cwd);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    allThere(report);
    expect(report.reconnects).toBeGreaterThanOrEqual(1);
    expect(report.faults.map((f) => f.what)).toEqual([
      "network latency 150 ms on worker for 1.00 s",
      "network reset on order",
    ]);
    expect(report.faults[0]?.atMs).toBeLessThan(500);
    expect(report.faults[1]?.atMs).toBeGreaterThanOrEqual(1200);
    const latency = report.faults[0];
    expect((latency?.endMs ?? 0) - (latency?.atMs ?? 0)).toBeGreaterThanOrEqual(1000);
    expect(report.latencyMs?.p50).toBeGreaterThanOrEqual(150);
    expect(report.events.join("\n")).toMatch(/producer order lost its connection/);
    const c = report.checker.counts;
    console.info(
      `rabbitmq latency+reset: ok ${c.ok}, duplicated ${c.duplicated}, recovered ${c.recovered}, uncertain ${report.uncertain}, reconnects ${report.reconnects}, latency p50 ${report.latencyMs?.p50} ms`,
    );
  }, 120_000);

  it("blackhole on every connection for 800 ms, then it heals: held, then delivered; none lost", async () => {
    const { cwd } = await writeScenario([{ at: "300ms", network: "blackhole", for: "800ms" }]);
    const r = await play(cwd);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    allThere(report);
    expect(report.faults.map((f) => f.what)).toEqual([
      "network blackhole on every connection for 800 ms",
    ]);
    const hole = report.faults[0];
    expect(hole?.atMs).toBeGreaterThanOrEqual(300);
    expect((hole?.endMs ?? 0) - (hole?.atMs ?? 0)).toBeGreaterThanOrEqual(800);
    // A message published while nothing passed waits for the hole to heal.
    expect(report.latencyMs?.max).toBeGreaterThanOrEqual(500);
    const c = report.checker.counts;
    console.info(
      `rabbitmq blackhole: ok ${c.ok}, duplicated ${c.duplicated}, recovered ${c.recovered}, reconnects ${report.reconnects}, latency max ${report.latencyMs?.max} ms`,
    );
  }, 120_000);

  it("a broker fault with --url is refused: it needs the embedded broker, and says what to do instead", async () => {
    const { cwd, queue, exchange } = await writeScenario([
      { at: "500ms", broker: "restart", for: "300ms" },
    ]);
    const r = await play(cwd);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("error: broker faults (restart, block) need the embedded broker");
    expect(r.stderr).toMatch(/hint: run the scenario without --url, or drop its broker faults/);
    expect(r.stderr).toContain("node faults on a cluster from `eventlab cluster up`");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // Refused before anything was declared on RabbitMQ.
    expect(await exists(conn, "queue", queue)).toBe(false);
    expect(await exists(conn, "exchange", exchange)).toBe(false);
  }, 60_000);
});

describe.skipIf(!RABBITMQ_URL)(
  "eventlab play with an ack-timeout fault, on a RabbitMQ node whose consumer_timeout is 1 s",
  () => {
    let node: TimeoutNode | undefined;
    let cwd = "";
    beforeAll(async () => {
      node = await startTimeoutNode(1000, "playack");
      cwd = await mkdtemp(path.join(tmpdir(), "eventlab-rmq-acktimeout-"));
    }, 180_000);
    afterAll(async () => {
      await rm(cwd, { recursive: true, force: true });
      const problems = (await node?.close()) ?? [];
      if (problems.length > 0) console.warn(`ack-timeout node teardown: ${problems.join("; ")}`);
    }, 120_000);

    it("acks held for 2.5 s: RabbitMQ closes the channel (406) and takes the message back; it is worked on twice, none lost", async () => {
      await writeFile(
        path.join(cwd, "eventlab.config.yaml"),
        stringify(
          faultScenarioConfig({
            faults: [{ at: "300ms", consumer: "worker", action: "ack-timeout", for: "2500ms" }],
            amount: 30,
          }),
        ),
      );
      const r = await runCli(["--url", node?.url ?? "", "play", "s", "--json", "--purge"], {
        cwd,
        env: { EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
        signal: AbortSignal.timeout(60_000),
      });
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as Report;
      const c = report.checker.counts;
      console.info(`RabbitMQ ack-timeout: ${JSON.stringify(c)}`);
      expect(c).toMatchObject({ lost: 0, unexpected: 0, "unconfirmed-lost": 0 });
      expect(c.duplicated).toBeGreaterThanOrEqual(1);
      expect(c.ok + c.duplicated + c.recovered).toBe(30);
      expect(report.events.join("\n")).toMatch(
        /PRECONDITION_FAILED - delivery acknowledgement on channel \d+ timed out/,
      );
    }, 90_000);
  },
);

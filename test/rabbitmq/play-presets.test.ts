/**
 * RabbitMQ tier: `eventlab --url <rabbitmq> play <preset>` for each preset with a scenario,
 * with the same checks on the report as on the embedded broker. A preset declares fixed,
 * durable names, so everything it declared — its topology, and the retry and dead-letter
 * queues the runner adds for a consumer that retries — is deleted before each run (nothing
 * left over from an earlier run may be consumed) and after it (RabbitMQ is left clean).
 */
import amqp, { type ChannelModel } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { listPresets, readPreset } from "../../src/config/presets.js";
import type { PlayReport } from "../../src/lab/types.js";
import { RABBITMQ_URL, runCli } from "../helpers/cli.js";
import { exists } from "../helpers/exists.js";

const url = RABBITMQ_URL ?? "";
const PLAYABLE = [
  "orders",
  "soccer",
  "work-queue",
  "duplicates-and-ordering",
  "headers-routing",
  "notifications",
  "retries",
  "ack-before-work",
  "rpc",
];

type Report = PlayReport & { broker: string };

/** What `play <name>` declares on the broker: the preset's topology and the runner's queues. */
async function declaredBy(name: string): Promise<{ queues: string[]; exchanges: string[] }> {
  const config = parseConfig(await readPreset(name), `preset ${name}`);
  const queues = new Set(Object.keys(config.topology.queues));
  for (const scenario of Object.values(config.scenarios)) {
    for (const c of scenario.consumers) {
      const profile = config.consumers[c];
      if (profile?.queue === undefined || profile.onFailure !== "retry") continue;
      const delays = profile.retry?.delays ?? [];
      delays.forEach((_, i) => {
        queues.add(`${profile.queue}.retry.${i + 1}`);
      });
      queues.add(profile.retry?.deadLetterQueue ?? `${profile.queue}.dlq`);
    }
  }
  return { queues: [...queues], exchanges: Object.keys(config.topology.exchanges) };
}

describe.skipIf(!RABBITMQ_URL)("eventlab play <preset> against RabbitMQ", () => {
  let conn: ChannelModel;
  const touched = new Set<string>();

  /** Delete what a preset declares (a channel per call: a failed call closes its channel). */
  async function clean(name: string): Promise<void> {
    const { queues, exchanges } = await declaredBy(name);
    for (const q of queues) {
      const ch = await conn.createChannel();
      await ch.deleteQueue(q);
      await ch.close();
    }
    for (const x of exchanges) {
      const ch = await conn.createChannel();
      await ch.deleteExchange(x);
      await ch.close();
    }
  }

  async function play(name: string): Promise<Report> {
    touched.add(name);
    await clean(name);
    const r = await runCli(
      ["--url", url, "play", name, "--json", "--seed", "7", "--duration", "25s"],
      { env: { EVENTLAB_URL: "", EVENTLAB_CONFIG: "" } },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report).toMatchObject({
      broker: "url",
      scenario: name,
      stoppedBy: "done",
      lost: 0,
      nacked: 0,
    });
    expect(report.confirmed).toBe(report.published);
    for (const q of report.queues) expect(q.lost, q.name).toBe(0);
    return report;
  }

  const queue = (r: Report, name: string) => {
    const q = r.queues.find((x) => x.name === name);
    if (!q) throw new Error(`no queue ${name} in the report`);
    return q;
  };
  const consumer = (r: Report, name: string) => {
    const c = r.consumers.find((x) => x.name === name);
    if (!c) throw new Error(`no consumer ${name} in the report`);
    return c;
  };

  beforeAll(async () => {
    conn = await amqp.connect(url);
  });

  afterEach(async () => {
    for (const name of touched) await clean(name);
  });

  afterAll(async () => {
    // Nothing any preset declared is left on the broker.
    const left: string[] = [];
    for (const name of touched) {
      const { queues, exchanges } = await declaredBy(name);
      for (const q of queues) if (await exists(conn, "queue", q)) left.push(`queue ${q}`);
      for (const x of exchanges) if (await exists(conn, "exchange", x)) left.push(`exchange ${x}`);
    }
    await conn?.close();
    expect(left).toEqual([]);
  });

  it("orders: a flaky service retries through delay queues into a parking queue", async () => {
    const r = await play("orders");
    expect(r.published).toBe(105);
    expect(queue(r, "shop.notifications")).toMatchObject({ routed: 105, processed: 105 });
    expect(queue(r, "shop.inventory")).toMatchObject({ routed: 65, processed: 65 });
    const shipping = queue(r, "shop.shipping");
    const flaky = consumer(r, "shipping-service");
    expect(shipping.routed).toBe(40);
    expect(shipping.processed + shipping.deadLettered).toBe(40);
    expect(flaky.failed - flaky.retried).toBe(shipping.deadLettered);
    expect(flaky.retried).toBeGreaterThanOrEqual(2 * shipping.deadLettered);
    expect(r.unconsumed["shop.audit.log"]).toBe(105);
    expect(r.events.join("\n")).toContain("fault: cut notification-service");
  });

  it("soccer: every event reaches its queues", async () => {
    const r = await play("soccer");
    expect(r.published).toBe(22);
    expect(queue(r, "soccer.commentary")).toMatchObject({ routed: 22, processed: 22 });
  });

  it("work-queue: four competing workers share 200 jobs evenly", async () => {
    const r = await play("work-queue");
    expect(r.published).toBe(200);
    const workers = ["worker-1", "worker-2", "worker-3", "worker-4"].map((w) => consumer(r, w));
    expect(workers.reduce((n, w) => n + w.processed, 0)).toBe(200);
    for (const w of workers) {
      expect(w.processed, w.name).toBeGreaterThanOrEqual(30);
      expect(w.processed, w.name).toBeLessThanOrEqual(70);
    }
  });

  it("duplicates-and-ordering: 10 duplicates, 8 out of order, none lost", async () => {
    const r = await play("duplicates-and-ordering");
    expect(r.published).toBe(78);
    expect(queue(r, "stock.levels")).toMatchObject({
      routed: 78,
      processed: 68,
      duplicates: 10,
      outOfOrder: 8,
    });
  });

  it("headers-routing: unroutable incidents are returned, not lost", async () => {
    const r = await play("headers-routing");
    expect(r.published).toBe(31);
    expect(r.returned).toBeGreaterThan(0);
    for (const q of r.queues) expect(q.processed, q.name).toBe(q.routed);
  });

  it("notifications: three copies of every message", async () => {
    const r = await play("notifications");
    for (const name of ["notifications.email", "notifications.sms", "notifications.push"]) {
      expect(queue(r, name)).toMatchObject({ routed: 110, processed: 110 });
    }
  });

  it("retries: rejected jobs loop through the delay queues back to the worker, then park", async () => {
    const r = await play("retries");
    const work = queue(r, "jobs.work");
    expect(work.processed + work.deadLettered).toBe(work.routed);
    expect(work.processed + (r.unconsumed["jobs.parking-lot"] ?? 0)).toBe(10);
  });

  it("ack-before-work: without faults every charge is processed, the checker all ok", async () => {
    const r = await play("ack-before-work");
    expect(queue(r, "payments.charge")).toMatchObject({ routed: 40, processed: 40 });
    expect(r.checker.counts).toMatchObject({ ok: 40, lost: 0, duplicated: 0, unexpected: 0 });
  });

  it("rpc: the request side, every request worked by the quote service, none lost", async () => {
    const r = await play("rpc");
    expect(r).toMatchObject({ stoppedBy: "done", published: 40, confirmed: 40, lost: 0 });
    expect(queue(r, "rpc.requests")).toMatchObject({ routed: 40, processed: 40, lost: 0 });
    expect(r.checker.counts).toMatchObject({ ok: 40, lost: 0, duplicated: 0, unexpected: 0 });
  });

  it("covers every preset that has a scenario", async () => {
    const withScenario: string[] = [];
    for (const p of await listPresets()) {
      const config = parseConfig(await readPreset(p.name), p.name);
      if (Object.keys(config.scenarios).length > 0) withScenario.push(p.name);
    }
    expect(withScenario.sort()).toEqual([...PLAYABLE].sort());
  });
});

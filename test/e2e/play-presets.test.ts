/**
 * `eventlab play <preset>` on the embedded broker, in a directory without a config file: each
 * preset with a scenario runs to the end by itself, and the numbers in its report add up —
 * every planned message published and confirmed, every routed copy settled (lost 0), and
 * what each scenario is there to show (retries into a parking queue, an even spread over
 * competing workers, duplicates and out-of-order updates, unroutable messages returned).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlayReport } from "../../src/lab/runner.js";
import { runCli } from "../helpers/cli.js";

type Report = PlayReport & { broker: string; source: string };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "eventlab-play-presets-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `eventlab play <name> --json --seed 7`, with a duration as a safety bound only. */
async function play(name: string, ...extra: string[]): Promise<Report> {
  const r = await runCli(["play", name, "--json", "--seed", "7", "--duration", "25s", ...extra], {
    cwd: dir,
    env: { EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
  });
  expect(r.code, r.stderr).toBe(0);
  const report = JSON.parse(r.stdout) as Report;
  expect(report).toMatchObject({
    broker: "embedded",
    source: `the ${name} preset`,
    scenario: name,
    stoppedBy: "done",
    lost: 0,
    nacked: 0,
  });
  expect(report.lostNote).toBeUndefined();
  expect(report.confirmed).toBe(report.published);
  for (const q of report.queues) expect(q.lost, q.name).toBe(0);
  return report;
}

const queue = (r: Report, name: string) => {
  const q = r.queues.find((x) => x.name === name);
  if (!q) throw new Error(`no queue ${name} in the report: ${r.queues.map((x) => x.name)}`);
  return q;
};
const consumer = (r: Report, name: string) => {
  const c = r.consumers.find((x) => x.name === name);
  if (!c) throw new Error(`no consumer ${name} in the report`);
  return c;
};

describe("eventlab play <preset> on the embedded broker", () => {
  it("orders (the default): four services, a flaky one retrying into a parking queue, a cut", async () => {
    const r = await play("orders");
    // 60 created + 40 paid + 5 cancelled.
    expect(r.published).toBe(105);
    expect(queue(r, "shop.inventory").routed).toBe(65);
    expect(queue(r, "shop.billing").routed).toBe(40);
    expect(queue(r, "shop.notifications").routed).toBe(105);
    for (const q of ["shop.inventory", "shop.billing", "shop.notifications"]) {
      expect(queue(r, q)).toMatchObject({ processed: queue(r, q).routed, deadLettered: 0 });
    }
    expect(r.unconsumed["shop.audit.log"]).toBe(105);

    // Shipping fails at a rate and retries twice (500 ms, 1 s) before parking a message: every
    // failure is a retry or, on the third attempt of a message, a dead letter.
    const shipping = queue(r, "shop.shipping");
    const flaky = consumer(r, "shipping-service");
    expect(shipping.routed).toBe(40);
    expect(shipping.processed + shipping.deadLettered).toBe(40);
    expect(flaky.failed).toBeGreaterThan(0);
    expect(flaky.retried).toBe(shipping.retried);
    expect(flaky.failed - flaky.retried).toBe(shipping.deadLettered);
    expect(flaky.retried).toBeGreaterThanOrEqual(2 * shipping.deadLettered);
    expect(flaky.retried).toBeLessThanOrEqual(2 * 40);
    expect(flaky.processed).toBe(shipping.processed);
    expect(r.retried).toBe(flaky.retried);
    expect(r.deadLettered).toBe(shipping.deadLettered);

    // The cut at 3 s: the notification service's unacknowledged messages come back.
    expect(r.events.join("\n")).toContain("fault: cut notification-service");
    expect(consumer(r, "notification-service").instances).toBe(2);
    // Latency percentiles are measured and ordered (retries make the tail long).
    const l = r.latencyMs;
    expect(l).toBeDefined();
    expect(l?.p50 ?? -1).toBeGreaterThanOrEqual(0);
    expect(l?.p50 ?? 0).toBeLessThanOrEqual(l?.p99 ?? -1);
    expect(l?.p99 ?? 0).toBeLessThanOrEqual(l?.max ?? -1);
    expect(l?.max ?? 0).toBeGreaterThanOrEqual(500); // a retry waits 500 ms at least
  });

  it("orders is what `eventlab play` runs without a name or a config file", async () => {
    const r = await runCli(
      ["play", "--json", "--seed", "7", "--amount", "3", "--duration", "25s"],
      {
        cwd: dir,
        env: { EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report).toMatchObject({
      scenario: "orders",
      source: "the orders preset",
      stoppedBy: "done",
      published: 9,
      lost: 0,
    });
  });

  it("soccer: the match reaches every queue; the commentator pauses and catches up", async () => {
    const r = await play("soccer");
    // 5 goals, 8 cards, 6 substitutions, 3 whistles.
    expect(r.published).toBe(22);
    expect(queue(r, "soccer.goals")).toMatchObject({ routed: 5, processed: 5 });
    expect(queue(r, "soccer.cards")).toMatchObject({ routed: 8, processed: 8 });
    expect(queue(r, "soccer.substitutions")).toMatchObject({ routed: 6, processed: 6 });
    expect(queue(r, "soccer.commentary")).toMatchObject({ routed: 22, processed: 22 });
    expect(r.unconsumed).toEqual({});
    expect(r.events.join("\n")).toContain("fault: pause commentator");
  });

  it("work-queue: 200 jobs spread evenly over four competing workers", async () => {
    const r = await play("work-queue");
    expect(r.published).toBe(200);
    expect(queue(r, "work.queue")).toMatchObject({ routed: 200, processed: 200, redelivered: 0 });
    const workers = ["worker-1", "worker-2", "worker-3", "worker-4"].map((w) => consumer(r, w));
    expect(workers.reduce((n, w) => n + w.processed, 0)).toBe(200);
    // An even share is 50 each; with prefetch 1 each worker gets 15% to 35% of the jobs.
    for (const w of workers) {
      expect(w.processed, w.name).toBeGreaterThanOrEqual(30);
      expect(w.processed, w.name).toBeLessThanOrEqual(70);
    }
  });

  it("duplicates-and-ordering: re-sent ids are duplicates, a lagging writer is out of order", async () => {
    const r = await play("duplicates-and-ordering");
    // 60 updates, 10 re-sent, 8 from the legacy writer.
    expect(r.published).toBe(78);
    const q = queue(r, "stock.levels");
    expect(q.routed).toBe(78);
    // Each re-sent id meets its original once, whichever comes first: 10 duplicates.
    expect(q.duplicates).toBe(10);
    expect(r.duplicates).toBe(10);
    expect(q.processed).toBe(68);
    // Every legacy update is behind the warehouse's version; the first one races version 1.
    expect(q.outOfOrder).toBe(8);
    expect(r.outOfOrder).toBe(8);
    expect(q.gaps).toBe(0);
  });

  it("headers-routing: incidents reach the desks their headers select; some are returned", async () => {
    const r = await play("headers-routing");
    expect(r.published).toBe(31);
    expect(r.returned).toBeGreaterThan(0);
    expect(r.returned).toBeLessThan(30);
    // The escalation alone reaches three queues; each routed copy is processed.
    for (const q of r.queues) expect(q.processed, q.name).toBe(q.routed);
    expect(queue(r, "incidents.eu").routed).toBeGreaterThan(0);
    expect(queue(r, "incidents.pager").routed).toBeGreaterThan(0);
    expect(r.unconsumed).toEqual({});
  });

  it("retries: rejected jobs loop through the delay queues back to the worker, then park", async () => {
    const r = await play("retries");
    const work = r.queues.find((q) => q.name === "jobs.work");
    // Every copy that reached the worker (the first and each return from a delay queue) was
    // either processed or rejected again; a job rejected three times parks.
    expect(work).toBeDefined();
    expect((work?.processed ?? 0) + (work?.deadLettered ?? 0)).toBe(work?.routed);
    expect(work?.routed).toBeGreaterThan(10);
    const parked = r.unconsumed["jobs.parking-lot"] ?? 0;
    expect((work?.processed ?? 0) + parked).toBe(10);
  });

  it("ack-before-work: on a sunny day the bug does not show: every charge processed, the checker all ok", async () => {
    const r = await play("ack-before-work");
    expect(r.published).toBe(40);
    expect(queue(r, "payments.charge")).toMatchObject({ routed: 40, processed: 40 });
    const checker = (r as unknown as { checker: { counts: Record<string, number> } }).checker;
    expect(checker.counts).toEqual({
      ok: 40,
      lost: 0,
      duplicated: 0,
      unexpected: 0,
      recovered: 0,
      "unconfirmed-lost": 0,
    });
  });

  it("notifications: every message fans out to email, sms and push", async () => {
    const r = await play("notifications");
    expect(r.published).toBe(110);
    for (const name of ["notifications.email", "notifications.sms", "notifications.push"]) {
      expect(queue(r, name)).toMatchObject({ routed: 110, processed: 110 });
    }
  });
});

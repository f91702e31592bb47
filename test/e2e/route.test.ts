/**
 * `eventlab route --url` against a running embedded broker: the broker explains from its live
 * state (objects declared over AMQP, not in any config), the same way `route` explains a
 * config offline. Every wait is bounded; no connection is left open.
 */
import amqp, { type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { runCli } from "../helpers/cli.js";

let broker: RunningBroker;
let admin: ChannelModel;

beforeAll(async () => {
  broker = await startBroker({ port: 0 });
  admin = await amqp.connect(broker.url);
  const ch = await admin.createChannel();
  await ch.assertExchange("orders", "topic");
  await ch.assertExchange("audit", "fanout", { internal: true });
  await ch.assertQueue("inventory");
  await ch.assertQueue("audit-log");
  await ch.bindQueue("inventory", "orders", "order.created.*");
  await ch.bindExchange("audit", "orders", "order.#");
  await ch.bindQueue("audit-log", "audit", "");
  await ch.close();
});

afterAll(async () => {
  await admin?.close();
  await broker?.close();
});

const route = (...argv: string[]) => runCli(["--url", broker.url, "route", ...argv]);

describe("eventlab route --url <embedded broker>", () => {
  it("explains each hop and binding from the broker's live state", async () => {
    const r = await route("orders", "order.created.eu");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("orders (topic) ← published with key 'order.created.eu'");
    expect(r.stdout).toMatch(/ {2}✓ inventory {2,}order\.created\.\* {2,}\S/);
    expect(r.stdout).toContain("audit (fanout, internal) ← from orders");
    expect(r.stdout).toMatch(/→ 2 queues: inventory, audit-log\n$/);
  });

  it("--json: the queues at the top level, and where the answer came from", async () => {
    const r = await route("orders", "payment.failed", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ exchange: "orders", routingKey: "payment.failed", queues: [] });
    expect(j.routed).toBe(false);
    expect(j.source).toMatch(/^amqp:\/\/guest:\*\*\*@127\.0\.0\.1:\d+/);
  });

  it("EVENTLAB_URL names the broker as --url does: the answer is live too", async () => {
    const r = await runCli(["route", "orders", "payment.failed", "--json"], {
      env: { EVENTLAB_URL: broker.url },
      cwd: "/",
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).source).toMatch(/^amqp:\/\/guest:\*\*\*@127\.0\.0\.1:\d+/);
  });

  it("an exchange the broker does not have: an error naming the broker", async () => {
    const r = await route("nope", "k");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: no exchange 'nope' on amqp:\/\/guest:\*\*\*@127\.0\.0\.1:\d+/,
    );
    expect(r.stderr).toContain("hint: declare it");
  });

  it("leaves no connection open", async () => {
    await route("orders", "order.created.eu");
    // The admin connection of this file is the only one left.
    await vi.waitFor(() => expect(broker.stats().connections).toBe(1), {
      timeout: 3000,
      interval: 10,
    });
  });
});

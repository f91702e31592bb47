/**
 * RabbitMQ tier: `eventlab topology diff` against a real broker. Objects are declared with
 * amqplib beside a config that agrees on some and not on others; diff must tell which, and
 * must not create anything.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp, { type Channel, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RABBITMQ_URL, runCli, trackedNames } from "../helpers/cli.js";

const url = RABBITMQ_URL ?? "";

describe.skipIf(!RABBITMQ_URL)("topology diff against RabbitMQ", () => {
  let conn: ChannelModel;
  let dir: string;
  const { queues, exchanges, q, x } = trackedNames();
  async function channel(): Promise<Channel> {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    return ch;
  }
  async function existing(kind: "exchange" | "queue", name: string): Promise<boolean> {
    const ch = await channel();
    try {
      await (kind === "exchange" ? ch.checkExchange(name) : ch.checkQueue(name));
      await ch.close();
      return true;
    } catch {
      return false;
    }
  }
  const diff = (config: unknown, ...flags: string[]) =>
    writeFile(path.join(dir, "eventlab.config.yaml"), JSON.stringify(config)).then(() =>
      runCli(["topology", "diff", ...flags, "--url", url], { cwd: dir }),
    );

  beforeAll(async () => {
    conn = await amqp.connect(url);
    conn.on("error", () => {});
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-diff-"));
  });
  afterAll(async () => {
    const ch = await channel();
    for (const name of queues) await ch.deleteQueue(name).catch(() => {});
    for (const name of exchanges) await ch.deleteExchange(name).catch(() => {});
    await ch.close().catch(() => {});
    await conn.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("reports same, missing and different objects, bindings honestly, and exits 1", async () => {
    const orders = x("orders");
    const alerts = x("alerts");
    const gone = x("gone");
    const inventory = q("inventory");
    const cards = q("cards");
    const lost = q("lost");
    const ch = await channel();
    await ch.assertExchange(orders, "topic", { durable: false });
    await ch.assertExchange(alerts, "fanout", { durable: false });
    await ch.assertQueue(inventory, { durable: false, arguments: { "x-max-length": 10 } });
    await ch.assertQueue(cards, { durable: false, arguments: { "x-max-length": 500 } });
    await ch.bindQueue(inventory, orders, "order.*");
    await ch.close();

    const config = {
      topology: {
        exchanges: {
          [orders]: { type: "topic", durable: false },
          [alerts]: { type: "headers", durable: false },
          [gone]: { type: "direct", durable: false },
        },
        queues: {
          [inventory]: { durable: false, maxLength: 10 },
          [cards]: { durable: false, maxLength: 1000 },
          [lost]: { durable: false },
        },
        bindings: [
          { source: orders, destination: inventory, routingKey: "order.*" },
          { source: orders, destination: lost, routingKey: "x" },
        ],
      },
    };
    const r = await diff(config, "--json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.objects).toEqual([
      { kind: "exchange", name: orders, status: "same" },
      {
        kind: "exchange",
        name: alerts,
        status: "different",
        differences: [{ setting: "type", config: "headers", broker: "fanout" }],
      },
      { kind: "exchange", name: gone, status: "missing" },
      { kind: "queue", name: inventory, status: "same" },
      {
        kind: "queue",
        name: cards,
        status: "different",
        differences: [{ setting: "x-max-length", config: "1000", broker: "500" }],
      },
      { kind: "queue", name: lost, status: "missing" },
      {
        kind: "binding",
        name: `${orders} → ${inventory} (order.*)`,
        status: "unchecked",
        note: "both ends exist; AMQP cannot list bindings",
      },
      {
        kind: "binding",
        name: `${orders} → ${lost} (x)`,
        status: "missing",
        note: `queue ${lost} missing`,
      },
    ]);
    expect(out.summary).toEqual({ same: 2, missing: 3, different: 2, unchecked: 1 });
    // Nothing was created by looking.
    expect(await existing("exchange", gone)).toBe(false);
    expect(await existing("queue", lost)).toBe(false);

    const human = await diff(config);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`✓ exchange ${orders}\n`);
    expect(human.stdout).toContain(`≠ exchange ${alerts}  type: config headers, broker fanout\n`);
    expect(human.stdout).toContain(`✗ exchange ${gone}  missing\n`);
    expect(human.stdout).toContain(`≠ queue ${cards}  x-max-length: config 1000, broker 500\n`);
    expect(human.stdout).toContain(
      `? binding ${orders} → ${inventory} (order.*)  unchecked (both ends exist; AMQP cannot list bindings)\n`,
    );
    expect(human.stdout).toMatch(/✗ 2 same, 3 missing, 2 different, 1 binding unchecked/);
    expect(human.stderr).toMatch(/note: AMQP 0-9-1 cannot list bindings/);
  });

  it("exits 0 when everything checked is the same; a durable mismatch is named", async () => {
    const jobs = x("jobs");
    const work = q("work");
    const ch = await channel();
    await ch.assertExchange(jobs, "direct", { durable: false, alternateExchange: "amq.fanout" });
    await ch.assertQueue(work, { durable: false, arguments: { "x-message-ttl": 60_000 } });
    await ch.close();
    const same = await diff({
      topology: {
        exchanges: { [jobs]: { durable: false, alternateExchange: "amq.fanout" } },
        queues: { [work]: { durable: false, messageTtl: "1m" } },
        bindings: [{ source: "amq.direct", destination: work, routingKey: "w" }],
      },
    });
    expect(same.stderr).toMatch(/note: AMQP 0-9-1 cannot list bindings/);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/✓ 2 same, 0 missing, 0 different, 1 binding unchecked/);

    const other = await diff(
      {
        topology: {
          exchanges: { [jobs]: { durable: true, alternateExchange: "amq.fanout" } },
          queues: { [work]: { durable: false, messageTtl: "2m" } },
        },
      },
      "--json",
    );
    expect(other.code).toBe(1);
    const objects = JSON.parse(other.stdout).objects;
    expect(objects[0].differences).toEqual([
      { setting: "durable", config: "true", broker: "false" },
    ]);
    expect(objects[1].differences).toEqual([
      { setting: "x-message-ttl", config: "120000", broker: "60000" },
    ]);
  });

  it("an unreachable broker is an error with a hint, not a diff", async () => {
    await writeFile(
      path.join(dir, "eventlab.config.yaml"),
      JSON.stringify({ topology: { queues: { [q("never")]: {} } } }),
    );
    const r = await runCli(["topology", "diff", "--url", "amqp://guest:guest@127.0.0.1:1"], {
      cwd: dir,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: .*\nhint: /);
  });
});

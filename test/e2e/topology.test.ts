/**
 * `eventlab topology apply` and `topology diff` against the embedded broker (port 0): a dry
 * run lists what would be declared without connecting; apply declares, then finds the same
 * objects already there; diff tells same, missing and different apart and exits 1 when
 * something is off. Every wait is bounded; no connection is left open.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { runCli } from "../helpers/cli.js";

let broker: RunningBroker;
let dir: string;

const CONFIG = `topology:
  exchanges:
    shop: { type: topic }
  queues:
    orders: { maxLength: 10 }
    audit: { durable: false }
  bindings:
    - { source: shop, destination: orders, routingKey: "order.*" }
`;

beforeAll(async () => {
  broker = await startBroker({ port: 0 });
  dir = await mkdtemp(path.join(tmpdir(), "eventlab-topology-"));
  await writeFile(path.join(dir, "eventlab.config.yaml"), CONFIG);
});

afterAll(async () => {
  await broker?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const topology = (...argv: string[]) =>
  runCli(["--url", broker.url, "topology", ...argv], { cwd: dir });

/** The broker's connection count, once it settles at `n`. */
const connectionsSettleAt = (n: number) =>
  vi.waitFor(() => expect(broker.stats().connections).toBe(n), { timeout: 3000, interval: 10 });

describe("eventlab topology against the embedded broker", () => {
  it("apply --dry-run lists every object with its settings, and connects to nothing", async () => {
    const r = await topology("apply", "--dry-run");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        "○ would declare exchange shop (topic, durable)",
        "○ would declare queue orders (durable, x-max-length=10)",
        "○ would declare queue audit (transient)",
        "○ would declare binding shop → orders (order.*)",
        "",
      ].join("\n"),
    );
    const json = (await topology("apply", "--dry-run", "--json")).stdout.trim().split("\n");
    expect(json.map((l) => JSON.parse(l))[1]).toEqual({
      kind: "queue",
      name: "orders",
      settings: {
        durable: true,
        exclusive: false,
        autoDelete: false,
        arguments: { "x-max-length": 10 },
      },
      status: "planned",
    });
    expect(broker.stats().connections).toBe(0);
  });

  it("diff before apply: everything missing, exit 1", async () => {
    const r = await topology("diff");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("✗ exchange shop  missing\n");
    expect(r.stdout).toContain(
      "✗ binding shop → orders (order.*)  missing (exchange shop and queue orders missing)\n",
    );
    expect(r.stdout).toMatch(
      /✗ 0 same, 4 missing, 0 different \(eventlab\.config\.yaml against the broker\)\n$/,
    );
  });

  it("apply declares, then finds the same objects already there", async () => {
    const first = await topology("apply");
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("✓ created exchange shop (topic, durable)\n");
    expect(first.stdout).toContain("✓ bound shop → orders (order.*)\n");
    expect(first.stdout).toMatch(
      /✓ 3 created, 0 already there, 1 binding in place \(from eventlab\.config\.yaml\)\n$/,
    );
    const again = await topology("apply", "--json");
    const lines = again.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({
      kind: "exchange",
      name: "shop",
      status: "exists",
      type: "topic",
    });
    expect(lines.at(-1)).toEqual({
      summary: true,
      created: 0,
      exists: 3,
      bound: 1,
      file: "eventlab.config.yaml",
    });
    await connectionsSettleAt(0);
  });

  it("diff after apply: the same; a queue declared otherwise is different", async () => {
    const same = await topology("diff");
    expect(same.code, same.stdout + same.stderr).toBe(0);
    expect(same.stdout).toContain("✓ queue orders\n");
    expect(same.stdout).toContain(
      "? binding shop → orders (order.*)  unchecked (both ends exist; AMQP cannot list bindings)\n",
    );
    expect(same.stderr).toContain("note: AMQP 0-9-1 cannot list bindings");

    const conn = await amqp.connect(broker.url);
    try {
      const ch = await conn.createChannel();
      await ch.deleteQueue("audit");
      await ch.assertQueue("audit", { durable: true });
    } finally {
      await conn.close();
    }
    const r = await topology("diff", "--json");
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.summary).toEqual({ same: 2, missing: 0, different: 1, unchecked: 1 });
    expect(j.objects.find((o: { name: string }) => o.name === "audit")).toMatchObject({
      kind: "queue",
      status: "different",
      differences: [{ setting: "durable" }],
    });
    await connectionsSettleAt(0);
  });
});

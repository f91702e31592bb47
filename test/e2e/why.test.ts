/**
 * `eventlab why` as a user runs it: the built binary reads a record file of a real run on the
 * embedded broker (its ledger on) in which a consumer retried a message twice, through a TTL
 * retry queue, and then rejected it into a dead-letter exchange; every hop is shown, in order.
 * Needs `npm run build` first (CI builds). Every wait is bounded.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MessageEvent, type MessageEvents, startBroker } from "../../src/broker/index.js";
import { topologySchema } from "../../src/config/schema.js";
import { writeRecord } from "../../src/lab/record.js";
import { within } from "../helpers/wait.js";

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "bin/eventlab.cjs");

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      {
        cwd: root,
        env: { ...process.env, NO_COLOR: "1", EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
        timeout: 20_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const TOPOLOGY = topologySchema.parse({
  exchanges: { orders: { type: "topic" }, "orders.dlx": { type: "fanout" } },
  queues: { work: {}, "work.retry": {}, dead: {} },
  bindings: [
    { source: "orders", destination: "work", routingKey: "order.#" },
    { source: "orders.dlx", destination: "dead" },
  ],
});

let dir: string;
let file: string;

/** The run: publish order-42; the worker retries it twice, then rejects it for good. */
async function recordRun(): Promise<void> {
  const broker = await startBroker({ port: 0, ledger: true });
  const ledger = broker.events as MessageEvents;
  const startedAt = new Date().toISOString();
  const open = (name: string) =>
    within(
      amqp.connect(broker.url, { clientProperties: { connection_name: name }, noDelay: true }),
      name,
      3000,
    );
  const shop = await open("shop");
  const worker = await open("worker");
  try {
    const ch = await worker.createChannel();
    await ch.assertExchange("orders", "topic", { durable: false });
    await ch.assertExchange("orders.dlx", "fanout", { durable: false });
    await ch.assertQueue("work", { durable: false, deadLetterExchange: "orders.dlx" });
    await ch.bindQueue("work", "orders", "order.#");
    await ch.assertQueue("dead", { durable: false });
    await ch.bindQueue("dead", "orders.dlx", "");
    await ch.assertQueue("work.retry", {
      durable: false,
      // Long enough that the worker's ack (sent right after its retry publish) comes first.
      messageTtl: 200,
      deadLetterExchange: "orders",
      deadLetterRoutingKey: "order.retry",
    });
    const attempts = new Map<string, number>();
    await ch.consume(
      "work",
      (m) => {
        if (!m) return;
        const id = String(m.properties.messageId);
        const n = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, n);
        if (n <= 2) {
          ch.sendToQueue("work.retry", m.content, { messageId: m.properties.messageId });
          ch.ack(m);
        } else ch.reject(m, false);
      },
      { consumerTag: "worker-1" },
    );
    const deadLettered = new Promise<void>((resolve) => {
      ledger.subscribe((e) => {
        if (e.id === "order-42" && e.kind === "enqueued" && e.queue === "dead") resolve();
      });
    });
    const pub = await shop.createChannel();
    pub.publish("orders", "order.created", Buffer.from('{"amount":42}'), {
      messageId: "order-42",
    });
    // Another message in the record, that no consumer takes.
    pub.publish("", "dead", Buffer.from("{}"), { messageId: "order-43" });
    await within(deadLettered, "order-42 dead-lettered after two retries", 5000);
    await writeRecord(file, {
      meta: { scenario: "retries", startedAt, topology: TOPOLOGY },
      events: ledger.all(),
    });
  } finally {
    await shop.close();
    await worker.close();
    await broker.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "eventlab-why-e2e-"));
  file = path.join(dir, "run.ndjson");
  await recordRun();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The hop text of each line (after the time and who), without the reason lines. */
function hops(stdout: string): Array<{ who: string; what: string }> {
  return stdout
    .split("\n")
    .slice(1)
    .map((l) => /^\s+\+\S+ (?:ms|s)\s{2}(\S+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ who: m[1] as string, what: m[2] as string }));
}

describe("eventlab why --from (the built binary)", () => {
  it("tells every hop of a message retried twice and then dead-lettered, in order", async () => {
    const r = await run(["why", "order-42", "--from", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toMatch(
      /^message 'order-42': 23 events over \S+ (ms|s) \(from /,
    );
    expect(hops(r.stdout)).toEqual([
      { who: "shop", what: "published to exchange 'orders' with key 'order.created'" },
      { who: "shop", what: "routed to work" },
      { who: "shop", what: "enqueued in work" },
      { who: "worker", what: "delivered from work to consumer worker-1 (delivery tag 1)" },
      {
        who: "worker",
        what: "published again (retry 1) to the default exchange with key 'work.retry'",
      },
      { who: "worker", what: "routed to work.retry" },
      { who: "worker", what: "enqueued in work.retry" },
      { who: "worker", what: "acked in work (delivery tag 1)" },
      { who: "broker", what: "expired in work.retry (its TTL ran out)" },
      {
        who: "broker",
        what: "dead-lettered from work.retry (expired) to exchange 'orders' with key 'order.retry' → work",
      },
      { who: "broker", what: "enqueued in work" },
      { who: "worker", what: "delivered from work to consumer worker-1 (delivery tag 2)" },
      {
        who: "worker",
        what: "published again (retry 2) to the default exchange with key 'work.retry'",
      },
      { who: "worker", what: "routed to work.retry" },
      { who: "worker", what: "enqueued in work.retry" },
      { who: "worker", what: "acked in work (delivery tag 2)" },
      { who: "broker", what: "expired in work.retry (its TTL ran out)" },
      {
        who: "broker",
        what: "dead-lettered from work.retry (expired) to exchange 'orders' with key 'order.retry' → work",
      },
      { who: "broker", what: "enqueued in work" },
      { who: "worker", what: "delivered from work to consumer worker-1 (delivery tag 3)" },
      { who: "worker", what: "rejected in work, not requeued (delivery tag 3)" },
      {
        who: "worker",
        what: "dead-lettered from work (rejected) to exchange 'orders.dlx' with key 'order.retry' → dead",
      },
      { who: "worker", what: "enqueued in dead" },
    ]);
    // Routing reasons, from the record's topology, under the routing hops.
    expect(r.stdout).toContain("work: orders binding 'order.#': `#` took 'created'");
    expect(r.stdout).toContain("work: orders binding 'order.#': `#` took 'retry'");
    expect(r.stdout).toContain("work.retry: the default exchange: the routing key names the queue");
    expect(r.stdout).toContain(
      "dead: orders.dlx binding: fanout: every binding takes every message",
    );
    expect(r.stdout).not.toContain("order-43");
  });

  it("--mermaid: a sequence diagram with the publisher, exchanges, queues and consumer", async () => {
    const r = await run(["why", "order-42", "--from", file, "--mermaid"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("sequenceDiagram");
    expect(lines.filter((l) => l.startsWith("  participant"))).toEqual([
      "  participant p1 as shop",
      "  participant p2 as worker",
      "  participant x3 as exchange orders",
      "  participant x4 as exchange (default exchange)",
      "  participant x5 as exchange orders.dlx",
      "  participant q6 as queue work",
      "  participant q7 as queue work.retry",
      "  participant q8 as queue dead",
    ]);
    expect(lines.filter((l) => l.includes("dead-letter"))).toHaveLength(3);
    expect(lines.filter((l) => l.includes("Note over q7") && l.includes("expired"))).toHaveLength(
      2,
    );
  });

  it("--json: the events as NDJSON; an unknown id exits 1 naming it", async () => {
    const r = await run(["why", "order-42", "--from", file, "--json"]);
    const events = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as MessageEvent);
    expect(events.filter((e) => e.kind === "published")).toHaveLength(3);
    expect(events.at(-1)).toMatchObject({ kind: "enqueued", queue: "dead" });
    const missing = await run(["why", "order-99", "--from", file]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("error: no message with id 'order-99'");
    expect(missing.stderr).toContain("it holds 2 messages");
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });
});

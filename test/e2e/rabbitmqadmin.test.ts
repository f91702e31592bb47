/**
 * RabbitMQ's own rabbitmqadmin (the unmodified script from the rabbitmq-server package) against
 * the embedded broker's management API: list, declare, delete, publish, get, export, import,
 * purge and close, each checked by what the broker then holds, not only by the exit code.
 * The machines of this project have the script; in CI its absence is a failure, elsewhere the
 * file is skipped with the reason.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";

const SCRIPT = process.env["EVENTLAB_RABBITMQADMIN"] ?? "/usr/bin/rabbitmqadmin";
const found = existsSync(SCRIPT);
if (!found && process.env["CI"]) {
  throw new Error(
    `${SCRIPT} is missing: install Debian's rabbitmq-server package (it ships the script)`,
  );
}
const run = promisify(execFile);

describe.skipIf(!found)(`rabbitmqadmin (${SCRIPT}) against the embedded broker`, () => {
  let broker: RunningBroker;
  let dir: string;

  const admin = async (...args: string[]) => {
    const port = String(broker.httpPort);
    const r = await run(
      "python3",
      [SCRIPT, "-H", "127.0.0.1", "-P", port, "-u", "guest", "-p", "guest", ...args],
      {
        timeout: 15_000,
      },
    );
    return r.stdout;
  };
  /** `list <what> <columns…>` as rows of tab-separated values (-f tsv, -q: no header). */
  const rows = async (what: string, ...columns: string[]) =>
    (await admin("-f", "tsv", "-q", "list", what, ...columns))
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => l.split("\t"));

  beforeAll(async () => {
    broker = await startBroker({ port: 0, httpPort: 0, version: "3.10.8" });
    dir = await mkdtemp(join(tmpdir(), "eventlab-admin-"));
  });
  afterAll(async () => {
    await broker?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("declares an exchange, a queue with arguments and a binding, and lists them", async () => {
    await admin("declare", "exchange", "name=orders", "type=topic");
    await admin("declare", "queue", "name=inventory", 'arguments={"x-message-ttl":60000}');
    await admin("declare", "queue", "name=audit", "queue_type=quorum");
    await admin(
      "declare",
      "binding",
      "source=orders",
      "destination=inventory",
      "routing_key=order.*",
    );
    const x = broker.vhost.exchanges.get("orders");
    expect(x?.type).toBe("topic");
    expect(x?.durable).toBe(true);
    expect(broker.vhost.queues.get("inventory")?.args).toEqual({ "x-message-ttl": 60000 });
    expect(broker.vhost.queues.get("audit")?.settings.type).toBe("quorum");
    expect(await rows("exchanges", "name", "type")).toContainEqual(["orders", "topic"]);
    // Sorted by name, as RabbitMQ lists them.
    expect(await rows("queues", "name", "messages")).toEqual([
      ["audit", "0"],
      ["inventory", "0"],
    ]);
    expect(await rows("bindings", "source", "destination", "routing_key")).toContainEqual([
      "orders",
      "inventory",
      "order.*",
    ]);
  });

  it("publishes through an exchange and gets the message back with its properties", async () => {
    await admin(
      "publish",
      "exchange=orders",
      "routing_key=order.created",
      "payload=héllo",
      'properties={"message_id":"m-1","headers":{"region":"eu"}}',
    );
    expect(broker.vhost.queues.get("inventory")?.messageCount).toBe(1);
    // The default ackmode requeues: the embedded broker leaves the message as it was.
    const got = JSON.parse(await admin("-f", "raw_json", "get", "queue=inventory")) as Array<{
      payload: string;
      routing_key: string;
      redelivered: boolean;
      properties: { message_id: string; headers: Record<string, string> };
    }>;
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      payload: "héllo",
      routing_key: "order.created",
      redelivered: false,
      properties: { message_id: "m-1", headers: { region: "eu" } },
    });
    expect(broker.vhost.queues.get("inventory")?.messageCount).toBe(1);
    // ack_requeue_false takes it.
    await admin("get", "queue=inventory", "ackmode=ack_requeue_false");
    expect(broker.vhost.queues.get("inventory")?.messageCount).toBe(0);
  });

  it("lists a live client's connection, channel and consumer", async () => {
    const conn = await amqp.connect(broker.url, {
      clientProperties: { connection_name: "admin-test" },
    });
    try {
      const ch = await conn.createChannel();
      await ch.prefetch(7);
      await ch.consume("inventory", () => {});
      const conns = await rows("connections", "name", "user", "channels", "user_provided_name");
      expect(conns).toHaveLength(1);
      expect(conns[0]?.slice(1)).toEqual(["guest", "1", "admin-test"]);
      expect(await rows("channels", "user", "prefetch_count", "consumer_count")).toEqual([
        ["guest", "7", "1"],
      ]);
      expect(await rows("consumers", "queue.name", "ack_required", "prefetch_count")).toEqual([
        ["inventory", "True", "7"],
      ]);
      // close connection name=…: the broker closes it (320) and it is gone from the list.
      conn.on("error", () => {});
      const closed = new Promise<void>((resolve) => conn.once("close", () => resolve()));
      await admin("close", "connection", `name=${conns[0]?.[0]}`);
      await closed;
      expect(await rows("connections", "name")).toEqual([]);
    } finally {
      await conn.close().catch(() => {});
    }
  });

  it("purges, exports, deletes and imports the definitions back", async () => {
    await admin("publish", "exchange=orders", "routing_key=order.paid", "payload=x");
    await admin("purge", "queue", "name=inventory");
    expect(broker.vhost.queues.get("inventory")?.messageCount).toBe(0);
    const file = join(dir, "defs.json");
    await admin("export", file);
    const defs = JSON.parse(await readFile(file, "utf8")) as {
      queues: { name: string }[];
      exchanges: { name: string }[];
      bindings: { source: string; destination: string; routing_key: string }[];
    };
    expect(defs.queues.map((q) => q.name).sort()).toEqual(["audit", "inventory"]);
    expect(defs.exchanges.map((x) => x.name)).toEqual(["orders"]);
    expect(defs.bindings).toEqual([
      expect.objectContaining({
        source: "orders",
        destination: "inventory",
        routing_key: "order.*",
      }),
    ]);
    await admin(
      "delete",
      "binding",
      "source=orders",
      "destination=inventory",
      "destination_type=queue",
      "properties_key=order.%2A",
    );
    expect(broker.vhost.routing.bindingsOf("orders")).toHaveLength(0);
    await admin("delete", "queue", "name=inventory");
    await admin("delete", "queue", "name=audit");
    await admin("delete", "exchange", "name=orders");
    expect(broker.vhost.queues.size).toBe(0);
    expect(broker.vhost.exchanges.has("orders")).toBe(false);
    await admin("import", file);
    expect([...broker.vhost.queues.keys()].sort()).toEqual(["audit", "inventory"]);
    expect(broker.vhost.routing.bindingsOf("orders").map((b) => b.routingKey)).toEqual(["order.*"]);
  });

  it("reports the broker's errors as RabbitMQ's: 404, 400 with the reason, 401", async () => {
    await expect(admin("delete", "queue", "name=nope")).rejects.toMatchObject({
      stderr: expect.stringContaining("Not found: /api/queues/%2F/nope"),
    });
    await expect(
      admin("declare", "queue", "name=inventory", "durable=false"),
    ).rejects.toMatchObject({
      stderr: expect.stringContaining("inequivalent arg 'durable' for queue 'inventory'"),
    });
    const port = String(broker.httpPort);
    await expect(
      run("python3", [SCRIPT, "-P", port, "-u", "guest", "-p", "wrong", "list", "queues"], {
        timeout: 15_000,
      }),
    ).rejects.toMatchObject({ stderr: expect.stringContaining("Access refused: /api/queues") });
  });
});

/**
 * The inspect commands (list, peek, purge) against a broker with a management API, as a
 * person runs them: the same suite for the embedded broker (--http-port) and for a RabbitMQ
 * node with the management plugin. Outcomes are checked on the broker, not only exit codes.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { expect, it } from "vitest";
import { runCli } from "./cli.js";

export interface InspectTarget {
  amqpUrl: string;
  /** http://127.0.0.1:PORT/ */
  apiUrl: string;
}

const WAIT = { timeout: 20_000, interval: 250 } as const;

export function inspectTests(target: () => InspectTarget, prefix: string): void {
  const cli = (...args: string[]) =>
    runCli(["--url", target().amqpUrl, ...args, "--api", target().apiUrl], {
      env: { ...process.env, NO_COLOR: "1" },
    });

  it("lists a queue with its depth, its binding and a live consumer; peek leaves the messages", async () => {
    const queue = `${prefix}.inspect`;
    const conn = await amqp.connect(target().amqpUrl, {
      clientProperties: { connection_name: `${prefix}-conn` },
    });
    try {
      const ch = await conn.createConfirmChannel();
      await ch.assertExchange(`${prefix}.x`, "topic", { durable: false, autoDelete: true });
      await ch.assertQueue(queue, { durable: false });
      await ch.bindQueue(queue, `${prefix}.x`, "order.*");
      for (let i = 1; i <= 3; i++) {
        ch.publish(`${prefix}.x`, "order.created", Buffer.from(`body ${i}`), {
          messageId: `m${i}`,
        });
      }
      await ch.waitForConfirms();
      await expect
        .poll(
          async () =>
            (await cli("list", "queues", "--name", `^${prefix}\\.inspect$`, "--json")).stdout,
          WAIT,
        )
        .toContain('"messages_ready":3');
      const queues = await cli("list", "queues", "--name", prefix);
      expect(queues.code, queues.stderr).toBe(0);
      expect(queues.stdout).toMatch(new RegExp(`${prefix}\\.inspect\\s+classic\\s+3\\s+0\\s+0`));
      const bindings = await cli("list", "bindings", "--name", `^${prefix}\\.x `);
      expect(bindings.stdout).toMatch(
        new RegExp(`${prefix}\\.x\\s+${prefix}\\.inspect\\s+queue\\s+order\\.\\*`),
      );

      const peek = await cli("peek", queue, "--count", "2", "--json");
      expect(peek.code, peek.stderr).toBe(0);
      const seen = peek.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { payload: string; properties: { message_id: string } });
      expect(seen.map((m) => m.payload)).toEqual(["body 1", "body 2"]);
      expect(seen.map((m) => m.properties.message_id)).toEqual(["m1", "m2"]);
      // Nothing consumed: all three are still there, in order.
      const check = await ch.checkQueue(queue);
      expect(check.messageCount).toBe(3);
      const first = await ch.get(queue, { noAck: true });
      expect(first ? first.content.toString() : undefined).toBe("body 1");

      const consume = await conn.createChannel();
      await consume.prefetch(4);
      await consume.consume(queue, () => {}, { consumerTag: `${prefix}-tag` });
      await expect
        .poll(async () => (await cli("list", "consumers", "--name", `^${prefix}`)).stdout, WAIT)
        .toMatch(new RegExp(`${prefix}\\.inspect\\s+${prefix}-tag\\s+manual\\s+4`));
      const conns = await cli("list", "connections", "--json");
      expect(JSON.parse(conns.stdout)).toContainEqual(
        expect.objectContaining({ user_provided_name: `${prefix}-conn` }),
      );
    } finally {
      await conn.close().catch(() => {});
    }
  });

  it("purge asks for --yes without a terminal, then removes the ready messages", async () => {
    const queue = `${prefix}.purge`;
    const conn = await amqp.connect(target().amqpUrl);
    try {
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue(queue, { durable: false, autoDelete: false });
      for (let i = 0; i < 5; i++) ch.sendToQueue(queue, Buffer.from(String(i)));
      await ch.waitForConfirms();
      const refused = await cli("purge", queue);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("confirm with --yes");
      expect((await ch.checkQueue(queue)).messageCount).toBe(5);
      const done = await cli("purge", queue, "--yes", "--json");
      expect(done.code, done.stderr).toBe(0);
      expect(JSON.parse(done.stdout)).toMatchObject({ queue, via: "management API" });
      expect((await ch.checkQueue(queue)).messageCount).toBe(0);
      await ch.deleteQueue(queue);
    } finally {
      await conn.close().catch(() => {});
    }
  });

  it("says which queue does not exist, and what to do when the API does not answer", async () => {
    const missing = await cli("peek", `${prefix}.missing`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`queue '${prefix}.missing' does not exist`);
    const down = await runCli(
      ["--url", target().amqpUrl, "list", "queues", "--api", "http://127.0.0.1:9"],
      {
        env: { ...process.env, NO_COLOR: "1" },
      },
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("cannot reach the management API at http://127.0.0.1:9/");
    expect(down.stderr).not.toContain("    at ");
  });

  it("topology diff checks bindings through the API named by broker.api", async () => {
    const dir = await mkdtemp(join(tmpdir(), "eventlab-diff-"));
    const conn = await amqp.connect(target().amqpUrl);
    try {
      const ch = await conn.createChannel();
      await ch.assertExchange(`${prefix}.dx`, "topic", { durable: true });
      await ch.assertQueue(`${prefix}.dq`, { durable: true });
      await ch.bindQueue(`${prefix}.dq`, `${prefix}.dx`, "order.*");
      const config = [
        "broker:",
        `  url: ${target().amqpUrl}`,
        `  api: ${target().apiUrl}`,
        "topology:",
        "  exchanges:",
        `    ${prefix}.dx: { type: topic }`,
        "  queues:",
        `    ${prefix}.dq: {}`,
        "  bindings:",
        `    - { source: ${prefix}.dx, destination: ${prefix}.dq, routingKey: "order.*" }`,
        `    - { source: ${prefix}.dx, destination: ${prefix}.dq, routingKey: "order.paid" }`,
      ].join("\n");
      await writeFile(join(dir, "eventlab.config.yaml"), `${config}\n`);
      const r = await runCli(["topology", "diff", "--json"], {
        cwd: dir,
        env: { ...process.env, NO_COLOR: "1", EVENTLAB_URL: undefined },
      });
      const out = JSON.parse(r.stdout) as {
        objects: { kind: string; name: string; status: string }[];
      };
      const bindings = out.objects.filter((x) => x.kind === "binding").map((x) => x.status);
      expect(bindings).toEqual(["same", "missing"]);
      expect(r.code).toBe(1);
      await ch.deleteQueue(`${prefix}.dq`);
      await ch.deleteExchange(`${prefix}.dx`);
    } finally {
      await conn.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("route --url explains from the broker's live bindings", async () => {
    const conn = await amqp.connect(target().amqpUrl);
    try {
      const ch = await conn.createChannel();
      await ch.assertExchange(`${prefix}.rx`, "topic", { durable: false, autoDelete: true });
      await ch.assertQueue(`${prefix}.rq`, { durable: false });
      await ch.bindQueue(`${prefix}.rq`, `${prefix}.rx`, "order.#");
      const hit = await cli("route", `${prefix}.rx`, "order.created.eu", "--json");
      expect(hit.code, hit.stderr).toBe(0);
      expect(JSON.parse(hit.stdout)).toMatchObject({ queues: [`${prefix}.rq`], routed: true });
      const miss = await cli("route", `${prefix}.rx`, "invoice.paid", "--json");
      expect(JSON.parse(miss.stdout)).toMatchObject({ queues: [], routed: false });
      await ch.deleteQueue(`${prefix}.rq`);
    } finally {
      await conn.close().catch(() => {});
    }
  });
}

/**
 * RabbitMQ tier: declare, delete and topology apply, checked by what the broker then
 * does with messages, not only by the absence of errors.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp, { type Channel, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RABBITMQ_URL, runCli, trackedNames, uniqueName } from "../helpers/cli.js";

const url = RABBITMQ_URL ?? "";

describe.skipIf(!RABBITMQ_URL)("declare, delete and topology apply against RabbitMQ", () => {
  let conn: ChannelModel;
  const { queues, exchanges, q, x } = trackedNames();
  const cli = (...args: string[]) => runCli([...args, "--url", url]);

  async function channel(): Promise<Channel> {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    return ch;
  }
  async function depth(q: string): Promise<number> {
    const ch = await channel();
    const r = await ch.checkQueue(q);
    await ch.close();
    return r.messageCount;
  }
  /**
   * The queue's depth reaches `n` (confirms can precede the enqueue through e2e hops, and a
   * dead letter is queued after the reject), polled every 20 ms for at most `timeoutMs`.
   */
  async function expectDepth(q: string, n: number, timeoutMs = 3000): Promise<void> {
    await expect
      .poll(() => depth(q), { message: `depth of ${q}`, timeout: timeoutMs, interval: 20 })
      .toBe(n);
  }
  async function publish(
    exchange: string,
    key: string,
    body: string,
    headers?: Record<string, unknown>,
  ) {
    const ch = await conn.createConfirmChannel();
    ch.publish(exchange, key, Buffer.from(body), { headers });
    await ch.waitForConfirms();
    await ch.close();
  }

  beforeAll(async () => {
    conn = await amqp.connect(url);
    conn.on("error", () => {});
  });
  afterAll(async () => {
    const ch = await channel();
    for (const name of queues) await ch.deleteQueue(name).catch(() => {});
    for (const name of exchanges) await ch.deleteExchange(name).catch(() => {});
    await ch.close().catch(() => {});
    await conn.close();
  });

  it("declares each exchange type, then reports it as existing", async () => {
    for (const type of ["direct", "topic", "fanout", "headers"]) {
      const name = x(type);
      const first = await cli(
        "declare",
        "exchange",
        name,
        "--type",
        type,
        "--no-durable",
        "--json",
      );
      expect(first.code).toBe(0);
      expect(JSON.parse(first.stdout)).toMatchObject({
        kind: "exchange",
        name,
        status: "created",
        type,
        durable: false,
      });
      const again = await cli("declare", "exchange", name, "--type", type, "--no-durable");
      expect(again.stdout).toContain(`• exchange ${name} already exists (${type}, transient)`);
      const other = await cli(
        "declare",
        "exchange",
        name,
        "--type",
        type === "topic" ? "direct" : "topic",
        "--no-durable",
      );
      expect(other.code).toBe(1);
      expect(other.stderr).toMatch(
        /error: exchange ".*" already exists with other settings\n\s+setting\s+requested\s+on the broker\n\s+type\s+\w+\s+\w+/,
      );
    }
  });

  it("declares a queue with arguments that the broker enforces, and shows a 406 side by side", async () => {
    const name = q("maxlen");
    const r = await cli(
      "declare",
      "queue",
      name,
      "--no-durable",
      "--max-length",
      "2",
      "--message-ttl",
      "60s",
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `✓ created queue ${name} (transient, x-message-ttl=60000, x-max-length=2)`,
    );
    for (const body of ["a", "b", "c"]) await publish("", name, body);
    await expectDepth(name, 2); // drop-head kept the newest two
    const ch = await channel();
    const first = await ch.get(name, { noAck: true });
    await ch.close();
    expect(first ? first.content.toString() : undefined).toBe("b");

    const conflict = await cli(
      "declare",
      "queue",
      name,
      "--no-durable",
      "--max-length",
      "3",
      "--message-ttl",
      "60s",
    );
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/x-max-length\s+3\s+2/);
    expect(conflict.stderr).toContain(`hint: delete it first (eventlab delete queue ${name})`);
    expect(conflict.stderr).not.toMatch(/\n\s+at /);
  });

  it("dead-letters rejected messages to the exchange given by --dead-letter-exchange", async () => {
    const dlx = x("dlx");
    const dead = q("dead");
    const work = q("work");
    expect((await cli("declare", "exchange", dlx, "--type", "fanout", "--no-durable")).code).toBe(
      0,
    );
    expect((await cli("declare", "queue", dead, "--no-durable")).code).toBe(0);
    expect((await cli("declare", "binding", dlx, dead)).code).toBe(0);
    expect(
      (await cli("declare", "queue", work, "--no-durable", "--dead-letter-exchange", dlx)).code,
    ).toBe(0);
    await publish("", work, '{"n":1}');
    const consumed = await cli("consume", work, "--count", "1", "--reject", "--json");
    expect(consumed.code).toBe(0);
    await expectDepth(dead, 1, 5000);
  });

  it("binds queues and exchanges by key, headers and exchange-to-exchange", async () => {
    const topic = x("topic");
    const fan = x("fan");
    const headers = x("headers");
    const byKey = q("bykey");
    const viaE2e = q("viae2e");
    const byHeaders = q("byheaders");
    await cli("declare", "exchange", topic, "--type", "topic", "--no-durable");
    await cli("declare", "exchange", fan, "--type", "fanout", "--no-durable");
    await cli("declare", "exchange", headers, "--type", "headers", "--no-durable");
    for (const name of [byKey, viaE2e, byHeaders])
      await cli("declare", "queue", name, "--no-durable");
    expect((await cli("declare", "binding", topic, byKey, "--key", "order.*")).stdout).toContain(
      `✓ bound ${topic} → ${byKey} (order.*)`,
    );
    expect((await cli("declare", "binding", topic, fan, "--to-exchange", "--key", "#")).code).toBe(
      0,
    );
    expect((await cli("declare", "binding", fan, viaE2e)).code).toBe(0);
    expect(
      (
        await cli(
          "declare",
          "binding",
          headers,
          byHeaders,
          "--match",
          "any",
          "--header",
          "region=eu",
          "--header",
          "tier=1",
        )
      ).code,
    ).toBe(0);

    await publish(topic, "order.created", "1");
    await publish(topic, "order.created.eu", "2");
    await publish(headers, "", "3", { tier: 1 });
    await publish(headers, "", "4", { region: "us", tier: 2 });
    await expectDepth(byKey, 1);
    await expectDepth(viaE2e, 2);
    await expectDepth(byHeaders, 1);

    const unbound = await cli("delete", "binding", topic, byKey, "--key", "order.*");
    expect(unbound.stdout).toContain(`✓ unbound ${topic} → ${byKey} (order.*)`);
    const missing = await cli("delete", "binding", uniqueName("no-such-ex"), byKey, "--key", "k");
    expect(missing.stdout).toMatch(/• binding .* did not exist; nothing deleted/);
    await publish(topic, "order.paid", "5");
    await expectDepth(byKey, 1);
  });

  it("names the missing object of a 404 and suggests the declare that fixes it", async () => {
    const missingEx = uniqueName("nope-ex");
    const name = q("for404");
    await cli("declare", "queue", name, "--no-durable");
    const r = await cli("declare", "binding", missingEx, name, "--key", "k");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: cannot bind queue "${name}" to exchange "${missingEx}": exchange "${missingEx}" does not exist (404 NOT_FOUND - no exchange '${missingEx}' in vhost '/')`,
    );
    expect(r.stderr).toContain(`hint: declare it: eventlab declare exchange ${missingEx}`);
    const missingQ = uniqueName("nope-q");
    const r2 = await cli("declare", "binding", "amq.topic", missingQ, "--key", "k");
    expect(r2.stderr).toContain(
      `error: cannot bind queue "${missingQ}" to exchange "amq.topic": queue "${missingQ}" does not exist`,
    );
    expect(r2.stderr).toContain(`hint: declare it: eventlab declare queue ${missingQ}`);
  });

  it("refuses amq. names with 403 and a hint", async () => {
    const r = await cli("declare", "exchange", "amq.eventlab-test");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /error: cannot declare exchange "amq.eventlab-test": the amq. prefix belongs to the broker \(403 ACCESS_REFUSED - exchange name 'amq.eventlab-test' contains reserved prefix 'amq.\*'\)/,
    );
    expect(r.stderr).toMatch(/hint: names starting with amq\. are reserved/);
  });

  it("delete: --if-empty keeps a non-empty queue, and a missing queue is reported as such", async () => {
    const name = q("ifempty");
    await cli("declare", "queue", name, "--no-durable");
    await publish("", name, "x");
    const kept = await cli("delete", "queue", name, "--if-empty");
    expect(kept.code).toBe(1);
    expect(kept.stderr).toContain(`error: queue "${name}" is not empty, so --if-empty kept it`);
    await expectDepth(name, 1);
    const gone = await cli("delete", "queue", name, "--json");
    expect(JSON.parse(gone.stdout)).toEqual({
      kind: "queue",
      name,
      status: "deleted",
      messageCount: 1,
    });
    const again = await cli("delete", "queue", name);
    expect(again.stdout).toContain(`• queue ${name} did not exist; nothing deleted`);
  });

  it("a server-named queue prints its name", async () => {
    const r = await cli("declare", "queue", "--no-durable", "--auto-delete", "--json");
    const out = JSON.parse(r.stdout) as { name: string };
    expect(out.name).toMatch(/^amq\.gen-/);
    queues.add(out.name);
  });

  describe("topology apply", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), "eventlab-topology-"));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("creates the config's objects in order, then finds them all there; a conflict stops with both settings", async () => {
      const ex = x("apply-ex");
      const audit = x("apply-audit");
      const inv = q("apply-inv");
      const file = path.join(dir, "eventlab.config.yaml");
      const config = (ttl: string) => `
topology:
  exchanges:
    ${ex}: { type: topic, durable: false }
    ${audit}: { type: fanout, durable: false, internal: true }
  queues:
    ${inv}: { durable: false, messageTtl: ${ttl} }
  bindings:
    - { source: ${ex}, destination: ${inv}, routingKey: "order.*" }
    - { source: ${ex}, destination: ${audit}, destinationType: exchange, routingKey: "#" }
`;
      await writeFile(file, config("60s"));
      const first = await runCli(["topology", "apply", "--url", url], { cwd: dir });
      expect(first.code).toBe(0);
      expect(first.stdout).toContain(`✓ created exchange ${ex} (topic, transient)`);
      expect(first.stdout).toContain(`✓ created exchange ${audit} (fanout, transient, internal)`);
      expect(first.stdout).toContain(`✓ created queue ${inv} (transient, x-message-ttl=60000)`);
      expect(first.stdout).toContain(
        "✓ 3 created, 0 already there, 2 bindings in place (from eventlab.config.yaml)",
      );
      await publish(ex, "order.created", "1");
      await expectDepth(inv, 1);

      const second = await runCli(["topology", "apply", "--url", url, "--json"], { cwd: dir });
      const lines = second.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.filter((l) => l["status"] === "exists")).toHaveLength(3);
      expect(lines.at(-1)).toMatchObject({ summary: true, created: 0, exists: 3, bound: 2 });

      await writeFile(file, config("30s"));
      const conflict = await runCli(["topology", "apply", "--url", url], { cwd: dir });
      expect(conflict.code).toBe(1);
      expect(conflict.stderr).toMatch(
        new RegExp(`queue "${inv.replace(/\./g, "\\.")}" already exists with other settings`),
      );
      expect(conflict.stderr).toMatch(/x-message-ttl\s+30000\s+60000/);
    });

    it("an empty topology says so and points at eventlab init", async () => {
      const empty = await mkdtemp(path.join(tmpdir(), "eventlab-empty-"));
      const r = await runCli(["topology", "apply", "--url", url], { cwd: empty });
      await rm(empty, { recursive: true, force: true });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("no config file found, so there is no topology to apply");
      expect(r.stderr).toContain("eventlab init");
    });
  });
});

/**
 * `consume --filter` and `consume --exec` as a person runs them, checked on the broker: what
 * is skipped stays in the queue (nothing lost), a tap prints only what matches, a command's
 * exit status settles each message (acked, dead-lettered or requeued), and a command that
 * hangs is killed at --exec-timeout. One suite, run against the embedded broker
 * (test/e2e/consume-filter.test.ts) and RabbitMQ (test/rabbitmq/consume-filter.test.ts).
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp, { type Channel, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCli, startCli, uniqueName } from "./cli.js";
import { within } from "./wait.js";

const WAIT_MS = 15_000;

export function consumeFilterSuite(url: () => string): void {
  let conn: ChannelModel;
  let ch: Channel;
  let dir: string;
  const queues: string[] = [];
  const exchanges: string[] = [];

  beforeAll(async () => {
    conn = await amqp.connect(url());
    ch = await conn.createConfirmChannel();
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-filter-"));
  });
  afterAll(async () => {
    for (const q of queues) await ch?.deleteQueue(q).catch(() => {});
    for (const x of exchanges) await ch?.deleteExchange(x).catch(() => {});
    await conn?.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => runCli(["--url", url(), ...args]);

  async function queue(prefix: string, args: Record<string, unknown> = {}): Promise<string> {
    const q = uniqueName(prefix);
    queues.push(q);
    await ch.assertQueue(q, { durable: false, arguments: args });
    return q;
  }

  async function publish(
    exchange: string,
    key: string,
    messages: Array<{ body: Buffer | string | object; id: string; region?: string }>,
  ): Promise<void> {
    for (const m of messages) {
      const body = Buffer.isBuffer(m.body)
        ? m.body
        : Buffer.from(typeof m.body === "string" ? m.body : JSON.stringify(m.body));
      ch.publish(exchange, key, body, {
        messageId: m.id,
        headers: m.region === undefined ? {} : { region: m.region },
      });
    }
    await (ch as amqp.ConfirmChannel).waitForConfirms();
  }

  /** Take every message left in `q` (no-ack): their bodies, in order. */
  async function drain(q: string): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const m = await ch.get(q, { noAck: true });
      if (m === false) break;
      out.push(m.content.toString());
    }
    return out;
  }

  const orders = [10, 20, 30, 40, 50, 60].map((total, i) => ({
    body: { total },
    id: `o${i + 1}`,
    region: i % 2 === 0 ? "eu" : "us",
  }));

  it("--filter on a queue prints and counts only matches; skipped ones stay in the queue", async () => {
    const q = await queue("filter.q");
    await publish("", q, orders);
    const r = await cli(
      "consume",
      q,
      "--filter",
      "body.total > 30",
      "--idle-timeout",
      "1s",
      "--json",
    );
    expect(r.code, r.stderr).toBe(0);
    const printed = r.stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { body: { total: number } }).body.total);
    expect(printed).toEqual([40, 50, 60]);
    expect(r.stderr).toMatch(/consumed 3 from/);
    expect(r.stderr).toContain(
      "filter: matched 3 · skipped 3 (3 held and given back to the queue)",
    );
    // Nothing lost: the three that did not match are back, in their order.
    expect(await drain(q)).toEqual(['{"total":10}', '{"total":20}', '{"total":30}']);
  });

  it("--filter with --count counts matches only, and the prefetch window held full is told", async () => {
    const q = await queue("filter.count");
    await publish("", q, orders);
    const r = await cli(
      "consume",
      q,
      "--filter",
      'headers.region == "us" and body.total >= 40',
      "--count",
      "2",
      "--json",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(2);
    expect(r.stdout).toContain('"messageId":"o4"');
    expect(r.stdout).toContain('"messageId":"o6"');
    expect(r.stderr).toContain("filter: matched 2 · skipped 4");
    expect((await drain(q)).sort()).toEqual(
      ['{"total":10}', '{"total":20}', '{"total":30}', '{"total":50}'].sort(),
    );

    const full = await queue("filter.window");
    await publish("", full, orders.slice(0, 3));
    const w = await cli(
      "consume",
      full,
      "--filter",
      "body.total > 1000",
      "--prefetch",
      "2",
      "--idle-timeout",
      "500ms",
    );
    expect(w.code, w.stderr).toBe(0);
    expect(w.stderr).toContain("--filter holds 2 skipped messages, the whole prefetch window");
    expect(w.stderr).toContain("filter: matched 0 · skipped 2");
    expect(await drain(full)).toHaveLength(3);
  });

  it("--filter on an exchange tap prints only what matches", async () => {
    const x = uniqueName("filter.x");
    exchanges.push(x);
    await ch.assertExchange(x, "topic", { durable: false });
    const run = startCli([
      "--url",
      url(),
      "consume",
      "--exchange",
      x,
      "--filter",
      'headers.region == "eu"',
      "--count",
      "2",
    ]);
    try {
      await expect
        .poll(() => run.stderr.text(), { timeout: WAIT_MS, interval: 50 })
        .toContain("consuming from exchange");
      await publish(x, "order.created", orders.slice(0, 4));
      const code = await within(run.exited, "the tap to end", WAIT_MS);
      expect(code, run.stderr.text()).toBe(0);
    } finally {
      run.stop();
    }
    const ids = [...run.stdout.text().matchAll(/messageId=(o\d)/g)].map((m) => m[1]);
    expect(ids).toEqual(["o1", "o3"]);
    // o2 was skipped; o4 too when it came before the consumer was cancelled.
    expect(run.stderr.text()).toMatch(/filter: matched 2 · skipped [12]\n/);
  });

  it("a bad expression is a usage error naming --filter and the column", async () => {
    const q = await queue("filter.bad");
    await publish("", q, orders.slice(0, 1));
    const r = await cli("consume", q, "--filter", "body.total >", "--count", "1");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("--filter: bad expression at column 13");
    expect(r.stderr).toContain("hint:");
    expect(await drain(q)).toHaveLength(1);
  });

  it("--exec pipes each body to the command and acks on exit 0", async () => {
    const q = await queue("exec.ok");
    const out = path.join(dir, "ok");
    await rm(out, { recursive: true, force: true });
    const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 13]);
    await publish("", q, [
      { body: { total: 1 }, id: "e1" },
      { body: "plain text\nwith two lines", id: "e2" },
      { body: binary, id: "e3" },
    ]);
    const cmd = `mkdir -p '${out}' && cat > "${out}/$EVENTLAB_MESSAGE_ID" && printf '%s|%s|%s' "$EVENTLAB_ROUTING_KEY" "$EVENTLAB_REDELIVERED" "$EVENTLAB_HEADERS" > "${out}/$EVENTLAB_MESSAGE_ID.env" && echo "ran $EVENTLAB_MESSAGE_ID"`;
    const r = await cli("consume", q, "--exec", cmd, "--idle-timeout", "1s", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(out, "e1"))).toEqual(Buffer.from('{"total":1}'));
    expect(await readFile(path.join(out, "e2"), "utf8")).toBe("plain text\nwith two lines");
    expect(await readFile(path.join(out, "e3"))).toEqual(binary);
    expect(await readFile(path.join(out, "e1.env"), "utf8")).toBe(`${q}|false|{}`);
    // The command's output goes to stderr; stdout keeps the message data only.
    expect(r.stderr).toContain("ran e2");
    expect(r.stdout).not.toContain("ran e");
    expect(r.stdout.trim().split("\n")).toHaveLength(3);
    expect(r.stderr).toContain("exec: acked 3 · nacked 0 · requeued 0");
    expect(await drain(q)).toEqual([]);
  });

  it("--exec that exits 1 nacks into the dead-letter queue, or requeues with --exec-requeue", async () => {
    const dlx = uniqueName("exec.dlx");
    exchanges.push(dlx);
    await ch.assertExchange(dlx, "fanout", { durable: false });
    const dlq = await queue("exec.dlq");
    await ch.bindQueue(dlq, dlx, "");
    const q = await queue("exec.fail", { "x-dead-letter-exchange": dlx });
    await publish("", q, orders.slice(0, 2));
    const r = await cli("consume", q, "--exec", "cat > /dev/null; exit 1", "--idle-timeout", "1s");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("exec: acked 0 · nacked 2 · requeued 0");
    expect(r.stderr).toContain("--exec failed (exit status 1)");
    expect(await drain(q)).toEqual([]);
    expect(await drain(dlq)).toEqual(['{"total":10}', '{"total":20}']);

    const rq = await queue("exec.requeue");
    await publish("", rq, orders.slice(0, 1));
    const again = await cli("consume", rq, "--exec", "exit 1", "--exec-requeue", "--count", "2");
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("exec: acked 0 · nacked 0 · requeued 2");
    expect(await drain(rq)).toEqual(['{"total":10}']);
  });

  it("Ctrl-C stops the running command and gives its message back to the queue", async () => {
    const q = await queue("exec.int");
    await publish("", q, orders.slice(0, 2));
    const pidFile = path.join(dir, "int.pid");
    const run = startCli([
      "--url",
      url(),
      "consume",
      q,
      "--exec",
      `echo $$ > '${pidFile}'; sleep 30`,
    ]);
    let code: number;
    try {
      await expect.poll(() => existsSync(pidFile), { timeout: WAIT_MS, interval: 50 }).toBe(true);
      run.stop();
      code = await within(run.exited, "consume to end after Ctrl-C", WAIT_MS);
    } finally {
      run.stop();
    }
    expect(code).toBe(2);
    expect(run.stderr.text()).toMatch(/exec: acked 0 · nacked 0 · requeued 0 · not run [12]/);
    const pid = Number((await readFile(pidFile, "utf8")).trim());
    expect(() => process.kill(pid, 0)).toThrow();
    expect((await drain(q)).sort()).toEqual(['{"total":10}', '{"total":20}']);
  });

  it("--exec kills a command that hangs past --exec-timeout, with its process group", async () => {
    const q = await queue("exec.hang");
    await publish("", q, orders.slice(0, 1));
    const pidFile = path.join(dir, "hang.pid");
    const started = performance.now();
    const r = await cli(
      "consume",
      q,
      "--exec",
      `echo $$ > '${pidFile}'; sleep 30; echo done`,
      "--exec-timeout",
      "300ms",
      "--exec-requeue",
      "--count",
      "1",
    );
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("killed after 300 ms (--exec-timeout)");
    expect(r.stderr).toContain("requeued 1 · timed out 1");
    expect(existsSync(pidFile)).toBe(true);
    const pid = Number((await readFile(pidFile, "utf8")).trim());
    await expect
      .poll(
        () => {
          try {
            process.kill(pid, 0);
            return "alive";
          } catch {
            return "gone";
          }
        },
        { timeout: 5000, interval: 50 },
      )
      .toBe("gone");
    expect(await drain(q)).toEqual(['{"total":10}']);
  });
}

/**
 * `eventlab dlq list|show|replay` against a live broker: the same suite for the embedded broker
 * and RabbitMQ. Messages are dead-lettered the three usual ways (rejected, expired, maxlen) and
 * every outcome is checked on the broker: counts, order, bodies, message ids.
 */
import { spawn } from "node:child_process";
import amqp, { type Channel, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCli, startCli, uniqueName } from "./cli.js";
import { within } from "./wait.js";

const WAIT = { timeout: 15_000, interval: 50 } as const;

export interface DlqWorld {
  /** Origin of the rejected and expired messages (no length limit). */
  work: string;
  /** Origin of the maxlen ones: x-max-length 2. */
  small: string;
  /** The exchange both origins are bound to (direct, key "job" and "small"). */
  exchange: string;
  dlx: string;
  dlq: string;
  /** Message ids in the dead-letter queue's order. */
  ids: string[];
}

export interface DlqSuite {
  url: () => string;
  prefix: string;
}

/** Every message of `queue`, drained (acked), in order. */
export async function drain(ch: Channel, queue: string): Promise<amqp.GetMessage[]> {
  const out: amqp.GetMessage[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) return out;
    out.push(m);
  }
}

interface ShownLine {
  properties: { messageId?: string };
  body: unknown;
  deaths: Array<{ reason: string; queue: string; count: number }>;
}

const idOf = (m: amqp.GetMessage) => String(m.properties.messageId);

/**
 * Three messages rejected from `work`, two expired there, two pushed out of `small` by its
 * length limit: seven dead letters, in that order.
 */
export async function deadLetterWorld(conn: ChannelModel, prefix: string): Promise<DlqWorld> {
  const n = (what: string) => uniqueName(`${prefix}.dlq.${what}`);
  const w: DlqWorld = {
    work: n("work"),
    small: n("small"),
    exchange: n("x"),
    dlx: n("dlx"),
    dlq: n("dlq"),
    ids: [],
  };
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange(w.dlx, "fanout", { durable: false });
  await ch.assertQueue(w.dlq, { durable: false });
  await ch.bindQueue(w.dlq, w.dlx, "");
  await ch.assertExchange(w.exchange, "direct", { durable: false });
  await ch.assertQueue(w.work, { durable: false, deadLetterExchange: w.dlx });
  await ch.assertQueue(w.small, { durable: false, deadLetterExchange: w.dlx, maxLength: 2 });
  await ch.bindQueue(w.work, w.exchange, "job");
  await ch.bindQueue(w.small, w.exchange, "small");
  const send = (key: string, id: string, extra: amqp.Options.Publish = {}) =>
    ch.publish(w.exchange, key, Buffer.from(JSON.stringify({ id, n: w.ids.length })), {
      messageId: id,
      contentType: "application/json",
      headers: { tenant: "acme" },
      ...extra,
    });
  for (const id of ["r1", "r2", "r3"]) send("job", id);
  await ch.waitForConfirms();
  for (let i = 0; i < 3; i++) {
    const m = await ch.get(w.work, { noAck: false });
    if (m === false) throw new Error("work queue: expected a message to reject");
    ch.nack(m, false, false);
  }
  w.ids.push("r1", "r2", "r3");
  await expect.poll(async () => (await ch.checkQueue(w.dlq)).messageCount, WAIT).toBe(3);
  for (const id of ["e1", "e2"]) send("job", id, { expiration: "1" });
  await ch.waitForConfirms();
  w.ids.push("e1", "e2");
  await expect.poll(async () => (await ch.checkQueue(w.dlq)).messageCount, WAIT).toBe(5);
  for (const id of ["m1", "m2", "m3", "m4"]) send("small", id);
  await ch.waitForConfirms();
  w.ids.push("m1", "m2");
  await expect.poll(async () => (await ch.checkQueue(w.dlq)).messageCount, WAIT).toBe(7);
  await ch.purgeQueue(w.small);
  await ch.close();
  return w;
}

export async function removeWorld(conn: ChannelModel, w: DlqWorld): Promise<void> {
  const ch = await conn.createChannel();
  for (const q of [w.work, w.small, w.dlq]) await ch.deleteQueue(q);
  for (const x of [w.exchange, w.dlx]) await ch.deleteExchange(x);
  await ch.close();
}

/** `total` messages k0… rejected from `work` into the (empty) dead-letter queue. */
async function fillDlq(conn: ChannelModel, w: DlqWorld, total: number): Promise<void> {
  const pub = await conn.createConfirmChannel();
  for (let i = 0; i < total; i++) {
    pub.publish(w.exchange, "job", Buffer.from(`body-${i}`), { messageId: `k${i}` });
  }
  await pub.waitForConfirms();
  await pub.close();
  const rej = await conn.createChannel();
  await rej.prefetch(500);
  await rej.consume(w.work, (m) => m && rej.nack(m, false, false));
  await expect.poll(() => checkDepth(conn, w.dlq), { timeout: 30_000, interval: 100 }).toBe(total);
  await rej.close();
}

async function checkDepth(conn: ChannelModel, queue: string): Promise<number> {
  const ch = await conn.createChannel();
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await ch.close();
  }
}

export function dlqTests(suite: DlqSuite): void {
  let conn: ChannelModel;
  let ch: Channel;
  const worlds: DlqWorld[] = [];
  const extraQueues: string[] = [];
  const cli = (...args: string[]) =>
    runCli(["--url", suite.url(), ...args], { env: { ...process.env, NO_COLOR: "1" } });
  const world = async () => {
    const w = await deadLetterWorld(conn, suite.prefix);
    worlds.push(w);
    return w;
  };
  const depth = async (q: string) => (await ch.checkQueue(q)).messageCount;

  beforeAll(async () => {
    conn = await amqp.connect(suite.url());
    ch = await conn.createChannel();
  });
  afterAll(async () => {
    for (const w of worlds) await removeWorld(conn, w);
    for (const q of extraQueues) await ch.deleteQueue(q);
    await conn?.close();
  });

  it("list groups the dead letters by reason and origin, and leaves the queue as it was", async () => {
    const w = await world();
    const json = await cli("dlq", "list", w.dlq, "--json");
    expect(json.code, json.stderr).toBe(0);
    const groups = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    const brief = groups
      .map((g) => `${g["reason"]} ${g["queue"]} ${g["exchange"]} ${g["messages"]} ${g["deaths"]}`)
      .sort();
    expect(brief).toEqual([
      `expired ${w.work} ${w.exchange} 2 2`,
      `maxlen ${w.small} ${w.exchange} 2 2`,
      `rejected ${w.work} ${w.exchange} 3 3`,
    ]);
    const rejected = groups.find((g) => g["reason"] === "rejected") as Record<string, unknown>;
    expect(rejected["routingKeys"]).toEqual(["job"]);
    expect(Date.parse(String(rejected["first"]))).toBeGreaterThan(Date.now() - 120_000);

    const table = await cli("dlq", "list", w.dlq);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/reason\s+queue\s+exchange\s+routing keys\s+messages\s+deaths/);
    expect(table.stdout).toMatch(new RegExp(`rejected\\s+${w.work.replace(/\./g, "\\.")}\\s+`));
    expect(table.stderr).toContain("7 messages read; the queue is unchanged");

    // Unchanged: the same seven, in the same order, bodies intact.
    expect(await depth(w.dlq)).toBe(7);
    const left = await drain(ch, w.dlq);
    expect(left.map(idOf)).toEqual(w.ids);
    expect(JSON.parse(left[0]?.content.toString() ?? "")).toEqual({ id: "r1", n: 0 });
  });

  it("list --count reads only the head and says how many there are", async () => {
    const w = await world();
    const r = await cli("dlq", "list", w.dlq, "--count", "3", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      expect.objectContaining({ reason: "rejected", messages: 3 }),
    ]);
    expect(r.stderr).toContain("3 messages read of 7");
    expect((await drain(ch, w.dlq)).map(idOf)).toEqual(w.ids);
  });

  it("show prints each message with its death history", async () => {
    const w = await world();
    const r = await cli("dlq", "show", w.dlq, "--count", "7", "--json");
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as ShownLine);
    expect(lines.map((l) => l.properties.messageId)).toEqual(w.ids);
    expect(lines.map((l) => l.deaths[0]?.reason)).toEqual([
      "rejected",
      "rejected",
      "rejected",
      "expired",
      "expired",
      "maxlen",
      "maxlen",
    ]);
    expect(lines[0]?.body).toEqual({ id: "r1", n: 0 });
    expect(lines[5]?.deaths[0]).toMatchObject({ queue: w.small, count: 1 });
    const pretty = await cli("dlq", "show", w.dlq, "--count", "1");
    expect(pretty.stdout).toMatch(/deaths\s+rejected in \S+ ×1/);
    expect(pretty.stdout).toContain('"id": "r1"');
    expect(await depth(w.dlq)).toBe(7);
  });

  it("replay --to-origin moves each message back to the queue it died in, bodies exact", async () => {
    const w = await world();
    const before = await cli("dlq", "show", w.dlq, "--count", "7", "--json");
    const bodies = before.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.stringify((JSON.parse(l) as { body: unknown }).body));
    const r = await cli("dlq", "replay", w.dlq, "--to-origin", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      moved: 7,
      kept: 0,
      returned: 0,
      uncertain: 0,
      interrupted: false,
    });
    expect(await depth(w.dlq)).toBe(0);
    const work = await drain(ch, w.work);
    const small = await drain(ch, w.small);
    expect(work.map(idOf)).toEqual(["r1", "r2", "r3", "e1", "e2"]);
    expect(small.map(idOf)).toEqual(["m1", "m2"]);
    expect([...work, ...small].map((m) => m.content.toString())).toEqual(bodies);
    // Properties and headers travel; x-death stays as the history; CC/BCC never.
    const first = work[0] as amqp.GetMessage;
    expect(first.properties.contentType).toBe("application/json");
    expect(first.properties.headers?.["tenant"]).toBe("acme");
    expect(first.properties.headers?.["x-first-death-reason"]).toBe("rejected");
    expect(first.properties.headers?.["x-death"]).toHaveLength(1);
  });

  it("replay --filter moves only the matching ones; the others stay, in order", async () => {
    const w = await world();
    const r = await cli(
      "dlq",
      "replay",
      w.dlq,
      "--to-origin",
      "--filter",
      `'headers.x-first-death-reason' == "expired" or properties.messageId == "r2"`,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("3 messages moved");
    expect(r.stdout).toMatch(/kept\s+4/);
    expect((await drain(ch, w.dlq)).map(idOf)).toEqual(["r1", "r3", "m1", "m2"]);
    expect((await drain(ch, w.work)).map(idOf)).toEqual(["r2", "e1", "e2"]);
    const bad = await cli("dlq", "replay", w.dlq, "--to-origin", "--filter", "body.n >");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("--filter");
  });

  it("replay --exchange --key sends them there; unroutable ones are returned and stay", async () => {
    const w = await world();
    const target = uniqueName(`${suite.prefix}.dlq.target`);
    extraQueues.push(target);
    await ch.assertQueue(target, { durable: false });
    await ch.bindQueue(target, w.exchange, "retry");
    const lost = await cli("dlq", "replay", w.dlq, "--exchange", w.exchange, "--key", "nowhere");
    expect(lost.code).toBe(3);
    expect(lost.stdout).toMatch(/returned\s+7/);
    expect(lost.stdout).toContain("NO_ROUTE");
    expect(await depth(w.dlq)).toBe(7);
    const r = await cli(
      "dlq",
      "replay",
      w.dlq,
      "--exchange",
      w.exchange,
      "--key",
      "retry",
      "--count",
      "4",
      "--json",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ moved: 4, examined: 4 });
    expect((await drain(ch, target)).map(idOf)).toEqual(w.ids.slice(0, 4));
    expect((await drain(ch, w.dlq)).map(idOf)).toEqual(w.ids.slice(4));
    const missing = await cli("dlq", "replay", w.dlq, "--exchange", `${target}.none`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("does not exist");
  });

  it("says what is wrong: no destination, a missing queue", async () => {
    const none = await cli("dlq", "replay", "whatever");
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("--to-origin");
    const missing = await cli("dlq", "list", uniqueName(`${suite.prefix}.nope`));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/queue '.*' does not exist/);
    expect(missing.stderr).toContain("hint:");
  });

  it("Ctrl-C stops a replay after the message in hand: exit 2, nothing lost", async () => {
    const w = await world();
    await drain(ch, w.dlq);
    const total = 1000;
    await fillDlq(conn, w, total);
    const run = startCli(["--url", suite.url(), "dlq", "replay", w.dlq, "--to-origin"]);
    await expect.poll(() => depth(w.work), { timeout: 30_000, interval: 5 }).toBeGreaterThan(50);
    run.stop();
    expect(await within(run.exited, "the replay to stop", 10_000)).toBe(2);
    expect(run.stdout.text()).toContain("interrupted: the rest stay in");
    const inWork = (await drain(ch, w.work)).map(idOf);
    const inDlq = (await drain(ch, w.dlq)).map(idOf);
    // A clean stop: every message in exactly one place, the rest in order.
    expect(inWork.length + inDlq.length).toBe(total);
    expect(new Set([...inWork, ...inDlq]).size).toBe(total);
    expect(inDlq.length).toBeGreaterThan(0);
    expect(inDlq.map((id) => Number(id.slice(1)))).toEqual(
      Array.from({ length: inDlq.length }, (_, i) => total - inDlq.length + i),
    );
  });

  it("an interrupted replay (SIGKILL) loses nothing", { timeout: 90_000 }, async () => {
    const w = await world();
    await drain(ch, w.dlq);
    const total = 2000;
    await fillDlq(conn, w, total);

    const child = spawn(
      process.execPath,
      ["bin/eventlab.cjs", "--url", suite.url(), "dlq", "replay", w.dlq, "--to-origin"],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } },
    );
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (_c, s) => resolve(s ? -1 : _c)),
    );
    // Some have moved, not all: then kill it without warning.
    await expect.poll(() => depth(w.work), { timeout: 30_000, interval: 5 }).toBeGreaterThan(100);
    child.kill("SIGKILL");
    expect(await within(exited, "the killed replay to exit", 10_000)).toBe(-1);
    // The broker takes back what the killed connection held.
    await expect
      .poll(async () => (await depth(w.work)) + (await depth(w.dlq)), {
        timeout: 20_000,
        interval: 50,
      })
      .toBeGreaterThanOrEqual(total);
    const inWork = (await drain(ch, w.work)).map(idOf);
    const inDlq = (await drain(ch, w.dlq)).map(idOf);
    expect(inDlq.length, "killed before the end").toBeGreaterThan(0);
    const seen = new Set([...inWork, ...inDlq]);
    const missing = Array.from({ length: total }, (_, i) => `k${i}`).filter((id) => !seen.has(id));
    expect(missing).toEqual([]);
    // One message at a time: at most the one between its confirm and its ack is in both.
    const both = inWork.filter((id) => inDlq.includes(id));
    expect(both.length).toBeLessThanOrEqual(1);
    expect(inWork.length + inDlq.length).toBe(total + both.length);
    // What stayed is still in order.
    const order = inDlq.map((id) => Number(id.slice(1)));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });
}

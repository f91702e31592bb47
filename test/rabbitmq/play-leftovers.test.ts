/**
 * RabbitMQ tier: `eventlab --url <rabbitmq> play` when the scenario's queues already hold
 * messages from before the run (refused by default, --purge, --keep), and the retry and
 * dead-letter queues of consumer behaviours, which follow the durability of the queue they
 * serve and accept one the topology declares. Every queue has a unique name and is deleted
 * in teardown.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp, { type ChannelModel } from "amqplib";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ID_HEADER } from "../../src/lab/leftovers.js";
import {
  billingConfig,
  type Report,
  retryConfig,
  writeConfig,
} from "../fixtures/leftover-scenarios.js";
import { RABBITMQ_URL, runCli, trackedNames } from "../helpers/cli.js";

const url = RABBITMQ_URL ?? "";

describe.skipIf(!RABBITMQ_URL)("eventlab --url <rabbitmq> play: leftovers and retry queues", () => {
  let conn: ChannelModel;
  let dir: string;
  const names = trackedNames();
  /** A unique work queue, with the retry and dead-letter queues a behaviour may add to it. */
  const queue = (prefix: string) => {
    const q = names.q(prefix);
    names.queues.add(`${q}.retry.1`);
    names.queues.add(`${q}.dlq`);
    return q;
  };

  beforeAll(async () => {
    conn = await amqp.connect(url);
  });
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-leftovers-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    for (const q of names.queues) {
      const ch = await conn.createChannel();
      await ch.deleteQueue(q);
      await ch.close();
    }
  });
  afterAll(async () => {
    const left: string[] = [];
    for (const q of names.queues) if ((await messages(q)) !== undefined) left.push(q);
    await conn?.close();
    expect(left).toEqual([]);
  });

  /** Ready messages in a queue (a passive declare), or undefined when it does not exist. */
  async function messages(q: string): Promise<number | undefined> {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    try {
      const n = (await ch.checkQueue(q)).messageCount;
      await ch.close();
      return n;
    } catch {
      return undefined;
    }
  }

  /**
   * Whether a queue is durable. AMQP cannot ask; a declare with the same arguments and
   * `durable: true` is accepted by a durable queue and refused (406, 'durable') by a transient
   * one, changing nothing either way.
   */
  async function durable(q: string, args: Record<string, unknown> = {}): Promise<boolean> {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    try {
      await ch.assertQueue(q, { durable: true, arguments: args });
      await ch.close();
      return true;
    } catch (err) {
      expect(String(err)).toContain("inequivalent arg 'durable'");
      return false;
    }
  }

  /** Publish `n` messages to `q` (declared durable), as another producer would. */
  async function leave(q: string, n: number, headers: Record<string, unknown> = {}) {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(q, { durable: true });
    for (let i = 0; i < n; i++) ch.sendToQueue(q, Buffer.from(`old ${i}`), { headers });
    await ch.waitForConfirms();
    await ch.close();
  }

  const play = (...args: string[]) =>
    runCli(["--url", url, "play", ...args], {
      cwd: dir,
      env: { EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
    });

  function report(r: { code: number; stdout: string; stderr: string }): Report {
    expect(r.code, r.stderr).toBe(0);
    const parsed = JSON.parse(r.stdout) as Report;
    expect(parsed).toMatchObject({ broker: "url", stoppedBy: "done", lost: 0, nacked: 0 });
    return parsed;
  }

  it("refuses a queue that holds messages from before the run, naming it and the count", async () => {
    const q = queue("billing");
    await writeConfig(dir, billingConfig(q));
    await leave(q, 13);
    const r = await play("bills", "--json");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`error: ${q} holds 13 messages from before this run`);
    expect(r.stderr).toMatch(/hint: .*--purge.*--keep/);
    expect(await messages(q)).toBe(13);
  });

  it("--purge deletes them first and says how many; processed is this run's copies", async () => {
    const q = queue("billing");
    await writeConfig(dir, billingConfig(q));
    await leave(q, 13);
    const r = report(await play("bills", "--json", "--purge"));
    expect(r.purged).toEqual({ [q]: 13 });
    expect(r.preexisting).toBe(0);
    expect(r.queues).toEqual([
      expect.objectContaining({ name: q, routed: 10, processed: 10, preexisting: 0, lost: 0 }),
    ]);
    expect(r.consumers[0]).toMatchObject({ processed: 10, preexisting: 0 });
    expect(await messages(q)).toBe(0);
  });

  it("--keep consumes them too and counts them apart as preexisting", async () => {
    const q = queue("billing");
    await writeConfig(dir, billingConfig(q));
    await leave(q, 10);
    await leave(q, 3, { [ID_HEADER]: "oldrun:1.bill-1" });
    const r = report(await play("bills", "--json", "--keep"));
    expect(r).toMatchObject({ preexisting: 13, purged: {}, consumed: 10 });
    expect(r.queues).toEqual([
      expect.objectContaining({ name: q, routed: 10, processed: 10, preexisting: 13, lost: 0 }),
    ]);
    expect(r.consumers[0]).toMatchObject({ processed: 10, preexisting: 13 });
    expect(await messages(q)).toBe(0);
  });

  it("a durable queue's retry and dead-letter queues are durable; a transient one's are not", async () => {
    for (const served of [true, false]) {
      const q = queue(served ? "durable-jobs" : "transient-jobs");
      await writeConfig(dir, retryConfig(q, { durable: served }));
      const r = report(await play("jobs", "--json"));
      expect(r.queues[0]).toMatchObject({ routed: 3, retried: 3, deadLettered: 3 });
      const retryArgs = {
        "x-message-ttl": 50,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": q,
      };
      expect(await durable(`${q}.retry.1`, retryArgs), `${q}.retry.1`).toBe(served);
      expect(await durable(`${q}.dlq`), `${q}.dlq`).toBe(served);
      expect(await messages(`${q}.dlq`)).toBe(3);
    }
  });

  it("a topology that declares <queue>.dlq itself runs again and again, without a 406", async () => {
    const q = queue("jobs");
    // Durable with a length limit, for a transient work queue: not what play would choose.
    const config = retryConfig(q, { durable: false, queues: { [`${q}.dlq`]: { maxLength: 100 } } });
    await writeConfig(dir, config);
    for (let run = 1; run <= 2; run++) {
      const r = report(await play("jobs", "--json"));
      expect(r.queues[0], `run ${run}`).toMatchObject({ routed: 3, deadLettered: 3 });
      expect(await messages(`${q}.dlq`), `run ${run}`).toBe(3 * run);
    }
    expect(await durable(`${q}.dlq`, { "x-max-length": 100 })).toBe(true);

    // And the issue's own case: the served queue and its declared .dlq both durable.
    const d = queue("jobs");
    await writeConfig(dir, retryConfig(d, { queues: { [`${d}.dlq`]: { durable: true } } }));
    for (let run = 1; run <= 2; run++) {
      const r = report(await play("jobs", "--json"));
      expect(r.queues[0], `run ${run}`).toMatchObject({ routed: 3, deadLettered: 3 });
    }
  });

  it("a retry queue left transient by an older version: a 406 that says how to make room", async () => {
    const q = queue("jobs");
    await writeConfig(dir, retryConfig(q));
    const ch = await conn.createChannel();
    await ch.assertQueue(`${q}.dlq`, { durable: false });
    await ch.close();
    const r = await play("jobs");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`queue "${q}.dlq" already exists with other settings`);
    expect(r.stderr).toContain(
      `hint: it is the dead-letter queue of ${q}, declared durable like ${q}: delete it (eventlab delete queue ${q}.dlq)`,
    );
  });
});

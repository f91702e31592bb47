/**
 * `eventlab play` against a broker whose queues already hold messages (left by an earlier
 * run, or by another producer), here the embedded broker on port 0 reached through its URL as
 * `--url` would reach RabbitMQ: by default play refuses and names each queue and count;
 * --purge deletes them first; --keep consumes them and counts them apart as `preexisting`,
 * never as this run's. And the retry and dead-letter queues that consumer behaviours declare:
 * they follow the durability of the queue they serve, and one the topology declares is used
 * as declared.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp from "amqplib";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { connect } from "../../src/client/connect.js";
import { parseConfig } from "../../src/config/load.js";
import { ID_HEADER, type LeftoverPolicy } from "../../src/lab/leftovers.js";
import { runScenario } from "../../src/lab/runner.js";
import type { Snapshot } from "../../src/lab/types.js";
import {
  billingConfig,
  type Report,
  retryConfig,
  roundTripConfig,
  writeConfig,
} from "../fixtures/leftover-scenarios.js";
import { runCli, uniqueName } from "../helpers/cli.js";

let broker: RunningBroker;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  broker = await startBroker({ port: 0 });
  env = { EVENTLAB_URL: broker.url, EVENTLAB_CONFIG: "" };
});
afterAll(async () => {
  await broker?.close();
});
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "eventlab-leftovers-"));
  return () => rm(dir, { recursive: true, force: true });
});

/** Publish `n` messages to `queue` (declared durable), as another producer would. */
async function leave(queue: string, n: number, headers: Record<string, unknown> = {}) {
  const c = await amqp.connect(broker.url);
  try {
    const ch = await c.createConfirmChannel();
    await ch.assertQueue(queue, { durable: true });
    for (let i = 0; i < n; i++) ch.sendToQueue(queue, Buffer.from(`old ${i}`), { headers });
    await ch.waitForConfirms();
  } finally {
    await c.close();
  }
}

const depth = (queue: string) => broker.vhost.queues.get(queue)?.messageCount;

async function play(...args: string[]) {
  return runCli(["play", ...args], { cwd: dir, env });
}

function report(r: { code: number; stdout: string; stderr: string }): Report {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

describe("eventlab play with messages already in its queues", () => {
  it("refuses by default, naming the queue and how many it holds, and leaves them there", async () => {
    const q = uniqueName("billing");
    await writeConfig(dir, billingConfig(q));
    await leave(q, 13);
    const r = await play("bills", "--json");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`error: ${q} holds 13 messages from before this run`);
    expect(r.stderr).toMatch(/hint: .*--purge.*--keep/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(depth(q)).toBe(13);
  });

  it("names every queue that holds messages, the retry queues that lead back included", async () => {
    const q = uniqueName("jobs");
    await writeConfig(dir, retryConfig(q));
    await leave(q, 1);
    await leave(`${q}.retry.1`, 2);
    const r = await play("jobs");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: ${q} holds 1 message, ${q}.retry.1 holds 2 messages from before this run`,
    );
  });

  it("--purge deletes them first and says how many; the run counts its own only", async () => {
    const q = uniqueName("billing");
    await writeConfig(dir, billingConfig(q));
    await leave(q, 13);
    const r = report(await play("bills", "--json", "--purge"));
    expect(r.purged).toEqual({ [q]: 13 });
    expect(r).toMatchObject({ stoppedBy: "done", lost: 0, preexisting: 0, published: 10 });
    expect(r.queues).toEqual([
      expect.objectContaining({ name: q, routed: 10, processed: 10, preexisting: 0, lost: 0 }),
    ]);
    expect(r.consumers[0]).toMatchObject({ processed: 10, preexisting: 0 });
    expect(r.events.join("\n")).toContain(`${q}: purged 13 messages from before this run`);
    expect(depth(q)).toBe(0);

    await leave(q, 2);
    const human = await play("bills", "--purge");
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`purged 2 messages from before this run first: ${q} 2`);
  });

  it("--keep consumes them too, counted apart as preexisting, never as this run's", async () => {
    const q = uniqueName("billing");
    await writeConfig(dir, billingConfig(q));
    // Plain messages, and ones an earlier run of play published (another run's id).
    await leave(q, 10);
    await leave(q, 3, { [ID_HEADER]: "oldrun:1.bill-1" });
    const r = report(await play("bills", "--json", "--keep"));
    expect(r).toMatchObject({ stoppedBy: "done", lost: 0, preexisting: 13, purged: {} });
    expect(r.queues).toEqual([
      expect.objectContaining({ name: q, routed: 10, processed: 10, preexisting: 13, lost: 0 }),
    ]);
    expect(r.consumed).toBe(10);
    expect(r.consumers[0]).toMatchObject({ processed: 10, preexisting: 13 });
    expect(depth(q)).toBe(0);

    await leave(q, 4);
    const human = await play("bills", "--keep");
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain("billing ×1 on");
    expect(human.stdout).toContain("processed 10, failed 0, retried 0, preexisting 4");
    expect(human.stdout).toContain(
      `preexisting 4: consumed messages from before this run, not counted above (${q} 4)`,
    );
  });

  it("--purge and --keep together are a usage error", async () => {
    await writeConfig(dir, billingConfig(uniqueName("billing")));
    const r = await play("bills", "--purge", "--keep");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: --purge and --keep cannot be used together");
  });

  it("the round trip of a config without scenarios refuses, purges and keeps the same way", async () => {
    const q = uniqueName("billing");
    await writeConfig(dir, roundTripConfig(q, 5));
    await leave(q, 3);
    const refused = await play("--json");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`error: ${q} holds 3 messages from before this run`);

    const kept = JSON.parse((await play("--json", "--keep")).stdout) as Report;
    expect(kept).toMatchObject({ lost: 0, consumed: 5, preexisting: 3, purged: {} });
    // The round trip is a scenario of its own: one plain consumer per queue, the same report.
    expect(kept).toMatchObject({ scenario: "round trip of bill", stoppedBy: "done", routed: 5 });
    expect(kept.queues).toEqual([
      expect.objectContaining({ name: q, routed: 5, consumed: 5, processed: 5, preexisting: 3 }),
    ]);
    expect(kept.consumers).toEqual([
      expect.objectContaining({ name: q, queue: q, processed: 5, preexisting: 3 }),
    ]);

    await leave(q, 2);
    const purged = JSON.parse((await play("--json", "--purge")).stdout) as Report;
    expect(purged).toMatchObject({ lost: 0, consumed: 5, preexisting: 0, purged: { [q]: 2 } });
  });

  it("consume with behaviours works through what is in the queue, without refusing", async () => {
    const q = uniqueName("inbox");
    await leave(q, 3);
    const r = await runCli(["consume", q, "--work-time", "1ms", "--count", "3", "--json"], {
      cwd: dir,
      env,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(3);
    expect(r.stderr).toContain("3 processed");
  });
});

describe("the runner, given a broker whose queue holds messages from before the run", () => {
  async function run(queue: string, leftovers: LeftoverPolicy) {
    const config = parseConfig(JSON.stringify(billingConfig(queue)), "leftovers.json");
    const { bills: scenario } = config.scenarios;
    if (!scenario) throw new Error("no scenario bills");
    let last: Snapshot | undefined;
    const report = await runScenario({
      name: "bills",
      scenario,
      config,
      connect: () => connect([broker.url]),
      env: {},
      signal: AbortSignal.timeout(20_000),
      leftovers,
      onSnapshot: (s) => {
        last = s;
      },
    });
    return { report, last };
  }

  it("keep: the live view's numbers count them apart as preexisting", async () => {
    const q = uniqueName("billing");
    await leave(q, 13);
    const { report, last } = await run(q, "keep");
    expect(report).toMatchObject({ stoppedBy: "done", lost: 0, preexisting: 13 });
    expect(last?.preexisting).toBe(13);
    expect(last?.queues.find((r) => r.name === q)?.preexisting).toBe(13);
    expect(last?.consumers[0]).toMatchObject({ processed: 10, preexisting: 13 });
  });

  it("process: they are the run's work, as for consume with behaviours", async () => {
    const q = uniqueName("billing");
    await leave(q, 13);
    const { report, last } = await run(q, "process");
    expect(report.preexisting).toBe(0);
    expect(last?.consumers[0]).toMatchObject({ processed: 23, preexisting: 0 });
  });

  it("refuse: it throws before consuming anything", async () => {
    const q = uniqueName("billing");
    await leave(q, 2);
    await expect(run(q, "refuse")).rejects.toThrow(`${q} holds 2 messages from before this run`);
    expect(depth(q)).toBe(2);
  });
});

describe("retry and dead-letter queues of consumer behaviours", () => {
  const durableOf = (queue: string) => broker.vhost.queues.get(queue)?.durable;

  it.each([
    [true, true],
    [false, false],
  ])("follow the served queue's durability (durable: %s)", async (durable, expected) => {
    const q = uniqueName("jobs");
    await writeConfig(dir, retryConfig(q, { durable }));
    const r = report(await play("jobs", "--json"));
    expect(r.queues).toEqual([
      expect.objectContaining({ routed: 3, deadLettered: 3, retried: 3, lost: 0 }),
    ]);
    expect(durableOf(`${q}.retry.1`)).toBe(expected);
    expect(durableOf(`${q}.dlq`)).toBe(expected);
    expect(depth(`${q}.dlq`)).toBe(3);
  });

  it.each([
    ["durable, like its durable queue", {}, { durable: true }],
    ["durable, with a length limit, for a transient queue", { durable: false }, { maxLength: 100 }],
  ])(
    "a dead-letter queue the topology declares (%s) is used as declared, run after run",
    async (_, served, dlq) => {
      const q = uniqueName("jobs");
      await writeConfig(dir, retryConfig(q, { ...served, queues: { [`${q}.dlq`]: dlq } }));
      for (let run = 1; run <= 2; run++) {
        const r = report(await play("jobs", "--json"));
        expect(r.queues[0], `run ${run}`).toMatchObject({ routed: 3, deadLettered: 3, lost: 0 });
        expect(depth(`${q}.dlq`), `run ${run}`).toBe(3 * run);
      }
      expect(durableOf(`${q}.dlq`)).toBe(true);
    },
  );

  it("consume with retries on a queue the config does not declare: durable retry queues", async () => {
    const q = uniqueName("inbox");
    await leave(q, 1);
    const r = await runCli(
      ["consume", q, "--fail-rate", "1", "--retry-delays", "50ms", "--count", "1", "--json"],
      { cwd: dir, env },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(durableOf(`${q}.retry.1`)).toBe(true);
    expect(durableOf(`${q}.dlq`)).toBe(true);
    expect(depth(`${q}.dlq`)).toBe(1);
  });
});

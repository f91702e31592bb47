/**
 * `eventlab play` with a node fault, on the cluster of test/cluster/cluster.test.ts: a scenario
 * on a durable quorum queue, played with every node's URL (node 1 first, so the producer and
 * the consumer start there) and --cluster-dir, stops node 1 at 500 ms for 3 s and starts it
 * again. Nothing confirmed is lost, the clients reconnect to another node, the timeline shows
 * the stop, and node 1 runs again afterwards (started again in a finally whatever happens).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import amqp from "amqplib";
import { expect, it } from "vitest";
import { stringify } from "yaml";
import type { PlayReport } from "../../src/lab/types.js";
import { runCli } from "./cli.js";
import { clusterCli } from "./cluster.js";
import { faultScenarioConfig } from "./fault-scenario.js";

export interface ClusterPlayTarget {
  /** The AMQP URL of every node, node 1 first. */
  urls(): string[];
  /** The cluster's directory (`eventlab cluster up --dir`). */
  dir(): string;
  /** A name no other test uses. */
  name(what: string): string;
}

const AMOUNT = 200;

interface NodeState {
  index: number;
  state: string;
}

async function nodeStates(dir: string): Promise<NodeState[]> {
  const r = await clusterCli(["status", "--dir", dir, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { nodes: NodeState[] }).nodes;
}

export function clusterPlayTests(t: ClusterPlayTarget): void {
  it("play with a node fault: node 1 (where the producer and consumer are) stops for 3 s under a quorum queue; none lost, and node 1 runs again", async () => {
    const queue = t.name("play-quorum");
    const exchange = t.name("play-x");
    const cwd = await mkdtemp(path.join(os.tmpdir(), "eventlab-cluster-play-"));
    const urls = t.urls();
    expect(urls.length).toBeGreaterThanOrEqual(3);
    await writeFile(
      path.join(cwd, "eventlab.config.yaml"),
      stringify(
        faultScenarioConfig({
          faults: [{ at: "500ms", node: "stop", n: 1, for: "3s" }],
          exchange,
          queue,
          queueSettings: { queueType: "quorum" },
          amount: AMOUNT,
        }),
      ),
    );
    let r: Awaited<ReturnType<typeof runCli>>;
    try {
      r = await runCli(
        [
          ...urls.flatMap((u) => ["--url", u]),
          ...["play", "s", "--json", "--purge", "--cluster-dir", t.dir()],
          ...["--reconnect-timeout", "60s"],
        ],
        {
          cwd,
          env: { ...process.env, NO_COLOR: "1", EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
          signal: AbortSignal.timeout(150_000),
        },
      );
    } finally {
      // The next tests need every node, whatever became of the run.
      const start = await clusterCli(["start-node", "1", "--dir", t.dir()]);
      expect(start.code, start.stderr).toBe(0);
      await rm(cwd, { recursive: true, force: true });
    }
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as PlayReport & { broker: string };
    const c = report.checker.counts;
    console.info(
      `cluster play, node 1 stopped for 3 s: ok ${c.ok}, duplicated ${c.duplicated}, recovered ${c.recovered}, unconfirmed-lost ${c["unconfirmed-lost"]}, lost ${c.lost}, uncertain ${report.uncertain}, reconnects ${report.reconnects}, ${report.elapsedMs} ms; faults ${JSON.stringify(report.faults)}`,
    );
    expect(report).toMatchObject({ broker: "url", stoppedBy: "done", lost: 0 });
    expect(c.lost, JSON.stringify(report.checker)).toBe(0);
    expect(c.unexpected).toBe(0);
    expect(c.ok + c.duplicated + c.recovered + c["unconfirmed-lost"]).toBe(AMOUNT);
    expect(c["unconfirmed-lost"]).toBeLessThanOrEqual(report.uncertain + report.nacked);
    expect(report.reconnects).toBeGreaterThanOrEqual(1);
    expect(report.faults.map((f) => f.what)).toEqual(["stop node 1 for 3.00 s"]);
    const stop = report.faults[0];
    expect(stop?.endMs).toBeGreaterThanOrEqual((stop?.atMs ?? 0) + 3000);
    const events = report.events.join("\n");
    expect(events).toContain("node 1 stopped");
    expect(events).toContain("node 1 started again");
    // The run left the cluster as it found it: node 1 runs again.
    expect((await nodeStates(t.dir())).map((n) => [n.index, n.state])).toEqual([
      [1, "running"],
      [2, "running"],
      [3, "running"],
    ]);
    const conn = await amqp.connect(urls[1] as string);
    try {
      const ch = await conn.createChannel();
      await ch.deleteQueue(queue);
      await ch.deleteExchange(exchange);
      await ch.close();
    } finally {
      await conn.close();
    }
  }, 180_000);
}

/**
 * A RabbitMQ node of a test's own with a short consumer_timeout, for the conformance scenarios
 * of the delivery acknowledgement timeout (RabbitMQ 3.10's timeout is server-wide, and the
 * node on 5672 keeps its settings), and with the firehose on (`trace_on` for vhost `/`), for
 * the amq.rabbitmq.trace scenarios: turning it on for 5672 would trace every other test.
 * Started with `eventlab cluster up` on free ports; `close()` takes it down and kills whatever
 * is left, even after a failure half-way.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readRecord } from "../../src/cluster/index.js";
import { nodeUrls } from "../../src/cluster/layout.js";
import { nodeContext } from "../../src/cluster/manager.js";
import { ctl } from "../../src/cluster/node.js";
import { clusterCli, tearDown } from "./cluster.js";

export interface TimeoutNode {
  url: string;
  /** Stop the node; returns what teardown had to force. */
  close(): Promise<string[]>;
}

/** `name` tells apart the nodes of test files that may run at once in one process. */
export async function startTimeoutNode(timeoutMs: number, name = "ctimeout"): Promise<TimeoutNode> {
  const dir = await mkdtemp(join(tmpdir(), `eventlab-${name}-`));
  const prefix = `${name}${process.pid}`;
  const close = async () => {
    const problems = await tearDown(dir, prefix);
    await rm(dir, { recursive: true, force: true });
    return problems;
  };
  try {
    const up = await clusterCli([
      "up",
      "--nodes",
      "1",
      "--base-port",
      "0",
      "--dir",
      dir,
      "--name-prefix",
      prefix,
    ]);
    if (up.code !== 0) throw new Error(`cluster up exited ${up.code}: ${up.stderr}`);
    const record = await readRecord(dir);
    const node = record?.nodes[0];
    if (!record || !node) throw new Error(`cluster up left no record in ${dir}`);
    // Channels read these when they open; the tick is how often they look (60 s by default).
    await ctl(nodeContext(record, { env: process.env }), node.name, [
      "eval",
      `application:set_env(rabbit, consumer_timeout, ${timeoutMs}), application:set_env(rabbit, channel_tick_interval, 100).`,
    ]);
    await ctl(nodeContext(record, { env: process.env }), node.name, ["trace_on", "-p", "/"]);
    return { url: nodeUrls(node).amqp, close };
  } catch (err) {
    await close();
    throw err;
  }
}

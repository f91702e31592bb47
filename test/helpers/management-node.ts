/**
 * A RabbitMQ node of a test's own with the management and Prometheus plugins (the node on
 * 5672 has neither, and its plugins are left as they are). Started with `eventlab cluster up
 * --management` on free ports; `close()` takes it down and kills whatever is left, even after
 * a failure half-way. Test files that may run at once pass different `name`s.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readRecord } from "../../src/cluster/index.js";
import { nodeUrls } from "../../src/cluster/layout.js";
import { clusterCli, tearDown } from "./cluster.js";

export interface ManagementNode {
  /** amqp://guest:guest@127.0.0.1:<port> */
  amqpUrl: string;
  /** http://127.0.0.1:<port>/ : the management API is under api/ */
  managementUrl: string;
  /** http://127.0.0.1:<port>/metrics : rabbitmq_prometheus */
  prometheusUrl: string;
  /** The node's directory (its record, logs). */
  dir: string;
  /** Stop the node; returns what teardown had to force. */
  close(): Promise<string[]>;
}

export async function startManagementNode(name = "mgmt"): Promise<ManagementNode> {
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
      "--management",
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
    const urls = nodeUrls(node);
    if (!urls.management || !urls.prometheus) {
      throw new Error(`cluster up --management gave no management URLs: ${JSON.stringify(urls)}`);
    }
    return {
      amqpUrl: urls.amqp,
      managementUrl: urls.management,
      prometheusUrl: urls.prometheus,
      dir,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

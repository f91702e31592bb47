/**
 * list, peek and purge against a RabbitMQ node of this file's own with the management plugin
 * (the node on 5672 has none, and is left as it is).
 */
import { afterAll, beforeAll, describe, expect } from "vitest";
import { RABBITMQ_URL } from "../helpers/cli.js";
import { inspectTests } from "../helpers/inspect-suite.js";
import { type ManagementNode, startManagementNode } from "../helpers/management-node.js";

describe.skipIf(!RABBITMQ_URL)("inspect commands on RabbitMQ with the management plugin", () => {
  let node: ManagementNode | undefined;
  beforeAll(async () => {
    node = await startManagementNode("minspect");
  }, 120_000);
  afterAll(async () => {
    const problems = (await node?.close()) ?? [];
    expect(problems).toEqual([]);
  }, 120_000);
  inspectTests(
    () => ({
      amqpUrl: (node as ManagementNode).amqpUrl,
      apiUrl: (node as ManagementNode).managementUrl,
    }),
    "rmq",
  );
});

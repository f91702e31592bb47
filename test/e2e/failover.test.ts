/**
 * Produce and consume across a lost connection on the embedded broker, through the
 * network-fault proxy. The same suite runs on RabbitMQ in test/rabbitmq/failover.test.ts.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { failoverSuite } from "../helpers/failover-suite.js";

describe("failover on the embedded broker", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ port: 0 });
  });
  afterAll(async () => {
    await broker?.close();
  });
  failoverSuite({ url: () => broker.url });
});

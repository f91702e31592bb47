/**
 * Produce and consume across a lost connection on RabbitMQ, through the network-fault proxy.
 * The same suite runs on the embedded broker in test/e2e/failover.test.ts.
 */
import { describe } from "vitest";
import { RABBITMQ_URL } from "../helpers/cli.js";
import { failoverSuite } from "../helpers/failover-suite.js";

describe.skipIf(!RABBITMQ_URL)("failover on RabbitMQ", () => {
  failoverSuite({ url: () => RABBITMQ_URL ?? "" });
});

/**
 * request and reply against RabbitMQ (EVENTLAB_TEST_AMQP_URL): direct reply-to as RabbitMQ
 * does it, with uniquely named queues that are deleted afterwards.
 */
import { describe } from "vitest";
import { RABBITMQ_URL } from "../helpers/cli.js";
import { rpcTests } from "../helpers/rpc-suite.js";

describe.skipIf(!RABBITMQ_URL)("request and reply on RabbitMQ", () => {
  rpcTests(() => RABBITMQ_URL ?? "", "rmq");
});

/**
 * `eventlab bench` against RabbitMQ (EVENTLAB_TEST_AMQP_URL): queues of unique names given by
 * --queue-pattern, deleted by the suite afterwards.
 */
import { describe } from "vitest";
import { benchTests } from "../helpers/bench-suite.js";
import { RABBITMQ_URL } from "../helpers/cli.js";

describe.skipIf(!RABBITMQ_URL)("eventlab bench against RabbitMQ", () => {
  benchTests(() => ({ url: RABBITMQ_URL }), "rmq");
});

/**
 * RabbitMQ tier: consume --filter and --exec. The same suite runs on the embedded broker in
 * test/e2e/consume-filter.test.ts.
 */
import { describe } from "vitest";
import { RABBITMQ_URL } from "../helpers/cli.js";
import { consumeFilterSuite } from "../helpers/consume-filter-suite.js";

describe.skipIf(!RABBITMQ_URL)("consume --filter and --exec, on RabbitMQ", () => {
  consumeFilterSuite(() => RABBITMQ_URL ?? "");
});

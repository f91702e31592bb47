/**
 * consume --filter and --exec on the embedded broker (port 0). The same suite runs against
 * RabbitMQ in test/rabbitmq/consume-filter.test.ts.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { consumeFilterSuite } from "../helpers/consume-filter-suite.js";

describe("consume --filter and --exec, on the embedded broker", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ port: 0 });
  });
  afterAll(async () => {
    await broker?.close();
  });
  consumeFilterSuite(() => broker.url);
});

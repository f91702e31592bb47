/**
 * Bytes in are bytes out, and produce's summary is honest, on the embedded broker (port 0).
 * The same suite runs against RabbitMQ in test/rabbitmq/exact-and-honest.test.ts.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { exactAndHonestSuite } from "../helpers/exact-suite.js";

describe("exact and honest, on the embedded broker", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ port: 0 });
  });
  afterAll(async () => {
    await broker?.close();
  });
  exactAndHonestSuite(() => broker.url);
});

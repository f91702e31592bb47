/**
 * Record and replay on the embedded broker (port 0): consume --save, produce --replay.
 * The same suite runs against RabbitMQ in test/rabbitmq/replay.test.ts.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { replaySuite } from "../helpers/replay-suite.js";

describe("record and replay, on the embedded broker", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ port: 0 });
  });
  afterAll(async () => {
    await broker?.close();
  });
  replaySuite(() => broker.url);
});

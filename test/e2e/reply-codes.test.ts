/**
 * The reply-code matrix through the CLI, on the embedded broker (port 0). The same suite runs
 * against RabbitMQ in test/rabbitmq/reply-codes.test.ts; the expectations are shared, so a case
 * the two brokers answer differently fails on one of them.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { replyCodesSuite } from "../helpers/reply-codes-suite.js";

describe("reply codes through the CLI, on the embedded broker", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ port: 0 });
  });
  afterAll(async () => {
    await broker?.close();
  });
  replyCodesSuite({
    url: () => broker.url,
    // The embedded broker closes connections only when it stops: a broker of the test's own.
    async forcedClose() {
      const own = await startBroker({ port: 0 });
      return {
        url: own.url,
        close: () => own.close(),
        replyText: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'",
        dispose: () => own.close(),
      };
    },
  });
});

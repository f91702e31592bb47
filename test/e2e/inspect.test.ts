/**
 * list, peek and purge against the embedded broker's management API (--http-port 0).
 */
import { afterAll, beforeAll, describe } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { inspectTests } from "../helpers/inspect-suite.js";

describe("inspect commands on the embedded broker", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ port: 0, httpPort: 0 });
  });
  afterAll(async () => {
    await broker?.close();
  });
  inspectTests(() => ({ amqpUrl: broker.url, apiUrl: broker.httpUrl as string }), "emb");
});

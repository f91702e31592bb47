/**
 * dlq list, show and replay against the embedded broker. The interrupted replay spawns the
 * built binary: `npm run build` first.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { dlqTests } from "../helpers/dlq-suite.js";

describe("dlq on the embedded broker", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ port: 0 });
  });
  afterAll(async () => {
    await broker?.close();
  });
  dlqTests({ url: () => broker.url, prefix: "emb" });
});

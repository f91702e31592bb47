/** Message contracts (produce and consume --validate) on the embedded broker. */
import { afterAll, beforeAll } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { contractsSuite } from "../helpers/contracts-suite.js";

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker({ port: 0 });
});
afterAll(async () => {
  await broker?.close();
});

contractsSuite({ url: () => broker.url, produce: true });

/**
 * RabbitMQ tier: record and replay (consume --save, produce --replay). The same suite runs
 * on the embedded broker in test/e2e/replay.test.ts.
 */
import { describe } from "vitest";
import { RABBITMQ_URL } from "../helpers/cli.js";
import { replaySuite } from "../helpers/replay-suite.js";

describe.skipIf(!RABBITMQ_URL)("record and replay, on RabbitMQ", () => {
  replaySuite(() => RABBITMQ_URL ?? "");
});

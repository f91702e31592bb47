/**
 * RabbitMQ tier: bytes in are bytes out, and produce's summary is honest. The same suite runs
 * on the embedded broker in test/e2e/exact-and-honest.test.ts.
 */
import { describe } from "vitest";
import { RABBITMQ_URL } from "../helpers/cli.js";
import { exactAndHonestSuite } from "../helpers/exact-suite.js";

describe.skipIf(!RABBITMQ_URL)("exact and honest, on RabbitMQ", () => {
  exactAndHonestSuite(() => RABBITMQ_URL ?? "");
});

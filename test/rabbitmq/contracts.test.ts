/** Message contracts (produce and consume --validate) against a real RabbitMQ. */
import { describe } from "vitest";
import { RABBITMQ_URL } from "../helpers/cli.js";
import { contractsSuite } from "../helpers/contracts-suite.js";

describe.skipIf(!RABBITMQ_URL)("message contracts on RabbitMQ", () => {
  contractsSuite({ url: () => RABBITMQ_URL ?? "", produce: true });
});

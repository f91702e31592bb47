/** The recorded RabbitMQ outcomes, keyed by scenario name. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Outcome } from "./harness.js";

export type Outcomes = Record<string, Outcome>;

export const FIXTURE_PATH = fileURLToPath(
  new URL("../fixtures/conformance/rabbitmq-outcomes.json", import.meta.url),
);

export function loadOutcomes(): Outcomes {
  return JSON.parse(readFileSync(FIXTURE_PATH, "utf8")) as Outcomes;
}

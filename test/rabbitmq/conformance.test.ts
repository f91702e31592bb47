/**
 * RabbitMQ tier: every conformance scenario runs live on RabbitMQ and must reproduce the recorded
 * outcome (test/fixtures/conformance/rabbitmq-outcomes.json), so a RabbitMQ upgrade or a wrong
 * recording is caught. Re-record with test/conformance/record.ts. The consumer-timeout scenarios
 * run on a node of this test's own (test/helpers/timeout-node.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScenario } from "../conformance/harness.js";
import { loadOutcomes } from "../conformance/outcomes.js";
import { SCENARIOS } from "../conformance/scenarios.js";
import { CONSUMER_TIMEOUT_MS } from "../conformance/scenarios-consumer-timeout.js";
import { RABBITMQ_URL } from "../helpers/cli.js";
import { startTimeoutNode, type TimeoutNode } from "../helpers/timeout-node.js";

describe.skipIf(!RABBITMQ_URL)("conformance scenarios on RabbitMQ match the recording", () => {
  const recorded = loadOutcomes();
  let timeoutNode: TimeoutNode | undefined;

  // The consumer-timeout scenarios need a node with a short consumer_timeout: one of our own,
  // unless one is given (the scenarios read EVENTLAB_TEST_CONSUMER_TIMEOUT_URL).
  beforeAll(async () => {
    if (process.env["EVENTLAB_TEST_CONSUMER_TIMEOUT_URL"]) return;
    timeoutNode = await startTimeoutNode(CONSUMER_TIMEOUT_MS);
    process.env["EVENTLAB_TEST_CONSUMER_TIMEOUT_URL"] = timeoutNode.url;
  }, 180_000);

  afterAll(async () => {
    if (!timeoutNode) return;
    delete process.env["EVENTLAB_TEST_CONSUMER_TIMEOUT_URL"];
    const problems = await timeoutNode.close();
    if (problems.length > 0) console.warn(`consumer-timeout node teardown: ${problems.join("; ")}`);
  }, 120_000);

  it("the recording has exactly one outcome per scenario", () => {
    expect(Object.keys(recorded).sort()).toEqual(SCENARIOS.map((s) => s.name).sort());
  });

  it.each(SCENARIOS.map((s) => [s.name, s] as const))("%s", async (name, scenario) => {
    expect(name in recorded, `no recorded outcome for ${JSON.stringify(name)}`).toBe(true);
    const outcome = await runScenario(scenario, RABBITMQ_URL ?? "");
    expect(outcome, name).toEqual(recorded[name]);
  });
});

/**
 * RabbitMQ tier: every conformance scenario runs live on RabbitMQ and must reproduce the recorded
 * outcome (test/fixtures/conformance/rabbitmq-outcomes.json), so a RabbitMQ upgrade or a wrong
 * recording is caught. Re-record with test/conformance/record.ts.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../conformance/harness.js";
import { loadOutcomes } from "../conformance/outcomes.js";
import { SCENARIOS } from "../conformance/scenarios.js";
import { RABBITMQ_URL } from "../helpers/cli.js";

describe.skipIf(!RABBITMQ_URL)("conformance scenarios on RabbitMQ match the recording", () => {
  const recorded = loadOutcomes();

  it("the recording has exactly one outcome per scenario", () => {
    expect(Object.keys(recorded).sort()).toEqual(SCENARIOS.map((s) => s.name).sort());
  });

  it.each(SCENARIOS.map((s) => [s.name, s] as const))("%s", async (name, scenario) => {
    expect(name in recorded, `no recorded outcome for ${JSON.stringify(name)}`).toBe(true);
    const outcome = await runScenario(scenario, RABBITMQ_URL ?? "");
    expect(outcome, name).toEqual(recorded[name]);
  });
});

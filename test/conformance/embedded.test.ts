/**
 * Conformance: every scenario runs against the embedded broker and must produce RabbitMQ's
 * recorded outcome (test/fixtures/conformance/rabbitmq-outcomes.json), except where
 * test/conformance/differences.ts accepts a difference.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBroker } from "../../src/broker/index.js";
import { comparable, wholeDifference } from "./compare.js";
import { DIFFERENCES } from "./differences.js";
import { runScenario } from "./harness.js";
import { loadOutcomes } from "./outcomes.js";
import { SCENARIOS } from "./scenarios.js";

describe("conformance scenarios on the embedded broker match RabbitMQ", () => {
  const recorded = loadOutcomes();
  let broker: Awaited<ReturnType<typeof startBroker>>;

  beforeAll(async () => {
    broker = await startBroker({ port: 0 });
  });
  afterAll(async () => {
    await broker?.close();
  });

  it("every accepted difference names a scenario", () => {
    const names = new Set(SCENARIOS.map((s) => s.name));
    expect(DIFFERENCES.filter((d) => !names.has(d.scenario))).toEqual([]);
  });

  // A whole-scenario difference either names the error the embedded broker must fail with,
  // or takes the scenario out of the comparison, which the runner then reports as skipped.
  for (const scenario of SCENARIOS) {
    const { name } = scenario;
    const whole = wholeDifference(name, DIFFERENCES);
    if (whole !== undefined && whole.embeddedError === undefined) {
      it.skip(`${name} (not compared: ${whole.reason})`, () => {});
      continue;
    }
    it(name, async () => {
      expect(name in recorded, `no recorded outcome for ${JSON.stringify(name)}`).toBe(true);
      if (whole?.embeddedError !== undefined) {
        await expect(runScenario(scenario, broker.url)).rejects.toThrow(whole.embeddedError);
        return;
      }
      const outcome = await runScenario(scenario, broker.url);
      const c = comparable(name, outcome, recorded[name] ?? null, DIFFERENCES);
      expect(c.actual, name).toEqual(c.expected);
    });
  }
});

/**
 * Conformance: every scenario runs against the embedded broker and must produce RabbitMQ's
 * recorded outcome (test/fixtures/conformance/rabbitmq-outcomes.json), except where
 * test/conformance/differences.ts accepts a difference.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBroker } from "../../src/broker/index.js";
import { comparable } from "./compare.js";
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

  it.each(SCENARIOS.map((s) => [s.name, s] as const))("%s", async (name, scenario) => {
    expect(name in recorded, `no recorded outcome for ${JSON.stringify(name)}`).toBe(true);
    const whole = DIFFERENCES.find((d) => d.scenario === name && d.path === undefined);
    if (whole?.embeddedError) {
      await expect(runScenario(scenario, broker.url)).rejects.toThrow(whole.embeddedError);
      return;
    }
    const outcome = await runScenario(scenario, broker.url);
    const c = comparable(name, outcome, recorded[name] ?? null, DIFFERENCES);
    if (c.skip) return;
    expect(c.actual, name).toEqual(c.expected);
  });
});

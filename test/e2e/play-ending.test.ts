/**
 * How a scenario run ends, on the embedded broker (port 0): as soon as the ledger accounts for
 * the last expected copy, when the scenario's time is up, when nothing is settled for the idle
 * time, or on the signal. Each is an event the run waits for: a run that is done does not
 * wait out the idle time, and one that cannot be done stops at its bound.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { connect } from "../../src/client/connect.js";
import { parseConfig } from "../../src/config/load.js";
import { runScenario, type ScenarioRunOptions } from "../../src/lab/runner.js";
import { uniqueName } from "../helpers/cli.js";

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker({ port: 0 });
});
afterAll(async () => {
  await broker?.close();
});

/** One queue, one template publishing `amount` messages to it, one consumer with `profile`. */
function scenarioConfig(queue: string, amount: number, profile: Record<string, unknown> = {}) {
  return parseConfig(
    JSON.stringify({
      topology: { queues: { [queue]: { durable: false } } },
      templates: { job: { exchange: "", routingKey: queue, body: { n: "{{seq}}" }, amount } },
      consumers: { worker: { queue, ...profile } },
      scenarios: { jobs: { producers: [{ template: "job" }], consumers: ["worker"] } },
    }),
    "ending.json",
  );
}

function run(
  queue: string,
  amount: number,
  profile: Record<string, unknown>,
  more: Partial<ScenarioRunOptions>,
) {
  const config = scenarioConfig(queue, amount, profile);
  const { jobs: scenario } = config.scenarios;
  if (!scenario) throw new Error("no scenario jobs");
  return runScenario({
    name: "jobs",
    scenario,
    config,
    connect: () => connect([broker.url]),
    env: {},
    signal: AbortSignal.timeout(20_000),
    leftovers: "refuse",
    ...more,
  });
}

describe("a scenario run ends", () => {
  it("when the ledger accounts for the last copy, without waiting out the idle time", async () => {
    const started = Date.now();
    const r = await run(uniqueName("done"), 20, {}, { idleMs: 60_000 });
    expect(r).toMatchObject({ stoppedBy: "done", published: 20, routed: 20, lost: 0 });
    expect(r.queues[0]).toMatchObject({ processed: 20, consumed: 20, lost: 0 });
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("as idle when a copy can never be settled (requeued forever), and says so", async () => {
    const r = await run(
      uniqueName("idle"),
      2,
      { failures: { rate: 1 }, onFailure: "requeue" },
      { idleMs: 300, seed: 1 },
    );
    expect(r).toMatchObject({ stoppedBy: "idle", routed: 2, lost: 2 });
    expect(r.lostNote).toContain("the run stopped (idle) before every copy was settled");
    expect(r.consumers[0]?.failed).toBeGreaterThanOrEqual(2);
  });

  it("at the scenario's time limit, publishing no more", async () => {
    // More than any producer publishes in 300 ms (tens of thousands a second on this broker).
    const amount = 500_000;
    const r = await run(uniqueName("duration"), amount, {}, { durationMs: 300, amount });
    expect(r.stoppedBy).toBe("duration");
    expect(r.published).toBeGreaterThan(0);
    expect(r.published).toBeLessThan(amount);
  });

  it("on the signal, as interrupted", async () => {
    const stop = new AbortController();
    const r = await run(
      uniqueName("signal"),
      1,
      { workTime: "30s" },
      {
        signal: stop.signal,
        onSnapshot: (s) => {
          if (s.published === 1) stop.abort();
        },
      },
    );
    // The work under way (30 s of it) is cut short: the run does not wait for it.
    expect(r).toMatchObject({ stoppedBy: "interrupted", published: 1 });
    expect(r.elapsedMs).toBeLessThan(15_000);
  });
});

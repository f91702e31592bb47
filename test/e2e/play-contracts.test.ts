/**
 * The playground with message contracts: a consumer whose profile has a schema checks every
 * message it gets; one template sends messages that break it, and the JSON report counts
 * them exactly, per consumer, with the first few as examples. The text report names them.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBroker } from "../../src/broker/index.js";
import { connect } from "../../src/client/connect.js";
import { loadConfig } from "../../src/config/load.js";
import { runScenario } from "../../src/lab/runner.js";
import type { Snapshot } from "../../src/lab/types.js";
import { runCli } from "../helpers/cli.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "eventlab-play-contracts-"));
  await writeFile(
    path.join(dir, "payment.json"),
    JSON.stringify({
      type: "object",
      required: ["id", "amount"],
      properties: { id: { type: "string" }, amount: { type: "integer", minimum: 1 } },
    }),
  );
  await writeFile(
    path.join(dir, "eventlab.config.yaml"),
    [
      "topology:",
      "  exchanges:",
      "    payments: { type: topic, durable: false }",
      "  queues:",
      "    ledger: { durable: false }",
      "    audit: { durable: false }",
      "  bindings:",
      "    - { source: payments, destination: ledger, routingKey: 'payment.#' }",
      "    - { source: payments, destination: audit, routingKey: 'payment.#' }",
      "templates:",
      "  good:",
      "    exchange: payments",
      "    routingKey: payment.ok",
      '    body: { id: "p-{{seq}}", amount: 10 }',
      "  bad:",
      "    exchange: payments",
      "    routingKey: payment.bad",
      '    properties: { messageId: "bad-{{seq}}" }',
      '    body: { id: "p-{{seq}}", amount: 0 }',
      "consumers:",
      "  ledger-service:",
      "    queue: ledger",
      "    schema: payment.json",
      "  auditor:",
      "    queue: audit",
      "scenarios:",
      "  contract:",
      "    producers:",
      "      - { template: good, amount: 12 }",
      "      - { template: bad, amount: 7 }",
      "    consumers: [ledger-service, auditor]",
      "",
    ].join("\n"),
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("play with a consumer schema", () => {
  it("--ci fails on them: the contract check names the consumer and the message ids", async () => {
    const r = await runCli(["play", "contract", "--seed", "1", "--ci"], {
      cwd: dir,
      env: { EVENTLAB_CONFIG: "" },
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain("✗ message contracts hold");
    expect(r.stdout).toContain("7 messages broke their consumer's schema (ledger-service 7)");
    expect(r.stdout).toMatch(/ids: bad-\d+, bad-\d+/);
    expect(r.stdout).toContain("✓ no message lost (0)");
    expect(r.stdout).toContain("1 of 4 checks failed");
  });

  it("counts every message that breaks it, exactly, in the JSON report", async () => {
    const r = await runCli(["play", "contract", "--seed", "1", "--json"], {
      cwd: dir,
      env: { EVENTLAB_CONFIG: "" },
    });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      published: number;
      consumed: number;
      consumers: Array<{ name: string; violations?: number }>;
      violations: {
        total: number;
        byConsumer: Record<string, number>;
        examples: Array<{ consumer: string; messageId: string; errors: unknown[] }>;
      };
    };
    expect(report.published).toBe(19);
    // Both consumers got all 19 copies; only ledger-service checks a schema.
    expect(report.consumed).toBe(38);
    expect(report.violations.total).toBe(7);
    expect(report.violations.byConsumer).toEqual({ "ledger-service": 7 });
    expect(report.violations.examples).toHaveLength(5);
    for (const e of report.violations.examples) {
      expect(e.consumer).toBe("ledger-service");
      expect(e.messageId).toMatch(/^bad-\d+$/);
      expect(e.errors).toEqual([{ path: "/amount", message: "must be >= 1" }]);
    }
    expect(report.consumers.find((c) => c.name === "ledger-service")?.violations).toBe(7);
    expect(report.consumers.find((c) => c.name === "auditor")?.violations).toBeUndefined();
  });

  it("names the violations in the text report", async () => {
    const r = await runCli(["play", "contract", "--seed", "1"], {
      cwd: dir,
      env: { EVENTLAB_CONFIG: "" },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      "✗ contracts: 7 messages broke a consumer's schema (ledger-service 7)",
    );
    expect(r.stdout).toMatch(/ledger-service: bad-\d+: \/amount must be >= 1/);
  });

  it("shows each consumer's violations in the live view as they happen", async () => {
    const broker = await startBroker({ port: 0 });
    try {
      const { config } = await loadConfig({ cwd: dir, env: {} });
      const scenario = config.scenarios["contract"];
      if (!scenario) throw new Error("the scenario is missing");
      let last: Snapshot | undefined;
      const report = await runScenario({
        name: "contract",
        scenario,
        config,
        connect: () => connect([broker.url]),
        env: {},
        cwd: dir,
        signal: AbortSignal.timeout(20_000),
        leftovers: "refuse",
        onSnapshot: (snap) => {
          last = snap;
        },
      });
      expect(report.violations?.total).toBe(7);
      expect(last?.consumers.find((c) => c.name === "ledger-service")?.violations).toBe(7);
      expect(last?.consumers.find((c) => c.name === "auditor")).not.toHaveProperty("violations");
    } finally {
      await broker.close();
    }
  });
});

/**
 * What the embedded broker's /metrics writes, against what RabbitMQ 3.10's rabbitmq_prometheus
 * wrote for the same endpoints (test/fixtures/metrics/, recorded by record.ts from a real
 * node): every family we emit exists there with the same TYPE and HELP, its samples carry the
 * same label names, and the lines come in the plugin's order (TYPE, then HELP).
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import path from "node:path";
import amqp, { type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderMetrics } from "../../src/broker/http/metrics.js";
import { Broker } from "../../src/broker/index.js";
import { makeRecordedState } from "../fixtures/metrics/scenario.js";
import { familiesByName, type ParsedFamily } from "../helpers/prometheus-text.js";
import { within } from "../helpers/wait.js";

const fixtures = path.resolve(import.meta.dirname, "../fixtures/metrics");

let broker: Broker;
let server: Server;
let conn: ChannelModel;

beforeAll(async () => {
  broker = new Broker();
  server = createServer((socket) => broker.accept(socket, true));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  conn = await within(amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`), "connecting", 10_000);
  await within(makeRecordedState(conn), "the recorded scenario", 10_000);
});

afterAll(async () => {
  await conn?.close().catch(() => {});
  broker?.shutdown();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
});

/** The label names of a family's samples, as a set of sorted lists. */
function labelNames(f: ParsedFamily): string[] {
  return [...new Set(f.samples.map((s) => Object.keys(s.labels).sort().join(",")))].sort();
}

describe.each([
  ["/metrics", false, "rabbitmq-3.10.txt"],
  ["/metrics/per-object", true, "rabbitmq-3.10-per-object.txt"],
] as const)("%s against rabbitmq_prometheus 3.10", (_endpoint, perObject, fixture) => {
  const recorded = readFileSync(path.join(fixtures, fixture), "utf8");
  const theirs = familiesByName(recorded);

  it("the fixture is the plugin's output of RabbitMQ 3.10", () => {
    const build = theirs.get("rabbitmq_build_info")?.samples[0]?.labels;
    expect(build?.["rabbitmq_version"]).toMatch(/^3\.10\./);
  });

  it("every family we emit is the plugin's, with its TYPE, HELP and label names", () => {
    const ours = familiesByName(renderMetrics(broker, perObject));
    expect(ours.size).toBeGreaterThanOrEqual(18);
    for (const f of ours.values()) {
      const t = theirs.get(f.name);
      expect({ name: f.name, known: t !== undefined }).toEqual({ name: f.name, known: true });
      if (!t) continue;
      expect({ name: f.name, type: f.type, help: f.help }).toEqual({
        name: f.name,
        type: t.type,
        help: t.help,
      });
      expect({ name: f.name, labels: labelNames(f) }).toEqual({
        name: f.name,
        labels: labelNames(t),
      });
    }
  });

  it("the label values of the global counters are the plugin's", () => {
    const ours = familiesByName(renderMetrics(broker, perObject));
    for (const f of ours.values()) {
      if (!f.name.startsWith("rabbitmq_global_")) continue;
      const t = theirs.get(f.name);
      const values = (fam: ParsedFamily | undefined) =>
        (fam?.samples ?? []).map((s) => `${s.labels["protocol"]}/${s.labels["queue_type"]}`).sort();
      // RabbitMQ lists only the queue types whose counters exist on the node: ours is a subset.
      for (const v of values(f))
        expect([f.name, values(t)]).toEqual([f.name, expect.arrayContaining([v])]);
    }
  });

  it("writes # TYPE before # HELP, as the plugin does", () => {
    const text = renderMetrics(broker, perObject);
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      if (!line.startsWith("# HELP ")) continue;
      const name = line.split(" ")[2];
      expect(lines[i - 1]).toMatch(new RegExp(`^# TYPE ${name} `));
    }
    expect(recorded.split("\n")[0]).toMatch(/^# TYPE /);
  });
});

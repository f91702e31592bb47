/**
 * RabbitMQ tier: the management API scenario (test/helpers/management-shapes.ts) against a
 * fresh RabbitMQ node of this file's own with the management plugin (never the node on 5672).
 * The live responses must still have the shapes of the recorded fixtures in
 * test/fixtures/management/rabbitmq-3.10/, so the fixtures the embedded broker is compared with
 * stay true.
 *
 * To record the fixtures again:
 *   EVENTLAB_RECORD_MANAGEMENT=1 npx vitest run test/rabbitmq/management-shapes.test.ts
 * (it starts its own node; the node on 5672 is not used). Then run test/e2e/management-shapes
 * and review test/fixtures/management/differences.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RABBITMQ_VARIATIONS } from "../fixtures/management/differences.js";
import { RABBITMQ_URL } from "../helpers/cli.js";
import { type ManagementNode, startManagementNode } from "../helpers/management-node.js";
import {
  ALL_REQUESTS,
  loadRecording,
  type Recording,
  runShapeScenario,
  saveRecording,
} from "../helpers/management-shapes.js";
import { compareRecordings, formatFindings } from "../helpers/management-shapes-compare.js";
import {
  HAVE_RABBITMQADMIN,
  rabbitmqadminMismatches,
} from "../helpers/management-shapes-rabbitmqadmin.js";

const RECORD = process.env["EVENTLAB_RECORD_MANAGEMENT"] === "1";

describe.skipIf(!RABBITMQ_URL && !RECORD)("management API shapes on RabbitMQ", () => {
  let node: ManagementNode | undefined;
  let live: Recording;

  beforeAll(async () => {
    node = await startManagementNode("mshapes");
    live = await runShapeScenario(node.amqpUrl, node.managementUrl);
  }, 180_000);
  afterAll(async () => {
    const problems = await node?.close();
    if (problems && problems.length > 0) console.warn(problems.join("\n"));
  }, 60_000);

  it.runIf(RECORD)("records RabbitMQ's responses as the fixtures", async () => {
    await saveRecording(live);
    const again = await loadRecording();
    expect(Object.keys(again).sort()).toEqual(ALL_REQUESTS.map((r) => r.name).sort());
  });

  it.skipIf(!HAVE_RABBITMQADMIN)(
    "is sent exactly the scenario's rabbitmqadmin requests by the real script",
    async () => {
      expect(await rabbitmqadminMismatches(node!.managementUrl, ALL_REQUESTS)).toEqual([]);
    },
    60_000,
  );

  it.skipIf(RECORD)("answers with the recorded shapes and values", async () => {
    const recorded = await loadRecording();
    const c = compareRecordings(recorded, live, RABBITMQ_VARIATIONS);
    expect(formatFindings(c.unexpected)).toEqual([]);
    // and no field of RabbitMQ's answer is new since the recording
    expect(formatFindings(c.extra.filter((f) => !/cluster_links/.test(f.path)))).toEqual([]);
  });
});

/**
 * The embedded broker's management API against RabbitMQ's: the scenario of
 * test/helpers/management-shapes.ts runs on an embedded broker (AMQP and HTTP on port 0), and
 * its responses are compared field by field with RabbitMQ 3.10.8's recorded ones
 * (test/fixtures/management/rabbitmq-3.10/). Anything the comparison finds must be one of the
 * accepted differences in test/fixtures/management/differences.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { EMBEDDED_DIFFERENCES } from "../fixtures/management/differences.js";
import { TOOL_READS } from "../fixtures/management/rabbitmqadmin.js";
import {
  ALL_REQUESTS,
  type Json,
  loadRecording,
  type Recording,
  runShapeScenario,
  send,
  until,
} from "../helpers/management-shapes.js";
import {
  type AcceptedDifference,
  compareRecordings,
  formatFindings,
} from "../helpers/management-shapes-compare.js";
import {
  HAVE_RABBITMQADMIN,
  rabbitmqadminMismatches,
} from "../helpers/management-shapes-rabbitmqadmin.js";

/** A deep copy of a recording with `edit` applied to the body of `request`. */
function edited(rec: Recording, request: string, edit: (body: Json) => Json): Recording {
  const copy = structuredClone(rec);
  const r = copy[request]!;
  r.body = edit(r.body);
  return copy;
}

function queueNamed(body: Json, name: string): { [key: string]: Json } {
  if (!Array.isArray(body)) throw new Error("not a list");
  const q = body.find(
    (e) => e !== null && typeof e === "object" && !Array.isArray(e) && e["name"] === name,
  );
  if (!q || typeof q !== "object" || Array.isArray(q)) throw new Error(`no ${name}`);
  return q;
}

describe("the shape comparison", () => {
  let recorded: Recording;
  beforeAll(async () => {
    recorded = await loadRecording();
  });

  it("finds nothing between a recording and itself", () => {
    const c = compareRecordings(recorded, structuredClone(recorded), []);
    expect(formatFindings(c.unexpected)).toEqual([]);
    expect(c.extra).toEqual([]);
  });

  it("matches list elements by name, and reports a list out of RabbitMQ's order once", () => {
    const reordered = edited(recorded, "queues", (b) => (Array.isArray(b) ? [...b].reverse() : b));
    const c = compareRecordings(recorded, reordered, []);
    expect(formatFindings(c.unexpected)).toEqual([
      "order queues/(order) RabbitMQ shape.audit shape.inventory shape.parked, ours shape.parked shape.inventory shape.audit",
    ]);
  });

  it("reports a missing field, a changed JSON type, a changed value and a changed status", () => {
    const other = edited(recorded, "queues", (b) => {
      const q = queueNamed(b, "shape.inventory");
      delete q["durable"];
      q["messages_ready"] = "3";
      q["consumers"] = 2;
      return b;
    });
    other["error-404-queue"]!.status = 200;
    expect(formatFindings(compareRecordings(recorded, other, []).unexpected).sort()).toEqual([
      "missing queues/[shape.inventory]/durable (RabbitMQ: boolean)",
      "status error-404-queue/(status) RabbitMQ 404, ours 200",
      'type queues/[shape.inventory]/messages_ready RabbitMQ number 3, ours string "3"',
      "value queues/[shape.inventory]/consumers RabbitMQ 1, ours 2",
    ]);
  });

  it("accepts a listed difference, but never one at a field rabbitmqadmin reads", () => {
    const other = edited(recorded, "queues", (b) => {
      const q = queueNamed(b, "shape.inventory");
      delete q["memory"];
      delete q["messages"];
      return b;
    });
    const everything: AcceptedDifference = { at: "**", reason: "test: accept all" };
    const c = compareRecordings(recorded, other, [everything], TOOL_READS);
    expect(c.accepted.map((a) => a.finding.path)).toEqual(["queues/[shape.inventory]/memory"]);
    expect(formatFindings(c.unexpected)).toEqual([
      "missing queues/[shape.inventory]/messages (RabbitMQ: number)",
    ]);
  });

  it("reports accepted differences that no longer match anything", () => {
    const stale: AcceptedDifference = { at: "queues/[*]/no_such_field", reason: "test" };
    expect(compareRecordings(recorded, recorded, [stale]).unused).toEqual([stale]);
  });
});

describe("management API shapes: the embedded broker against RabbitMQ 3.10.8's", () => {
  let broker: RunningBroker;
  let live: Recording;
  let recorded: Recording;

  beforeAll(async () => {
    recorded = await loadRecording();
    broker = await startBroker({ port: 0, httpPort: 0, version: "3.10.8" });
    live = await runShapeScenario(`amqp://guest:guest@127.0.0.1:${broker.port}`, broker.httpUrl!);
  });
  afterAll(async () => {
    await broker?.close();
  });

  it("answers every request", () => {
    expect(Object.keys(live).sort()).toEqual(Object.keys(recorded).sort());
  });

  it("differs from RabbitMQ only where an accepted difference says why", () => {
    const c = compareRecordings(recorded, live, EMBEDDED_DIFFERENCES, TOOL_READS);
    expect(formatFindings(c.unexpected)).toEqual([]);
  });

  it("leaves no connection behind once the scenario has closed its own", async () => {
    await until(
      async () => {
        const r = await send(broker.httpUrl!, {
          name: "c",
          method: "GET",
          path: "api/connections",
        });
        return (Array.isArray(r.body) && r.body.length === 0) || JSON.stringify(r.body);
      },
      "no connections listed",
      5_000,
    );
    expect(broker.vhost.queues.get("shape.inventory")?.consumerCount).toBe(0);
  });

  it("has no stale accepted differences", () => {
    const c = compareRecordings(recorded, live, EMBEDDED_DIFFERENCES, TOOL_READS);
    expect(c.unused.map((d) => d.at)).toEqual([]);
  });

  // last: the script's get and publish change the state
  it.skipIf(!HAVE_RABBITMQADMIN)(
    "is sent exactly the scenario's rabbitmqadmin requests by the real script, which succeeds",
    async () => {
      expect(await rabbitmqadminMismatches(broker.httpUrl!, ALL_REQUESTS)).toEqual([]);
    },
    60_000,
  );
});

import { describe, expect, it } from "vitest";
import { InvalidMatchError, RoutingTable } from "../../src/broker/routing/index.js";
import { SCENARIOS } from "../fixtures/routing-scenarios.js";
import { scenarioTable } from "../helpers/routing.js";

const table = scenarioTable;

describe("routing across exchanges", () => {
  for (const s of SCENARIOS) {
    it(s.name, () => {
      const r = table(s).route(s.publish.exchange, {
        routingKey: s.publish.routingKey,
        headers: s.publish.headers,
      });
      expect([...r.queues].sort()).toEqual(s.expected);
    });
  }

  it("reports the hops: exchanges passed, alternates used, cycles stopped", () => {
    const cycle = table(SCENARIOS[0]!).route("x1", { routingKey: "a.b" });
    expect(cycle.exchanges).toEqual(["x1", "x2"]);
    expect(cycle.cyclesStopped).toBe(1);
    const chain = table(SCENARIOS[2]!).route("a", { routingKey: "unknown" });
    expect(chain).toMatchObject({
      exchanges: ["a", "b", "c"],
      alternates: ["b", "c"],
      queues: ["qc"],
    });
  });

  it("unbinding and deleting take bindings away", () => {
    const s = SCENARIOS[0]!;
    const t = table(s);
    expect(t.unbind(s.bindings[3]!)).toBe(true);
    expect(t.unbind(s.bindings[3]!)).toBe(false);
    expect(t.route("x1", { routingKey: "k" }).queues).toEqual(["q1"]);
    t.deleteQueue("q1");
    expect(t.route("x1", { routingKey: "k" }).queues).toEqual([]);
    t.deleteExchange("x2");
    expect(t.bindingsOf("x1").map((b) => b.destination)).toEqual([]);
  });

  it("refuses a bad x-match at bind time and a binding from a missing exchange", () => {
    const t = new RoutingTable(() => false);
    t.declareExchange({ name: "h", type: "headers" });
    expect(() =>
      t.bind({
        source: "h",
        destination: "q",
        destinationType: "queue",
        routingKey: "",
        arguments: { "x-match": "most" },
      }),
    ).toThrow(InvalidMatchError);
    expect(() =>
      t.bind({ source: "nope", destination: "q", destinationType: "queue", routingKey: "" }),
    ).toThrow(/no exchange 'nope'/);
  });
});

/**
 * `eventlab route`: the explanation of each binding agrees with the matchers (and so with
 * the cases recorded from RabbitMQ), gives the reasons a person needs, and the resolution
 * explained hop by hop ends in the queues RabbitMQ delivers to.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { explainHeaders, explainRoute, explainTopic } from "../../src/broker/routing/index.js";
import {
  HEADER_BINDINGS,
  HEADER_MESSAGES,
  HEADERS_EXPECTED,
  TOPIC_EXPECTED,
  TOPIC_KEYS,
} from "../fixtures/routing-cases.js";
import { SCENARIOS } from "../fixtures/routing-scenarios.js";
import { runCli } from "../helpers/cli.js";
import { scenarioTable } from "../helpers/routing.js";

const table = scenarioTable;

describe("explaining a topic binding", () => {
  it("agrees with RabbitMQ on every recorded case, with a reason each time", () => {
    for (const [pattern, expected] of Object.entries(TOPIC_EXPECTED)) {
      for (const key of TOPIC_KEYS) {
        const v = explainTopic(pattern, key);
        expect(v.match, `${JSON.stringify(pattern)} vs ${JSON.stringify(key)}`).toBe(
          expected.includes(key),
        );
        expect(v.reason.length).toBeGreaterThan(5);
      }
    }
  });

  it.each([
    ["a.*", "a", false, "`*` needs exactly one word; the key has none left"],
    ["*", "", false, "`*` needs exactly one word; the key has none"],
    ["a.#", "a", true, "`#` took no words"],
    ["#.b", "a.x.b", true, "`#` took 'a.x'"],
    ["a.*.c", "a.b.d", false, "word 3 of the key is 'd'; the binding wants 'c'"],
    [
      "a.*",
      "a.b.c",
      false,
      "the key has words the binding does not take: 'c' (a trailing `#` would)",
    ],
    ["*.b", ".b", true, "`*` took ''"],
    ["a.b", "a.c", false, "the key is not 'a.b'"],
    ["x", "", false, "the key is empty; the binding wants 'x'"],
  ])("%s vs %j: %s", (pattern, key, match, reason) => {
    expect(explainTopic(pattern, key)).toEqual({ match, reason });
  });
});

describe("explaining a headers binding", () => {
  it("agrees with RabbitMQ on every recorded case", () => {
    for (const [name, args] of Object.entries(HEADER_BINDINGS)) {
      for (const [m, headers] of Object.entries(HEADER_MESSAGES)) {
        const v = explainHeaders(args, headers);
        expect(v.match, `${name} vs ${m}`).toBe(HEADERS_EXPECTED[name]?.includes(m));
      }
    }
  });

  it("says which pair matched under any, and which failed under all", () => {
    expect(
      explainHeaders({ "x-match": "any", region: "eu", tier: "gold" }, { region: "eu" }),
    ).toEqual({
      match: true,
      reason: "x-match any: region=eu matched",
    });
    expect(
      explainHeaders({ region: "eu", priority: "high" }, { region: "eu", priority: "low" }),
    ).toEqual({
      match: false,
      reason:
        "x-match all: priority: the message has low, the binding wants high (region=eu matched)",
    });
  });

  it("names x- keys that do not count, and void values that ask only for presence", () => {
    const v = explainHeaders({ "x-match": "any", "x-retry": 1 }, { "x-retry": 1 });
    expect(v.match).toBe(false);
    expect(v.reason).toContain(
      "header x-retry ignored: x- keys count only with all-with-x or any-with-x",
    );
    expect(explainHeaders({ "x-match": "any-with-x", "x-retry": 1 }, { "x-retry": 1 }).match).toBe(
      true,
    );
    expect(explainHeaders({ trace: null }, { trace: "abc" })).toEqual({
      match: true,
      reason: "x-match all: trace present",
    });
    expect(explainHeaders({ n: 1 }, { n: "1" }).reason).toContain(
      "a string, the binding has a number",
    );
  });
});

describe("explaining a route across exchanges", () => {
  for (const s of SCENARIOS) {
    it(`${s.name}: the queues RabbitMQ delivers to`, () => {
      const e = explainRoute(table(s), s.publish.exchange, {
        routingKey: s.publish.routingKey,
        headers: s.publish.headers,
      });
      expect([...e.queues].sort()).toEqual(s.expected);
      for (const hop of e.hops)
        for (const b of hop.bindings) expect(b.reason).not.toContain("router:");
    });
  }

  it("shows the cycle stopped and the alternate-exchange chain", () => {
    const cycle = explainRoute(table(SCENARIOS[0]!), "x1", { routingKey: "a.b" });
    expect(cycle.cycles).toEqual([{ exchange: "x1", via: { kind: "binding", from: "x2" } }]);
    const chain = explainRoute(table(SCENARIOS[2]!), "a", { routingKey: "unknown" });
    expect(chain.hops.map((h) => [h.exchange, h.via.kind, h.alternate])).toEqual([
      ["a", "publish", "b"],
      ["b", "alternate", "c"],
      ["c", "alternate", undefined],
    ]);
  });
});

describe("eventlab route", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-route-"));
    await writeFile(
      path.join(dir, "eventlab.config.yaml"),
      `topology:
  exchanges:
    orders: { type: topic, alternateExchange: unrouted }
    unrouted: { type: fanout }
    audit: { type: fanout, internal: true }
    alerts: { type: headers }
  queues:
    inventory: {}
    lost: {}
    audit-log: {}
    eu-high: {}
  bindings:
    - { source: orders, destination: inventory, routingKey: "order.created.*" }
    - { source: orders, destination: audit, destinationType: exchange, routingKey: "order.#" }
    - { source: audit, destination: audit-log }
    - { source: unrouted, destination: lost }
    - { source: alerts, destination: eu-high, match: all, headers: { region: eu, priority: high } }
`,
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("prints each hop and binding, and the queues once", async () => {
    const r = await runCli(["route", "orders", "order.created.eu"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("✓ inventory");
    expect(r.stdout).toContain("`*` took 'eu'");
    expect(r.stdout).toContain("audit (fanout, internal) ← from orders");
    expect(r.stdout).toMatch(/→ 2 queues: inventory, audit-log\n$/);
  });

  it("--json has the queues at the top level, and the alternate exchange taken", async () => {
    const r = await runCli(["route", "orders", "payment.failed", "--json"], { cwd: dir });
    const j = JSON.parse(r.stdout);
    expect(j.queues).toEqual(["lost"]);
    expect(j.alternates).toEqual(["unrouted"]);
    expect(j.hops[0].bindings.every((b: { matched: boolean }) => !b.matched)).toBe(true);
  });

  it("says what happens to an unroutable message", async () => {
    const r = await runCli(
      ["route", "alerts", "--header", "region=us", "--header", "priority=high"],
      {
        cwd: dir,
      },
    );
    expect(r.stdout).toContain("region: the message has us, the binding wants eu");
    expect(r.stdout).toContain(
      "no queue: a mandatory publish comes back (312 NO_ROUTE); otherwise the message is dropped",
    );
    const j = JSON.parse((await runCli(["route", "alerts", "--json"], { cwd: dir })).stdout);
    expect(j).toMatchObject({ queues: [], routed: false });
  });

  it("refuses a publish to an internal exchange, as RabbitMQ does", async () => {
    const j = JSON.parse((await runCli(["route", "audit", "x", "--json"], { cwd: dir })).stdout);
    expect(j.queues).toEqual([]);
    expect(j.refused).toContain("403");
  });

  it("routes by queue name on the default exchange", async () => {
    const j = JSON.parse((await runCli(["route", "", "inventory", "--json"], { cwd: dir })).stdout);
    expect(j.queues).toEqual(["inventory"]);
  });

  it("names the exchanges there are when one is missing", async () => {
    const r = await runCli(["route", "nope", "k"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: no exchange 'nope' in eventlab.config.yaml");
    expect(r.stderr).toContain("exchanges in the config: orders, unrouted, audit, alerts");
  });
});

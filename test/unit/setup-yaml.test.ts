/**
 * The file `eventlab setup` writes: its layout and comments, and that whatever the answers
 * hold (names that read as numbers or booleans, `#`, quotes, placeholders, typed header
 * values) loads back as exactly what was answered.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import type { SetupAnswers } from "../../src/config/setup-answers.js";
import { configText } from "../../src/config/setup-yaml.js";

const DAY = new Date("2025-03-04T10:00:00Z");

const topic: SetupAnswers = {
  broker: "embedded",
  exchange: "orders",
  type: "topic",
  match: "all",
  queues: [
    { name: "inventory", key: "order.*" },
    { name: "audit", key: "#" },
  ],
  templates: [
    {
      name: "order",
      routingKey: "order.created",
      headers: {},
      fields: [
        ["id", "uuid"],
        ["n", "seq"],
      ],
      amount: 10,
      delayMs: 100,
    },
  ],
};

describe("the file setup writes", () => {
  it("reads as a person would write it: comments, short mappings on one line", () => {
    expect(configText(topic, DAY)).toBe(
      `# Written by \`eventlab setup\` on 2025-03-04.
# Every field is described in the example config: \`eventlab init --file example.yaml\`.
broker:
  # The embedded broker: start it with \`eventlab broker\` (in memory, lost on restart).
  url: amqp://guest:guest@127.0.0.1:5672
topology:
  exchanges:
    orders: { type: topic } # routing keys like order.created.eu; bindings use patterns: * one word, # any words
  queues:
    inventory: {}
    audit: {}
  bindings:
    - { source: orders, destination: inventory, routingKey: order.* }
    - { source: orders, destination: audit, routingKey: "#" }
templates:
  order:
    exchange: orders
    routingKey: order.created
    properties: { contentType: application/json }
    body:
      id: "{{uuid}}"
      n: "{{seq}}"
    amount: 10
    delay: 100ms
`,
    );
  });

  it("loads back as the answers, whatever their names and values hold", () => {
    const tricky = ["123", "yes", "null", "a: b", "#x", "-q", `say "hi"`, "'q'", "~", "0x1F"];
    const a: SetupAnswers = {
      broker: "amqps://user:p%40ss@rabbit.example:5671/vhost?heartbeat=10",
      exchange: "true",
      type: "headers",
      match: "any-with-x",
      queues: tricky.map((name, i) => ({
        name,
        headers: { region: "eu", priority: i, code: "5", flag: true, "x-b": null },
      })),
      templates: [
        {
          name: "1e3",
          routingKey: "",
          headers: { region: "eu", code: "5" },
          fields: [
            ["#", "pick"],
            ["on", "bool"],
          ],
          amount: 0,
          delayMs: 0,
        },
      ],
    };
    const c = parseConfig(configText(a, DAY), "eventlab.config.yaml");
    expect(c.broker.url).toBe(a.broker);
    expect(Object.keys(c.topology.exchanges)).toEqual(["true"]);
    expect(Object.keys(c.topology.queues).sort()).toEqual([...tricky].sort());
    expect(c.topology.bindings).toEqual(
      a.queues.map((q) =>
        expect.objectContaining({
          source: "true",
          destination: q.name,
          match: "any-with-x",
          headers: q.headers,
        }),
      ),
    );
    expect(c.templates["1e3"]).toMatchObject({
      exchange: "true",
      routingKey: "",
      headers: { region: "eu", code: "5" },
      body: { "#": "{{pick red green blue}}", on: "{{bool}}" },
      amount: 0,
      delay: 0,
    });
  });

  it("keeps the order of the answers, names that read as numbers included", () => {
    const a: SetupAnswers = {
      ...topic,
      type: "fanout",
      queues: [{ name: "b" }, { name: "10" }, { name: "a" }],
      templates: ["z", "2", "y"].map((name) => ({ ...topic.templates[0]!, name, routingKey: "" })),
    };
    const text = configText(a, DAY);
    const at = (s: string) => text.indexOf(s);
    expect(at("    b: {}")).toBeLessThan(at('    "10": {}'));
    expect(at('    "10": {}')).toBeLessThan(at("    a: {}"));
    expect(at("  z:")).toBeLessThan(at('  "2":'));
    expect(at('  "2":')).toBeLessThan(at("  y:"));
    // Fanout ignores routing keys: neither bindings nor templates carry one.
    expect(text).not.toContain("routingKey");
  });

  it("a URL broker has no comment about the embedded one, and a queue named twice is declared once", () => {
    const a: SetupAnswers = {
      ...topic,
      broker: "amqp://rabbit:5672",
      type: "direct",
      queues: [
        { name: "paid", key: "paid" },
        { name: "paid", key: "settled" },
      ],
    };
    const text = configText(a, DAY);
    expect(text).not.toContain("embedded broker");
    const c = parseConfig(text, "eventlab.config.yaml");
    expect(c.broker.url).toBe("amqp://rabbit:5672");
    expect(Object.keys(c.topology.queues)).toEqual(["paid"]);
    expect(c.topology.bindings.map((b) => b.routingKey)).toEqual(["paid", "settled"]);
    expect(text).toContain("orders: { type: direct } # a queue gets the messages");
  });

  it("a template without body fields has an empty body", () => {
    const a: SetupAnswers = { ...topic, templates: [{ ...topic.templates[0]!, fields: [] }] };
    expect(configText(a, DAY)).toContain("    body: {}\n");
    expect(parseConfig(configText(a, DAY), "x.yaml").templates["order"]?.body).toEqual({});
  });
});

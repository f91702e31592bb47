/**
 * The shipped files that describe the config: the JSON Schema for editors must match the
 * zod schema that validates, and the example config must validate and document every field.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { type Config, configJsonSchema } from "../../src/config/schema.js";

const SCHEMA_FILE = fileURLToPath(new URL("../../config/eventlab.schema.json", import.meta.url));
const EXAMPLE_FILE = fileURLToPath(new URL("../../config/eventlab.example.yaml", import.meta.url));

interface JsonSchema {
  type?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  $ref?: string;
}

/** Every object property of the schema, as [dotted path, name, schema]. */
function properties(schema: JsonSchema, at = ""): Array<[string, string, JsonSchema]> {
  const out: Array<[string, string, JsonSchema]> = [];
  for (const [name, sub] of Object.entries(schema.properties ?? {})) {
    const here = at === "" ? name : `${at}.${name}`;
    out.push([here, name, sub]);
    out.push(...properties(sub, here));
  }
  if (typeof schema.additionalProperties === "object")
    out.push(...properties(schema.additionalProperties, `${at}.*`));
  if (schema.items) out.push(...properties(schema.items, `${at}[]`));
  return out;
}

describe("config/eventlab.schema.json", () => {
  let committed: JsonSchema;
  beforeAll(async () => {
    committed = JSON.parse(await readFile(SCHEMA_FILE, "utf8")) as JsonSchema;
  });

  it("is up to date with the zod schema (run `npm run build` to regenerate it)", () => {
    const generated = JSON.parse(JSON.stringify(configJsonSchema())) as JsonSchema;
    expect(committed).toEqual(generated);
  });

  it("describes the four sections, and rejects unknown keys as the loader does", () => {
    expect(committed.type).toBe("object");
    expect(Object.keys(committed.properties ?? {})).toEqual(
      expect.arrayContaining(["broker", "topology", "templates", "consumers"]),
    );
    expect(committed.additionalProperties).toBe(false);
    for (const section of ["broker", "topology", "templates", "consumers"]) {
      expect(committed.properties?.[section]?.description, section).toBeTruthy();
    }
  });

  it("has a description for every field an editor completes", () => {
    const all = properties(committed);
    expect(all.length).toBeGreaterThan(50);
    const missing = all
      .filter(([, , s]) => !s.description)
      // `properties` of a template is a section of its own; its fields carry the descriptions.
      .filter(([p]) => p !== "templates.*.properties")
      .map(([p]) => p);
    expect(missing).toEqual([]);
  });
});

describe("config/eventlab.example.yaml", () => {
  let text: string;
  let config: Config;
  beforeAll(async () => {
    text = await readFile(EXAMPLE_FILE, "utf8");
    config = parseConfig(text, "eventlab.example.yaml");
  });

  it("validates", () => {
    expect(Object.keys(config.templates).length).toBeGreaterThanOrEqual(3);
  });

  it("points editors at the schema next to it", () => {
    expect(text.split("\n")[0]).toBe("# yaml-language-server: $schema=./eventlab.schema.json");
  });

  it("shows every field of the schema (set, or commented out with its syntax)", async () => {
    const schema = JSON.parse(await readFile(SCHEMA_FILE, "utf8")) as JsonSchema;
    const missing = properties(schema)
      .filter(([, name]) => name !== "$schema")
      .filter(
        ([, name]) =>
          !new RegExp(`^\\s*(#\\s*)?(-\\s+)?${name.replace(/\$/g, "\\$")}:`, "m").test(text),
      )
      .map(([p]) => p);
    expect(missing).toEqual([]);
  });

  it("explains every field with a comment where it appears", () => {
    // Documented: a line that sets the field and carries a comment, a commented-out line
    // showing its syntax, or a field right under a comment line.
    const all = text.split("\n");
    const names = new Set(
      properties(configJsonSchema() as JsonSchema)
        .map(([, name]) => name)
        .filter((name) => name !== "$schema"),
    );
    const undocumented = [...names].filter((name) => {
      const key = new RegExp(`^\\s*(#\\s*)?(-\\s+)?${name}:`);
      return !all.some(
        (line, i) =>
          key.test(line) &&
          (/\s#\s/.test(line) || /^\s*#/.test(line) || /^\s*#/.test(all[i - 1] ?? "")),
      );
    });
    expect(undocumented).toEqual([]);
  });

  it("holds the soccer scenario: goals and cards on a direct exchange", () => {
    expect(config.topology.exchanges["soccer"]?.type).toBe("direct");
    const goal = config.templates["match-goal"];
    const card = config.templates["match-card"];
    expect(goal).toMatchObject({ exchange: "soccer", routingKey: "match.goal" });
    expect(card).toMatchObject({ exchange: "soccer", routingKey: "match.card" });
    expect(goal?.body).toMatchObject({
      match_id: expect.any(String),
      team: expect.stringMatching(/^\{\{pick /),
      player: "{{faker person.fullName}}",
      minute: "{{int 1 90}}",
      timestamp: "{{now}}",
    });
    expect(card?.body).toMatchObject({ card: "{{pick yellow red}}", minute: "{{int 1 90}}" });
    const routes = config.topology.bindings.filter((b) => b.source === "soccer");
    expect(routes.map((b) => [b.routingKey, b.destination])).toEqual([
      ["match.goal", "goals"],
      ["match.card", "cards"],
    ]);
  });

  it("holds the orders scenario: order-created on a topic exchange, bound to inventory", () => {
    expect(config.topology.exchanges["orders"]?.type).toBe("topic");
    const order = config.templates["order-created"];
    expect(order).toMatchObject({
      exchange: "orders",
      routingKey: "order.created.{{pick eu us apac}}",
      properties: { messageId: "{{uuid}}", persistent: true },
      body: {
        type: "OrderCreated",
        timestamp: "{{now}}",
        data: {
          order_id: "{{seq}}",
          user_id: "{{int 1 5000}}",
          product_id: expect.stringMatching(/^\{\{pick /),
          quantity: "{{int 1 5}}",
        },
      },
    });
    expect(order?.amount).toBeGreaterThan(1);
    expect(order?.delay).toBeGreaterThan(0);
    expect(config.topology.bindings).toContainEqual(
      expect.objectContaining({
        source: "orders",
        destination: "inventory",
        routingKey: "order.created.*",
      }),
    );
    expect(config.consumers).toHaveProperty(["inventory-worker", "queue"], "inventory");
  });

  it("declares every exchange and queue its own bindings and consumers name", () => {
    const { exchanges, queues, bindings } = config.topology;
    for (const b of bindings) {
      expect(exchanges, `binding source ${b.source}`).toHaveProperty([b.source]);
      const where = b.destinationType === "exchange" ? exchanges : queues;
      expect(where, `binding destination ${b.destination}`).toHaveProperty([b.destination]);
    }
    for (const [name, c] of Object.entries(config.consumers)) {
      if (c.queue !== undefined) expect(queues, name).toHaveProperty([c.queue]);
      if (c.exchange !== undefined) expect(exchanges, name).toHaveProperty([c.exchange]);
    }
    for (const t of Object.values(config.templates)) {
      if (t.exchange !== "") expect(exchanges).toHaveProperty([t.exchange]);
    }
  });
});

describe("the empty config used when there is no file", () => {
  it("equals what the schema gives for an empty document", async () => {
    const { emptyConfig } = await import("../../src/context.js");
    const { configSchema } = await import("../../src/config/schema.js");
    expect(emptyConfig()).toEqual(configSchema.parse({}));
  });
});

/**
 * AsyncAPI in and out: `import asyncapi` reads 2.6 and 3.0 documents into schema files,
 * topology, templates and consumer profiles; `export asyncapi` writes a config as an AsyncAPI
 * 3.0 document that the AsyncAPI parser accepts without errors; and a document imported then
 * exported keeps its messages and their payload schemas.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Parser } from "@asyncapi/parser";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { contractFor } from "../../src/config/contracts.js";
import { loadConfig } from "../../src/config/load.js";
import { runCli } from "../helpers/cli.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/asyncapi/", import.meta.url));
const ORDERS_PRESET = fileURLToPath(new URL("../../config/presets/orders.yaml", import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "eventlab-asyncapi-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const env = { EVENTLAB_CONFIG: "" };
const cli = (argv: string[]) => runCli(argv, { cwd: dir, env });

/** Parse with the AsyncAPI parser: the document and its error diagnostics. */
async function parse(text: string) {
  const { document, diagnostics } = await new Parser().parse(text);
  return { document, errors: diagnostics.filter((d) => d.severity === 0) };
}

/** A payload as the parser gives it, without its own x-parser-… annotations. */
function clean(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clean);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => !k.startsWith("x-parser-"))
      .map(([k, v]) => [k, clean(v)]),
  );
}

describe("import asyncapi", () => {
  it("reads a 2.6 document: schemas, exchange, queue, templates; writes nothing without --write", async () => {
    await copyFile(path.join(FIXTURES, "orders-2.6.yaml"), path.join(dir, "orders.yaml"));
    const r = await cli(["import", "asyncapi", "orders.yaml", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan).toMatchObject({ asyncapi: "2.6.0", title: "Orders service", written: false });
    expect(plan.schemas.map((s: { file: string }) => s.file)).toEqual([
      "schemas/OrderCreated.json",
      "schemas/StockReserved.json",
      "schemas/Audit.json",
    ]);
    // The payload's $ref to components.schemas is resolved by the parser.
    expect(plan.schemas[0].schema).toMatchObject({
      type: "object",
      required: ["id", "total", "createdAt"],
      properties: { total: { type: "number", minimum: 0 } },
    });
    expect(plan.exchanges).toEqual({ orders: { type: "topic", durable: true, autoDelete: false } });
    expect(plan.queues).toEqual({
      inventory: { durable: true, exclusive: false, autoDelete: false },
    });
    expect(plan.templates["OrderCreated"]).toEqual({
      description: "A customer placed an order",
      exchange: "orders",
      routingKey: "order.created",
      body: { id: "o-1", total: 12.5, createdAt: "2026-05-01T09:30:00Z" },
      schema: "schemas/OrderCreated.json",
    });
    expect(plan.templates["StockReserved"]).toMatchObject({
      exchange: "",
      routingKey: "inventory",
      body: { sku: "text", quantity: 1 },
    });
    // A message no AMQP channel carries is a template to finish by hand, with a note.
    expect(plan.templates["Audit"]).toMatchObject({ exchange: "", routingKey: "" });
    const text = await cli(["import", "asyncapi", "orders.yaml"]);
    expect(text.stdout).toContain('template  OrderCreated → orders, routing key "order.created"');
    expect(text.stderr).toContain("nothing written: run again with --write");
    await expect(readFile(path.join(dir, "eventlab.config.yaml"))).rejects.toThrow();
  });

  it("writes a 3.0 document's schemas and config with --write; bodies fit their schemas", async () => {
    await copyFile(path.join(FIXTURES, "orders-3.0.yaml"), path.join(dir, "payments.yaml"));
    await writeFile(
      path.join(dir, "eventlab.config.yaml"),
      "# my config\ntemplates:\n  ping:\n    routingKey: ping # keep me\n",
    );
    const r = await cli(["import", "asyncapi", "payments.yaml", "--write"]);
    expect(r.code, r.stderr).toBe(0);
    const written = await readFile(path.join(dir, "eventlab.config.yaml"), "utf8");
    expect(written).toContain("routingKey: ping # keep me");
    const { config } = await loadConfig({ cwd: dir, env: {} });
    expect(config.topology.exchanges["payments"]).toMatchObject({ type: "direct", durable: false });
    expect(config.topology.queues["ledger"]).toMatchObject({ durable: true });
    expect(config.templates["PaymentCaptured"]).toMatchObject({
      exchange: "payments",
      routingKey: "payment.captured",
      schema: "schemas/PaymentCaptured.json",
    });
    expect(config.consumers["book"]).toEqual({
      queue: "ledger",
      schema: "schemas/PaymentCaptured.json",
    });
    const contract = contractFor("schemas/PaymentCaptured.json", dir);
    expect(contract.checkValue(config.templates["PaymentCaptured"]?.body)).toEqual([]);
    expect(contract.checkValue({ paymentId: "x", amount: 0, currency: "GBP" })).toHaveLength(3);
  });

  it("refuses a document that is not valid AsyncAPI, with the parser's reasons", async () => {
    await writeFile(path.join(dir, "bad.yaml"), "asyncapi: 3.0.0\ninfo: { title: x }\n");
    const r = await cli(["import", "asyncapi", "bad.yaml"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("bad.yaml is not a valid AsyncAPI document");
    expect(r.stderr).toMatch(/info: .*version/);
  });
});

describe("export asyncapi", () => {
  it("writes the orders preset as AsyncAPI 3.0 that parses without errors", async () => {
    const r = await runCli(
      ["--config", ORDERS_PRESET, "export", "asyncapi", "--out", path.join(dir, "orders.json")],
      { cwd: dir, env },
    );
    expect(r.code, r.stderr).toBe(0);
    const text = await readFile(path.join(dir, "orders.json"), "utf8");
    const { document, errors } = await parse(text);
    expect(errors).toEqual([]);
    const preset = parseYaml(await readFile(ORDERS_PRESET, "utf8")) as {
      templates: Record<string, { exchange?: string }>;
      topology: { exchanges: Record<string, { type?: string }> };
    };
    const messages = document
      ?.components()
      .messages()
      .all()
      .map((m) => m.id());
    expect(messages?.sort()).toEqual(Object.keys(preset.templates).sort());
    const [name, t] = Object.entries(preset.templates)[0]!;
    const binding = document?.channels().get(`template.${name}`)?.bindings().get("amqp")?.value();
    expect(binding).toMatchObject({
      is: "routingKey",
      exchange: {
        name: t.exchange,
        type: preset.topology.exchanges[t.exchange ?? ""]?.type ?? "direct",
      },
    });
  });

  it("keeps messages and payload schemas through import → export → parse", async () => {
    await copyFile(path.join(FIXTURES, "orders-2.6.yaml"), path.join(dir, "orders.yaml"));
    expect((await cli(["import", "asyncapi", "orders.yaml", "--write"])).code).toBe(0);
    const r = await cli(["export", "asyncapi"]);
    expect(r.code, r.stderr).toBe(0);
    const { document, errors } = await parse(r.stdout);
    expect(errors).toEqual([]);
    const original = await parse(await readFile(path.join(dir, "orders.yaml"), "utf8"));
    const before = new Map(
      original.document
        ?.components()
        .messages()
        .all()
        .map((m) => [m.id(), clean(m.payload()?.json())]),
    );
    const after = new Map(
      document
        ?.components()
        .messages()
        .all()
        .map((m) => [m.id(), clean(m.payload()?.json())]),
    );
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [id, payload] of before)
      expect(after.get(id)).toEqual({ title: id, ...(payload as object) });
  });

  it("resolves a schema file's own $refs in the payload, and needs no payload without a schema", async () => {
    await copyFile(
      fileURLToPath(new URL("../fixtures/contracts/order.json", import.meta.url)),
      path.join(dir, "order.json"),
    );
    await writeFile(
      path.join(dir, "eventlab.config.yaml"),
      [
        "topology:",
        "  exchanges: { shop: { type: topic } }",
        "  queues: { billing: { durable: false, autoDelete: true } }",
        "templates:",
        "  order:",
        "    exchange: shop",
        '    routingKey: "order.{{pick eu us}}"',
        "    schema: order.json",
        "  note:",
        "    routingKey: billing",
        "    body: hello",
        "consumers:",
        "  billing: { queue: billing, schema: order.json }",
        "",
      ].join("\n"),
    );
    const r = await cli(["export", "asyncapi"]);
    expect(r.code, r.stderr).toBe(0);
    const { document, errors } = await parse(r.stdout);
    expect(errors).toEqual([]);
    const order = clean(document?.components().messages().get("order")?.payload()?.json()) as {
      properties: { customer: unknown };
    };
    expect(order.properties.customer).toEqual({
      type: "object",
      required: ["email"],
      properties: { email: { type: "string", format: "email" } },
    });
    expect(r.stdout).not.toContain("#/definitions/");
    // A routing key with placeholders has no fixed address; the queue binding carries its flags.
    const channel = document?.channels().get("template.order");
    expect(channel?.address()).toBeNull();
    expect(
      document?.channels().get("queue.billing")?.bindings().get("amqp")?.value(),
    ).toMatchObject({
      is: "queue",
      queue: { name: "billing", durable: false, exclusive: false, autoDelete: true },
    });
    // The consumer receives the template's message (same schema), not a copy of it.
    const receive = document?.operations().get("receive.billing");
    expect(receive?.action()).toBe("receive");
    expect(
      receive
        ?.messages()
        .all()
        .map((m) => m.id()),
    ).toEqual(["order"]);
  });
});

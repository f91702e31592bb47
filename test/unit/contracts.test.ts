/**
 * Message contracts: a JSON Schema compiled once per file, a body checked as JSON, and the
 * violations as JSON Pointer paths with Ajv's messages; and the config loader refusing a
 * `schema:` that is missing or not a JSON Schema, with the file's line.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ContractError,
  compileContract,
  contractFor,
  summarize,
} from "../../src/config/contracts.js";
import { loadConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/contracts/", import.meta.url));

const good = {
  id: "o-1",
  total: 12.5,
  createdAt: "2026-05-01T09:30:00Z",
  customer: { email: "ann@example.com" },
};

describe("a contract from a file", () => {
  const order = () => contractFor("order.json", FIXTURES);

  it("accepts a conforming body, as bytes or as text", () => {
    expect(order().check(Buffer.from(JSON.stringify(good)))).toEqual([]);
    expect(order().check(JSON.stringify(good))).toEqual([]);
  });

  it("reports each violation with its path", () => {
    const v = order().check(JSON.stringify({ ...good, total: -1, id: 7 }));
    expect(v).toEqual(
      expect.arrayContaining([
        { path: "/total", message: "must be >= 0" },
        { path: "/id", message: "must be string" },
      ]),
    );
    expect(v).toHaveLength(2);
  });

  it("names a missing property by its own path", () => {
    const { total: _, ...rest } = good;
    expect(order().check(JSON.stringify(rest))).toEqual([
      { path: "/total", message: "is required" },
    ]);
  });

  it("follows a $ref within the file", () => {
    const v = order().check(JSON.stringify({ ...good, customer: {} }));
    expect(v).toEqual([{ path: "/customer/email", message: "is required" }]);
  });

  it("checks formats: date-time and email", () => {
    const v = order().check(
      JSON.stringify({ ...good, createdAt: "yesterday", customer: { email: "nope" } }),
    );
    expect(v).toEqual([
      { path: "/createdAt", message: 'must match format "date-time"' },
      { path: "/customer/email", message: 'must match format "email"' },
    ]);
  });

  it("calls a body that is not JSON a violation", () => {
    expect(order().check(Buffer.from("hello"))).toEqual([{ path: "/", message: "not JSON" }]);
    expect(order().check(Buffer.from([0xff, 0x00]))).toEqual([{ path: "/", message: "not JSON" }]);
  });

  it("compiles a file once", () => {
    expect(contractFor("order.json", FIXTURES)).toBe(contractFor(`${FIXTURES}/order.json`, "/"));
  });

  it("says when a file is missing, not JSON, or not a JSON Schema", async () => {
    expect(() => contractFor("nowhere.json", FIXTURES)).toThrow(
      new ContractError("schema file nowhere.json not found"),
    );
    // Written here: a broken JSON file in the repository would break the linter.
    const broken = await mkdtemp(path.join(os.tmpdir(), "eventlab-broken-schema-"));
    await writeFile(path.join(broken, "broken.json"), '{ "type": "object", ');
    try {
      expect(() => contractFor("broken.json", broken)).toThrow(
        /schema file broken.json is not JSON/,
      );
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
    expect(() => contractFor("not-a-schema.json", FIXTURES)).toThrow(
      /not-a-schema.json is not a valid JSON Schema: .*type/,
    );
  });
});

describe("an inline contract", () => {
  it("checks arrays and enums, and 2020-12 schemas", () => {
    const c = compileContract({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "array",
      prefixItems: [{ enum: ["a", "b"] }],
    });
    expect(c.check('["a"]')).toEqual([]);
    expect(c.check('["c"]')).toEqual([{ path: "/0", message: 'must be one of "a", "b"' }]);
  });

  it("names a property the schema does not allow", () => {
    const c = compileContract({ type: "object", additionalProperties: false, properties: {} });
    expect(c.check('{"x":1}')).toEqual([
      { path: "/x", message: "is not allowed (no such property in the schema)" },
    ]);
  });
});

describe("summarize", () => {
  it("puts the first few violations on one line", () => {
    const v = [1, 2, 3, 4, 5].map((i) => ({ path: `/a${i}`, message: "must be string" }));
    expect(summarize(v.slice(0, 2))).toBe("/a1 must be string; /a2 must be string");
    expect(summarize(v)).toBe(
      "/a1 must be string; /a2 must be string; /a3 must be string (and 2 more)",
    );
  });
});

describe("schema: in the config", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "eventlab-contracts-"));
    await writeFile(
      path.join(dir, "order.json"),
      JSON.stringify({ type: "object", required: ["id"] }),
    );
    await writeFile(path.join(dir, "bad.json"), JSON.stringify({ type: 12 }));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const load = async (text: string) => {
    await writeFile(path.join(dir, "eventlab.config.yaml"), text);
    return loadConfig({ cwd: dir, env: {} });
  };

  it("loads a file schema and an inline one", async () => {
    const { config } = await load(
      [
        "templates:",
        "  order:",
        "    routingKey: q",
        "    schema: order.json",
        "consumers:",
        "  audit:",
        "    queue: q",
        "    schema: { type: object, required: [id] }",
        "",
      ].join("\n"),
    );
    expect(config.templates["order"]?.schema).toBe("order.json");
    expect(config.consumers["audit"]?.schema).toEqual({ type: "object", required: ["id"] });
  });

  it("reports a missing file and an invalid schema with their lines", async () => {
    const err = await load(
      [
        "templates:",
        "  order:",
        "    routingKey: q",
        "    schema: missing.json",
        "consumers:",
        "  audit:",
        "    queue: q",
        "    schema: bad.json",
        "",
      ].join("\n"),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues;
    expect(issues).toEqual([
      {
        path: "templates.order.schema",
        message: "schema file missing.json not found",
        line: 4,
      },
      {
        path: "consumers.audit.schema",
        message: expect.stringMatching(/^bad.json is not a valid JSON Schema: /),
        line: 8,
      },
    ]);
    expect((err as ConfigError).message).toContain(
      "eventlab.config.yaml:4 templates.order.schema: schema file missing.json not found",
    );
  });

  it("refuses a schema that is neither a path nor a mapping", async () => {
    const err = await load(["templates:", "  order:", "    schema: [1, 2]", ""].join("\n")).catch(
      (e: unknown) => e,
    );
    expect((err as ConfigError).issues[0]).toMatchObject({
      path: "templates.order.schema",
      line: 3,
    });
  });
});

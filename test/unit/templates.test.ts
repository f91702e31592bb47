/**
 * Templates: every generator, type preservation, sequences, seeding, and every bad
 * placeholder reported with its path.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import type { TemplateConfig } from "../../src/config/schema.js";
import { compileTemplate } from "../../src/config/templates.js";
import { ConfigError } from "../../src/errors.js";

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

function template(over: Partial<TemplateConfig>): TemplateConfig {
  return {
    exchange: "ex",
    routingKey: "rk",
    headers: {},
    properties: {},
    body: "",
    amount: 1,
    ...over,
  };
}

async function render(body: unknown, n = 1, opts: { seed?: number; env?: NodeJS.ProcessEnv } = {}) {
  const t = await compileTemplate("t", template({ body: body as TemplateConfig["body"] }), {
    seed: opts.seed,
    env: opts.env ?? {},
    now: () => NOW,
  });
  return Array.from({ length: n }, () => JSON.parse(t.render().content.toString()) as unknown);
}

async function errorsOf(
  over: Partial<TemplateConfig>,
  env: NodeJS.ProcessEnv = {},
): Promise<Array<{ path: string; message: string }>> {
  try {
    await compileTemplate("order", template(over), { env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => ({ path: i.path, message: i.message }));
  }
  throw new Error("expected a ConfigError");
}

describe("generators", () => {
  it("seq counts from 1, or from a start, the same within one message", async () => {
    expect(await render({ a: "{{seq}}", b: "{{seq}}", c: "{{seq 100}}" }, 3)).toEqual([
      { a: 1, b: 1, c: 100 },
      { a: 2, b: 2, c: 101 },
      { a: 3, b: 3, c: 102 },
    ]);
  });

  it("now: ISO, epoch ms, epoch s", async () => {
    expect(await render({ iso: "{{now}}", ms: "{{now ms}}", s: "{{now s}}" })).toEqual([
      { iso: "2026-01-02T03:04:05.678Z", ms: NOW, s: Math.floor(NOW / 1000) },
    ]);
  });

  it("uuid is v4-shaped, random without a seed", async () => {
    const [a, b] = (await render({ id: "{{uuid}}" }, 2)) as Array<{ id: string }>;
    expect(a!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a!.id).not.toBe(b!.id);
  });

  it("int stays within its inclusive bounds and reaches both ends", async () => {
    const values = (
      (await render({ v: "{{int 1 3}}" }, 300, { seed: 1 })) as Array<{ v: number }>
    ).map((r) => r.v);
    expect(new Set(values)).toEqual(new Set([1, 2, 3]));
    const negative = ((await render({ v: "{{ int -5 -5 }}" })) as Array<{ v: number }>)[0]!.v;
    expect(negative).toBe(-5);
  });

  it("float has the asked decimals and stays in range", async () => {
    const values = (await render({ v: "{{float 0 1 3}}", w: "{{float 10 20}}" }, 100, {
      seed: 2,
    })) as Array<{ v: number; w: number }>;
    for (const { v, w } of values) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
      expect(Math.round(v * 1000) / 1000).toBe(v);
      expect(w).toBeGreaterThanOrEqual(10);
      expect(Math.round(w * 100) / 100).toBe(w);
    }
  });

  it("pick takes quoted items and keeps numbers as numbers", async () => {
    const values = (
      (await render({ v: '{{pick eu "south america" 3}}' }, 200, { seed: 3 })) as Array<{
        v: unknown;
      }>
    ).map((r) => r.v);
    expect(new Set(values)).toEqual(new Set(["eu", "south america", 3]));
  });

  it("bool honours its probability", async () => {
    const always = (await render({ v: "{{bool 1}}", n: "{{bool 0}}" }, 20)) as Array<{
      v: boolean;
      n: boolean;
    }>;
    expect(always.every((r) => r.v === true && r.n === false)).toBe(true);
  });

  it("faker paths produce text", async () => {
    const [r] = (await render({
      name: "{{faker person.fullName}}",
      city: "{{faker location.city}}",
    })) as Array<Record<string, string>>;
    expect(r!.name).toMatch(/\w+ \w+/);
    expect(typeof r!.city).toBe("string");
  });

  it("env with and without a default", async () => {
    expect(
      await render({ a: "{{env REGION}}", b: "{{env MISSING fallback}}" }, 1, {
        env: { REGION: "eu" },
      }),
    ).toEqual([{ a: "eu", b: "fallback" }]);
  });
});

describe("types and text", () => {
  it("a lone placeholder keeps its type; text around it makes a string", async () => {
    expect(
      await render({ n: "{{int 7 7}}", s: "n={{int 7 7}}", b: "{{bool 1}}", bs: "{{bool 1}}!" }),
    ).toEqual([{ n: 7, s: "n=7", b: true, bs: "true!" }]);
  });

  it("arrays, nested objects and non-string values pass through", async () => {
    expect(
      await render({
        list: ["{{seq}}", 2, { deep: "{{seq 5}}" }],
        flag: false,
        nothing: null,
        num: 1.5,
      }),
    ).toEqual([{ list: [1, 2, { deep: 5 }], flag: false, nothing: null, num: 1.5 }]);
  });

  it("\\{{ is a literal {{", async () => {
    const t = await compileTemplate("t", template({ body: "use \\{{seq}} for {{seq}}" }), {
      env: {},
    });
    expect(t.render().content.toString()).toBe("use {{seq}} for 1");
  });

  it("a body without placeholders is the same Buffer each time (built once)", async () => {
    const t = await compileTemplate("t", template({ body: { a: 1 } }), { env: {} });
    const a = t.render().content;
    expect(t.render().content).toBe(a);
    expect(a.toString()).toBe('{"a":1}');
  });
});

describe("routing, headers and properties", () => {
  it("placeholders in exchange, routing key and header values", async () => {
    const t = await compileTemplate(
      "t",
      template({
        exchange: "ex-{{env E}}",
        routingKey: "order.{{seq}}.{{pick eu}}",
        headers: { n: "{{seq}}", tag: "t-{{seq}}", fixed: 5, nested: { k: "{{seq}}" } },
      }),
      { env: { E: "a" } },
    );
    t.render();
    const m = t.render();
    expect(m.exchange).toBe("ex-a");
    expect(m.routingKey).toBe("order.2.eu");
    expect(m.properties.headers).toEqual({ n: 2, tag: "t-2", fixed: 5, nested: { k: 2 } });
  });

  it("content type defaults from the body; properties render", async () => {
    const obj = await compileTemplate("t", template({ body: { a: 1 } }), { env: {} });
    expect(obj.render().properties.contentType).toBe("application/json");
    const text = await compileTemplate("t", template({ body: "hi" }), { env: {} });
    expect(text.render().properties.contentType).toBe("text/plain");
    const set = await compileTemplate(
      "t",
      template({
        body: "hi",
        properties: {
          contentType: "text/csv",
          messageId: "m-{{seq}}",
          correlationId: "{{uuid}}",
          type: "T",
          appId: "a",
          persistent: true,
          priority: 3,
          expiration: "60s",
          timestamp: "{{now s}}",
        },
      }),
      { env: {}, now: () => NOW },
    );
    const p = set.render().properties;
    expect(p).toMatchObject({
      contentType: "text/csv",
      messageId: "m-1",
      type: "T",
      appId: "a",
      persistent: true,
      priority: 3,
      expiration: "60000",
      timestamp: Math.floor(NOW / 1000),
    });
    expect(p.correlationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("timestamp: true stamps the publish time in seconds; expiration numbers are milliseconds", async () => {
    const t = await compileTemplate(
      "t",
      template({ properties: { timestamp: true, expiration: 1500 } }),
      { env: {}, now: () => NOW },
    );
    expect(t.render().properties).toMatchObject({
      timestamp: Math.floor(NOW / 1000),
      expiration: "1500",
    });
  });
});

describe("--seed", () => {
  const body = {
    id: "{{uuid}}",
    n: "{{int 1 1000000}}",
    f: "{{float 0 1 6}}",
    p: "{{pick a b c d e}}",
    name: "{{faker person.fullName}}",
  };
  it("the same seed gives the same 20 messages", async () => {
    expect(await render(body, 20, { seed: 42 })).toEqual(await render(body, 20, { seed: 42 }));
  });
  it("another seed gives others", async () => {
    expect(await render(body, 20, { seed: 42 })).not.toEqual(await render(body, 20, { seed: 43 }));
  });
  it("two templates with one seed draw from separate streams", async () => {
    const a = await compileTemplate("a", template({ body: { n: "{{int 1 1000000}}" } }), {
      seed: 9,
      env: {},
    });
    const b = await compileTemplate("b", template({ body: { n: "{{int 1 1000000}}" } }), {
      seed: 9,
      env: {},
    });
    expect(a.render().content.toString()).not.toBe(b.render().content.toString());
  });
});

describe("bad placeholders", () => {
  const cases: Array<[string, Partial<TemplateConfig>, string, RegExp]> = [
    [
      "unknown generator",
      { body: { a: "{{nope}}" } },
      "templates.order.body.a",
      /"\{\{nope\}\}": unknown generator "nope"; known generators: seq, uuid, now/,
    ],
    [
      "int reversed",
      { body: { a: "{{int 5 1}}" } },
      "templates.order.body.a",
      /int expects MIN ≤ MAX, got 5 > 1/,
    ],
    [
      "int not numbers",
      { routingKey: "{{int a b}}" },
      "templates.order.routingKey",
      /int expects two whole numbers/,
    ],
    ["int one arg", { body: "{{int 1}}" }, "templates.order.body", /int takes two whole numbers/],
    [
      "pick empty",
      { headers: { h: "{{pick}}" } },
      "templates.order.headers.h",
      /pick takes one or more items/,
    ],
    [
      "float one arg",
      { body: { f: "{{float 1}}" } },
      "templates.order.body.f",
      /float takes MIN MAX/,
    ],
    [
      "bool out of range",
      { body: { b: "{{bool 2}}" } },
      "templates.order.body.b",
      /bool expects a probability from 0 to 1, got "2"/,
    ],
    [
      "now format",
      { body: { t: "{{now hours}}" } },
      "templates.order.body.t",
      /now expects iso, ms or s/,
    ],
    [
      "seq start",
      { body: { s: "{{seq x}}" } },
      "templates.order.body.s",
      /seq expects a whole start number/,
    ],
    [
      "faker path",
      { body: { n: "{{faker person.nope}}" } },
      "templates.order.body.n",
      /unknown Faker path/,
    ],
    [
      "faker syntax",
      { body: { n: "{{faker person}}" } },
      "templates.order.body.n",
      /faker expects a path like person.fullName/,
    ],
    [
      "env missing",
      { properties: { messageId: "{{env NOPE}}" } },
      "templates.order.properties.messageId",
      /environment variable NOPE is not set/,
    ],
    [
      "unterminated",
      { body: { z: "{{oops" } },
      "templates.order.body.z",
      /unterminated placeholder/,
    ],
    [
      "unbalanced quote",
      { body: { q: '{{pick "a b}}' } },
      "templates.order.body.q",
      /unbalanced quote/,
    ],
    [
      "array path",
      { body: { list: ["ok", "{{nope}}"] } },
      "templates.order.body.list[1]",
      /unknown generator/,
    ],
    [
      "timestamp text",
      { properties: { timestamp: "yesterday" } },
      "templates.order.properties.timestamp",
      /expected true, epoch seconds or a placeholder/,
    ],
  ];
  for (const [name, over, path, message] of cases) {
    it(name, async () => {
      const issues = await errorsOf(over);
      expect(issues).toHaveLength(1);
      expect(issues[0]!.path).toBe(path);
      expect(issues[0]!.message).toMatch(message);
    });
  }

  it("collects every problem of a template", async () => {
    const issues = await errorsOf({
      routingKey: "{{x}}",
      body: { a: "{{int}}", b: "{{faker no.such}}" },
      headers: { h: "{{env NOPE}}" },
    });
    expect(issues.map((i) => i.path).sort()).toEqual(
      [
        "templates.order.body.a",
        "templates.order.body.b",
        "templates.order.headers.h",
        "templates.order.routingKey",
      ].sort(),
    );
  });
});

describe("the example config's templates", () => {
  it("all compile and render valid messages", async () => {
    const config = parseConfig(
      readFileSync("config/eventlab.example.yaml", "utf8"),
      "eventlab.example.yaml",
    );
    const names = Object.keys(config.templates);
    expect(names).toEqual(expect.arrayContaining(["match-goal", "match-card", "order-created"]));
    for (const [name, t] of Object.entries(config.templates)) {
      const c = await compileTemplate(name, t, { seed: 1, env: {} });
      const m = c.render();
      if (m.properties.contentType === "application/json")
        expect(() => JSON.parse(m.content.toString())).not.toThrow();
    }
    const order = await compileTemplate("order-created", config.templates["order-created"]!, {
      seed: 1,
      env: {},
    });
    const body = JSON.parse(order.render().content.toString()) as {
      type: string;
      data: Record<string, unknown>;
    };
    expect(body.type).toBe("OrderCreated");
    expect(Object.keys(body.data).sort()).toEqual([
      "order_id",
      "product_id",
      "quantity",
      "user_id",
    ]);
    expect(typeof body.data.quantity).toBe("number");
  });
});

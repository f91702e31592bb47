/**
 * Templates: every generator, type preservation, sequences, seeding, properties, and every
 * bad placeholder reported with its path.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import type { TemplateConfig } from "../../src/config/schema.js";
import {
  type CompiledTemplate,
  compileTemplate,
  type GeneratorOptions,
} from "../../src/config/templates.js";
import { ConfigError } from "../../src/errors.js";

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const NOW_S = Math.floor(NOW / 1000);
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

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

function compile(
  over: Partial<TemplateConfig>,
  options: Partial<GeneratorOptions> = {},
  name = "t",
): Promise<CompiledTemplate> {
  return compileTemplate(name, template(over), { env: {}, now: () => NOW, ...options });
}

/** Render `n` messages of a JSON body and parse them. */
async function render(
  body: unknown,
  n = 1,
  options: Partial<GeneratorOptions> = {},
): Promise<unknown[]> {
  const t = await compile({ body: body as TemplateConfig["body"] }, options);
  return Array.from({ length: n }, () => JSON.parse(t.render().content.toString()) as unknown);
}

/** The one value of `{ v: placeholder }` over `n` messages. */
async function values(placeholder: string, n = 1, seed?: number): Promise<unknown[]> {
  const rows = (await render({ v: placeholder }, n, { seed })) as Array<{ v: unknown }>;
  return rows.map((r) => r.v);
}

async function errorsOf(
  over: Partial<TemplateConfig>,
  env: NodeJS.ProcessEnv = {},
  name = "order",
): Promise<Array<{ path: string; message: string }>> {
  let caught: unknown;
  try {
    await compileTemplate(name, template(over), { env });
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return (caught as ConfigError).issues.map((i) => ({ path: i.path, message: i.message }));
}

describe("generators", () => {
  it("seq counts from 1, or from a start, the same for every placeholder of a message", async () => {
    expect(
      await render({ a: "{{seq}}", b: "{{seq}}", c: "{{seq 100}}", d: "{{seq -2}}" }, 3),
    ).toEqual([
      { a: 1, b: 1, c: 100, d: -2 },
      { a: 2, b: 2, c: 101, d: -1 },
      { a: 3, b: 3, c: 102, d: 0 },
    ]);
  });

  it("now: ISO-8601, epoch ms, epoch s", async () => {
    expect(
      await render({ iso: "{{now}}", iso2: "{{now iso}}", ms: "{{now ms}}", s: "{{now s}}" }),
    ).toEqual([
      { iso: "2026-01-02T03:04:05.678Z", iso2: "2026-01-02T03:04:05.678Z", ms: NOW, s: NOW_S },
    ]);
  });

  it("now reads the clock once per message: every placeholder and the timestamp agree", async () => {
    let clock = NOW;
    const t = await compile(
      {
        body: { a: "{{now ms}}", b: "{{now ms}}", c: "{{now s}}" },
        properties: { timestamp: true },
      },
      { now: () => (clock += 1500) },
    );
    const first = t.render();
    const second = t.render();
    const a = JSON.parse(first.content.toString()) as { a: number; b: number; c: number };
    const b = JSON.parse(second.content.toString()) as { a: number };
    expect(a.a).toBe(a.b);
    expect(a.c).toBe(Math.floor(a.a / 1000));
    expect(first.properties.timestamp).toBe(a.c);
    expect(b.a).toBe(a.a + 1500);
  });

  it("uuid is v4-shaped and unique, with and without a seed", async () => {
    for (const seed of [undefined, 7]) {
      const ids = await values("{{uuid}}", 50, seed);
      for (const id of ids) expect(id).toMatch(UUID_V4);
      expect(new Set(ids).size).toBe(50);
    }
  });

  it("int stays within its inclusive bounds and reaches both ends", async () => {
    expect(new Set(await values("{{int 1 3}}", 300, 1))).toEqual(new Set([1, 2, 3]));
    expect(await values("{{ int -5 -5 }}")).toEqual([-5]);
    const wide = (await values("{{int 0 9007199254740991}}", 50, 2)) as number[];
    for (const v of wide) expect(Number.isSafeInteger(v) && v >= 0).toBe(true);
    expect(new Set(wide).size).toBe(50);
  });

  it("float has 2 decimals by default, or the asked number, and stays in range", async () => {
    const rows = (await render(
      { v: "{{float 0 1 3}}", w: "{{float 10 20}}", z: "{{float -1.5 1.5 0}}" },
      200,
      {
        seed: 2,
      },
    )) as Array<{ v: number; w: number; z: number }>;
    for (const { v, w, z } of rows) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
      expect(Math.round(v * 1000) / 1000).toBe(v);
      expect(w).toBeGreaterThanOrEqual(10);
      expect(w).toBeLessThanOrEqual(20);
      expect(Math.round(w * 100) / 100).toBe(w);
      expect([-1, 0, 1, 2, -2].includes(z) || Object.is(z, -0)).toBe(true);
    }
    expect(rows.some(({ w }) => !Number.isInteger(w))).toBe(true);
  });

  it("pick: quoted items hold spaces; unquoted numbers are numbers, quoted ones stay text", async () => {
    expect(new Set(await values('{{pick eu "south america" 3 2.5 "4"}}', 300, 3))).toEqual(
      new Set(["eu", "south america", 3, 2.5, "4"]),
    );
    expect(await values("{{pick 'single quoted'}}")).toEqual(["single quoted"]);
    expect(await values("{{pick only}}", 3)).toEqual(["only", "only", "only"]);
  });

  it("bool is true with probability P (0.5 by default)", async () => {
    const rows = (await render(
      { always: "{{bool 1}}", never: "{{bool 0}}", half: "{{bool}}", rare: "{{bool 0.1}}" },
      400,
      {
        seed: 4,
      },
    )) as Array<Record<"always" | "never" | "half" | "rare", boolean>>;
    expect(rows.every((r) => r.always === true && r.never === false)).toBe(true);
    const count = (k: "half" | "rare") => rows.filter((r) => r[k] === true).length;
    expect(count("half")).toBeGreaterThan(140);
    expect(count("half")).toBeLessThan(260);
    expect(count("rare")).toBeGreaterThan(10);
    expect(count("rare")).toBeLessThan(80);
  });

  it("faker paths call Faker functions; dates come out as ISO-8601", async () => {
    const [r] = (await render({
      name: "{{faker person.fullName}}",
      city: "{{faker location.city}}",
      product: "Product: {{faker commerce.productName}}",
      n: "{{faker number.int}}",
      when: "{{faker date.past}}",
    })) as Array<Record<"name" | "city" | "product" | "n" | "when", unknown>>;
    expect(r!.name).toMatch(/\S+ \S+/);
    expect(typeof r!.city).toBe("string");
    expect(r!.product).toMatch(/^Product: \S/);
    expect(typeof r!.n).toBe("number");
    expect(r!.when).toMatch(/^\d{4}-\d\d-\d\dT/);
    // Faker's dates are relative to the template's clock.
    expect(Date.parse(r!.when as string)).toBeLessThan(NOW);
    expect(Date.parse(r!.when as string)).toBeGreaterThan(NOW - 366 * 86_400_000);
  });

  it("env resolves at compile time, with and without a default", async () => {
    const t = await compile(
      { body: { a: "{{env REGION}}", b: "{{env MISSING fallback}}", c: '{{env EMPTY ""}}' } },
      { env: { REGION: "eu" } },
    );
    expect(JSON.parse(t.render().content.toString())).toEqual({ a: "eu", b: "fallback", c: "" });
  });
});

describe("types and text", () => {
  const cases: Array<[string, unknown]> = [
    ["{{int 7 7}}", 7],
    ["n={{int 7 7}}", "n=7"],
    ["{{bool 1}}", true],
    ["{{bool 1}}!", "true!"],
    ["{{float 1.5 1.5 1}}", 1.5],
    ["{{seq 9}}", 9],
    ["#{{seq 9}}", "#9"],
    [" {{seq}}", " 1"],
    ["{{pick 42}}", 42],
    ["{{pick 4}}{{pick 2}}", "42"],
    ["{{now ms}}", NOW],
    ["plain text", "plain text"],
    ["", ""],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, async () => {
      expect(await values(input)).toEqual([expected]);
    });
  }

  it("arrays, nested objects and non-string values pass through", async () => {
    expect(
      await render({
        list: ["{{seq}}", 2, { deep: "{{seq 5}}" }],
        fixed: { a: [1, "x"], b: true },
        flag: false,
        nothing: null,
        num: 1.5,
      }),
    ).toEqual([
      {
        list: [1, 2, { deep: 5 }],
        fixed: { a: [1, "x"], b: true },
        flag: false,
        nothing: null,
        num: 1.5,
      },
    ]);
  });

  it("a list body is JSON too", async () => {
    const t = await compile({ body: ["{{seq}}", "a"] });
    expect(t.render().content.toString()).toBe('[1,"a"]');
  });

  it("\\{{ is a literal {{, also when nothing closes it", async () => {
    const cases: Array<[string, string]> = [
      ["use \\{{seq}} for {{seq}}", "use {{seq}} for 1"],
      ["a \\{{b", "a {{b"],
      ["\\{{", "{{"],
      ["}} alone", "}} alone"],
    ];
    for (const [body, expected] of cases) {
      const t = await compile({ body });
      expect(t.render().content.toString()).toBe(expected);
    }
  });

  it("a string body renders as text, a lone placeholder too", async () => {
    const t = await compile({ body: "{{int 7 7}}" });
    expect(t.render().content.toString()).toBe("7");
  });

  it("a body without placeholders is the same Buffer each time (built once)", async () => {
    const t = await compile({ body: { a: 1, b: ["x"] } });
    const a = t.render().content;
    expect(t.render().content).toBe(a);
    expect(a.toString()).toBe('{"a":1,"b":["x"]}');
  });
});

describe("routing, headers and properties", () => {
  it("placeholders in exchange, routing key and header values, at any depth", async () => {
    const t = await compile(
      {
        exchange: "ex-{{env E}}",
        routingKey: "order.{{seq}}.{{pick eu}}",
        headers: {
          n: "{{seq}}",
          tag: "t-{{seq}}",
          fixed: 5,
          on: true,
          nested: { k: "{{seq}}", list: ["{{seq 10}}", "x"] },
        },
      },
      { env: { E: "a" } },
    );
    t.render();
    const m = t.render();
    expect(m.exchange).toBe("ex-a");
    expect(m.routingKey).toBe("order.2.eu");
    expect(m.properties.headers).toEqual({
      n: 2,
      tag: "t-2",
      fixed: 5,
      on: true,
      nested: { k: 2, list: [11, "x"] },
    });
  });

  it("a routing key that is one number placeholder is still text", async () => {
    const t = await compile({ routingKey: "{{int 3 3}}", exchange: "{{seq}}" });
    const m = t.render();
    expect(m.routingKey).toBe("3");
    expect(m.exchange).toBe("1");
  });

  it("constant headers: each message gets its own object", async () => {
    const t = await compile({ headers: { a: 1 } });
    const first = t.render().properties.headers;
    Object.assign(first, { b: 2 });
    expect(t.render().properties.headers).toEqual({ a: 1 });
  });

  const contentTypes: Array<[string, Partial<TemplateConfig>, string]> = [
    ["object body", { body: { a: 1 } }, "application/json"],
    ["list body", { body: [1] }, "application/json"],
    ["string body", { body: "hi" }, "text/plain"],
    ["empty body", { body: "" }, "text/plain"],
    [
      "set explicitly",
      { body: { a: 1 }, properties: { contentType: "application/x-custom" } },
      "application/x-custom",
    ],
  ];
  for (const [name, over, expected] of contentTypes) {
    it(`content type: ${name} → ${expected}`, async () => {
      expect((await compile(over)).render().properties.contentType).toBe(expected);
    });
  }

  it("string properties render placeholders; others pass through", async () => {
    const t = await compile({
      body: "hi",
      properties: {
        contentType: "text/csv",
        contentEncoding: "utf-8",
        messageId: "m-{{seq}}",
        correlationId: "{{uuid}}",
        replyTo: "replies-{{env R x}}",
        type: "T",
        appId: "a",
        userId: "guest",
        persistent: true,
        priority: 3,
      },
    });
    const p = t.render().properties;
    expect(p).toEqual({
      headers: {},
      contentType: "text/csv",
      contentEncoding: "utf-8",
      messageId: "m-1",
      correlationId: expect.stringMatching(UUID_V4),
      replyTo: "replies-x",
      type: "T",
      appId: "a",
      userId: "guest",
      persistent: true,
      priority: 3,
    });
    expect(t.render().properties.messageId).toBe("m-2");
  });

  it("persistent: false passes through; absent properties stay absent", async () => {
    const t = await compile({ properties: { persistent: false } });
    expect(t.render().properties).toEqual({
      headers: {},
      contentType: "text/plain",
      persistent: false,
    });
  });

  const timestamps: Array<[string, TemplateConfig["properties"]["timestamp"], number]> = [
    ["true: the publish time in seconds", true, NOW_S],
    ["a number as is", 1_700_000_000, 1_700_000_000],
    ["{{now s}}", "{{now s}}", NOW_S],
    ["{{now}} (ISO) as seconds", "{{now}}", NOW_S],
    ["an ISO date", "2024-01-01T00:00:00Z", 1_704_067_200],
    ["numeric text", "1700000000", 1_700_000_000],
    ["a placeholder for a number", "{{int 5 5}}", 5],
  ];
  for (const [name, timestamp, expected] of timestamps) {
    it(`timestamp: ${name}`, async () => {
      const t = await compile({ properties: { timestamp } });
      expect(t.render().properties.timestamp).toBe(expected);
    });
  }

  const expirations: Array<[string, TemplateConfig["properties"]["expiration"], string]> = [
    ["a number of milliseconds", 1500, "1500"],
    ["a duration in seconds", "60s", "60000"],
    ["a duration in minutes", "2m", "120000"],
    ["numeric text", "250", "250"],
    ["a placeholder", "{{int 3000 3000}}", "3000"],
    ["a placeholder with a unit", "{{int 3 3}}s", "3000"],
    ["a picked duration", "{{pick 1s}}", "1000"],
  ];
  for (const [name, expiration, expected] of expirations) {
    it(`expiration: ${name} → "${expected}"`, async () => {
      const t = await compile({ properties: { expiration } });
      expect(t.render().properties.expiration).toBe(expected);
    });
  }

  it("template settings pass through", async () => {
    const t = await compile({ amount: 7, delay: 250 }, {}, "named");
    expect([t.name, t.amount, t.delayMs, t.rate]).toEqual(["named", 7, 250, undefined]);
    const r = await compile({ rate: 12 });
    expect([r.delayMs, r.rate]).toEqual([undefined, 12]);
  });
});

describe("seeding", () => {
  const body = {
    id: "{{uuid}}",
    n: "{{int 1 1000000}}",
    f: "{{float 0 1 6}}",
    p: "{{pick a b c d e}}",
    b: "{{bool}}",
    name: "{{faker person.fullName}}",
    when: "{{faker date.recent}}",
    text: "{{int 1 9}}-{{faker string.alphanumeric}}",
  };
  const over: Partial<TemplateConfig> = {
    body,
    routingKey: "k.{{int 1 100}}",
    headers: { h: "{{uuid}}" },
    properties: { messageId: "{{uuid}}" },
  };
  const twenty = async (seed: number, name = "t") => {
    const t = await compile(over, { seed }, name);
    return Array.from({ length: 20 }, () => {
      const m = t.render();
      return { ...m, content: m.content.toString() };
    });
  };

  it("the same seed gives the same 20 messages, uuids and Faker values included", async () => {
    const a = await twenty(42);
    expect(await twenty(42)).toEqual(a);
    expect(new Set(a.map((m) => m.content)).size).toBe(20);
  });

  it("another seed gives other messages", async () => {
    const a = await twenty(42);
    const b = await twenty(43);
    for (let i = 0; i < 20; i++) expect(b[i]!.content).not.toBe(a[i]!.content);
  });

  it("templates draw from separate streams, so one does not shift another", async () => {
    const alone = await twenty(9, "b");
    // Render another seeded Faker template in between: b's messages stay the same.
    const a = await compile(over, { seed: 9 }, "a");
    const b = await compile(over, { seed: 9 }, "b");
    const interleaved = Array.from({ length: 20 }, () => {
      a.render();
      const m = b.render();
      return { ...m, content: m.content.toString() };
    });
    expect(interleaved).toEqual(alone);
    expect(a.render().content.toString()).not.toBe(alone[0]!.content);
  });

  it("two templates with one seed get different Faker values", async () => {
    const first = async (name: string) =>
      (await compile({ body: "{{faker string.uuid}}" }, { seed: 5 }, name))
        .render()
        .content.toString();
    expect(await first("a")).toBe(await first("a"));
    expect(await first("a")).not.toBe(await first("b"));
  });

  it("without a seed, values differ between runs", async () => {
    const run = async () => {
      const t = await compile({ body: { n: "{{int 1 1000000000}}", id: "{{uuid}}" } });
      return t.render().content.toString();
    };
    expect(await run()).not.toBe(await run());
  });
});

describe("bad placeholders", () => {
  const cases: Array<[string, Partial<TemplateConfig>, string, RegExp]> = [
    [
      "unknown generator",
      { body: { a: "{{nope}}" } },
      "templates.order.body.a",
      /^"\{\{nope\}\}": unknown generator "nope"; known generators: seq, uuid, now, int, float, pick, bool, faker, env$/,
    ],
    [
      "empty placeholder",
      { body: "{{ }}" },
      "templates.order.body",
      /empty placeholder; known generators: seq/,
    ],
    [
      "int reversed",
      { body: { data: { user_id: "{{int 5 1}}" } } },
      "templates.order.body.data.user_id",
      /^"\{\{int 5 1\}\}": int expects MIN ≤ MAX, got 5 > 1$/,
    ],
    [
      "int not numbers",
      { routingKey: "{{int a b}}" },
      "templates.order.routingKey",
      /"\{\{int a b\}\}": int expects two whole numbers, got "a" and "b"/,
    ],
    [
      "int decimals",
      { body: "{{int 1.5 3}}" },
      "templates.order.body",
      /int expects two whole numbers/,
    ],
    [
      "int one arg",
      { body: "{{int 1}}" },
      "templates.order.body",
      /int takes two whole numbers MIN MAX, like \{\{int 1 6\}\}/,
    ],
    [
      "int unsafe",
      { body: "{{int 0 99999999999999999999}}" },
      "templates.order.body",
      /int expects numbers within ±9007199254740991/,
    ],
    [
      "pick empty",
      { headers: { region: "{{pick}}" } },
      "templates.order.headers.region",
      /"\{\{pick\}\}": pick takes one or more items/,
    ],
    [
      "float one arg",
      { body: { f: "{{float 1}}" } },
      "templates.order.body.f",
      /"\{\{float 1\}\}": float takes MIN MAX and optional decimals/,
    ],
    [
      "float not numbers",
      { body: { f: "{{float x 1}}" } },
      "templates.order.body.f",
      /float expects two numbers/,
    ],
    [
      "float decimals",
      { body: { f: "{{float 0 1 20}}" } },
      "templates.order.body.f",
      /float expects decimals from 0 to 15/,
    ],
    [
      "float reversed",
      { body: { f: "{{float 2 1}}" } },
      "templates.order.body.f",
      /float expects MIN ≤ MAX/,
    ],
    [
      "bool out of range",
      { body: { b: "{{bool 2}}" } },
      "templates.order.body.b",
      /"\{\{bool 2\}\}": bool expects a probability from 0 to 1, got "2"/,
    ],
    [
      "bool not a number",
      { body: { b: "{{bool often}}" } },
      "templates.order.body.b",
      /bool expects a probability from 0 to 1/,
    ],
    [
      "bool two args",
      { body: { b: "{{bool 1 2}}" } },
      "templates.order.body.b",
      /bool takes an optional probability/,
    ],
    [
      "now format",
      { body: { t: "{{now hours}}" } },
      "templates.order.body.t",
      /now expects iso, ms or s, got "hours"/,
    ],
    [
      "seq start",
      { body: { s: "{{seq x}}" } },
      "templates.order.body.s",
      /seq expects a whole start number, got "x"/,
    ],
    [
      "uuid args",
      { body: { s: "{{uuid 4}}" } },
      "templates.order.body.s",
      /uuid takes no arguments/,
    ],
    [
      "faker unknown function",
      { body: { n: "{{faker person.nope}}" } },
      "templates.order.body.n",
      /^"\{\{faker person.nope\}\}": unknown Faker path "person.nope"; person has: .*fullName/,
    ],
    [
      "faker unknown module",
      { body: { n: "{{faker nobody.fullName}}" } },
      "templates.order.body.n",
      /unknown Faker path "nobody.fullName"; modules: .*commerce.*location.*person/,
    ],
    [
      "faker not a function",
      { body: { n: "{{faker definitions.person}}" } },
      "templates.order.body.n",
      /Faker path "definitions.person" is not a function/,
    ],
    [
      "faker object internals",
      { body: { n: "{{faker person.constructor}}" } },
      "templates.order.body.n",
      /unknown Faker path "person.constructor"/,
    ],
    [
      "faker needs arguments",
      { body: { n: "{{faker helpers.arrayElement}}" } },
      "templates.order.body.n",
      /Faker function helpers.arrayElement needs arguments; use one that takes none/,
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
      /"\{\{env NOPE\}\}": environment variable NOPE is not set; set it, or give a default: \{\{env NOPE value\}\}/,
    ],
    [
      "env no name",
      { exchange: "{{env}}" },
      "templates.order.exchange",
      /env takes a variable name/,
    ],
    [
      "unterminated",
      { body: { z: "{{oops" } },
      "templates.order.body.z",
      /unterminated placeholder: "\{\{" without "\}\}"/,
    ],
    [
      "unterminated after a placeholder",
      { body: "{{seq}} {{seq" },
      "templates.order.body",
      /unterminated placeholder/,
    ],
    [
      "single closing brace",
      { body: "{{seq}" },
      "templates.order.body",
      /unterminated placeholder/,
    ],
    [
      "unbalanced quote",
      { body: { q: '{{pick "a b}}' } },
      "templates.order.body.q",
      /unbalanced quote/,
    ],
    [
      "array index in the path",
      { body: { list: ["ok", "{{nope}}"] } },
      "templates.order.body.list[1]",
      /unknown generator/,
    ],
    [
      "header key with a dot",
      { headers: { "a.b": "{{nope}}" } },
      'templates.order.headers["a.b"]',
      /unknown generator/,
    ],
    [
      "nested header",
      { headers: { meta: { region: "{{nope}}" } } },
      "templates.order.headers.meta.region",
      /unknown generator/,
    ],
    [
      "timestamp text",
      { properties: { timestamp: "yesterday" } },
      "templates.order.properties.timestamp",
      /expected true \(the publish time\), epoch seconds, an ISO-8601 date or a placeholder/,
    ],
    [
      "timestamp in milliseconds",
      { properties: { timestamp: "{{now ms}}" } },
      "templates.order.properties.timestamp",
      /gives milliseconds, but the timestamp property is in seconds; use "\{\{now s\}\}"/,
    ],
    [
      "expiration text",
      { properties: { expiration: "soon" } },
      "templates.order.properties.expiration",
      /expected milliseconds, a duration like 60s, or a placeholder/,
    ],
  ];
  for (const [name, over, path, message] of cases) {
    it(name, async () => {
      const issues = await errorsOf(over);
      expect(issues).toEqual([{ path, message: expect.stringMatching(message) }]);
    });
  }

  it("collects every problem of a template, several in one string too", async () => {
    const issues = await errorsOf({
      routingKey: "{{x}}",
      body: { a: "{{int}}", b: "{{faker no.such}}", c: "{{y}} and {{z}}" },
      headers: { h: "{{env NOPE}}" },
      properties: { correlationId: "{{bool 3}}" },
    });
    expect(issues.map((i) => i.path).sort()).toEqual(
      [
        "templates.order.body.a",
        "templates.order.body.b",
        "templates.order.body.c",
        "templates.order.body.c",
        "templates.order.headers.h",
        "templates.order.properties.correlationId",
        "templates.order.routingKey",
      ].sort(),
    );
    expect(issues.filter((i) => i.path.endsWith(".c")).map((i) => i.message)).toEqual([
      expect.stringMatching(/^"\{\{y\}\}"/),
      expect.stringMatching(/^"\{\{z\}\}"/),
    ]);
  });

  it("the error names the template, every problem, and hints at the placeholders", async () => {
    let caught: unknown;
    try {
      await compileTemplate("order-created", template({ body: { a: "{{x}}", b: "{{y}}" } }), {
        env: {},
      });
    } catch (err) {
      caught = err;
    }
    const err = caught as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain("2 problems");
    expect(err.message).toContain('templates.order-created.body.a: "{{x}}": unknown generator');
    expect(err.hint).toMatch(/\{\{int 1 6\}\}.*\\\{\{ for a literal/);
  });
});

describe("the example config's templates", () => {
  it("all compile and render valid messages", async () => {
    const config = parseConfig(
      readFileSync("config/eventlab.example.yaml", "utf8"),
      "eventlab.example.yaml",
    );
    const names = Object.keys(config.templates);
    expect(names.length).toBeGreaterThan(0);
    for (const [name, t] of Object.entries(config.templates)) {
      const c = await compileTemplate(name, t, { seed: 1, env: {}, now: () => NOW });
      for (let i = 0; i < 5; i++) {
        const m = c.render();
        const text = m.content.toString();
        if (typeof t.body === "string") {
          expect(m.properties.contentType ?? "text/plain").toMatch(/^text\//);
        } else {
          expect(m.properties.contentType).toBe("application/json");
          expect(() => JSON.parse(text), `${name}: ${text}`).not.toThrow();
        }
        expect(text.includes("{{"), `${name} left a placeholder: ${text}`).toBe(false);
        expect(m.routingKey.includes("{{")).toBe(false);
      }
    }
  });

  it("order-created keeps numbers as numbers", async () => {
    const config = parseConfig(
      readFileSync("config/eventlab.example.yaml", "utf8"),
      "eventlab.example.yaml",
    );
    const t = config.templates["order-created"];
    expect(t).toBeDefined();
    const order = await compileTemplate("order-created", t!, { seed: 1, env: {}, now: () => NOW });
    const m = order.render();
    const body = JSON.parse(m.content.toString()) as {
      data: { order_id: unknown; quantity: unknown };
    };
    expect(body.data.order_id).toBe(1);
    expect(typeof body.data.quantity).toBe("number");
    expect(m.routingKey).toMatch(/^order\.created\.(eu|us|apac)$/);
    expect(m.properties.timestamp).toBe(NOW_S);
    expect(m.properties.messageId).toMatch(UUID_V4);
  });
});

describe("bodies go out byte for byte", () => {
  const render = async (body: TemplateConfig["body"] | Buffer, env: NodeJS.ProcessEnv = {}) => {
    const c = await compileTemplate("b", { ...template({}), body }, { env, now: () => NOW });
    return c.render();
  };

  it("JSON text without placeholders: exactly as written, labelled JSON", async () => {
    const text = '{"id": 12345678901234567890,\n  "x": 1.0, "big": 1e400, "s": "a\\u00e9"}  ';
    const m = await render(text);
    expect(m.content.toString()).toBe(text);
    expect(m.properties.contentType).toBe("application/json");
  });

  it("JSON text with placeholders: filled in place, escaped inside strings, JSON values outside", async () => {
    const env = { Q: 'say "hi"\n\\o/' };
    const m = await render(
      '{"id": 12345678901234567890, "n": {{seq}}, "s": "<{{env Q}}>", "v": {{env Q}}, "x": 1.0}',
      env,
    );
    const text = m.content.toString();
    expect(text).toBe(
      `{"id": 12345678901234567890, "n": 1, "s": "<say \\"hi\\"\\n\\\\o/>", "v": "say \\"hi\\"\\n\\\\o/", "x": 1.0}`,
    );
    expect(JSON.parse(text)).toMatchObject({ n: 1, s: `<${env.Q}>`, v: env.Q });
  });

  it("a string that only starts with a placeholder is text, not JSON", async () => {
    const m = await render("{{seq}} bottles");
    expect(m.content.toString()).toBe("1 bottles");
    expect(m.properties.contentType).toBe("text/plain");
  });

  it("raw bytes are sent as they are, with a content type from what they hold", async () => {
    const cases: Array<[Buffer, string]> = [
      [Buffer.from([0, 1, 2, 0xff, 0x7b, 0x7b]), "application/octet-stream"],
      [Buffer.from([0xc3, 0x28]), "application/octet-stream"],
      [Buffer.from('{"a": {{seq}}}'), "text/plain"],
      [Buffer.from(" [1, 2.0, 12345678901234567890]\n"), "application/json"],
      [Buffer.from("héllo\r\n\tworld"), "text/plain"],
      [Buffer.alloc(0), "text/plain"],
    ];
    for (const [bytes, type] of cases) {
      const m = await render(bytes);
      expect(m.content.equals(bytes)).toBe(true);
      expect(m.properties.contentType, bytes.toString("hex")).toBe(type);
    }
  });

  it("a problem in a long body is shown as a short excerpt, never the whole body", async () => {
    const body = `${"x".repeat(5000)}{{int 1}}${"y".repeat(5000)}{{ never closed ${"z".repeat(5000)}`;
    const err = await render(body).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues;
    expect(issues).toHaveLength(2);
    for (const i of issues) expect(i.message.length).toBeLessThan(200);
    expect(issues.map((i) => i.message).join("\n")).toMatch(
      /unterminated placeholder.*characters\)/,
    );
  });
});

describe("numbers in config bodies keep their literal text", () => {
  for (const [file, text] of [
    [
      "eventlab.config.yaml",
      'templates:\n  t:\n    routingKey: q\n    body:\n      id: 12345678901234567890\n      x: 1.0\n      e: 1e400\n      list: [2.50, -0.0, 7]\n      n: "{{seq}}"\n',
    ],
    [
      "eventlab.config.json",
      '{"templates": {"t": {"routingKey": "q", "body": {"id": 12345678901234567890, "x": 1.0, "e": 1e400, "list": [2.50, -0.0, 7], "n": "{{seq}}"}}}}',
    ],
  ] as const) {
    it(`in ${file}`, async () => {
      const config = parseConfig(text, file);
      const { t } = config.templates;
      const c = await compileTemplate("t", t!, { env: {}, now: () => NOW });
      expect(c.render().content.toString()).toBe(
        '{"id":12345678901234567890,"x":1.0,"e":1e400,"list":[2.50,-0.0,7],"n":1}',
      );
    });
  }
});

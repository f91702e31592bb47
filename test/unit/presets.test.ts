/**
 * The presets in config/presets/: each is a complete config that passes the schema, whose
 * templates compile, render and route somewhere, whose opening comment tells the truth, and
 * whose names do not collide with another preset's, so several can share one broker.
 */
import { access, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { listPresets, presetDescription } from "../../src/config/presets.js";
import type { Config, ScenarioConfig } from "../../src/config/schema.js";
import { compileTemplate } from "../../src/config/templates.js";
import { faultOf } from "../../src/lab/faults.js";
import { routingTableOf } from "../../src/lab/routing.js";
import { checkFault } from "../../src/lab/scenario.js";
import { PRESETS } from "../fixtures/presets.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const DIR = path.join(REPO, "config", "presets");
/** Presets whose `eventlab play <preset>` runs a scenario of the same name. */
const PLAYABLE = PRESETS;
/** How long a scenario's producers may take at default settings, so a demo ends well within 30 s. */
const PRODUCING_MS = 8000;
/** How many messages each template renders for the routing checks. */
const SAMPLES = 20;

async function load(name: string): Promise<{ text: string; config: Config }> {
  const text = await readFile(path.join(DIR, `${name}.yaml`), "utf8");
  return { text, config: parseConfig(text, `config/presets/${name}.yaml`) };
}

/** Render `n` messages of a template (seeded, so a failure can be replayed) and route them. */
async function routeSamples(config: Config, template: string, n = SAMPLES) {
  const table = routingTableOf(config.topology);
  const t = config.templates[template];
  if (!t) throw new Error(`no template ${template}`);
  const compiled = await compileTemplate(template, t, { seed: 7, env: {} });
  return Array.from({ length: n }, () => {
    const m = compiled.render();
    const routed = table.route(m.exchange, {
      routingKey: m.routingKey,
      headers: m.properties.headers,
    });
    return { message: m, queues: routed.queues };
  });
}

/**
 * What a "Try:" command names that the preset does not have, by verb: the templates of
 * `produce`, the exchange of `route`, the profile or queue of `consume`.
 */
const MISSING_NAMES = new Map<string, (names: string[], config: Config) => string[]>([
  ["produce", (names, config) => names.filter((t) => !(t in config.templates))],
  [
    "route",
    ([exchange], config) =>
      exchange !== undefined && exchange in config.topology.exchanges ? [] : [`${exchange}`],
  ],
  [
    "consume",
    ([target], config) =>
      target !== undefined && (target in config.consumers || target in config.topology.queues)
        ? []
        : [`${target}`],
  ],
]);

/**
 * How long (ms) a scenario's producer publishes, at its own pace or its template's;
 * undefined when the template does not exist.
 */
function producingMs(p: ScenarioConfig["producers"][number], config: Config): number | undefined {
  const t = config.templates[p.template];
  if (!t) return undefined;
  const amount = p.amount ?? t.amount;
  const rate = p.rate ?? (p.delay === undefined ? t.rate : undefined);
  const delay = p.delay ?? (p.rate === undefined ? t.delay : undefined);
  const interval = rate !== undefined ? 1000 / rate : (delay ?? 0);
  return (amount - 1) * interval;
}

/** The commands in the opening comment's "Try:" block. */
function tryCommands(text: string): string[] {
  const header: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("#")) break;
    header.push(line);
  }
  const at = header.findIndex((l) => /^#\s*Try:/.test(l));
  if (at < 0) return [];
  return header
    .slice(at + 1)
    .map((l) => l.replace(/^#\s*/, "").replace(/\s+#.*$/, ""))
    .filter((l) => l.startsWith("eventlab "));
}

describe("the presets", () => {
  it("are the seven in config/presets, each a .yaml file", async () => {
    const files = (await readdir(DIR)).sort();
    expect(files).toEqual(PRESETS.map((p) => `${p}.yaml`));
    const listed = await listPresets(REPO);
    expect(listed.map((p) => p.name)).toEqual(PRESETS);
  });

  it("no exchange or queue name is used by two presets, or by the example config", async () => {
    const owner = new Map<string, string>();
    const example = parseConfig(
      await readFile(path.join(REPO, "config", "eventlab.example.yaml"), "utf8"),
      "eventlab.example.yaml",
    );
    const sources: Array<[string, Config]> = [["example", example]];
    for (const name of PRESETS) sources.push([name, (await load(name)).config]);
    const clashes: string[] = [];
    for (const [who, config] of sources) {
      const names = [
        ...Object.keys(config.topology.exchanges).map((n) => `exchange ${n}`),
        ...Object.keys(config.topology.queues).map((n) => `queue ${n}`),
      ];
      for (const n of names) {
        const before = owner.get(n);
        if (before !== undefined) clashes.push(`${n}: ${before} and ${who}`);
        owner.set(n, who);
      }
    }
    expect(clashes).toEqual([]);
  });
});

describe.each(PRESETS)("preset %s", (name) => {
  it("passes the config schema and has every section", async () => {
    const { config } = await load(name);
    expect(Object.keys(config.topology.exchanges).length).toBeGreaterThan(0);
    expect(Object.keys(config.topology.queues).length).toBeGreaterThan(0);
    expect(config.topology.bindings.length).toBeGreaterThan(0);
    expect(Object.keys(config.templates).length).toBeGreaterThan(0);
    expect(Object.keys(config.consumers).length).toBeGreaterThan(0);
    for (const [t, template] of Object.entries(config.templates)) {
      expect(template.amount, `${t}.amount`).toBeGreaterThan(0);
      expect(
        template.delay !== undefined || template.rate !== undefined,
        `${t}: delay or rate`,
      ).toBe(true);
      expect(template.description, `${t}.description`).toBeTruthy();
    }
  });

  it("opens with the schema line, a one-line description and the commands to try", async () => {
    const { text } = await load(name);
    const [first] = text.split("\n");
    expect(first).toBe("# yaml-language-server: $schema=../eventlab.schema.json");
    await expect(access(path.join(DIR, "../eventlab.schema.json"))).resolves.toBeUndefined();
    const description = presetDescription(text);
    expect(description).toMatch(/^[A-Z].*\.$/);
    // `eventlab init --list` prints name and description in 80 columns.
    expect(Math.max(...PRESETS.map((p) => p.length)) + 2 + description.length).toBeLessThanOrEqual(
      80,
    );
    expect(tryCommands(text)).toContain(`eventlab init --preset ${name}`);
    expect(tryCommands(text)).toContain("eventlab topology apply");
  });

  it("the commands in its comment name templates, profiles and queues it has", async () => {
    const { text, config } = await load(name);
    const commands = tryCommands(text);
    const problems = commands.flatMap((command) => {
      const [, verb = "", ...args] = command.split(/\s+/);
      const names = args.filter((a) => !a.startsWith("-") && !/^\d+$/.test(a));
      const missing = MISSING_NAMES.get(verb)?.(names, config) ?? [];
      return missing.map((n) => `${command}: ${n}`);
    });
    expect(problems).toEqual([]);
    const verbs = commands.map((c) => c.split(/\s+/)[1]);
    expect(verbs).toContain("produce");
    expect(verbs).toContain("consume");
  });

  it("its bindings, dead-letter exchanges and consumers name what it declares", async () => {
    const { config } = await load(name);
    const { exchanges, queues, bindings } = config.topology;
    const problems: string[] = [];
    for (const b of bindings) {
      if (!(b.source in exchanges)) problems.push(`binding source ${b.source}`);
      const declared = b.destinationType === "queue" ? queues : exchanges;
      if (!(b.destination in declared)) problems.push(`binding destination ${b.destination}`);
    }
    for (const [q, queue] of Object.entries(queues)) {
      const dlx = queue.deadLetterExchange;
      if (dlx !== undefined && dlx !== "" && !(dlx in exchanges))
        problems.push(`${q}.deadLetterExchange ${dlx}`);
    }
    for (const [c, consumer] of Object.entries(config.consumers)) {
      if (consumer.queue !== undefined && !(consumer.queue in queues))
        problems.push(`consumer ${c}: queue ${consumer.queue}`);
      if (consumer.exchange !== undefined && !(consumer.exchange in exchanges))
        problems.push(`consumer ${c}: exchange ${consumer.exchange}`);
    }
    expect(problems).toEqual([]);
  });

  it("every template compiles and renders, to an exchange that exists", async () => {
    const { config } = await load(name);
    for (const [t, template] of Object.entries(config.templates)) {
      const compiled = await compileTemplate(t, template, { env: {} });
      expect(compiled.amount).toBe(template.amount);
      const m = compiled.render();
      expect(m.content.length, `${t} renders a body`).toBeGreaterThan(0);
      if (typeof template.body !== "string")
        expect(() => JSON.parse(String(m.content))).not.toThrow();
      const exchange = m.exchange;
      const known =
        exchange === "" || exchange.startsWith("amq.") || exchange in config.topology.exchanges;
      expect(known, `${t}: exchange ${JSON.stringify(exchange)}`).toBe(true);
      expect(config.topology.exchanges[exchange]?.internal ?? false, `${t}: internal`).toBe(false);
    }
  });

  it(`every template routes to a queue (${SAMPLES} messages each)`, async () => {
    const { config } = await load(name);
    for (const t of Object.keys(config.templates)) {
      const samples = await routeSamples(config, t);
      const routed = samples.filter((s) => s.queues.length > 0).length;
      expect(routed, `${name}/${t}: routed of ${SAMPLES}`).toBeGreaterThan(0);
      // Only headers-routing's incident template leaves some unroutable, on purpose (below).
      if (!(name === "headers-routing" && t === "incident")) {
        expect(routed, `${name}/${t}: every message routes`).toBe(SAMPLES);
      }
    }
  });
});

describe("what each preset routes where", () => {
  it("soccer: each event reaches its own queue, and the commentary gets all of them", async () => {
    const { config } = await load("soccer");
    const expected: Record<string, string[]> = {
      goal: ["soccer.goals", "soccer.commentary"],
      card: ["soccer.cards", "soccer.commentary"],
      substitution: ["soccer.substitutions", "soccer.commentary"],
      whistle: ["soccer.commentary"],
    };
    expect(Object.keys(config.templates).sort()).toEqual(Object.keys(expected).sort());
    for (const [t, queues] of Object.entries(expected)) {
      for (const s of await routeSamples(config, t, 5))
        expect(s.queues.sort()).toEqual(queues.sort());
    }
  });

  it("orders: by event and region, with a copy of everything in the audit log", async () => {
    const { config } = await load("orders");
    const table = routingTableOf(config.topology);
    const route = (key: string) => table.route("shop.orders", { routingKey: key, headers: {} });
    expect(route("order.created.eu").queues.sort()).toEqual(
      ["shop.audit.log", "shop.inventory", "shop.notifications", "shop.orders.eu"].sort(),
    );
    expect(route("order.created.us").queues.sort()).toEqual([
      "shop.audit.log",
      "shop.inventory",
      "shop.notifications",
    ]);
    expect(route("order.paid.apac").queues.sort()).toEqual([
      "shop.audit.log",
      "shop.billing",
      "shop.notifications",
      "shop.shipping",
    ]);
    expect(route("order.cancelled.us").queues.sort()).toEqual([
      "shop.audit.log",
      "shop.inventory",
      "shop.notifications",
    ]);
    // The audit copy goes through the internal exchange: an exchange-to-exchange binding.
    expect(route("order.shipped.us")).toMatchObject({
      queues: ["shop.notifications", "shop.audit.log"],
      exchanges: ["shop.orders", "shop.audit"],
    });
    // What inventory rejects is dead-lettered to shop.inventory.dead.
    const inventory = config.topology.queues["shop.inventory"];
    expect(inventory?.deadLetterExchange).toBe("shop.dlx");
    const dead = table.route(inventory?.deadLetterExchange ?? "", {
      routingKey: inventory?.deadLetterRoutingKey ?? "order.created.eu",
      headers: {},
    });
    expect(dead.queues).toEqual(["shop.inventory.dead"]);
    // The templates publish every region.
    const keys = new Set(
      (await routeSamples(config, "order-created", 60)).map((s) => s.message.routingKey),
    );
    expect([...keys].sort()).toEqual([
      "order.created.apac",
      "order.created.eu",
      "order.created.us",
    ]);
  });

  it("notifications: every message is copied to email, sms and push, whatever its key", async () => {
    const { config } = await load("notifications");
    expect(config.topology.exchanges["notifications"]?.type).toBe("fanout");
    for (const t of Object.keys(config.templates)) {
      for (const s of await routeSamples(config, t, 10)) {
        expect(s.queues.sort()).toEqual([
          "notifications.email",
          "notifications.push",
          "notifications.sms",
        ]);
      }
    }
  });

  it("headers-routing: all and any bindings; some incidents are unroutable on purpose", async () => {
    const { config } = await load("headers-routing");
    const modes = config.topology.bindings.map((b) => b.match);
    expect(modes).toContain("all");
    expect(modes).toContain("any");

    const samples = await routeSamples(config, "incident", 60);
    const unroutable = samples.filter((s) => s.queues.length === 0);
    expect(unroutable.length).toBeGreaterThan(0);
    expect(unroutable.length).toBeLessThan(samples.length);
    // Unroutable means: not EU, not critical, not escalated, and not a US high one.
    for (const { message } of unroutable) {
      const h = message.properties.headers;
      expect(h["region"]).not.toBe("eu");
      expect(h["priority"]).not.toBe("critical");
      expect(h["escalate"]).toBe(false);
      expect(h["region"] === "us" && h["priority"] === "high").toBe(false);
    }
    // Each routed message reaches exactly the queues its headers select.
    for (const { message, queues } of samples) {
      const h = message.properties.headers;
      const expected = [
        h["region"] === "eu" && "incidents.eu",
        h["region"] === "eu" && h["priority"] === "high" && "incidents.eu-high",
        h["region"] === "us" && h["priority"] === "high" && "incidents.us-high",
        (h["priority"] === "critical" || h["escalate"] === true) && "incidents.pager",
      ].filter((q): q is string => typeof q === "string");
      expect(queues.sort()).toEqual(expected.sort());
    }

    const [one] = await routeSamples(config, "eu-escalation", 1);
    expect(one?.queues.sort()).toEqual(["incidents.eu", "incidents.eu-high", "incidents.pager"]);
    // Types count: the text "true" does not match the boolean the binding asks for.
    const table = routingTableOf(config.topology);
    const text = table.route("incidents", {
      routingKey: "",
      headers: { region: "apac", priority: "low", escalate: "true" },
    });
    expect(text.queues).toEqual([]);
  });

  it("retries: rejected twice with a delay each time, then parked", async () => {
    const { config } = await load("retries");
    const table = routingTableOf(config.topology);
    const { queues } = config.topology;
    // Follow a message: rejected in a work queue or expired in a retry queue, it goes to the
    // queue's dead-letter exchange, with its dead-letter routing key if it has one.
    const deadLetter = (queue: string, routingKey: string) => {
      const q = queues[queue];
      if (q?.deadLetterExchange === undefined) return { queue: undefined, routingKey };
      const key = q.deadLetterRoutingKey ?? routingKey;
      const [next, ...more] = table.route(q.deadLetterExchange, {
        routingKey: key,
        headers: {},
      }).queues;
      expect(more).toEqual([]);
      return { queue: next, routingKey: key };
    };
    const [first] = await routeSamples(config, "job", 1);
    expect(first?.queues).toEqual(["jobs.work"]);
    let at = { queue: first?.queues[0], routingKey: first?.message.routingKey ?? "" };
    const path: string[] = [at.queue ?? "?"];
    for (let hop = 0; hop < 10 && at.queue !== undefined; hop++) {
      at = deadLetter(at.queue, at.routingKey);
      if (at.queue !== undefined) path.push(at.queue);
    }
    expect(path).toEqual([
      "jobs.work",
      "jobs.retry.1s",
      "jobs.work",
      "jobs.retry.5s",
      "jobs.work",
      "jobs.parking-lot",
    ]);
    // The retry queues wait (x-message-ttl), longer each time; the parking lot keeps its messages.
    expect(queues["jobs.retry.1s"]?.messageTtl).toBe(1000);
    expect(queues["jobs.retry.5s"]?.messageTtl).toBe(5000);
    expect(queues["jobs.parking-lot"]?.deadLetterExchange).toBeUndefined();
    expect(queues["jobs.parking-lot"]?.messageTtl).toBeUndefined();
    // The failing worker's wait outlasts the longest retry, so it sees every attempt.
    expect(config.consumers["failing-worker"]).toMatchObject({
      queue: "jobs.work",
      policy: "reject",
    });
    expect(config.consumers["failing-worker"]?.idleTimeout ?? 0).toBeGreaterThan(5000);
  });
});

describe.each(PLAYABLE)("preset %s as a playground scenario", (name) => {
  it("has a scenario of its name: `eventlab play <name>` runs it", async () => {
    const { text, config } = await load(name);
    expect(Object.keys(config.scenarios)).toContain(name);
    expect(config.scenarios[name]?.description).toBeTruthy();
    // Its opening comment says how to play it.
    expect(tryCommands(text).some((c) => c.startsWith(`eventlab play ${name}`))).toBe(true);
  });

  it("its scenarios name templates, queue-reading profiles and their own consumers", async () => {
    const { config } = await load(name);
    const problems: string[] = [];
    for (const [s, scenario] of Object.entries(config.scenarios)) {
      for (const p of scenario.producers) {
        if (!(p.template in config.templates)) problems.push(`${s}: template ${p.template}`);
      }
      expect(scenario.consumers.length, `${s}: consumers`).toBeGreaterThan(0);
      for (const c of scenario.consumers) {
        const profile = config.consumers[c];
        if (profile === undefined) problems.push(`${s}: consumer ${c}`);
        else if (profile.queue === undefined) problems.push(`${s}: consumer ${c} taps, no queue`);
      }
      for (const f of scenario.faults) {
        try {
          checkFault(s, scenario, faultOf(f));
        } catch (err) {
          problems.push(`${s}: ${(err as Error).message}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("finishes by itself well within 30 s: short producers, a duration only as a bound", async () => {
    const { config } = await load(name);
    for (const [s, scenario] of Object.entries(config.scenarios)) {
      for (const p of scenario.producers) {
        const ms = producingMs(p, config);
        if (ms === undefined) continue;
        expect(ms, `${s}/${p.template}: ms of producing`).toBeLessThanOrEqual(PRODUCING_MS);
      }
      const retries = scenario.consumers.flatMap((c) => config.consumers[c]?.retry?.delays ?? []);
      expect(
        retries.reduce((a, b) => a + b, 0),
        `${s}: retry delays`,
      ).toBeLessThanOrEqual(5000);
      for (const f of scenario.faults) expect(f.at ?? 0).toBeLessThan(PRODUCING_MS);
      if (scenario.duration !== undefined) expect(scenario.duration).toBeLessThanOrEqual(30_000);
    }
  });

  it("every copy it publishes reaches a queue one of its consumers reads, or nowhere", async () => {
    const { config } = await load(name);
    const scenario = config.scenarios[name];
    if (!scenario) throw new Error(`no scenario ${name}`);
    const read = new Set(scenario.consumers.map((c) => config.consumers[c]?.queue));
    for (const p of scenario.producers) {
      for (const s of await routeSamples(config, p.template)) {
        // Copies to queues nobody reads are reported as unconsumed; only orders has them.
        const unread = s.queues.filter((q) => !read.has(q));
        if (name === "orders")
          expect(unread.every((q) => /^shop\.(audit\.log|orders\.eu)$/.test(q))).toBe(true);
        else expect(unread, `${p.template}`).toEqual([]);
      }
    }
  });
});

describe("what the playground presets show", () => {
  it("orders: a flaky shipping service retries through two delays into a parking queue", async () => {
    const { config } = await load("orders");
    const scenario = config.scenarios["orders"];
    expect(scenario?.consumers).toEqual(
      expect.arrayContaining(["inventory-worker", "shipping-service", "notification-service"]),
    );
    expect(config.consumers["shipping-service"]).toMatchObject({
      queue: "shop.shipping",
      onFailure: "retry",
      retry: { delays: [500, 1000], deadLetterQueue: "shop.shipping.parked" },
    });
    expect(config.consumers["shipping-service"]?.failures?.rate ?? 0).toBeGreaterThan(0);
    expect(scenario?.faults).toEqual([
      { at: 3000, consumer: "notification-service", action: "cut" },
    ]);
    // The parking queue and the retry queues are the runner's, not the topology's.
    expect(
      Object.keys(config.topology.queues).filter((q) => q.startsWith("shop.shipping")),
    ).toEqual(["shop.shipping"]);
  });

  it("work-queue: four competing workers with prefetch 1 on one queue", async () => {
    const { config } = await load("work-queue");
    const scenario = config.scenarios["work-queue"];
    expect(scenario?.consumers).toEqual(["worker-1", "worker-2", "worker-3", "worker-4"]);
    for (const w of scenario?.consumers ?? []) {
      expect(config.consumers[w]).toMatchObject({ queue: "work.queue", prefetch: 1 });
      expect(config.consumers[w]?.workTime).toEqual({ minMs: 20, maxMs: 60 });
    }
    expect(config.consumers["workers"]).toMatchObject({ queue: "work.queue", concurrency: 4 });
    for (const s of await routeSamples(config, "job", 40)) expect(s.queues).toEqual(["work.queue"]);
  });

  it("duplicates-and-ordering: re-sent ids repeat, a second writer's versions lag", async () => {
    const { config } = await load("duplicates-and-ordering");
    const keeper = config.consumers["stock-keeper"];
    expect(keeper).toMatchObject({
      queue: "stock.levels",
      dedupe: "messageId",
      ordering: { key: "body.sku", sequence: "body.version" },
    });
    const body = (m: { content: Buffer | string }) =>
      JSON.parse(String(m.content)) as { sku: string; version: number };
    const updates = await routeSamples(config, "stock-update", 60);
    const resends = await routeSamples(config, "stock-update-resend", 10);
    const legacy = await routeSamples(config, "stock-update-legacy", 8);
    const ids = new Set(updates.map((s) => s.message.properties.messageId));
    expect(ids.size).toBe(60);
    // Every re-sent id is one the warehouse sent: 10 duplicates, whatever arrives first.
    for (const s of resends) expect(ids.has(s.message.properties.messageId)).toBe(true);
    // The legacy writer's ids are new, its versions far behind: out of order, not duplicates.
    for (const s of legacy) {
      expect(ids.has(s.message.properties.messageId)).toBe(false);
      expect(body(s.message).sku).toBe("sku-1");
    }
    expect(updates.map((s) => body(s.message).version)).toEqual(
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
  });
});

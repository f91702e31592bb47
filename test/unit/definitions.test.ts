/**
 * RabbitMQ definitions.json ⇄ eventlab topology: export, import (from a real
 * `rabbitmqctl export_definitions` file), merging into an existing config, and the errors
 * a bad file gives.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bindingArguments, queueArguments } from "../../src/client/topology.js";
import { fromDefinitions, toDefinitions } from "../../src/config/definitions.js";
import { parseDefinitions } from "../../src/config/definitions-file.js";
import { parseConfig } from "../../src/config/load.js";
import { topologySchema } from "../../src/config/schema.js";
import { mergeTopology } from "../../src/config/topology-merge.js";
import { runCli } from "../helpers/cli.js";

const fixtures = path.resolve(__dirname, "../fixtures");
const realExport = path.join(fixtures, "definitions/rabbitmq-3.10-export.json");
const exampleConfig = path.resolve(__dirname, "../../config/eventlab.example.yaml");
const showFixture = path.join(fixtures, "topology/topology.yaml");

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "eventlab-defs-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function topologyOf(file: string) {
  return parseConfig(await readFile(file, "utf8"), path.basename(file)).topology;
}

describe("export", () => {
  it("writes RabbitMQ's format with the x- arguments apply declares", async () => {
    const r = await runCli(["--config", exampleConfig, "topology", "export"]);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(Object.keys(d)).toEqual(["vhosts", "exchanges", "queues", "bindings"]);
    expect(d.vhosts).toEqual([{ name: "/" }]);
    expect(d.exchanges).toContainEqual({
      name: "orders",
      vhost: "/",
      type: "topic",
      durable: true,
      auto_delete: false,
      internal: false,
      arguments: { "alternate-exchange": "orders.unrouted" },
    });
    const t = await topologyOf(exampleConfig);
    const { inventory: declared } = t.queues;
    const inventory = d.queues.find((q: { name: string }) => q.name === "inventory");
    expect(inventory).toEqual({
      name: "inventory",
      vhost: "/",
      durable: true,
      auto_delete: false,
      arguments: queueArguments(declared!),
    });
    expect(inventory.arguments).toMatchObject({
      "x-dead-letter-exchange": "orders.dlx",
      "x-max-priority": 10,
    });
    expect(d.bindings).toContainEqual({
      source: "alerts",
      vhost: "/",
      destination: "eu-high",
      destination_type: "queue",
      routing_key: "",
      arguments: { region: "eu", priority: "high", "x-match": "all" },
    });
    expect(d.bindings).toContainEqual(
      expect.objectContaining({
        destination: "orders.audit",
        destination_type: "exchange",
        routing_key: "#",
      }),
    );
    expect(d.bindings.map((b: { arguments: unknown }) => b.arguments)).toEqual(
      t.bindings.map(bindingArguments),
    );
  });

  it("--out writes the file; --vhost names the vhost; exclusive queues are left out with a note", async () => {
    const cfg = path.join(dir, "eventlab.config.yaml");
    await writeFile(cfg, "topology:\n  queues:\n    mine: { exclusive: true }\n    shared: {}\n");
    const r = await runCli(["topology", "export", "--out", "defs.json", "--vhost", "lab"], {
      cwd: dir,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/note: queue mine is exclusive/);
    expect(r.stderr).toMatch(/✓ wrote 0 exchanges, 1 queue and 0 bindings to defs.json/);
    const d = JSON.parse(await readFile(path.join(dir, "defs.json"), "utf8"));
    expect(d.vhosts).toEqual([{ name: "lab" }]);
    expect(d.queues).toEqual([
      { name: "shared", vhost: "lab", durable: true, auto_delete: false, arguments: {} },
    ]);
  });
});

describe("round trip: export → import gives the same topology", () => {
  for (const [name, file] of [
    ["the example config", exampleConfig],
    ["the show fixture", showFixture],
  ] as const) {
    it(name, async () => {
      const exported = await runCli(["--config", file, "topology", "export"]);
      expect(exported.code).toBe(0);
      await writeFile(path.join(dir, "defs.json"), exported.stdout);
      const imported = await runCli(["topology", "import", "defs.json", "--out", "new.yaml"], {
        cwd: dir,
      });
      expect(imported.stderr.replace(/note: .*x-delivery-limit.*\n/, "")).toBe("");
      expect(imported.code).toBe(0);
      expect(await topologyOf(path.join(dir, "new.yaml"))).toEqual(await topologyOf(file));
    });
  }

  it("in memory too, for every field", () => {
    const t = topologySchema.parse({
      exchanges: {
        a: {
          type: "headers",
          durable: false,
          autoDelete: true,
          internal: true,
          arguments: { "x-foo": 1 },
        },
        b: { type: "topic", alternateExchange: "a" },
      },
      queues: {
        q: {
          durable: false,
          autoDelete: true,
          messageTtl: 1500,
          expires: 60_000,
          maxLength: 3,
          maxLengthBytes: 1024,
          overflow: "reject-publish-dlx",
          deadLetterExchange: "",
          deadLetterRoutingKey: "dead",
          maxPriority: 9,
          queueType: "classic",
          arguments: { "x-single-active-consumer": true },
        },
      },
      bindings: [
        { source: "a", destination: "q", match: "any-with-x", headers: { "x-kind": "k", n: 5 } },
        { source: "a", destination: "q", headers: { region: "eu" } },
        {
          source: "b",
          destination: "a",
          destinationType: "exchange",
          routingKey: "x.#",
          arguments: { "x-note": "n" },
        },
      ],
    });
    const back = fromDefinitions(toDefinitions(t).definitions).topology;
    expect(topologySchema.parse(back)).toEqual(t);
  });
});

describe("import of a real `rabbitmqctl export_definitions` file (RabbitMQ 3.10)", () => {
  it("takes the topology of vhost /, skips the broker's own objects and other vhosts, and says so", () => {
    const { topology, notes } = fromDefinitions(
      parseDefinitions(require("node:fs").readFileSync(realExport, "utf8"), "export.json"),
    );
    const t = topologySchema.parse(topology);
    expect(Object.keys(t.exchanges).sort()).toEqual([
      "defs-fixture.alerts",
      "defs-fixture.orders",
      "defs-fixture.orders.dlx",
      "defs-fixture.orders.unrouted",
    ]);
    expect(t.exchanges["defs-fixture.orders"]).toMatchObject({
      type: "topic",
      alternateExchange: "defs-fixture.orders.unrouted",
      arguments: {},
    });
    expect(t.exchanges["defs-fixture.alerts"]).toMatchObject({
      type: "headers",
      durable: false,
      autoDelete: true,
    });
    expect(t.queues["defs-fixture.inventory"]).toEqual({
      durable: true,
      exclusive: false,
      autoDelete: false,
      deadLetterExchange: "defs-fixture.orders.dlx",
      deadLetterRoutingKey: "inventory",
      maxLengthBytes: 10485760,
      maxPriority: 10,
      arguments: { "x-queue-mode": "lazy" },
    });
    expect(t.queues["defs-fixture.cards"]).toMatchObject({
      messageTtl: 3_600_000,
      maxLength: 1000,
      overflow: "drop-head",
    });
    expect(t.queues["defs-fixture.work"]).toMatchObject({
      queueType: "quorum",
      arguments: { "x-delivery-limit": 5 },
    });
    expect(t.queues["elsewhere.q"]).toBeUndefined();
    expect(t.bindings).toContainEqual({
      source: "defs-fixture.alerts",
      destination: "defs-fixture.eu-high",
      destinationType: "queue",
      routingKey: "",
      match: "all",
      headers: { priority: 5, region: "eu" },
      arguments: {},
    });
    expect(t.bindings).toContainEqual(
      expect.objectContaining({
        source: "amq.topic",
        destination: "defs-fixture.work",
        routingKey: "work.#",
      }),
    );
    expect(t.bindings).toContainEqual(
      expect.objectContaining({
        source: "defs-fixture.orders",
        destination: "defs-fixture.orders.audit",
        destinationType: "exchange",
      }),
    );
    expect(notes).toContain(
      "queue defs-fixture.inventory: x-queue-mode has no eventlab field, passed through as arguments",
    );
    expect(notes).toContain(
      "queue defs-fixture.work: x-delivery-limit has no eventlab field, passed through as arguments",
    );
    expect(notes).toContain(
      '2 objects of vhost "eventlab-fixture-other" skipped (importing vhost "/")',
    );
  });

  it("--vhost picks another vhost", () => {
    const d = parseDefinitions(require("node:fs").readFileSync(realExport, "utf8"), "export.json");
    const { topology } = fromDefinitions(d, "eventlab-fixture-other");
    expect(Object.keys(topology.exchanges)).toEqual(["elsewhere"]);
    expect(Object.keys(topology.queues)).toEqual(["elsewhere.q"]);
  });

  it("creates eventlab.config.yaml when there is none, and it loads", async () => {
    const r = await runCli(["topology", "import", realExport], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      "✓ created eventlab.config.yaml: 13 added (4 exchanges, 4 queues, 5 bindings)\n",
    );
    expect(r.stderr).toMatch(/note: 2 objects of vhost "eventlab-fixture-other" skipped/);
    const text = await readFile(path.join(dir, "eventlab.config.yaml"), "utf8");
    expect(text).toMatch(
      /^# eventlab config: topology imported by `eventlab topology import rabbitmq-3.10-export.json`\n/,
    );
    expect(text).not.toMatch(/password|REDACTED|guest/);
    expect(text).toContain("messageTtl: 1h\n");
    const shown = await runCli(["topology", "show"], { cwd: dir });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(
      "defs-fixture.orders  topic, durable, alternate-exchange → defs-fixture.orders.unrouted",
    );
  });

  it("--json reports what was added and noted", async () => {
    const r = await runCli(["topology", "import", realExport, "--json", "--dry-run"], { cwd: dir });
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o).toMatchObject({
      file: "eventlab.config.yaml",
      created: true,
      changed: true,
      written: false,
      counts: {
        added: { exchanges: 4, queues: 4, bindings: 5 },
        replaced: { exchanges: 0, queues: 0, bindings: 0 },
        unchanged: { exchanges: 0, queues: 0, bindings: 0 },
      },
    });
    expect(o.objects).toContainEqual({ kind: "queue", name: "defs-fixture.work", status: "added" });
    expect(o.objects).toContainEqual({
      kind: "binding",
      name: "amq.topic → defs-fixture.work (work.#)",
      status: "added",
    });
    expect(o.notes.length).toBeGreaterThan(0);
    await expect(readFile(path.join(dir, "eventlab.config.yaml"))).rejects.toThrow();
  });
});

describe("import into an existing config", () => {
  const existing = `# my lab
broker:
  url: amqp://guest:guest@127.0.0.1:5672 # the local one

topology:
  exchanges:
    orders: # keep an eye on this one
      type: direct
    mine:
      type: fanout # mine, not imported
  queues: {}
  bindings:
    - source: mine
      destination: inventory

# templates stay
templates:
  hello:
    exchange: orders
    routingKey: order.created
    body: { id: "{{uuid}}" }
`;
  const defs = {
    exchanges: [
      {
        name: "orders",
        vhost: "/",
        type: "topic",
        durable: true,
        auto_delete: false,
        internal: false,
        arguments: {},
      },
      {
        name: "amq.direct",
        vhost: "/",
        type: "direct",
        durable: true,
        auto_delete: false,
        internal: false,
        arguments: {},
      },
      {
        name: "",
        vhost: "/",
        type: "direct",
        durable: true,
        auto_delete: false,
        internal: false,
        arguments: {},
      },
    ],
    queues: [{ name: "inventory", vhost: "/", durable: true, auto_delete: false, arguments: {} }],
    bindings: [
      {
        source: "mine",
        vhost: "/",
        destination: "inventory",
        destination_type: "queue",
        routing_key: "",
        arguments: {},
      },
      {
        source: "orders",
        vhost: "/",
        destination: "inventory",
        destination_type: "queue",
        routing_key: "order.*",
        arguments: {},
      },
    ],
  };

  it("replaces same-named objects (and says so), keeps the rest, comments included", async () => {
    await writeFile(path.join(dir, "eventlab.config.yaml"), existing);
    await writeFile(path.join(dir, "defs.json"), JSON.stringify(defs));
    const r = await runCli(["topology", "import", "defs.json"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "✓ updated eventlab.config.yaml: 2 added (1 queue, 1 binding), 1 replaced (1 exchange), 1 unchanged (1 binding)",
        "! replaced exchange orders: type direct → topic",
        "  (same name, other settings: the definitions file's settings replace the config's)",
        "",
      ].join("\n"),
    );
    const text = await readFile(path.join(dir, "eventlab.config.yaml"), "utf8");
    for (const kept of [
      "# my lab",
      "# the local one",
      "# mine, not imported",
      "# templates stay",
      "hello:",
    ])
      expect(text).toContain(kept);
    const c = parseConfig(text, "eventlab.config.yaml");
    expect(c.topology.exchanges).toHaveProperty("orders.type", "topic");
    expect(c.topology.exchanges).toHaveProperty("mine.type", "fanout");
    expect(Object.keys(c.topology.exchanges)).not.toContain("amq.direct");
    expect(c.topology.queues).toHaveProperty("inventory");
    expect(c.topology.bindings).toHaveLength(2);
    expect(c.templates).toHaveProperty("hello.routingKey", "order.created");
  });

  it("merges into a JSON config, and --out picks the file", async () => {
    await writeFile(
      path.join(dir, "lab.json"),
      JSON.stringify({ templates: { t: { exchange: "orders" } } }),
    );
    await writeFile(path.join(dir, "defs.json"), JSON.stringify(defs));
    const r = await runCli(["topology", "import", "defs.json", "--out", "lab.json"], { cwd: dir });
    expect(r.code).toBe(0);
    const c = parseConfig(await readFile(path.join(dir, "lab.json"), "utf8"), "lab.json");
    expect(c.templates).toHaveProperty("t.exchange", "orders");
    expect(Object.keys(c.topology.exchanges)).toEqual(["orders"]);
    expect(c.topology.bindings).toHaveLength(2);
  });

  it("refuses to merge into a config that does not load, and writes nothing", async () => {
    const bad = "topology:\n  queues:\n    q: { maxLength: -1 }\n";
    await writeFile(path.join(dir, "eventlab.config.yaml"), bad);
    await writeFile(path.join(dir, "defs.json"), JSON.stringify(defs));
    const r = await runCli(["topology", "import", "defs.json"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /error: invalid config: eventlab.config.yaml:3 topology.queues.q.maxLength/,
    );
    expect(await readFile(path.join(dir, "eventlab.config.yaml"), "utf8")).toBe(bad);
  });

  it("mergeTopology adds to an empty or missing topology section", () => {
    const r = mergeTopology(
      "templates: {}\n",
      false,
      { exchanges: { x: { type: "fanout" } }, queues: {}, bindings: [] },
      "h",
    );
    expect(parseConfig(r.text, "c.yaml").topology.exchanges).toHaveProperty("x.type", "fanout");
    const r2 = mergeTopology(
      "topology:\n",
      false,
      { exchanges: {}, queues: { q: {} }, bindings: [{ source: "a", destination: "q" }] },
      "h",
    );
    expect(parseConfig(r2.text, "c.yaml").topology.bindings).toHaveLength(1);
    expect(r2.objects).toEqual([
      { kind: "queue", name: "q", status: "added" },
      { kind: "binding", name: "a → q", status: "added" },
    ]);
    expect(r2.counts.added).toEqual({ exchanges: 0, queues: 1, bindings: 1 });
  });
});

describe("a bad definitions file: a clear error naming the file, no stack trace", () => {
  const cases: Array<[string, string, RegExp]> = [
    [
      "invalid JSON",
      '{\n  "exchanges": [\n    { "name": "x", }\n  ]\n}',
      /error: bad.json is not valid JSON: .* at line 3, column \d+/,
    ],
    [
      "truncated JSON",
      '{"exchanges": [',
      /error: bad.json is not valid JSON: the file ends too early/,
    ],
    ["an empty file", "", /error: bad.json is empty, not a definitions file/],
    ["a list", "[1, 2]", /error: bad.json is not a RabbitMQ definitions file: .*got a list/],
    [
      "another JSON file",
      '{"name": "pkg", "version": "1.0.0"}',
      /error: bad.json is not a RabbitMQ definitions file: .*an object with name, version/,
    ],
    [
      "wrong field types",
      '{"exchanges": [{"name": 5, "vhost": "/", "type": "topic"}], "queues": {"a": 1}, "bindings": [{"source": "x", "destination": "q", "destination_type": "topic"}]}',
      /error: bad.json is not a valid definitions file \(3 problems\):\n {2}exchanges\[0\]\.name: expected a name \(text\), got number 5\n {2}queues: expected a list, got an object\n {2}bindings\[0\]\.destination_type: expected "queue" or "exchange", got string "topic"/,
    ],
  ];
  for (const [what, text, message] of cases) {
    it(what, async () => {
      await writeFile(path.join(dir, "bad.json"), text);
      const r = await runCli(["topology", "import", "bad.json"], { cwd: dir });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/\nhint: /);
      expect(r.stderr).not.toMatch(/ at .*\.ts:\d+/);
    });
  }

  it("a missing file", async () => {
    const r = await runCli(["topology", "import", "nope.json"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: definitions file nope.json not found\nhint: check the path/);
  });

  it("nothing to import for the vhost: says which vhosts there are", async () => {
    await writeFile(
      path.join(dir, "d.json"),
      JSON.stringify({
        vhosts: [{ name: "/" }, { name: "lab" }],
        exchanges: [{ name: "x", vhost: "lab", type: "topic" }],
        queues: [],
        bindings: [],
      }),
    );
    const r = await runCli(["topology", "import", "d.json"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /error: d.json holds no exchanges, queues or bindings of vhost "\/" to import/,
    );
    expect(r.stderr).toMatch(/hint: it also defines vhost "lab": pick one with --vhost/);
  });

  it("reads standard input with -", async () => {
    const r = await runCli(["topology", "import", "-", "--dry-run"], {
      cwd: dir,
      stdin: JSON.stringify({
        queues: [{ name: "q", vhost: "/", durable: false, auto_delete: false, arguments: {} }],
      }),
    });
    expect(r.code).toBe(0);
    expect(parseConfig(r.stdout, "x.yaml").topology.queues).toHaveProperty("q.durable", false);
  });
});

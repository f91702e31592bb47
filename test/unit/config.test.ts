/**
 * The config loader: every problem reported in one pass as `file:line path: message`,
 * sorted by line; discovery of the file and the precedence of flags, environment and file.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, parseConfig, resolveBrokerUrls } from "../../src/config/load.js";
import { DEFAULT_URL } from "../../src/config/schema.js";
import { ConfigError, type ConfigIssue, EventlabError } from "../../src/errors.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/config/", import.meta.url));

const lines = (...l: string[]) => `${l.join("\n")}\n`;

/** The issues parseConfig reports, or a failure when it accepts the text. */
function issuesOf(text: string, file = "eventlab.config.yaml"): readonly ConfigIssue[] {
  try {
    parseConfig(text, file);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error("the config was accepted");
}

interface BadCase {
  name: string;
  text: string;
  file?: string;
  path: string;
  line: number;
  message: string;
}

const bad: BadCase[] = [
  // ---- document and syntax -------------------------------------------------------------
  {
    name: "YAML syntax error, with its line",
    text: lines("broker:", "  url: amqp://x", " heartbeat: 5"),
    path: "",
    line: 3,
    message: "YAML syntax error: All mapping items must start at the same column",
  },
  {
    name: "tabs as indentation",
    text: lines("broker:", "\turl: amqp://x"),
    path: "",
    line: 2,
    message: "indent with spaces, not tabs",
  },
  {
    name: "duplicate keys",
    text: lines("broker:", "  url: amqp://a", "templates: {}", "broker:", "  heartbeat: 5"),
    path: "",
    line: 4,
    message: 'duplicate key "broker": each key may appear only once',
  },
  {
    name: "duplicate keys in JSON",
    text: lines("{", '  "templates": {', '    "a": {},', '    "a": {}', "  }", "}"),
    file: "eventlab.config.json",
    path: "",
    line: 4,
    message: 'duplicate key "a"',
  },
  {
    name: "JSON syntax error, with its line",
    text: lines("{", '  "broker": {', '    "url": "amqp://x"', '    "heartbeat": 5', "  }", "}"),
    file: "eventlab.config.json",
    path: "",
    line: 4,
    message: "JSON syntax error: Expected ',' or '}' after property value",
  },
  {
    name: "JSON with a trailing comma (YAML would take it)",
    text: lines("{", '  "broker": {', '    "url": "amqp://x",', "  }", "}"),
    file: "eventlab.config.json",
    path: "",
    line: 4,
    message: "JSON syntax error",
  },
  {
    name: "more than one YAML document",
    text: lines("broker: {}", "---", "templates: {}"),
    path: "",
    line: 2,
    message: "more than one document",
  },
  {
    name: "a list instead of a mapping",
    text: lines("# comment", "- broker", "- templates"),
    path: "",
    line: 2,
    message:
      "the config must be a mapping of sections (broker, topology, templates, consumers), got a list",
  },
  {
    name: "a scalar instead of a mapping",
    text: lines("hello"),
    path: "",
    line: 1,
    message: 'must be a mapping of sections (broker, topology, templates, consumers), got "hello"',
  },
  {
    name: "unknown top-level section, with a suggestion",
    text: lines("broker: {}", "templats: {}"),
    path: "templats",
    line: 2,
    message: 'unknown field "templats"; did you mean "templates"?',
  },
  {
    name: "a topology key at the top level",
    text: lines("exchanges:", "  orders: {}"),
    path: "exchanges",
    line: 1,
    message: 'unknown field "exchanges"; it belongs under topology:',
  },
  // ---- broker ------------------------------------------------------------------------------
  {
    name: "URL with another scheme",
    text: lines("broker:", "  url: http://127.0.0.1:15672"),
    path: "broker.url",
    line: 2,
    message: "expected an amqp:// or amqps:// URL, not http://",
  },
  {
    name: "URL without a scheme",
    text: lines("broker:", "  url: localhost:5672"),
    path: "broker.url",
    line: 2,
    message: "expected an amqp:// or amqps:// URL such as amqp://guest:guest@127.0.0.1:5672",
  },
  {
    name: "URL with an unencoded #",
    text: lines("broker:", "  url: amqp://user:pa#ss@127.0.0.1"),
    path: "broker.url",
    line: 2,
    message: "the URL contains '#', which ends it early; percent-encode it as %23",
  },
  {
    name: "a list of URLs with one bad entry",
    text: lines("broker:", "  url:", "    - amqp://a:5672", "    - https://b:5672"),
    path: "broker.url[1]",
    line: 4,
    message: "expected an amqp:// or amqps:// URL, not https://",
  },
  {
    name: "an empty list of URLs",
    text: lines("broker:", "  url: []"),
    path: "broker.url",
    line: 2,
    message: "give at least one URL",
  },
  {
    name: "URL of the wrong type",
    text: lines("broker:", "  url: 5672"),
    path: "broker.url",
    line: 2,
    message:
      "expected an amqp:// URL or a list of them, such as amqp://guest:guest@127.0.0.1:5672, got 5672",
  },
  {
    name: "fractional heartbeat",
    text: lines("broker:", "  heartbeat: 1.5"),
    path: "broker.heartbeat",
    line: 2,
    message: "expected a whole number from 0 to 65535, got 1.5",
  },
  {
    name: "negative heartbeat",
    text: lines("broker:", "  heartbeat: -10"),
    path: "broker.heartbeat",
    line: 2,
    message: "expected a whole number from 0 to 65535, got -10",
  },
  {
    name: "bad duration",
    text: lines("broker:", "  connectTimeout: 5 secs"),
    path: "broker.connectTimeout",
    line: 2,
    message: 'expected a duration like 250ms, 1s, 2m or a number of milliseconds, got "5 secs"',
  },
  {
    name: "negative duration",
    text: lines("broker:", "  connectTimeout: -5"),
    path: "broker.connectTimeout",
    line: 2,
    message: "expected a duration like 250ms, 1s, 2m or a number of milliseconds, got -5",
  },
  {
    name: "duration of the wrong type",
    text: lines("broker:", "  connectTimeout: true"),
    path: "broker.connectTimeout",
    line: 2,
    message: "expected a duration like 250ms, 1s, 2m or a number of milliseconds, got boolean true",
  },
  {
    name: "unknown broker field, with a suggestion",
    text: lines("broker:", "  url: amqp://x", "  hearbeat: 5"),
    path: "broker.hearbeat",
    line: 3,
    message: 'unknown field "hearbeat"; did you mean "heartbeat"?',
  },
  {
    name: "broker section of the wrong type",
    text: lines("broker: amqp://x"),
    path: "broker",
    line: 1,
    message: 'expected a mapping, got "amqp://x"',
  },
  // ---- topology ----------------------------------------------------------------------------
  {
    name: "unknown exchange type",
    text: lines("topology:", "  exchanges:", "    orders:", "      type: topik"),
    path: "topology.exchanges.orders.type",
    line: 4,
    message:
      'expected one of "direct", "topic", "fanout", "headers", got "topik"; did you mean "topic"?',
  },
  {
    name: "boolean written as text",
    text: lines("topology:", "  exchanges:", "    orders:", '      durable: "true"'),
    path: "topology.exchanges.orders.durable",
    line: 4,
    message: 'expected true or false, got "true" (remove the quotes to make it true or false)',
  },
  {
    name: "empty exchange name",
    text: lines("topology:", "  exchanges:", '    "": {}'),
    path: 'topology.exchanges[""]',
    line: 3,
    message: "exchange name must not be empty",
  },
  {
    name: "reserved amq. queue name",
    text: lines("topology:", "  queues:", "    amq.mine: {}"),
    path: 'topology.queues["amq.mine"]',
    line: 3,
    message: 'queue names starting with "amq." are reserved by the broker',
  },
  {
    name: "exchanges as a list",
    text: lines("topology:", "  exchanges:", "    - orders"),
    path: "topology.exchanges",
    line: 2,
    message: "expected a mapping of exchange names to their settings, got a list",
  },
  {
    name: "unknown exchange field, with a suggestion",
    text: lines("topology:", "  exchanges:", "    orders:", "      alternate-exchange: x"),
    path: "topology.exchanges.orders.alternate-exchange",
    line: 4,
    message: 'unknown field "alternate-exchange"; did you mean "alternateExchange"?',
  },
  {
    name: "negative queue length",
    text: lines("topology:", "  queues:", "    q:", "      maxLength: -1"),
    path: "topology.queues.q.maxLength",
    line: 4,
    message: "expected a whole number ≥ 0, got -1",
  },
  {
    name: "priority out of range",
    text: lines("topology:", "  queues:", "    q:", "      maxPriority: 300"),
    path: "topology.queues.q.maxPriority",
    line: 4,
    message: "expected a whole number from 1 to 255, got 300",
  },
  {
    name: "unknown overflow mode",
    text: lines("topology:", "  queues:", "    q:", "      overflow: reject"),
    path: "topology.queues.q.overflow",
    line: 4,
    message: 'expected one of "drop-head", "reject-publish", "reject-publish-dlx", got "reject"',
  },
  {
    name: "RabbitMQ argument name instead of the field",
    text: lines("topology:", "  queues:", "    q:", "      x-message-ttl: 1000"),
    path: "topology.queues.q.x-message-ttl",
    line: 4,
    message: 'unknown field "x-message-ttl"; did you mean "messageTtl"?',
  },
  {
    name: "dead-letter routing key without the exchange",
    text: lines("topology:", "  queues:", "    q:", "      deadLetterRoutingKey: dead"),
    path: "topology.queues.q.deadLetterRoutingKey",
    line: 4,
    message: "`deadLetterRoutingKey` needs `deadLetterExchange`",
  },
  {
    name: "exclusive quorum queue",
    text: lines(
      "topology:",
      "  queues:",
      "    q:",
      "      queueType: quorum",
      "      exclusive: true",
    ),
    path: "topology.queues.q.exclusive",
    line: 5,
    message: "a quorum queue cannot have exclusive: true",
  },
  {
    name: "bindings as a mapping",
    text: lines("topology:", "  bindings:", "    source: orders"),
    path: "topology.bindings",
    line: 2,
    message: "expected a list of bindings (each line starts with -), got a mapping",
  },
  {
    name: "binding without a destination",
    text: lines("topology:", "  bindings:", "    - source: orders", "      routingKey: a"),
    path: "topology.bindings[0].destination",
    line: 3,
    message: "required: expected a destination name (text)",
  },
  {
    name: "binding with an empty source",
    text: lines("topology:", "  bindings:", "    - source: ''", "      destination: q"),
    path: "topology.bindings[0].source",
    line: 3,
    message: "exchange name must not be empty",
  },
  {
    name: "binding with match but no headers",
    text: lines(
      "topology:",
      "  bindings:",
      "    - source: alerts",
      "      destination: q",
      "      match: any",
    ),
    path: "topology.bindings[0].match",
    line: 5,
    message: "`match` needs `headers` to match on",
  },
  {
    name: "binding field in snake case",
    text: lines(
      "topology:",
      "  bindings:",
      "    - source: orders",
      "      destination: q",
      "      routing_key: a",
    ),
    path: "topology.bindings[0].routing_key",
    line: 5,
    message: 'unknown field "routing_key"; did you mean "routingKey"?',
  },
  // ---- templates ---------------------------------------------------------------------------
  {
    name: "fractional amount",
    text: lines("templates:", "  t:", "    amount: 1.5"),
    path: "templates.t.amount",
    line: 3,
    message: "expected a whole number ≥ 0, got 1.5",
  },
  {
    name: "amount written as text",
    text: lines("templates:", "  t:", '    amount: "10"'),
    path: "templates.t.amount",
    line: 3,
    message: 'expected a whole number ≥ 0, got "10" (remove the quotes to make it a number)',
  },
  {
    name: "rate of zero",
    text: lines("templates:", "  t:", "    rate: 0"),
    path: "templates.t.rate",
    line: 3,
    message: "expected a rate > 0 (messages per second), got 0",
  },
  {
    name: "delay and rate both given",
    text: lines("templates:", "  t:", "    delay: 10ms", "    rate: 5"),
    path: "templates.t.rate",
    line: 4,
    message: "give either `delay` or `rate`, not both",
  },
  {
    name: "body of the wrong type",
    text: lines("templates:", "  t:", "    body: 42"),
    path: "templates.t.body",
    line: 3,
    message: "expected a string, a mapping or a list, got 42",
  },
  {
    name: "unknown property, with a suggestion",
    text: lines("templates:", "  t:", "    properties:", "      messageID: x"),
    path: "templates.t.properties.messageID",
    line: 4,
    message: 'unknown field "messageID"; did you mean "messageId"?',
  },
  {
    name: "message priority out of range",
    text: lines("templates:", "  t:", "    properties:", "      priority: 256"),
    path: "templates.t.properties.priority",
    line: 4,
    message: "expected a whole number from 0 to 255, got 256",
  },
  {
    name: "negative expiration",
    text: lines("templates:", "  t:", "    properties:", "      expiration: -1"),
    path: "templates.t.properties.expiration",
    line: 4,
    message: "expected a whole number ≥ 0, got -1",
  },
  {
    name: "template that is not a mapping",
    text: lines("templates:", "  t: order.created"),
    path: "templates.t",
    line: 2,
    message: 'expected a mapping, got "order.created"',
  },
  {
    name: "empty template name",
    text: lines("templates:", '  "":', "    exchange: x"),
    path: 'templates[""]',
    line: 2,
    message: "template name must not be empty",
  },
  {
    name: "routing key of the wrong type",
    text: lines("templates:", "  t:", "    routingKey: [a, b]"),
    path: "templates.t.routingKey",
    line: 3,
    message: "expected text (quote it if it looks like a number), got a list",
  },
  // ---- consumers ---------------------------------------------------------------------------
  {
    name: "prefetch written as text",
    text: lines("consumers:", "  c:", "    queue: q", '    prefetch: "10"'),
    path: "consumers.c.prefetch",
    line: 4,
    message: 'expected a whole number from 0 to 65535, got "10" (remove the quotes',
  },
  {
    name: "consumer with neither queue nor exchange",
    text: lines("consumers:", "  c:", "    prefetch: 10"),
    path: "consumers.c",
    line: 2,
    message: "name a `queue` to consume from, or an `exchange` to tap",
  },
  {
    name: "consumer with both queue and exchange",
    text: lines("consumers:", "  c:", "    queue: q", "    exchange: orders"),
    path: "consumers.c.exchange",
    line: 4,
    message: "give either `queue` or `exchange`, not both",
  },
  {
    name: "consumer routing key without an exchange",
    text: lines("consumers:", "  c:", "    queue: q", "    routingKey: a.b"),
    path: "consumers.c.routingKey",
    line: 4,
    message: "`routingKey` goes with `exchange`",
  },
  {
    name: "consumer tap with match but no headers",
    text: lines("consumers:", "  c:", "    exchange: alerts", "    match: all"),
    path: "consumers.c.match",
    line: 4,
    message: "`match` needs `headers` to match on",
  },
  {
    name: "unknown settle policy",
    text: lines("consumers:", "  c:", "    queue: q", "    policy: nack"),
    path: "consumers.c.policy",
    line: 4,
    message: 'expected one of "ack", "reject", "requeue", got "nack"',
  },
  {
    name: "reject without acknowledgements",
    text: lines("consumers:", "  c:", "    queue: q", "    ack: false", "    policy: reject"),
    path: "consumers.c.policy",
    line: 5,
    message: "policy reject needs acknowledgements; it cannot go with ack: false",
  },
  {
    name: "count of zero",
    text: lines("consumers:", "  c:", "    queue: q", "    count: 0"),
    path: "consumers.c.count",
    line: 4,
    message: "expected a whole number ≥ 1, got 0",
  },
  {
    name: "empty value",
    text: lines("consumers:", "  c:", "    queue:"),
    path: "consumers.c.queue",
    line: 3,
    message: "expected text (quote it if it looks like a number), got an empty value",
  },
];

describe("bad configs: path, line and message", () => {
  it("has a case for every section", () => {
    expect(bad.length).toBeGreaterThanOrEqual(30);
    for (const section of ["broker", "topology", "templates", "consumers"]) {
      expect(bad.some((c) => c.path.startsWith(section))).toBe(true);
    }
  });

  it.each(bad)("$name", ({ text, file, path: at, line, message }) => {
    const issues = issuesOf(text, file);
    expect(issues).toContainEqual(
      expect.objectContaining({ path: at, line, message: expect.stringContaining(message) }),
    );
    expect(issues).toHaveLength(1);
  });
});

describe("one pass, every problem", () => {
  it("reports all problems of a file together, sorted by line", async () => {
    const text = await readFile(path.join(FIXTURES, "several-errors.yaml"), "utf8");
    let error: unknown;
    try {
      parseConfig(text, "several-errors.yaml");
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues.map((i) => [i.line, i.path])).toEqual([
      [4, "templates.order.amount"],
      [6, "templates.order.rate"],
      [8, "broker.url"],
      [9, "broker.heartbeat"],
      [11, "consumers.tap"],
      [12, "consumers.tap.routingKey"],
      [16, "topology.exchanges.orders.type"],
      [20, "topology.bindings[0].match"],
    ]);
    // The message lists them in the same order, each as file:line path: message.
    const message = (error as ConfigError).message;
    expect(message).toMatch(/^invalid config \(8 problems\):\n/);
    expect(message).toContain(
      "several-errors.yaml:4 templates.order.amount: expected a whole number ≥ 0, got -1",
    );
    expect(message).toContain(
      "several-errors.yaml:6 templates.order.rate: give either `delay` or `rate`, not both",
    );
    const order = issues.map((i) => message.indexOf(`:${i.line} ${i.path}:`));
    expect(order.every((at, i) => at > (order[i - 1] ?? -1))).toBe(true);
  });

  it("reports a cross-field rule even when another field of the object is wrong", () => {
    const issues = issuesOf(
      lines(
        "templates:",
        "  t:",
        "    delay: soon",
        "    rate: 5",
        "    amount: 1.5",
        "    exchnge: x",
      ),
    );
    expect(issues.map((i) => i.path)).toEqual([
      "templates.t.delay",
      "templates.t.rate",
      "templates.t.amount",
      "templates.t.exchnge",
    ]);
  });

  it("reports one message per problem, not one per rule that saw it", () => {
    const issues = issuesOf(
      lines(
        "topology:",
        "  bindings:",
        "    - source: a",
        "      destination: b",
        "      match: all",
      ),
    );
    expect(issues).toHaveLength(1);
  });

  it("a single problem reads as one line", () => {
    expect(() => parseConfig(lines("broker:", "  heartbeat: -1"), "lab.yaml")).toThrow(
      "invalid config: lab.yaml:2 broker.heartbeat: expected a whole number from 0 to 65535, got -1",
    );
  });

  it("never shows a password from a URL in a message", () => {
    const issues = issuesOf(lines("broker:", "  url: http://admin:s3cret@rabbit:15672"));
    expect(issues[0]?.message).not.toContain("s3cret");
  });

  it("points at the hint for the documented example", () => {
    try {
      parseConfig(lines("templates: 5"), "x.yaml");
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).hint).toContain("eventlab init");
    }
  });
});

describe("good configs", () => {
  it("applies defaults to an empty file", () => {
    const config = parseConfig("", "eventlab.config.yaml");
    expect(config).toEqual({
      broker: { url: DEFAULT_URL },
      topology: { exchanges: {}, queues: {}, bindings: [] },
      templates: {},
      consumers: {},
      scenarios: {},
    });
  });

  it("applies defaults inside every section", () => {
    const config = parseConfig(
      lines(
        "topology:",
        "  exchanges:",
        "    orders: {}",
        "  queues:",
        "    inventory: {}",
        "  bindings:",
        "    - source: orders",
        "      destination: inventory",
        "templates:",
        "  t: {}",
      ),
      "eventlab.config.yaml",
    );
    expect(config.topology.exchanges).toHaveProperty("orders", {
      type: "direct",
      durable: true,
      autoDelete: false,
      internal: false,
      arguments: {},
    });
    expect(config.topology.queues).toHaveProperty("inventory", {
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
    });
    expect(config.topology.bindings[0]).toEqual({
      source: "orders",
      destination: "inventory",
      destinationType: "queue",
      routingKey: "",
      arguments: {},
    });
    expect(config.templates).toHaveProperty("t", {
      exchange: "",
      routingKey: "",
      headers: {},
      properties: {},
      body: "",
      amount: 1,
    });
  });

  it("parses durations to milliseconds", () => {
    const config = parseConfig(
      lines(
        "broker:",
        "  connectTimeout: 2m",
        "topology:",
        "  queues:",
        "    q: { messageTtl: 1.5s, expires: 1h }",
        "templates:",
        "  t: { delay: 250 }",
      ),
      "x.yaml",
    );
    expect(config.broker.connectTimeout).toBe(120_000);
    expect(config.topology.queues).toHaveProperty("q.messageTtl", 1500);
    expect(config.topology.queues).toHaveProperty("q.expires", 3_600_000);
    expect(config.templates).toHaveProperty("t.delay", 250);
  });

  it("accepts bindings to exchanges and queues the topology does not declare", () => {
    const config = parseConfig(
      lines(
        "topology:",
        "  bindings:",
        "    - source: amq.topic",
        "      destination: somewhere-on-the-broker",
        "      routingKey: '#'",
      ),
      "x.yaml",
    );
    expect(config.topology.bindings).toHaveLength(1);
  });

  it("reads a JSON file", async () => {
    const text = await readFile(path.join(FIXTURES, "minimal.json"), "utf8");
    const config = parseConfig(text, "minimal.json");
    expect(config.broker.url).toEqual([
      "amqp://guest:guest@127.0.0.1:5672",
      "amqp://guest:guest@127.0.0.1:5673",
    ]);
    expect(config.topology.queues).toHaveProperty("inventory.messageTtl", 30_000);
    expect(config.templates["order-created"]?.rate).toBe(50);
    expect(config.templates["order-created"]?.body).toEqual({
      id: "{{uuid}}",
      qty: "{{int 1 5}}",
    });
  });

  it("reads a .yml file with anchors and merge keys", async () => {
    const text = await readFile(path.join(FIXTURES, "minimal.yml"), "utf8");
    const config = parseConfig(text, "minimal.yml");
    expect(config.topology.queues).toMatchObject({
      cards: { maxLength: 50, overflow: "reject-publish" },
    });
    expect(config.templates).toHaveProperty("goal.delay", 1500);
    expect(config.consumers).toHaveProperty("goals", { queue: "goals", count: 3 });
  });

  it("a JSON file with a byte-order mark", () => {
    const config = parseConfig('\uFEFF{"broker": {"heartbeat": 10}}', "x.json");
    expect(config.broker.heartbeat).toBe(10);
  });

  it("the JSON syntax fixture is rejected at its line", async () => {
    // Stored as .txt so that linters leave the broken JSON alone.
    const text = await readFile(path.join(FIXTURES, "bad-syntax.json.txt"), "utf8");
    expect(issuesOf(text, "bad-syntax.json")).toEqual([
      expect.objectContaining({ line: 4, message: expect.stringContaining("JSON syntax error") }),
    ]);
  });
});

// ---- discovery and precedence ----------------------------------------------------------------

describe("loadConfig: which file", () => {
  let root: string;
  let n = 0;
  const fresh = async (files: Record<string, string>): Promise<string> => {
    const dir = path.join(root, `case-${++n}`);
    await mkdir(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await writeFile(path.join(dir, name), text);
    }
    return dir;
  };
  const yaml = (heartbeat: number) => lines("broker:", `  heartbeat: ${heartbeat}`);

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "eventlab-config-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("no file at all: defaults, source none", async () => {
    const cwd = await fresh({});
    const loaded = await loadConfig({ cwd, env: {} });
    expect(loaded).toMatchObject({ file: undefined, source: "none" });
    expect(loaded.config.broker.url).toBe(DEFAULT_URL);
  });

  it.each([
    [{ "eventlab.config.yaml": yaml(1) }, "eventlab.config.yaml", 1],
    [{ "eventlab.config.yml": yaml(2) }, "eventlab.config.yml", 2],
    [{ "eventlab.config.json": '{"broker":{"heartbeat":3}}' }, "eventlab.config.json", 3],
    [
      { "eventlab.config.json": '{"broker":{"heartbeat":3}}', "eventlab.config.yaml": yaml(1) },
      "eventlab.config.yaml",
      1,
    ],
    [{ "eventlab.config.yml": yaml(2), "eventlab.config.json": "{}" }, "eventlab.config.yml", 2],
  ])("finds %j in the working directory", async (files, file, heartbeat) => {
    const cwd = await fresh(files);
    const loaded = await loadConfig({ cwd, env: {} });
    expect(loaded).toMatchObject({ file, source: "cwd" });
    expect(loaded.config.broker.heartbeat).toBe(heartbeat);
  });

  it("EVENTLAB_CONFIG beats the working directory", async () => {
    const cwd = await fresh({ "eventlab.config.yaml": yaml(1), "lab/env.yaml": yaml(7) });
    const loaded = await loadConfig({ cwd, env: { EVENTLAB_CONFIG: "lab/env.yaml" } });
    expect(loaded).toMatchObject({ file: "lab/env.yaml", source: "env" });
    expect(loaded.config.broker.heartbeat).toBe(7);
  });

  it("--config beats EVENTLAB_CONFIG and the working directory", async () => {
    const cwd = await fresh({
      "eventlab.config.yaml": yaml(1),
      "env.yaml": yaml(7),
      "flag.yaml": yaml(9),
    });
    const loaded = await loadConfig({
      cwd,
      env: { EVENTLAB_CONFIG: "env.yaml" },
      file: "flag.yaml",
    });
    expect(loaded).toMatchObject({ file: "flag.yaml", source: "flag" });
    expect(loaded.config.broker.heartbeat).toBe(9);
  });

  it("an empty EVENTLAB_CONFIG counts as unset", async () => {
    const cwd = await fresh({ "eventlab.config.yaml": yaml(1) });
    const loaded = await loadConfig({ cwd, env: { EVENTLAB_CONFIG: "" } });
    expect(loaded.source).toBe("cwd");
  });

  it("an absolute --config path", async () => {
    const cwd = await fresh({ "x.yaml": yaml(4) });
    const loaded = await loadConfig({ cwd: root, env: {}, file: path.join(cwd, "x.yaml") });
    expect(loaded.config.broker.heartbeat).toBe(4);
  });

  it("a missing --config file is a clear error, not the defaults", async () => {
    const cwd = await fresh({ "eventlab.config.yaml": yaml(1) });
    const failure = loadConfig({ cwd, env: {}, file: "nope.yaml" });
    await expect(failure).rejects.toBeInstanceOf(EventlabError);
    await expect(failure).rejects.toThrow("config file nope.yaml not found (--config)");
    await expect(failure).rejects.toMatchObject({
      code: "config",
      exitCode: 1,
      hint: expect.stringContaining("--config"),
    });
  });

  it("a missing EVENTLAB_CONFIG file says to fix or unset it", async () => {
    const cwd = await fresh({ "eventlab.config.yaml": yaml(1) });
    await expect(loadConfig({ cwd, env: { EVENTLAB_CONFIG: "gone.yaml" } })).rejects.toMatchObject({
      message: "config file gone.yaml not found (EVENTLAB_CONFIG)",
      hint: expect.stringContaining("unset"),
    });
  });

  it("a directory named like a config file", async () => {
    const cwd = await fresh({ "eventlab.config.yaml/keep": "" });
    await expect(loadConfig({ cwd, env: {} })).rejects.toThrow(
      "config file eventlab.config.yaml is a directory",
    );
  });

  it("problems name the file as it was found", async () => {
    const cwd = await fresh({
      "eventlab.config.yml": lines("templates:", "  t:", "    amount: -2"),
    });
    await expect(loadConfig({ cwd, env: {} })).rejects.toThrow(
      "eventlab.config.yml:3 templates.t.amount: expected a whole number ≥ 0, got -2",
    );
  });
});

describe("resolveBrokerUrls: flag > EVENTLAB_URL > file > default", () => {
  const file = parseConfig(lines("broker:", "  url: [amqp://file-1, amqp://file-2]"), "x.yaml");
  const env = { EVENTLAB_URL: "amqp://env" };

  it.each([
    ["the flag wins", "amqp://flag", env, file, ["amqp://flag"]],
    ["then EVENTLAB_URL", undefined, env, file, ["amqp://env"]],
    ["then the file, every URL in order", undefined, {}, file, ["amqp://file-1", "amqp://file-2"]],
    [
      "an empty flag and variable count as unset",
      "",
      { EVENTLAB_URL: "" },
      file,
      ["amqp://file-1", "amqp://file-2"],
    ],
    ["then the file's default", undefined, {}, parseConfig("", "x.yaml"), [DEFAULT_URL]],
    ["without a config, the default", undefined, {}, undefined, [DEFAULT_URL]],
  ] as const)("%s", (_name, flag, vars, config, expected) => {
    expect(resolveBrokerUrls(flag, { ...vars }, config)).toEqual(expected);
  });
});

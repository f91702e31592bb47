/**
 * `eventlab why`: the text and mermaid renderings of a message's events, the record file
 * (round trip, and the errors that name the file and line), routing reasons worked out from
 * a record's topology, and the command in-process against a record file and against a live
 * embedded broker (ledger on and off). Every wait is bounded.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageEvent } from "../../src/broker/index.js";
import { startBroker } from "../../src/broker/index.js";
import { whyMermaid, whyText } from "../../src/commands/run/why.js";
import type { Topology } from "../../src/config/schema.js";
import { EventlabError } from "../../src/errors.js";
import { readRecord, writeRecord } from "../../src/lab/record.js";
import { createTheme } from "../../src/ui/theme.js";
import { runCli } from "../helpers/cli.js";
import { within } from "../helpers/wait.js";

const plain = createTheme(false);
const T = 1_700_000_000_000;
const ev = (dt: number, e: Omit<MessageEvent, "t" | "id">): MessageEvent => ({
  t: T + dt,
  id: "o-1",
  ...e,
});

/** Published, routed to two queues, nacked once, redelivered, rejected into a DLX. */
const STORY: MessageEvent[] = [
  ev(0, {
    kind: "published",
    connection: "shop",
    channel: 1,
    exchange: "orders",
    routingKey: "order.created",
  }),
  ev(0, {
    kind: "routed",
    connection: "shop",
    exchange: "orders",
    routingKey: "order.created",
    queues: ["inventory", "billing"],
  }),
  ev(0, { kind: "enqueued", connection: "shop", queue: "inventory" }),
  ev(1, { kind: "enqueued", connection: "shop", queue: "billing" }),
  ev(3, {
    kind: "delivered",
    connection: "worker",
    channel: 1,
    queue: "inventory",
    deliveryTag: 1,
    redelivered: false,
    consumerTag: "c1",
  }),
  ev(12, {
    kind: "nacked",
    connection: "worker",
    channel: 1,
    queue: "inventory",
    deliveryTag: 1,
    consumerTag: "c1",
    requeue: true,
  }),
  ev(13, {
    kind: "delivered",
    connection: "worker",
    channel: 1,
    queue: "inventory",
    deliveryTag: 2,
    redelivered: true,
    consumerTag: "c1",
  }),
  ev(20, {
    kind: "rejected",
    connection: "worker",
    channel: 1,
    queue: "inventory",
    deliveryTag: 2,
    consumerTag: "c1",
    requeue: false,
  }),
  ev(20, {
    kind: "dead-lettered",
    connection: "worker",
    queue: "inventory",
    reason: "rejected",
    to: "orders.dlx",
    routingKey: "order.created",
    queues: ["dead"],
  }),
  ev(20, { kind: "enqueued", connection: "worker", queue: "dead" }),
  ev(1500, { kind: "expired", connection: "broker", queue: "billing" }),
];

const TOPOLOGY = {
  exchanges: {
    orders: { type: "topic", durable: true, autoDelete: false, internal: false, arguments: {} },
    "orders.dlx": {
      type: "fanout",
      durable: true,
      autoDelete: false,
      internal: false,
      arguments: {},
    },
  },
  queues: {
    inventory: { durable: true, arguments: {} },
    billing: { durable: true, arguments: {} },
    dead: { durable: true, arguments: {} },
  },
  bindings: [
    {
      source: "orders",
      destination: "inventory",
      destinationType: "queue",
      routingKey: "order.*",
      arguments: {},
    },
    {
      source: "orders",
      destination: "billing",
      destinationType: "queue",
      routingKey: "order.#",
      arguments: {},
    },
    {
      source: "orders.dlx",
      destination: "dead",
      destinationType: "queue",
      routingKey: "",
      arguments: {},
    },
  ],
} as unknown as Topology;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "eventlab-why-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the text rendering", () => {
  it("one line per hop, in order, with times since the first, who and what", () => {
    const lines = whyText("o-1", STORY, plain).trimEnd().split("\n");
    expect(lines[0]).toBe("message 'o-1': 11 events over 1.50 s");
    expect(lines.slice(1)).toEqual([
      "    +0 ms  shop    published to exchange 'orders' with key 'order.created'",
      "    +0 ms  shop    routed to inventory, billing",
      "    +0 ms  shop    enqueued in inventory",
      "    +1 ms  shop    enqueued in billing",
      "    +3 ms  worker  delivered from inventory to consumer c1 (delivery tag 1)",
      "   +12 ms  worker  nacked in inventory, requeued (delivery tag 1)",
      "   +13 ms  worker  delivered from inventory to consumer c1 (delivery tag 2, redelivered)",
      "   +20 ms  worker  rejected in inventory, not requeued (delivery tag 2)",
      "   +20 ms  worker  dead-lettered from inventory (rejected) to exchange 'orders.dlx' with key 'order.created' → dead",
      "   +20 ms  worker  enqueued in dead",
      "  +1.50 s  broker  expired in billing (its TTL ran out)",
    ]);
  });

  it("routing reasons go under their hop; a second publish is a retry", () => {
    const routed = {
      ...(STORY[1] as MessageEvent),
      reasons: { inventory: "orders binding 'order.*': `*` took 'created'" },
    };
    const again = { ...(STORY[0] as MessageEvent), t: T + 30, connection: "worker" };
    const text = whyText("o-1", [STORY[0] as MessageEvent, routed, again], plain, "run.ndjson");
    expect(text).toContain("(from run.ndjson)");
    expect(text.split("\n")[3]).toBe(
      "                    inventory: orders binding 'order.*': `*` took 'created'",
    );
    expect(text).toContain("worker  published again (retry 1) to exchange 'orders'");
  });

  it("colours only through the theme", () => {
    const text = whyText("o-1", STORY, createTheme(true));
    expect(text).toContain("\u001b[");
    expect(whyText("o-1", STORY, plain)).not.toContain("\u001b[");
  });
});

describe("the mermaid rendering", () => {
  it("participants by role, then one arrow or note per hop", () => {
    const text = whyMermaid(STORY);
    expect(text.split("\n").slice(0, 9)).toEqual([
      "sequenceDiagram",
      "  participant p1 as shop",
      "  participant x2 as exchange orders",
      "  participant x3 as exchange orders.dlx",
      "  participant q4 as queue inventory",
      "  participant q5 as queue billing",
      "  participant q6 as queue dead",
      "  participant p7 as worker",
      "  p1->>x2: +0 ms publish order.created",
    ]);
    expect(text.split("\n").slice(9)).toEqual([
      "  x2->>q4: +0 ms route",
      "  x2->>q5: +0 ms route",
      "  q4->>p7: +3 ms deliver tag 1",
      "  p7-->>q4: +12 ms nack (requeue)",
      "  q4->>p7: +13 ms redeliver tag 2",
      "  p7-->>q4: +20 ms reject",
      "  q4->>x3: +20 ms dead-letter (rejected) key order.created",
      "  x3->>q6: +20 ms route",
      "  Note over q5: +1.50 s expired (TTL)",
      "",
    ]);
  });

  it("escapes what mermaid would read as syntax", () => {
    const odd = [ev(0, { kind: "published", connection: "a;b", exchange: "x", routingKey: "k.#" })];
    const text = whyMermaid(odd);
    expect(text).toContain("participant p1 as a#59;b");
    expect(text).toContain("publish k.#35;");
  });
});

describe("record files", () => {
  it("round trip: the run line first, events in order, other line types skipped", async () => {
    const file = path.join(dir, "round.ndjson");
    const meta = { scenario: "orders", startedAt: new Date(T).toISOString(), topology: TOPOLOGY };
    await writeRecord(file, { meta, events: STORY });
    const back = await readRecord(file);
    expect(back.meta).toEqual(meta);
    expect(back.events).toEqual(STORY);
    const { readFile, appendFile } = await import("node:fs/promises");
    const first = (await readFile(file, "utf8")).split("\n")[0] ?? "";
    expect(JSON.parse(first)).toMatchObject({ type: "run", scenario: "orders" });
    await appendFile(file, `${JSON.stringify({ type: "summary", lost: 0 })}\n`);
    expect((await readRecord(file)).events).toHaveLength(STORY.length);
  });

  it("a bad file is an EventlabError naming the file and the line", async () => {
    const cases: Array<[string, string]> = [
      ['{"type":"event"}\n', ":1: the first line must be"],
      [`{"type":"run","startedAt":"x"}\n\nnot json\n`, ":3: not a JSON line"],
      [
        `{"type":"run","startedAt":"x"}\n{"type":"event","t":1,"kind":"teleported","id":"a","connection":"c"}\n`,
        ':2: unknown event kind "teleported"',
      ],
      [
        `{"type":"run","startedAt":"x"}\n{"type":"event","t":1,"kind":"acked","connection":"c"}\n`,
        ":2: an event needs a message id",
      ],
      ["", ":1: the file is empty"],
    ];
    for (const [i, [content, message]] of cases.entries()) {
      const file = path.join(dir, `bad-${i}.ndjson`);
      await writeFile(file, content);
      const err = await readRecord(file).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EventlabError);
      expect((err as Error).message.startsWith(`${file}${message}`), (err as Error).message).toBe(
        true,
      );
      expect((err as EventlabError).hint).toContain("eventlab play --record");
    }
    const missing = await readRecord(path.join(dir, "nope.ndjson")).catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(
      /cannot read the record file .*nope\.ndjson: no such file/,
    );
  });
});

describe("eventlab why (in-process)", () => {
  it("--from: the story with routing reasons from the record's topology", async () => {
    const file = path.join(dir, "story.ndjson");
    await writeRecord(file, {
      meta: { startedAt: new Date(T).toISOString(), topology: TOPOLOGY },
      events: STORY,
    });
    const r = await runCli(["why", "o-1", "--from", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("inventory: orders binding 'order.*': `*` took 'created'");
    expect(r.stdout).toContain("billing: orders binding 'order.#': `#` took 'created'");
    expect(r.stdout).toContain(
      "dead: orders.dlx binding: fanout: every binding takes every message",
    );
    const json = await runCli(["why", "o-1", "--from", file, "--json"]);
    const kinds = json.stdout
      .trimEnd()
      .split("\n")
      .map((l) => (JSON.parse(l) as MessageEvent).kind);
    expect(kinds).toEqual(STORY.map((e) => e.kind));
  });

  it("an unknown id: exit 1, naming the id and how many messages are held", async () => {
    const file = path.join(dir, "story2.ndjson");
    await writeRecord(file, {
      meta: { startedAt: "x" },
      events: [...STORY, { ...(STORY[0] as MessageEvent), id: "o-2" }],
    });
    const r = await runCli(["why", "o-404", "--from", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`error: no message with id 'o-404' in ${file}: it holds 2 messages`);
    expect(r.stderr).toContain("hint:");
  });

  it("--url: a live embedded broker with --ledger answers; without, it says so", async () => {
    const on = await startBroker({ port: 0, ledger: true });
    const off = await startBroker({ port: 0 });
    try {
      const c = await within(
        amqp.connect(on.url, { clientProperties: { connection_name: "shop" } }),
        "connect",
        3000,
      );
      const ch = await c.createConfirmChannel();
      await ch.assertExchange("orders", "topic", { durable: false });
      await ch.assertQueue("eu", { durable: false });
      await ch.bindQueue("eu", "orders", "order.*.eu");
      ch.publish("orders", "order.created.eu", Buffer.from("{}"), { messageId: "live-1" });
      await within(ch.waitForConfirms(), "confirm", 3000);
      await c.close();
      const r = await runCli(["--url", on.url, "why", "live-1"]);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/shop\s+published to exchange 'orders' with key 'order.created.eu'/);
      expect(r.stdout).toContain("eu: orders binding 'order.*.eu': `*` took 'created'");
      expect(r.stdout).toContain("(from the ledger of");
      const missing = await runCli(["--url", on.url, "why", "live-2"]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(
        /no message with id 'live-2' in the ledger of .*: it holds 1 message\b/,
      );
      const none = await runCli(["--url", off.url, "why", "live-1"]);
      expect(none.code).toBe(1);
      expect(none.stderr).toContain(
        "this broker keeps no ledger: start it with eventlab broker --ledger",
      );
    } finally {
      await on.close();
      await off.close();
    }
  });
});

/**
 * `eventlab setup` driven by flags, by --yes, and by a scripted prompter that answers
 * each question by its id, as a person at a terminal would.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startBroker } from "../../src/broker/index.js";
import { parseConfig } from "../../src/config/load.js";
import { PromptCancelled, type Prompter } from "../../src/ui/prompter.js";
import { VERSION } from "../../src/version.js";
import { runCli } from "../helpers/cli.js";

// The real broker, watched: the try-out's broker must announce eventlab's version.
vi.mock("../../src/broker/index.js", async (original) => {
  const real = await original<typeof import("../../src/broker/index.js")>();
  return { ...real, startBroker: vi.fn(real.startBroker) };
});

/** Answers by question id; an unexpected question fails the test. */
function scripted(answers: Record<string, unknown[] | unknown>): Prompter & { asked: string[] } {
  const queues = new Map<string, unknown[]>(
    Object.entries(answers).map(([k, v]) => [
      k,
      Array.isArray(v) && k.endsWith("Try") ? [...v] : [v],
    ]),
  );
  const asked: string[] = [];
  const next = (id: string): unknown => {
    asked.push(id);
    const q = queues.get(id);
    if (!q || q.length === 0) throw new Error(`unexpected question ${id}`);
    const v = q.length === 1 ? q[0] : q.shift();
    if (v instanceof Error) throw v;
    return v;
  };
  return {
    asked,
    input: async (q) => {
      const v = String(next(q.id));
      const ok = q.validate?.(v) ?? true;
      if (ok !== true) throw new Error(`${q.id}: ${ok}`);
      return v;
    },
    select: async (q) => next(q.id) as never,
    checkbox: async (q) => next(q.id) as never,
    confirm: async (q) => next(q.id) as boolean,
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "eventlab-setup-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const file = () => path.join(dir, "eventlab.config.yaml");
const written = async () => parseConfig(await readFile(file(), "utf8"), "eventlab.config.yaml");

describe("eventlab setup without a terminal", () => {
  it("fails at once, naming the flags it needs, and writes nothing", async () => {
    const r = await runCli(["setup"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "error: setup needs answers, and there is no terminal to ask: give --exchange, --type, --queue",
    );
    expect(r.stderr).toContain("--yes");
    expect(existsSync(file())).toBe(false);
  });

  it("writes a valid config from flags, defaults for the rest", async () => {
    const r = await runCli(
      [
        "setup",
        "--exchange",
        "orders",
        "--type",
        "topic",
        "--queue",
        "inventory=order.created.*",
        "--queue",
        "audit=#",
        "--field",
        "id=uuid",
        "--field",
        "who=name",
        "--amount",
        "7",
      ],
      { cwd: dir },
    );
    expect(r.code, r.stderr).toBe(0);
    const c = await written();
    expect(c.topology.exchanges["orders"]?.type).toBe("topic");
    expect(c.topology.bindings.map((b) => [b.destination, b.routingKey])).toEqual([
      ["inventory", "order.created.*"],
      ["audit", "#"],
    ]);
    expect(c.templates["order"]).toMatchObject({
      exchange: "orders",
      routingKey: "order.created.example",
      amount: 7,
      body: { id: "{{uuid}}", who: "{{faker person.fullName}}" },
    });
  });

  it("writes headers bindings with typed values and the match mode", async () => {
    const r = await runCli(
      [
        "setup",
        "--exchange",
        "alerts",
        "--type",
        "headers",
        "--match",
        "any",
        "--queue",
        "eu=region:eu,priority:5",
        "--yes",
      ],
      { cwd: dir },
    );
    expect(r.code, r.stderr).toBe(0);
    const c = await written();
    expect(c.topology.bindings[0]).toMatchObject({
      match: "any",
      headers: { region: "eu", priority: 5 },
    });
    expect(c.templates["alert"]?.headers).toEqual({ region: "eu", priority: 5 });
  });

  it("--template is repeatable, each with its own routing key", async () => {
    const r = await runCli(
      [
        "setup",
        "--exchange",
        "shop",
        "--type",
        "topic",
        "--queue",
        "all=#",
        "--template",
        "created=order.created",
        "--template",
        "paid=order.paid",
        "--amount",
        "4",
      ],
      { cwd: dir },
    );
    expect(r.code, r.stderr).toBe(0);
    const c = await written();
    expect(Object.entries(c.templates).map(([n, t]) => [n, t.routingKey, t.amount])).toEqual([
      ["created", "order.created", 4],
      ["paid", "order.paid", 4],
    ]);
  });

  it("--yes takes every default", async () => {
    const r = await runCli(["setup", "--yes", "--json"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ file: "eventlab.config.yaml", written: true });
    expect(Object.keys((await written()).topology.exchanges)).toEqual(["events"]);
  });

  it("shows a diff and leaves an existing file alone without --yes", async () => {
    await writeFile(file(), "templates: {}\n");
    const r = await runCli(["setup", "--exchange", "x", "--type", "fanout", "--queue", "q"], {
      cwd: dir,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("+    x: { type: fanout }");
    expect(r.stderr).toContain("error: eventlab.config.yaml exists; left as it was");
    expect(await readFile(file(), "utf8")).toBe("templates: {}\n");
  });

  it("refuses bad flags with the flag's name", async () => {
    for (const [args, text] of [
      [
        ["--exchange", "amq.x"],
        `error: --exchange "amq.x": exchange names starting with "amq." are reserved`,
      ],
      [
        ["--type", "round"],
        "error: option '--type <type>' argument 'round' is invalid. Allowed choices are direct, topic, fanout, headers.",
      ],
      [
        ["--field", "id=guid"],
        "error: option '--field <name=generator>' argument 'id=guid' is invalid. Expected name=generator",
      ],
    ] as const) {
      const r = await runCli(["setup", ...args], { cwd: dir });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(text);
    }
  });

  it("--try runs a short round trip on an in-process embedded broker", async () => {
    const r = await runCli(
      [
        "setup",
        "--exchange",
        "shop",
        "--type",
        "direct",
        "--queue",
        "paid=paid",
        "--amount",
        "3",
        "--delay",
        "0",
        "--try",
      ],
      { cwd: dir },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("✓ tried it: published 3, returned 0, consumed paid 3/3");
    expect(startBroker).toHaveBeenCalledWith(
      expect.objectContaining({ port: 0, version: VERSION }),
    );
  });
});

describe("eventlab setup at a terminal", () => {
  const answers = {
    broker: "embedded",
    exchange: "orders",
    type: "topic",
    queue1: "inventory",
    queue1Key: "order.*",
    queue1Try: ["order.created", "order", ""],
    queue1More: true,
    queue2: "audit",
    queue2Key: "#",
    queue2Try: [""],
    queue2More: false,
    template: "order",
    routingKey: "order.created",
    fields: ["uuid", "seq", "product"],
    amount: "5",
    delay: "0",
    templateMore: false,
    try: false,
  };

  it("asks each question once, checks sample keys live, and writes the answers", async () => {
    const p = scripted(answers);
    const r = await runCli(["setup"], { cwd: dir, tty: true, prompter: p });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("✓ order.created  `*` took 'created'");
    expect(r.stderr).toContain("✗ order  `*` needs exactly one word; the key has none left");
    const c = await written();
    expect(Object.keys(c.topology.queues)).toEqual(["inventory", "audit"]);
    expect(c.templates["order"]).toMatchObject({
      routingKey: "order.created",
      amount: 5,
      delay: 0,
      body: { id: "{{uuid}}", n: "{{seq}}", product: "{{faker commerce.productName}}" },
    });
    expect(p.asked.filter((id) => id === "exchange")).toHaveLength(1);
  });

  it("adds a second template when asked to", async () => {
    const p = scripted({
      ...answers,
      templateMore: true,
      template2: "order-paid",
      routingKey2: "order.paid",
      fields2: ["uuid"],
      amount2: "2",
      delay2: "1s",
      templateMore2: false,
    });
    const r = await runCli(["setup"], { cwd: dir, tty: true, prompter: p });
    expect(r.code, r.stderr).toBe(0);
    const c = await written();
    expect(Object.keys(c.templates)).toEqual(["order", "order-paid"]);
    expect(c.templates["order-paid"]).toMatchObject({
      routingKey: "order.paid",
      amount: 2,
      delay: 1000,
    });
  });

  it("asks a headers exchange for match mode and header pairs, with typed values", async () => {
    const p = scripted({
      broker: "embedded",
      exchange: "alerts",
      type: "headers",
      match: "any",
      queue1: "eu",
      queue1Headers: 'region=eu,priority=5,code="5"',
      queue1More: false,
      template: "alert",
      fields: ["uuid"],
      amount: "1",
      delay: "0",
      templateMore: false,
      try: false,
    });
    const r = await runCli(["setup"], { cwd: dir, tty: true, prompter: p });
    expect(r.code, r.stderr).toBe(0);
    const c = await written();
    const headers = { region: "eu", priority: 5, code: "5" };
    expect(c.topology.bindings).toEqual([
      expect.objectContaining({ destination: "eu", match: "any", headers }),
    ]);
    expect(c.templates["alert"]?.headers).toEqual(headers);
    expect(p.asked).not.toContain("routingKey");
  });

  it("refuses a second template of the same name at its question", async () => {
    const p = scripted({ ...answers, templateMore: true, template2: "order" });
    const r = await runCli(["setup"], { cwd: dir, tty: true, prompter: p });
    expect(r.stderr).toContain("template2: there is a template order already");
    expect(existsSync(file())).toBe(false);
  });

  it("flags answer their questions, which are then not asked", async () => {
    const p = scripted(answers);
    const r = await runCli(["setup", "--exchange", "orders", "--type", "topic", "--no-try"], {
      cwd: dir,
      tty: true,
      prompter: p,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(p.asked).not.toContain("exchange");
    expect(p.asked).not.toContain("type");
    expect(p.asked).not.toContain("try");
  });

  it("Ctrl-C at a question writes nothing and exits 2", async () => {
    const p = scripted({ ...answers, template: new PromptCancelled() });
    const r = await runCli(["setup"], { cwd: dir, tty: true, prompter: p });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("setup cancelled; nothing was written");
    expect(existsSync(file())).toBe(false);
  });

  it("asks before replacing a file, and keeps it on no", async () => {
    await writeFile(file(), "templates: {}\n");
    const p = scripted({ ...answers, overwrite: false });
    const r = await runCli(["setup"], { cwd: dir, tty: true, prompter: p });
    expect(r.code).toBe(1);
    expect(p.asked).toContain("overwrite");
    expect(await readFile(file(), "utf8")).toBe("templates: {}\n");
  });
});

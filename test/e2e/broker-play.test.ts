/**
 * `eventlab broker` spawned as a user runs it, with `produce` and `consume` round-tripping
 * through it; and `eventlab play`, the README's first command, on its in-process broker.
 * Needs `npm run build` first (CI builds).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runCli } from "../helpers/cli.js";

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "bin/eventlab.cjs");

interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number>;
}

function spawnBin(args: string[]): Spawned {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Wait (bounded) until the process printed a line on stdout. */
function firstLine(p: Spawned, timeoutMs = 10_000): Promise<string> {
  return vi.waitFor(
    () => {
      const out = p.stdout();
      if (!out.includes("\n")) throw new Error(`no output in ${timeoutMs} ms: ${p.stderr()}`);
      return out.split("\n")[0] as string;
    },
    { timeout: timeoutMs, interval: 20 },
  );
}

describe("eventlab broker in one terminal, produce and consume in another", () => {
  let broker: Spawned;
  let url: string;
  let dir: string;

  beforeAll(async () => {
    broker = spawnBin(["broker", "--port", "0", "--json"]);
    url = (JSON.parse(await firstLine(broker)) as { url: string }).url;
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-broker-"));
  });

  afterAll(async () => {
    broker?.child.kill("SIGINT");
    await broker?.exited;
    await rm(dir, { recursive: true, force: true });
  });

  it("prints its URL on port 0 and says it is listening", async () => {
    expect(url).toMatch(/^amqp:\/\/guest:guest@127\.0\.0\.1:\d+$/);
    // stderr is a pipe of its own: its line may arrive after the URL on stdout.
    await expect
      .poll(() => broker.stderr(), { timeout: 5000, interval: 20 })
      .toContain("embedded broker listening on");
  });

  it("round-trips: topology apply, produce, consume", async () => {
    await writeFile(
      path.join(dir, "eventlab.config.yaml"),
      `topology:
  exchanges:
    shop: { type: topic }
  queues:
    orders-eu: {}
  bindings:
    - { source: shop, destination: orders-eu, routingKey: "order.*.eu" }
templates:
  order:
    exchange: shop
    routingKey: "order.created.{{pick eu us}}"
    body: { id: "{{seq}}" }
    amount: 40
`,
    );
    const env = { EVENTLAB_URL: url };
    const apply = await runCli(["topology", "apply"], { cwd: dir, env });
    expect(apply.code, apply.stderr).toBe(0);
    const produce = await runCli(["produce", "order", "--seed", "7", "--json", "--explain"], {
      cwd: dir,
      env,
    });
    expect(produce.code, produce.stderr).toBe(3); // the "us" half is returned: no binding
    expect(produce.stderr).toContain("order: where its first message goes");
    expect(produce.stderr).toMatch(/shop \(topic\) ← published with key 'order\.created\.(eu|us)'/);
    expect(produce.stderr).toMatch(/[✓✗] orders-eu +order\.\*\.eu/);
    const summary = JSON.parse(produce.stdout.trim().split("\n").pop() as string) as {
      published: number;
      confirmed: number;
      returned: number;
    };
    expect(summary.published).toBe(40);
    expect(summary.confirmed).toBe(40);
    const eu = 40 - summary.returned;
    expect(eu).toBeGreaterThan(0);
    const consume = await runCli(["consume", "orders-eu", "--count", String(eu), "--json"], {
      cwd: dir,
      env,
    });
    expect(consume.code, consume.stderr).toBe(0);
    const lines = consume.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(eu);
    expect(lines.every((m) => m.routingKey === "order.created.eu")).toBe(true);
    const ids = lines.map((m) => Number(m.body.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it("route --url answers from the running broker's live bindings", async () => {
    const bind = await runCli(
      ["--url", url, "declare", "binding", "shop", "orders-eu", "--key", "refund.#"],
      { cwd: dir },
    );
    expect(bind.code, bind.stderr).toBe(0);
    const r = await runCli(["--url", url, "route", "shop", "refund.eu", "--json"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.queues).toEqual(["orders-eu"]);
    expect(
      j.hops[0].bindings.map((b: { routingKey: string; matched: boolean }) => [
        b.routingKey,
        b.matched,
      ]),
    ).toEqual([
      ["order.*.eu", false],
      ["refund.#", true],
    ]);
  });

  it("stops on Ctrl-C with exit 0 and a summary", async () => {
    broker.child.kill("SIGINT");
    expect(await broker.exited).toBe(0);
    expect(broker.stderr()).toMatch(/broker stopped: \d+ published/);
  });
});

describe("eventlab broker errors", () => {
  it("a port in use gives a clear error that suggests --port 0", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const p = spawnBin(["broker", "--port", String(port)]);
      expect(await p.exited).toBe(1);
      expect(p.stderr()).toContain(`error: port ${port} on 127.0.0.1 is already in use`);
      expect(p.stderr()).toContain("--port 0");
      expect(p.stderr()).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("a bad --user is a usage error naming the flag", async () => {
    const r = await runCli(["broker", "--user", "nopassword"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "error: option '--user <name:password>' argument 'nopassword' is invalid. Expected name:password",
    );
  });
});

describe("eventlab play", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-play-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("runs a config's templates as a round trip when it has no scenarios, losing nothing", async () => {
    await writeFile(
      path.join(dir, "eventlab.config.yaml"),
      `topology:
  exchanges: { shop: { type: topic }, audit: { type: fanout, internal: true } }
  queues: { eu: {}, all: {} }
  bindings:
    - { source: shop, destination: eu, routingKey: "order.*.eu" }
    - { source: shop, destination: audit, destinationType: exchange, routingKey: "#" }
    - { source: audit, destination: all }
templates:
  order: { exchange: shop, routingKey: "order.created.{{pick eu us}}", body: { n: "{{seq}}" }, amount: 8 }
`,
    );
    const r = await runCli(["play", "--seed", "1", "--json"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      broker: string;
      published: number;
      confirmed: number;
      routed: number;
      consumed: number;
      lost: number;
      queues: { name: string; routed: number; consumed: number }[];
    };
    expect(report).toMatchObject({ broker: "embedded", published: 8, confirmed: 8, lost: 0 });
    expect(report.consumed).toBe(report.routed);
    const byName = Object.fromEntries(report.queues.map((q) => [q.name, q]));
    expect(byName["all"]?.routed).toBe(8); // shop → audit (e2e) → all
    // --seed 1 picks eu for 5 of the 8 orders: only those reach eu, each once.
    expect(byName["eu"]).toMatchObject({ routed: 5, consumed: 5 });
    expect(report.routed).toBe(13);
  });

  it("names the templates there are when one is unknown", async () => {
    const r = await runCli(["play", "--template", "nope"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no template named "nope"');
    expect(r.stderr).toContain("order");
  });

  it("runs the example config's scenario with behaviours and faults, and accounts for every copy", async () => {
    const d = await mkdtemp(path.join(tmpdir(), "eventlab-play-"));
    try {
      expect((await runCli(["init"], { cwd: d })).code).toBe(0);
      const r = await runCli(["play", "orders-demo", "--amount", "40", "--seed", "3", "--json"], {
        cwd: d,
      });
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report).toMatchObject({
        scenario: "orders-demo",
        stoppedBy: "done",
        published: 40,
        lost: 0,
      });
      const inv = report.queues.find((q: { name: string }) => q.name === "inventory");
      expect(inv.routed).toBe(40);
      expect(inv.processed + inv.duplicates + inv.deadLettered).toBe(40);
      expect(report.consumers[0]).toMatchObject({ name: "inventory-service", instances: 4 });
      expect(report.events.join("\n")).toContain("fault: cut inventory-service");
      expect(report.unconsumed).toEqual({ audit: 40 });
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it("--list names the config's scenarios and the presets", async () => {
    const d = await mkdtemp(path.join(tmpdir(), "eventlab-play-"));
    try {
      expect((await runCli(["init"], { cwd: d })).code).toBe(0);
      const text = await runCli(["play", "--list"], { cwd: d });
      expect(text.stdout).toMatch(/^orders-demo +scenario +Orders flow/m);
      expect(text.stdout).toMatch(/^work-queue +preset /m);
      const json = JSON.parse((await runCli(["play", "--list", "--json"], { cwd: d })).stdout) as {
        name: string;
        kind: string;
      }[];
      expect(json.filter((r) => r.kind === "preset").map((r) => r.name)).toContain("orders");
      expect(json[0]).toMatchObject({ name: "orders-demo", kind: "scenario" });
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it("names the scenarios and presets there are when one is unknown", async () => {
    const r = await runCli(["play", "nope"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no scenario or preset named "nope"');
    expect(r.stderr).toContain("presets: ");
  });
});

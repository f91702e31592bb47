/**
 * RabbitMQ tier: produce → consume round trips, confirms, returns and taps on every
 * exchange type, through the CLI run in-process against a real broker.
 */
import amqp, { type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { RABBITMQ_URL, runCli, uniqueName } from "../helpers/cli.js";

const url = RABBITMQ_URL ?? "";

function ndjson(text: string): Array<Record<string, unknown>> {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe.skipIf(!RABBITMQ_URL)("produce and consume against RabbitMQ", () => {
  let conn: ChannelModel;
  const queues: string[] = [];
  const exchanges: string[] = [];

  async function queue(prefix: string): Promise<string> {
    const ch = await conn.createChannel();
    const q = uniqueName(prefix);
    await ch.assertQueue(q, { durable: false });
    await ch.close();
    queues.push(q);
    return q;
  }

  /** Publish `amount` copies of `body` to queue `q` through the default exchange. */
  function produceTo(q: string, body: string, amount: number, ...extra: string[]) {
    return runCli([
      "produce",
      "--url",
      url,
      "--exchange",
      "",
      "--key",
      q,
      "--body",
      body,
      "--amount",
      String(amount),
      ...extra,
    ]);
  }

  async function messageCount(q: string): Promise<number> {
    const ch = await conn.createChannel();
    const { messageCount } = await ch.checkQueue(q);
    await ch.close();
    return messageCount;
  }

  beforeAll(async () => {
    conn = await amqp.connect(url);
  });

  afterAll(async () => {
    const ch = await conn.createChannel();
    for (const q of queues) await ch.deleteQueue(q);
    for (const e of exchanges) await ch.deleteExchange(e);
    await ch.close();
    await conn.close();
  });

  it("round-trips 1000 messages through the default exchange, all confirmed and all content intact", async () => {
    const q = await queue("roundtrip");
    const produced = await runCli([
      "produce",
      "--url",
      url,
      "--exchange",
      "",
      "--key",
      q,
      "--body",
      '{"a":1,"n":{{seq}}}',
      "--amount",
      "1000",
      "--json",
    ]);
    expect(produced.stderr).toBe("");
    expect(produced.code).toBe(0);
    const summary = JSON.parse(produced.stdout) as Record<string, number>;
    expect(summary).toMatchObject({
      published: 1000,
      confirmed: 1000,
      nacked: 0,
      returned: 0,
      unconfirmed: 0,
    });
    expect(await messageCount(q)).toBe(1000);

    const consumed = await runCli(["consume", q, "--url", url, "--count", "1000", "--json"]);
    expect(consumed.code).toBe(0);
    const lines = ndjson(consumed.stdout);
    expect(lines).toHaveLength(1000);
    expect(lines.map((l) => (l["body"] as { n: number }).n)).toEqual(
      Array.from({ length: 1000 }, (_, i) => i + 1),
    );
    expect(lines[0]).toMatchObject({
      exchange: "",
      routingKey: q,
      redelivered: false,
      bodyEncoding: "json",
      body: { a: 1, n: 1 },
    });
    expect((lines[0]!["properties"] as Record<string, unknown>)["contentType"]).toBe(
      "application/json",
    );
    expect(consumed.stderr).toMatch(/consumed 1,000 from/);
    expect(await messageCount(q)).toBe(0);
  });

  it("JSON with placeholders outside strings is rendered, then sent as JSON", async () => {
    const q = await queue("jsontext");
    await produceTo(q, '{"sku":"A-1","qty":{{int 3 3}},"n":{{seq}}}', 2);
    const r = await runCli(["consume", q, "--url", url, "--count", "2", "--json"]);
    const lines = ndjson(r.stdout);
    expect(lines.map((l) => l["body"])).toEqual([
      { sku: "A-1", qty: 3, n: 1 },
      { sku: "A-1", qty: 3, n: 2 },
    ]);
    expect((lines[0]!["properties"] as Record<string, unknown>)["contentType"]).toBe(
      "application/json",
    );
  });

  it("waits for every confirm before exiting: 20,000 quick messages all arrive", async () => {
    const q = await queue("confirms");
    const r = await produceTo(q, "x", 20000, "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ published: 20000, confirmed: 20000 });
    expect(await messageCount(q)).toBe(20000);
  });

  it("counts mandatory returns, shows them, and exits 3", async () => {
    const ex = uniqueName("unroutable");
    const ch = await conn.createChannel();
    await ch.assertExchange(ex, "direct", { durable: false });
    await ch.close();
    exchanges.push(ex);
    const r = await runCli([
      "produce",
      "--url",
      url,
      "--exchange",
      ex,
      "--key",
      "nowhere",
      "--body",
      "x",
      "--amount",
      "7",
    ]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/published 7 · confirmed 7 · returned 7/);
    expect(r.stderr).toMatch(/7 messages were returned as unroutable/);
    expect(r.stderr).toMatch(/7 × 312 NO_ROUTE: exchange .* routing key "nowhere"/);
    expect(r.stderr).toMatch(/hint: no binding matched the routing key/);
    const json = await runCli([
      "produce",
      "--url",
      url,
      "--exchange",
      ex,
      "--key",
      "nowhere",
      "--body",
      "x",
      "--json",
    ]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      returned: 1,
      returnedSamples: [{ replyCode: 312, replyText: "NO_ROUTE", count: 1 }],
    });
  });

  it("names a missing exchange and suggests declaring it", async () => {
    const missing = uniqueName("missing");
    const r = await runCli([
      "produce",
      "--url",
      url,
      "--exchange",
      missing,
      "--key",
      "k",
      "--body",
      "x",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: cannot publish to exchange "${missing}": exchange "${missing}" does not exist (404 NOT_FOUND - no exchange '${missing}' in vhost '/')`,
    );
    // The summary says what became of the message: no confirm came, it may be lost.
    expect(r.stdout).toMatch(
      /published 1 · confirmed 0 · returned 0 · unconfirmed 1 \(may be lost\)/,
    );
    expect(r.stderr).toContain(`hint: declare it: eventlab declare exchange ${missing}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("names a missing queue and suggests declaring it", async () => {
    const missing = uniqueName("noqueue");
    const r = await runCli(["consume", missing, "--url", url, "--count", "1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: cannot consume from queue "${missing}": queue "${missing}" does not exist`,
    );
    expect(r.stderr).toContain(`hint: declare it: eventlab declare queue ${missing}`);
  });

  it("--requeue puts messages back redelivered, --reject drops them", async () => {
    const q = await queue("policy");
    await produceTo(q, "x", 3);
    const requeued = await runCli([
      "consume",
      q,
      "--url",
      url,
      "--count",
      "3",
      "--requeue",
      "--json",
    ]);
    expect(requeued.code).toBe(0);
    expect(requeued.stderr).toMatch(/requeued 3/);
    expect(await messageCount(q)).toBe(3);
    const again = await runCli(["consume", q, "--url", url, "--count", "3", "--reject", "--json"]);
    expect(ndjson(again.stdout).every((m) => m["redelivered"] === true)).toBe(true);
    expect(again.stderr).toMatch(/rejected 3/);
    expect(await messageCount(q)).toBe(0);
  });

  it("--count leaves the rest of the queue in place, --idle-timeout ends an empty wait", async () => {
    const q = await queue("count");
    await produceTo(q, "x", 10);
    const some = await runCli([
      "consume",
      q,
      "--url",
      url,
      "--count",
      "4",
      "--prefetch",
      "50",
      "--json",
    ]);
    expect(ndjson(some.stdout)).toHaveLength(4);
    expect(await messageCount(q)).toBe(6);
    const rest = await runCli(["consume", q, "--url", url, "--idle-timeout", "300ms", "--json"]);
    expect(rest.code).toBe(0);
    expect(ndjson(rest.stdout)).toHaveLength(6);
    expect(rest.stderr).toMatch(/idle/);
  });

  it("prints a readable block per message by default", async () => {
    const q = await queue("pretty");
    await runCli([
      "produce",
      "--url",
      url,
      "--exchange",
      "",
      "--key",
      q,
      "--header",
      "region=eu",
      "--property",
      "messageId=m-1",
      "--body",
      '{"order":{"id":7}}',
    ]);
    const r = await runCli(["consume", q, "--url", url, "--count", "1"]);
    expect(r.stdout).toContain(`#1 (default exchange) → ${q}`);
    expect(r.stdout).toContain("headers     region=eu");
    expect(r.stdout).toMatch(/properties .*messageId=m-1/);
    expect(r.stdout).toContain('  {\n    "order": {\n      "id": 7\n    }\n  }');
  });

  it("Ctrl-C stops producing, waits for confirms, reports and exits 2", async () => {
    const q = await queue("interrupt-produce");
    const controller = new AbortController();
    const running = runCli(
      [
        "produce",
        "--url",
        url,
        "--exchange",
        "",
        "--key",
        q,
        "--body",
        "x",
        "--amount",
        "100000",
        "--rate",
        "200",
        "--json",
      ],
      { signal: controller.signal },
    );
    // Abort once some messages are on the queue (bounded wait).
    await expect
      .poll(() => messageCount(q), { timeout: 10_000, interval: 50 })
      .toBeGreaterThanOrEqual(5);
    controller.abort();
    const r = await running;
    expect(r.code).toBe(2);
    const summary = JSON.parse(r.stdout) as {
      published: number;
      confirmed: number;
      interrupted: boolean;
      unconfirmed: number;
    };
    expect(summary.interrupted).toBe(true);
    expect(summary.published).toBeGreaterThanOrEqual(5);
    expect(summary.published).toBeLessThan(100000);
    expect(summary.confirmed).toBe(summary.published);
    expect(summary.unconfirmed).toBe(0);
    expect(await messageCount(q)).toBe(summary.published);
  });

  it("Ctrl-C cancels the consumer, settles what it printed, reports and exits 2", async () => {
    const q = await queue("interrupt-consume");
    await produceTo(q, "x", 5);
    const controller = new AbortController();
    const running = runCli(["consume", q, "--url", url, "--json"], { signal: controller.signal });
    await expect.poll(() => messageCount(q), { timeout: 10_000, interval: 50 }).toBe(0);
    controller.abort();
    const r = await running;
    expect(r.code).toBe(2);
    expect(ndjson(r.stdout)).toHaveLength(5);
    expect(r.stderr).toMatch(/consumed 5 from .* acked 5 — interrupted/);
    expect(await messageCount(q)).toBe(0);
  });

  it("a reader that leaves early (| head) ends consume quietly; unsettled messages stay queued", async () => {
    const q = await queue("epipe");
    await produceTo(q, '{"x":1}', 5000);
    const { execFile } = await import("node:child_process");
    const path = await import("node:path");
    const bin = path.resolve(import.meta.dirname, "../../bin/eventlab.cjs");
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          "sh",
          [
            "-c",
            `node "${bin}" consume "${q}" --url "${url}" --json --prefetch 10 | head -n 2; exit \${PIPESTATUS:-0}`,
          ],
          { timeout: 20_000, env: { ...process.env, NO_COLOR: "1" } },
          (err, stdout, stderr) =>
            resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        );
      },
    );
    expect(result.stdout.trim().split("\n")).toHaveLength(2);
    expect(result.stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    expect(result.stderr).toMatch(/— output closed/);
    // Only what was written before the pipe closed was acknowledged.
    expect(await messageCount(q)).toBeGreaterThan(4900);
  });

  describe("tap on each exchange type", () => {
    async function tapAndPublish(
      type: string,
      tapArgs: string[],
      probe: { key: string; headers?: string[] },
      publishes: Array<{ key: string; headers?: string[] }>,
      expectCount: number,
    ): Promise<Array<Record<string, unknown>>> {
      const ex = uniqueName(`tap-${type}`);
      const ch = await conn.createChannel();
      await ch.assertExchange(ex, type, { durable: false });
      await ch.close();
      exchanges.push(ex);
      const tap = runCli([
        "consume",
        "--url",
        url,
        "--exchange",
        ex,
        ...tapArgs,
        "--idle-timeout",
        "1500ms",
        "--json",
      ]);
      // Publish once the tap's queue is bound: retry the mandatory publish until it is routed.
      const probeArgs = [
        ...["produce", "--url", url, "--exchange", ex, "--key", probe.key],
        ...["--body", "probe", "--json"],
      ];
      for (const h of probe.headers ?? []) probeArgs.push("--header", h);
      await vi.waitFor(
        async () => {
          const sent = await runCli(probeArgs);
          const { returned } = JSON.parse(sent.stdout) as { returned: number };
          expect(returned, "the probe was returned: the tap's queue is not bound yet").toBe(0);
        },
        { timeout: 5000, interval: 50 },
      );
      for (const p of publishes) {
        const args = [
          "produce",
          "--url",
          url,
          "--exchange",
          ex,
          "--key",
          p.key,
          "--body",
          JSON.stringify({ key: p.key }),
          "--json",
        ];
        for (const h of p.headers ?? []) args.push("--header", h);
        await runCli(args);
      }
      const r = await tap;
      expect(r.code).toBe(0);
      const got = ndjson(r.stdout).filter((m) => m["bodyEncoding"] === "json");
      expect(got).toHaveLength(expectCount);
      return got;
    }

    it("topic: '*' is one word, '#' any number", async () => {
      const got = await tapAndPublish(
        "topic",
        ["--key", "order.*.eu"],
        { key: "order.probe.eu" },
        [
          { key: "order.created.eu" },
          { key: "order.created.us" },
          { key: "order.eu" },
          { key: "order.paid.eu" },
        ],
        2,
      );
      expect(got.map((m) => m["routingKey"])).toEqual(["order.created.eu", "order.paid.eu"]);
    });

    it("direct: exact key only", async () => {
      const got = await tapAndPublish(
        "direct",
        ["--key", "match.goal"],
        { key: "match.goal" },
        [{ key: "match.goal" }, { key: "match.card" }],
        1,
      );
      expect(got[0]!["routingKey"]).toBe("match.goal");
    });

    it("fanout: every message", async () => {
      await tapAndPublish("fanout", [], { key: "any" }, [{ key: "a" }, { key: "b" }], 2);
    });

    const headerCases: Array<[string, number, string[]]> = [
      // mode, expected matches of the four publishes below, keys matched
      ["all", 1, ["both"]],
      ["any", 4, ["both", "region-only", "priority-only", "both-x"]],
      ["all-with-x", 1, ["both-x"]],
      ["any-with-x", 4, ["both", "region-only", "priority-only", "both-x"]],
    ];
    for (const [mode, n, keys] of headerCases) {
      it(`headers: x-match ${mode}`, async () => {
        const tapArgs = ["--header", "region=eu", "--header", "priority=5", "--match", mode];
        if (mode.endsWith("with-x")) tapArgs.push("--header", "x-tenant=acme");
        const probeHeaders = ["region=eu", "priority=5", "x-tenant=acme"];
        const got = await tapAndPublish(
          "headers",
          tapArgs,
          { key: "probe", headers: probeHeaders },
          [
            { key: "both", headers: ["region=eu", "priority=5"] },
            { key: "region-only", headers: ["region=eu", "priority=1"] },
            { key: "priority-only", headers: ["region=us", "priority=5"] },
            { key: "both-x", headers: ["region=eu", "priority=5", "x-tenant=acme"] },
          ].map((p) =>
            mode.endsWith("with-x") || p.key !== "both-x"
              ? p
              : { ...p, headers: ["region=eu", "priority=7"] },
          ),
          n,
        );
        expect(got.map((m) => m["routingKey"]).sort()).toEqual([...keys].sort());
      });
    }
  });
});

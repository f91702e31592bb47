/**
 * `eventlab consume` with behaviour flags, on the embedded broker in this process: what a
 * person sees per message, the summary, and where failed messages end up.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { runCli, uniqueName } from "../helpers/cli.js";

let broker: RunningBroker;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  broker = await startBroker({ port: 0 });
  env = { EVENTLAB_URL: broker.url };
});
afterAll(async () => {
  await broker?.close();
});

async function queueWith(messages: { id: string; n: number; user: string }[]): Promise<string> {
  const q = uniqueName("jobs");
  expect((await runCli(["declare", "queue", q], { env })).code).toBe(0);
  for (const m of messages) {
    const r = await runCli(
      [
        "produce",
        "--exchange",
        "",
        "--key",
        q,
        "--body",
        JSON.stringify({ n: m.n, user: m.user }),
        "--property",
        `messageId=${m.id}`,
      ],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
  }
  return q;
}

const lines = (out: string) =>
  out
    .trim()
    .split("\n")
    .map(
      (l) =>
        JSON.parse(l) as {
          outcome: string;
          attempt?: number;
          to?: string;
          redelivered: boolean;
          outOfOrder: boolean;
          gap: number;
        },
    );

describe("eventlab consume with behaviours", () => {
  it("--count N settles exactly N for good and leaves the rest in the queue", async () => {
    const q = await queueWith(
      Array.from({ length: 20 }, (_, i) => ({ id: `m${i}`, n: i, user: "u" })),
    );
    const r = await runCli(
      ["consume", q, "--count", "3", "--fail-rate", "0.5", "--on-failure", "requeue", "--json"],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const processed = lines(r.stdout).filter((l) => l.outcome === "ack").length;
    expect(processed).toBe(3);
    expect(r.stderr).toMatch(/: 3 processed/);
    // Everything not processed went back: 17 of the 20 are still there.
    await expect
      .poll(() => broker.vhost.queues.get(q)?.messageCount, { timeout: 3000, interval: 10 })
      .toBe(17);
  });

  it("acknowledges duplicates by the dedupe key and flags out-of-order messages", async () => {
    const q = await queueWith([
      { id: "a", n: 1, user: "u" },
      { id: "b", n: 3, user: "u" },
      { id: "a", n: 2, user: "u" },
      { id: "c", n: 2, user: "u" },
    ]);
    const r = await runCli(
      [
        "consume",
        q,
        "--dedupe",
        "messageId",
        "--ordering",
        "body.user:body.n",
        "--count",
        "4",
        "--json",
      ],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const got = lines(r.stdout);
    expect(got.map((g) => g.outcome)).toEqual(["ack", "ack", "duplicate", "ack"]);
    expect(got[1]?.gap).toBe(1); // 3 after 1: 2 is missing
    expect(got[3]?.outOfOrder).toBe(true); // 2 after 3
    expect(r.stderr).toContain(
      "3 processed · 0 failed · 0 retried · 0 dead-lettered · 1 duplicates · 1 out of order",
    );
  });

  it("retries through delay queues, then dead-letters, attempt by attempt", async () => {
    const q = await queueWith([{ id: "x", n: 1, user: "u" }]);
    const r = await runCli(
      [
        "consume",
        q,
        "--fail-rate",
        "1",
        "--retry-delays",
        "50ms,50ms",
        "--count",
        "1",
        "--idle-timeout",
        "3s",
        "--json",
      ],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout).map((g) => [g.outcome, g.attempt, g.to])).toEqual([
      ["retry", 1, `${q}.retry.1`],
      ["retry", 2, `${q}.retry.2`],
      ["dead-letter", 3, `${q}.dlq`],
    ]);
    // The attempts come from the broker's x-death counts, which each line shows.
    const third = lines(r.stdout)[2] as unknown as { xDeath: { queue: string; count: number }[] };
    expect(third.xDeath.map((d) => [d.queue, d.count]).sort()).toEqual([
      [`${q}.retry.1`, 1],
      [`${q}.retry.2`, 1],
    ]);
    const dlq = await runCli(["consume", `${q}.dlq`, "--count", "1", "--json"], { env });
    const m = JSON.parse(dlq.stdout) as {
      headers: { "x-death": { queue: string; count: number }[] };
    };
    expect(m.headers["x-death"].map((d) => d.queue).sort()).toEqual([
      `${q}.retry.1`,
      `${q}.retry.2`,
    ]);
  });

  it("a crash gives the unacknowledged messages back, redelivered", async () => {
    const q = await queueWith([1, 2, 3, 4].map((n) => ({ id: `m${n}`, n, user: "u" })));
    const r = await runCli(
      [
        "consume",
        q,
        "--crash-at",
        "2",
        "--prefetch",
        "4",
        // Not --count: a message processed twice would end the run before the last one.
        "--idle-timeout",
        "2500ms",
        "--json",
      ],
      {
        env,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const got = lines(r.stdout);
    expect(got[1]?.outcome).toBe("crash");
    // At least once: every message is processed; one whose ack was still in the socket when
    // it dropped may be processed twice (which is what --dedupe is for).
    const acked = got.filter((g) => g.outcome === "ack");
    expect(new Set(acked.map((g) => (g as { messageId?: string }).messageId))).toEqual(
      new Set(["m1", "m2", "m3", "m4"]),
    );
    expect(acked.length).toBeLessThanOrEqual(5);
    expect(got.some((g) => g.redelivered)).toBe(true);
  });

  it("prints one readable line per message on a terminal", async () => {
    const q = await queueWith([{ id: "p", n: 1, user: "u" }]);
    const r = await runCli(["consume", q, "--work-time", "5ms", "--count", "1"], { env });
    expect(r.stdout).toMatch(/^ {3}1 \S+ ✓ processed in 5 ms\n$/);
  });

  it.each([
    [["--fail-rate", "2"], "error: --fail-rate: expected a fraction from 0 to 1, got 2"],
    [["--on-failure", "retry"], "error: --on-failure retry needs --retry-delays"],
    [
      ["--fail-when", "body.n~3"],
      "error: option '--fail-when <condition>' argument 'body.n~3' is invalid. Expected field=value, field>number or field<number",
    ],
    [
      ["--breaker", "x"],
      "error: option '--breaker <failures:pause>' argument 'x' is invalid. Expected failures:pause, like 5:2s.",
    ],
    [["--work-time", "5ms", "--requeue"], "behaviours decide how each message is settled"],
  ])("refuses %j with a clear usage error", async (flags, text) => {
    const r = await runCli(["consume", "q", ...flags], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(text);
  });

  it("refuses behaviours on an exchange tap", async () => {
    const r = await runCli(["consume", "--exchange", "amq.topic", "--work-time", "5ms"], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("consumer behaviours work on a queue");
  });
});

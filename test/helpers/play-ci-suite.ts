/**
 * `eventlab play --ci` and `eventlab test`: every kind of expectation and threshold, passing and
 * failing, with the failure messages (expected, actual, message ids), the exit code and the
 * JUnit XML parsed back. One suite, run against the embedded broker (test/e2e) and RabbitMQ
 * (test/rabbitmq): on RabbitMQ the names are unique and deleted afterwards.
 *
 * The config: a topic exchange feeding three queues; 20 messages whose body `n` runs 1..20;
 * a schema that allows n <= 15 (so 5 messages break it); a consumer `worker` on billing with
 * 20 ms of work; the audit queue has no consumer.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterAll, beforeAll, expect, it } from "vitest";
import { stringify } from "yaml";
import { runCli } from "./cli.js";

const AMOUNT = 20;

export interface PlayCiSuite {
  /** --url and its value on RabbitMQ; nothing for the embedded broker. */
  urlFlags: string[];
  /** A name for a queue or exchange (unique on RabbitMQ). */
  name(base: string): string;
  /** Delete what the runs declared (RabbitMQ). */
  cleanup?(names: { queues: string[]; exchanges: string[] }): Promise<void>;
}

interface Check {
  name: string;
  kind: string;
  ok: boolean;
  expected: string;
  actual: string;
  ids: string[];
  message: string;
}

export function playCiSuite(s: PlayCiSuite): void {
  let dir = "";
  const exchange = s.name("ci-shop");
  const billing = s.name("ci-billing");
  const audit = s.name("ci-audit");

  const config = (scenarios: Record<string, unknown>) => ({
    topology: {
      exchanges: { [exchange]: { type: "topic" } },
      queues: { [billing]: { durable: true }, [audit]: { durable: true } },
      bindings: [
        { source: exchange, destination: billing, routingKey: "order.#" },
        { source: exchange, destination: audit, routingKey: "#" },
      ],
    },
    templates: {
      order: {
        exchange,
        routingKey: "order.created",
        body: { n: "{{seq}}" },
        properties: { persistent: true },
        amount: AMOUNT,
        rate: 200,
      },
    },
    consumers: { worker: { queue: billing, workTime: "20ms" } },
    scenarios,
  });

  const scenario = (expect: unknown[], thresholds?: Record<string, unknown>) => ({
    producers: [{ template: "order" }],
    consumers: ["worker"],
    expect,
    ...(thresholds ? { thresholds } : {}),
  });

  const passing = scenario(
    [
      { queue: billing, count: AMOUNT },
      { queue: audit, count: AMOUNT, within: "20s" },
      { consumer: "worker", processed: `>= ${AMOUNT}`, failed: 0 },
      { message: { queue: audit, match: "body.n <= 15" }, schema: "schemas/small.json", count: 15 },
      { message: { queue: audit, match: "body.n > 100" }, count: 0, name: "no message above 100" },
    ],
    { lost: 0, duplicated: 0, p99: "20s", deadLettered: "<= 1" },
  );

  const failing = scenario(
    [
      { queue: billing, count: AMOUNT + 1 },
      { queue: audit, count: AMOUNT, within: "1ms" },
      { consumer: "worker", failed: ">= 1" },
      { message: { queue: audit }, schema: "schemas/small.json" },
    ],
    { p99: "5ms", deadLettered: ">= 1" },
  );

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-play-ci-"));
    await writeFile(
      path.join(dir, "eventlab.config.yaml"),
      stringify(config({ passing, failing })),
    );
    await import("node:fs/promises").then((fs) => fs.mkdir(path.join(dir, "schemas")));
    await writeFile(
      path.join(dir, "schemas", "small.json"),
      JSON.stringify({
        type: "object",
        required: ["n"],
        properties: { n: { type: "integer", maximum: 15 } },
      }),
    );
  });

  afterAll(async () => {
    await s.cleanup?.({ queues: [billing, audit], exchanges: [exchange] });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const eventlab = (...argv: string[]) =>
    runCli([...s.urlFlags, ...argv], {
      cwd: dir,
      env: { EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
      signal: AbortSignal.timeout(60_000),
    });

  /** The checks of a `play --ci --json` run. */
  const checksOf = (stdout: string) => (JSON.parse(stdout) as { checks: Check[] }).checks;

  it("every kind of expectation and threshold passes: exit 0, one ✓ line per check", async () => {
    const r = await eventlab("play", "passing", "--ci", "--purge");
    expect(r.code, r.stderr + r.stdout).toBe(0);
    for (const line of [
      `✓ queue ${billing} receives ${AMOUNT} messages (${AMOUNT})`,
      `✓ queue ${audit} receives ${AMOUNT} messages within 20000 ms (${AMOUNT})`,
      `✓ consumer worker processed >= ${AMOUNT} (${AMOUNT})`,
      "✓ consumer worker failed 0 (0)",
      `✓ messages to ${audit} matching body.n <= 15: 15, each valid against its schema (15 selected, 0 invalid)`,
      "✓ no message above 100 (0 selected)",
      "✓ threshold lost <= 0 (0)",
      "✓ threshold duplicated <= 0 (0)",
      "✓ threshold deadLettered <= 1 (0)",
      "✓ the run ends by itself (done)",
      "✓ no message lost (0)",
      "✓ every publish confirmed (0 nacked)",
    ]) {
      expect(r.stdout).toContain(line);
    }
    expect(r.stdout).toMatch(/✓ threshold p99 <= 20000 ms \(\d+ ms\)/);
    expect(r.stdout).toMatch(/\n13 checks passed\n/);
  }, 90_000);

  it("failures say the expected and actual values and the message ids; exit 1; JUnit has one case per check", async () => {
    const r = await eventlab(
      "play",
      "failing",
      "--ci",
      "--purge",
      "--json",
      "--junit",
      "out/junit.xml",
    );
    expect(r.code, r.stderr).toBe(1);
    const checks = checksOf(r.stdout);
    const byName = new Map(checks.map((c) => [c.name, c]));
    const failed = checks.filter((c) => !c.ok).map((c) => c.name);
    expect(failed).toEqual([
      `queue ${billing} receives ${AMOUNT + 1} messages`,
      `queue ${audit} receives ${AMOUNT} messages within 1 ms`,
      "consumer worker failed >= 1",
      `messages to ${audit}: >= 1, each valid against its schema`,
      "threshold deadLettered >= 1",
      "threshold p99 <= 5 ms",
    ]);
    expect(byName.get(`queue ${billing} receives ${AMOUNT + 1} messages`)).toMatchObject({
      expected: String(AMOUNT + 1),
      actual: String(AMOUNT),
      message: `expected ${AMOUNT + 1} messages in queue ${billing}, got ${AMOUNT}`,
    });
    const late = byName.get(`queue ${audit} receives ${AMOUNT} messages within 1 ms`);
    expect(late?.message).toMatch(
      new RegExp(
        `^expected ${AMOUNT} messages in queue ${audit} within 1 ms, got \\d+ \\(\\d+ more came later \\(first at \\d+ ms\\)\\)$`,
      ),
    );
    expect(late?.ids.length).toBeGreaterThan(0);
    expect(late?.ids.every((id) => /\.order-\d+$/.test(id))).toBe(true);
    expect(byName.get("consumer worker failed >= 1")).toMatchObject({
      expected: ">= 1",
      actual: "0",
      message: "expected consumer worker failed >= 1, got 0",
    });
    const schema = byName.get(`messages to ${audit}: >= 1, each valid against its schema`);
    expect(schema).toMatchObject({
      expected: ">= 1 selected, 0 invalid",
      actual: `${AMOUNT} selected, 5 invalid`,
    });
    expect(schema?.message).toMatch(
      /^5 messages of 20 broke the schema \(first: \S+\.order-16: \/n must be <= 15\)$/,
    );
    expect(schema?.ids.map((id) => id.replace(/^.*\.order-/, "")).sort()).toEqual([
      "16",
      "17",
      "18",
      "19",
      "20",
    ]);
    expect(byName.get("threshold deadLettered >= 1")).toMatchObject({
      actual: "0",
      message: "expected deadLettered >= 1, got 0",
    });
    expect(byName.get("threshold p99 <= 5 ms")?.message).toMatch(
      /^expected p99 <= 5 ms, got \d+ ms$/,
    );
    // The run's own checks passed: nothing lost, all confirmed.
    expect(checks.filter((c) => c.kind === "run").every((c) => c.ok)).toBe(true);

    const xml = await readFile(path.join(dir, "out", "junit.xml"), "utf8");
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(xml);
    const suite = doc.testsuites.testsuite;
    expect(suite.name).toBe("failing");
    expect(Number(suite.tests)).toBe(checks.length);
    expect(Number(suite.failures)).toBe(6);
    const cases = suite.testcase as Array<{
      name: string;
      failure?: { message: string; "#text": string };
    }>;
    expect(cases.map((c) => c.name)).toEqual(checks.map((c) => c.name));
    const junitSchema = cases.find((c) => c.name === schema?.name)?.failure;
    expect(junitSchema?.message).toBe(schema?.message);
    expect(junitSchema?.["#text"]).toContain(`actual: ${AMOUNT} selected, 5 invalid`);
    expect(junitSchema?.["#text"]).toMatch(/message ids: .*order-16/);
  }, 90_000);

  it("eventlab test runs the config's checking scenarios: one JUnit suite each, exit 1 when one fails", async () => {
    const r = await eventlab("test", "--purge", "--junit", "all.xml");
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain("checks of passing");
    expect(r.stdout).toContain("checks of failing");
    expect(r.stdout).toContain("1 of 2 scenarios failed: failing");
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(
      await readFile(path.join(dir, "all.xml"), "utf8"),
    );
    expect(
      doc.testsuites.testsuite.map((t: { name: string; failures: string }) => [t.name, t.failures]),
    ).toEqual([
      ["passing", "0"],
      ["failing", "6"],
    ]);
    const one = await eventlab("test", "passing", "--purge", "--json");
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({
      passed: 1,
      failed: 0,
      scenarios: [{ scenario: "passing", ok: true }],
    });
  }, 120_000);
}

/**
 * Message contracts on a broker: `produce --validate` refuses what breaks a template's
 * schema, `consume --validate` reports (and still acks) what breaks a consumer's schema.
 * Written once, run against the embedded broker (test/e2e) and RabbitMQ (test/rabbitmq).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, uniqueName } from "./cli.js";

export interface ContractsTarget {
  /** The broker's URL; called once the tier's beforeAll has run. */
  url(): string;
  /** Also check produce --validate. */
  produce: boolean;
}

const ORDER_SCHEMA = {
  type: "object",
  required: ["id", "total"],
  properties: { id: { type: "string" }, total: { type: "number", minimum: 0 } },
};

export function contractsSuite(target: ContractsTarget): void {
  let dir: string;
  const queue = uniqueName("contracts");
  const env = () => ({ EVENTLAB_URL: target.url() });
  const cli = (argv: string[], stdin?: string) =>
    runCli(argv, { env: env(), cwd: dir, ...(stdin !== undefined ? { stdin } : {}) });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "eventlab-contracts-"));
    await writeFile(path.join(dir, "order.schema.json"), JSON.stringify(ORDER_SCHEMA));
    await writeFile(
      path.join(dir, "eventlab.config.yaml"),
      [
        "topology:",
        "  queues:",
        `    ${JSON.stringify(queue)}: { durable: false }`,
        "templates:",
        "  good-order:",
        `    routingKey: ${JSON.stringify(queue)}`,
        '    properties: { messageId: "good-{{seq}}" }',
        '    body: { id: "o-{{seq}}", total: 5 }',
        "    schema: order.schema.json",
        "  bad-order:",
        `    routingKey: ${JSON.stringify(queue)}`,
        '    properties: { messageId: "bad-{{seq}}" }',
        '    body: { id: "o-{{seq}}", total: -1 }',
        "    schema: order.schema.json",
        "  plain:",
        `    routingKey: ${JSON.stringify(queue)}`,
        "    body: hello",
        "consumers:",
        "  audit:",
        `    queue: ${JSON.stringify(queue)}`,
        "    schema: order.schema.json",
        "  loose:",
        `    queue: ${JSON.stringify(queue)}`,
        "",
      ].join("\n"),
    );
    const applied = await cli(["declare", "queue", queue, "--no-durable"]);
    expect(applied.code, applied.stderr).toBe(0);
  });
  afterAll(async () => {
    await cli(["delete", "queue", queue]);
    await rm(dir, { recursive: true, force: true });
  });

  /** Publish without validation: 2 good, 3 bad (total -1), 1 not JSON. */
  async function fillQueue(): Promise<void> {
    for (const [template, amount] of [
      ["good-order", "2"],
      ["bad-order", "3"],
      ["plain", "1"],
    ] as const) {
      const r = await cli(["produce", template, "--amount", amount]);
      expect(r.code, r.stderr).toBe(0);
    }
  }

  describe("consume --validate", () => {
    it("counts and shows each bad message, adds violations to its --json line, acks all, exits 1", async () => {
      await fillQueue();
      const r = await cli(["consume", "audit", "--validate", "--count", "6", "--json"]);
      expect(r.code, r.stderr).toBe(1);
      const lines = r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { properties: { messageId?: string }; violations?: unknown });
      expect(lines).toHaveLength(6);
      const bad = lines.filter((l) => l.violations !== undefined);
      // produce gives every message an id: the plain one gets `<run>-<n>`.
      const ids = bad.map((l) => l.properties.messageId ?? "");
      expect(ids.filter((id) => id.startsWith("bad-")).sort()).toEqual(["bad-1", "bad-2", "bad-3"]);
      expect(ids.filter((id) => /^[0-9a-f]{8}-1$/.test(id))).toHaveLength(1);
      expect(ids).toHaveLength(4);
      expect(lines.find((l) => l.properties.messageId === "bad-1")?.violations).toEqual([
        { path: "/total", message: "must be >= 0" },
      ]);
      expect(
        lines.find((l) => /^[0-9a-f]{8}-1$/.test(l.properties.messageId ?? ""))?.violations,
      ).toEqual([{ path: "/", message: "not JSON" }]);
      expect(r.stderr).toMatch(/✗ #\d+ bad-2 breaks order\.schema\.json: \/total must be >= 0/);
      expect(r.stderr).toContain("✗ 4 messages broke the contracts");
      expect(r.stderr).toContain("acked 6");
      // Handled as usual: acked, so the queue is empty now.
      const after = await cli(["consume", queue, "--idle-timeout", "300ms", "--json"]);
      expect(after.code, after.stderr).toBe(0);
      expect(after.stdout.trim()).toBe("");
    });

    it("--schema FILE checks a queue that has no profile; good messages exit 0", async () => {
      const r0 = await cli(["produce", "good-order", "--amount", "3"]);
      expect(r0.code, r0.stderr).toBe(0);
      const r = await cli(["consume", queue, "--schema", "order.schema.json", "--count", "3"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toContain("✗");
      expect(r.stderr).toContain("consumed 3");
    });

    it("a profile without a schema is a usage error naming it", async () => {
      const r = await cli(["consume", "loose", "--validate", "--count", "1"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('--validate: consumer "loose" has no schema');
      expect(r.stderr).toContain("hint: add schema: <file.json> under consumers.loose");
    });
  });

  describe.runIf(target.produce)("produce --validate", () => {
    it("publishes the good messages only, shows the first bad ones, exits 1", async () => {
      const r = await cli([
        "produce",
        "good-order",
        "bad-order",
        "--amount",
        "7",
        "--validate",
        "--json",
      ]);
      expect(r.code, r.stderr).toBe(1);
      const summary = JSON.parse(r.stdout) as {
        published: number;
        confirmed: number;
        invalid: number;
        violations: Array<{ template: string; messageId: string; errors: unknown[] }>;
      };
      expect(summary.published).toBe(7);
      expect(summary.confirmed).toBe(7);
      expect(summary.invalid).toBe(7);
      expect(summary.violations).toHaveLength(5);
      expect(summary.violations[0]).toEqual({
        template: "bad-order",
        messageId: "bad-1",
        errors: [{ path: "/total", message: "must be >= 0" }],
      });
      expect(r.stderr).toContain("✗ 7 messages broke the contracts and were not published");
      expect(r.stderr).toContain("bad-1 (bad-order): /total must be >= 0");
      expect(r.stderr).toContain("… and 2 more");
      // Only the 7 good ones are in the queue.
      const c = await cli(["consume", queue, "--idle-timeout", "300ms", "--json"]);
      const ids = c.stdout
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { properties: { messageId: string } }).properties.messageId);
      expect(ids).toHaveLength(7);
      expect(ids.every((id) => id.startsWith("good-"))).toBe(true);
    });

    it("--validate on a template without a schema is a usage error naming it", async () => {
      const r = await cli(["produce", "plain", "--validate"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('--validate: template "plain" has no schema');
    });

    it("a body from flags is checked against --schema", async () => {
      const bad = await cli([
        "produce",
        "--exchange",
        "",
        "--key",
        queue,
        "--body",
        '{"id":1}',
        "--schema",
        "order.schema.json",
      ]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/-1 \(\(flags\)\): .*\/total is required/);
      expect(bad.stderr).toContain("/id must be string");
      expect(bad.stdout).toContain("published 0");
      const none = await cli([
        "produce",
        "--exchange",
        "",
        "--key",
        queue,
        "--body",
        "{}",
        "--validate",
      ]);
      expect(none.code).toBe(1);
      expect(none.stderr).toContain("--validate needs a schema: give --schema FILE");
      const missing = await cli(["produce", "good-order", "--schema", "nope.json"]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("--schema: schema file nope.json not found");
    });
  });
}

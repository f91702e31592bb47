/**
 * `eventlab play --explore`: on the ack-before-work preset (a service that acks before it
 * works) the exploration finds the planted bug within 50 runs, the same way with the same
 * seed, shrinks the failing schedule to one fault (a cut of the service), and writes a config
 * whose scenario replays the loss. And a consumer that is a command of its own: the tiny
 * worker of test/fixtures, once correct and once acking before it works, judged from the
 * broker's side alone.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import type { PlayReport } from "../../src/lab/types.js";
import { runCli } from "../helpers/cli.js";

const WORKER = fileURLToPath(new URL("../fixtures/worker.mjs", import.meta.url));
const ENV = { EVENTLAB_URL: "", EVENTLAB_CONFIG: "" };

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "eventlab-explore-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Found {
  found: boolean;
  seed: number;
  runs: number;
  foundAt: number;
  original: Array<Record<string, unknown>>;
  shrunk: Array<Record<string, unknown>>;
  file: string;
  scenario: string;
  record?: string;
  recordFailed?: boolean;
}

async function explore(
  out: string,
  ...more: string[]
): Promise<{ code: number; result: Found; stderr: string }> {
  const r = await runCli(
    [
      ...["play", "ack-before-work", "--explore", "50", "--seed", "11", "--json"],
      ...["--explore-out", out, ...more],
    ],
    { cwd: dir, env: ENV, signal: AbortSignal.timeout(240_000) },
  );
  expect(r.stdout, r.stderr).not.toBe("");
  return { code: r.code, result: JSON.parse(r.stdout) as Found, stderr: r.stderr };
}

describe("play --explore", () => {
  it("finds the planted at-least-once bug within 50 runs, the same with the same seed, shrinks it to one cut, and the written scenario replays it", async () => {
    const started = Date.now();
    const first = await explore("first.yaml", "--record", "shrunk.ndjson");
    const tookMs = Date.now() - started;
    expect(first.code).toBe(1);
    expect(first.result).toMatchObject({
      found: true,
      seed: 11,
      scenario: "ack-before-work-shrunk",
    });
    expect(first.result.foundAt).toBeLessThanOrEqual(50);
    expect(first.result.shrunk).toHaveLength(1);
    expect(first.result.shrunk[0]).toMatchObject({ consumer: "payment-service", action: "cut" });
    console.info(
      `explore: found at run ${first.result.foundAt} (${JSON.stringify(first.result.original)}), ${first.result.runs} runs in all, shrunk to ${JSON.stringify(first.result.shrunk)} in ${tookMs} ms`,
    );

    // --record: the shrunk schedule once more, its ledger written; why tells the lost job's story.
    expect(first.result).toMatchObject({ record: "shrunk.ndjson", recordFailed: true });
    const lostId = /recorded \d+ messages' events in shrunk\.ndjson/.test(first.stderr);
    expect(lostId, first.stderr).toBe(true);
    const records = (await readFile(path.join(dir, "shrunk.ndjson"), "utf8")).trim().split("\n");
    const meta = JSON.parse(records[0] ?? "{}") as { report: PlayReport };
    const lost = meta.report.checker.samples.lost[0] ?? "";
    const why = await runCli(["why", lost, "--from", "shrunk.ndjson"], { cwd: dir });
    expect(why.code, why.stderr).toBe(0);
    // Acked as it arrived, then never worked on: the story ends with the ack.
    expect(why.stdout).toMatch(/acked in payments\.charge/);
    expect(why.stdout.trim().split("\n").at(-1)).toMatch(/acked in payments\.charge/);

    // The same seed draws the same schedules: the same run fails, with the same faults.
    const second = await explore("second.yaml");
    expect(second.result.foundAt).toBe(first.result.foundAt);
    expect(second.result.original).toEqual(first.result.original);

    // The written config is the preset with one scenario: the shrunk schedule as its faults.
    const written = parse(await readFile(path.join(dir, "first.yaml"), "utf8"));
    expect(Object.keys(written.scenarios)).toEqual(["ack-before-work-shrunk"]);
    expect(written.scenarios["ack-before-work-shrunk"].faults).toEqual(first.result.shrunk);
    expect(written.scenarios["ack-before-work-shrunk"].explore).toBeUndefined();
    const replay = await runCli(
      ["--config", "first.yaml", "play", "ack-before-work-shrunk", "--seed", "11", "--json"],
      { cwd: dir, env: ENV, signal: AbortSignal.timeout(60_000) },
    );
    expect(replay.code).toBe(1);
    const report = JSON.parse(replay.stdout) as PlayReport;
    expect(report.checker.counts.lost).toBeGreaterThanOrEqual(1);
    expect(report.lostIntended).toBeUndefined();
  }, 300_000);

  it("a scenario without an explore: section is a usage error saying what to add", async () => {
    const r = await runCli(["play", "work-queue", "--explore", "5"], { cwd: dir, env: ENV });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("has no explore: section");
    expect(r.stderr).toContain("hint: add one");
  });
});

describe("a consumer that runs a command (test/fixtures/worker.mjs)", () => {
  /** 60 jobs at 40/s to a worker process that needs 40 ms each; it is killed at 700 ms. */
  async function playWorker(
    mode: "correct" | "early",
  ): Promise<{ code: number; report: PlayReport }> {
    const file = path.join(dir, `worker-${mode}.yaml`);
    await writeFile(
      file,
      stringify({
        topology: { queues: { jobs: {} } },
        templates: { job: { routingKey: "jobs", body: { n: "{{seq}}" }, amount: 60, rate: 40 } },
        consumers: {
          service: {
            queue: "jobs",
            command: `"${process.execPath}" "${WORKER}" ${mode}`,
            doneWhen: "publish",
          },
        },
        scenarios: {
          s: {
            producers: [{ template: "job" }],
            consumers: ["service"],
            faults: [{ at: "700ms", consumer: "service", action: "cut" }],
          },
        },
      }),
    );
    const r = await runCli(["--config", file, "play", "s", "--json"], {
      cwd: dir,
      env: { ...ENV, WORK_MS: "40", PATH: process.env["PATH"] },
      signal: AbortSignal.timeout(60_000),
    });
    expect(r.stdout, r.stderr).not.toBe("");
    return { code: r.code, report: JSON.parse(r.stdout) as PlayReport };
  }

  it("correct (acks after its work and its result): killed mid-work, it loses nothing", async () => {
    const { code, report } = await playWorker("correct");
    expect(code).toBe(0);
    const c = report.checker.counts;
    expect(c).toMatchObject({ lost: 0, unexpected: 0, "unconfirmed-lost": 0 });
    expect(c.ok + c.duplicated).toBe(60);
    expect(report.events.join("\n")).toContain("worker correct ready on jobs");
    expect(report.events.join("\n")).toContain("service: its processes killed (SIGKILL)");
  }, 60_000);

  it("acking before it works: killed mid-work, the job it held is lost, and the checker says which", async () => {
    const { code, report } = await playWorker("early");
    expect(code).toBe(1);
    const c = report.checker.counts;
    expect(c.lost).toBe(1);
    expect(c.ok + c.duplicated + c.lost).toBe(60);
    expect(report.checker.samples.lost).toHaveLength(1);
    expect(report.lostIntended).toBeUndefined();
  }, 60_000);
});

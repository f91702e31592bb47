/**
 * request and reply against the embedded broker (port 0), which implements direct reply-to;
 * and the rpc preset: its request side as a playground scenario, its topology and template
 * with `reply` and `request`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import type { PlayReport } from "../../src/lab/runner.js";
import { runCli, startCli } from "../helpers/cli.js";
import { rpcTests } from "../helpers/rpc-suite.js";
import { within } from "../helpers/wait.js";

describe("request and reply on the embedded broker", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ port: 0 });
  });
  afterAll(async () => {
    await broker?.close();
  });
  rpcTests(() => broker.url, "emb");
});

describe("the rpc preset", () => {
  let dir: string;
  let broker: RunningBroker;
  const env = { NO_COLOR: "1", EVENTLAB_URL: "", EVENTLAB_CONFIG: "" };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-rpc-preset-"));
    broker = await startBroker({ port: 0 });
  });
  afterAll(async () => {
    await broker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("`eventlab play rpc` runs the request side to the end: 40 requests worked, lost 0", async () => {
    const r = await runCli(["play", "rpc", "--json", "--seed", "7", "--duration", "25s"], {
      cwd: dir,
      env,
    });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as PlayReport & { source: string };
    expect(report).toMatchObject({
      source: "the rpc preset",
      scenario: "rpc",
      stoppedBy: "done",
      published: 40,
      confirmed: 40,
      lost: 0,
    });
    const requests = report.queues.find((q) => q.name === "rpc.requests");
    expect(requests).toMatchObject({ routed: 40, processed: 40, lost: 0 });
  });

  it("its topology and template serve `reply` and `request --template`", async () => {
    const cwd = await mkdtemp(path.join(dir, "init-"));
    const url = ["--url", broker.url];
    expect((await runCli(["init", "--preset", "rpc"], { cwd, env })).code).toBe(0);
    const applied = await runCli([...url, "topology", "apply"], { cwd, env });
    expect(applied.code, applied.stderr).toBe(0);
    const replier = startCli(
      [
        ...url,
        "--config",
        path.join(cwd, "eventlab.config.yaml"),
        "reply",
        "rpc.requests",
        "--echo",
        "--count",
        "2",
      ],
      env,
    );
    await vi.waitFor(() => expect(replier.stderr.text()).toContain("answering requests"), {
      timeout: 10_000,
    });
    const r = await runCli(
      [...url, "request", "--template", "quote-request", "--count", "2", "--json"],
      {
        cwd,
        env,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const replies = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { n: number; body: { sku: string; qty: number } });
    expect(replies.map((x) => x.n)).toEqual([1, 2]);
    for (const x of replies) {
      expect(x.body.sku).toMatch(/^[A-D]-\d$/);
      expect(x.body.qty).toBeGreaterThanOrEqual(1);
    }
    expect(r.stderr).toContain("← reply 2/2 in ");
    expect(await within(replier.exited, "reply --count 2", 10_000)).toBe(0);
  });
});

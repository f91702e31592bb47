/**
 * `eventlab consume` into a pipe, as a user runs it: a reader that takes two lines and leaves
 * gets two messages, and every message it did not read stays in the queue; a reader that takes
 * everything gets everything, acknowledged. And --requeue with --idle-timeout ends, with the
 * requeue loop shown. Spawns the built binary (`npm run build` first; CI builds).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import amqp, { type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { runCli } from "../helpers/cli.js";
import { queueWith as fill, depth as queueDepth } from "../helpers/queues.js";

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "bin/eventlab.cjs");

/** Run a shell pipeline (bounded in time); resolve with its output and exit code. */
function pipeline(
  command: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 20_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", command], {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", EVENTLAB_URL: "", EVENTLAB_CONFIG: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`pipeline did not end within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

describe("consume into a pipe", () => {
  let broker: RunningBroker;
  let conn: ChannelModel;

  beforeAll(async () => {
    broker = await startBroker({ port: 0 });
    conn = await amqp.connect(broker.url);
  });
  afterAll(async () => {
    await conn?.close();
    await broker?.close();
  });

  const queueWith = (n: number) =>
    fill(
      conn,
      "pipe",
      Array.from({ length: n }, (_, i) => JSON.stringify({ n: i + 1, pad: "x".repeat(100) })),
    );
  const depth = (q: string) => queueDepth(conn, q);

  it("a reader that takes two lines and leaves: at most those two are acked, the rest stay", async () => {
    const q = await queueWith(2000);
    const r = await pipeline(
      `node ${JSON.stringify(bin)} consume ${q} --json | { read -r a; read -r b; printf '%s\\n%s\\n' "$a" "$b"; }`,
      { EVENTLAB_URL: broker.url },
    );
    expect(r.stdout.trim().split("\n")).toHaveLength(2);
    const acked = Number(/acked (\d+)/.exec(r.stderr)?.[1]);
    const putBack = Number(/put back ([\d,]+)/.exec(r.stderr)?.[1]?.replace(/,/g, ""));
    expect(r.stderr).toMatch(/— output closed/);
    expect(acked).toBeLessThanOrEqual(2);
    expect(putBack).toBeGreaterThan(0);
    // Nothing lost: what was not acked is back in the queue.
    expect(await depth(q)).toBe(2000 - acked);
  });

  it("a reader that takes everything gets every message once, all acknowledged", async () => {
    const q = await queueWith(3000);
    const r = await pipeline(
      `node ${JSON.stringify(bin)} consume ${q} --json --idle-timeout 500ms | wc -l`,
      { EVENTLAB_URL: broker.url },
    );
    expect(r.stdout.trim()).toBe("3000");
    expect(r.stderr).toMatch(/consumed 3,000 from .* acked 3,000 — idle/);
    expect(await depth(q)).toBe(0);
  });

  it("--requeue with --idle-timeout ends, and shows the requeue loop", async () => {
    const q = await queueWith(3);
    const started = Date.now();
    const r = await runCli([
      "consume",
      q,
      "--requeue",
      "--idle-timeout",
      "1500ms",
      "--url",
      broker.url,
    ]);
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.stderr).toMatch(/! requeue loop: [\d,]+ messages came back in the last second/);
    expect(r.stderr).toMatch(/requeued [\d,]+ · redelivered [\d,]+ — idle/);
    expect(await depth(q)).toBe(3);
  });
});

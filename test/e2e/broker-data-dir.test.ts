/**
 * `eventlab broker --data-dir` as a user runs it (bin/eventlab.js, so `npm run build` first):
 * persistent messages in a durable queue survive a Ctrl-C and a SIGKILL; the start says what it
 * recovered, the stop what it kept and what it dropped; a directory that cannot be used gets
 * a clear error that names it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp from "amqplib";
import { afterAll, afterEach, expect, it } from "vitest";
import { within } from "../helpers/wait.js";

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "bin/eventlab.js");
const scratch = mkdtempSync(path.join(tmpdir(), "eventlab-data-dir-"));
const dir = path.join(scratch, "data");
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  child = undefined;
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Running {
  url: string;
  stop(signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }>;
  stderr(): string;
}

async function broker(args: string[]): Promise<Running> {
  const p = spawn(process.execPath, [bin, "broker", "--port", "0", ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = p;
  let out = "";
  let err = "";
  p.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  p.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => p.once("exit", (code) => resolve(code)));
  // Ready once the URL is out and the start lines (the watermark comes last) are written.
  const url = await within(
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (out.includes("\n") && err.includes("memory high watermark")) {
          resolve(out.split("\n")[0] as string);
        }
      };
      p.stdout?.on("data", check);
      p.stderr?.on("data", check);
      void exited.then((code) => reject(new Error(`broker exited with ${code}: ${err}`)));
    }),
    "the broker's URL",
    15_000,
  );
  return {
    url,
    stderr: () => err,
    async stop(signal) {
      p.kill(signal);
      const code = await within(exited, "the broker to stop", 15_000);
      return { code, stderr: err };
    },
  };
}

it("keeps persistent messages across Ctrl-C and SIGKILL, and says so", async () => {
  let b = await broker(["--data-dir", dir]);
  expect(b.stderr()).toContain(`(data in ${dir}; Ctrl-C stops it)`);
  expect(b.stderr()).toContain("recovered 0 exchanges, 0 queues, 0 bindings, 0 messages");
  const c = await amqp.connect(b.url);
  const ch = await c.createConfirmChannel();
  await ch.assertQueue("orders", { durable: true });
  for (let i = 0; i < 300; i++)
    ch.sendToQueue("orders", Buffer.from(`o${i}`), { persistent: true });
  for (let i = 0; i < 7; i++) ch.sendToQueue("orders", Buffer.from("t"), { persistent: false });
  await ch.waitForConfirms();
  await c.close();
  const stopped = await b.stop("SIGINT");
  expect(stopped.code).toBe(0);
  expect(stopped.stderr).toContain(`300 kept in ${dir}, 7 messages dropped with it`);

  b = await broker(["--data-dir", dir]);
  expect(b.stderr()).toContain("recovered 0 exchanges, 1 queue, 0 bindings, 300 messages");
  const c2 = await amqp.connect(b.url);
  const ch2 = await c2.createConfirmChannel();
  for (let i = 0; i < 5; i++) ch2.sendToQueue("orders", Buffer.from("late"), { persistent: true });
  await ch2.waitForConfirms();
  await c2.close();
  await b.stop("SIGKILL");

  b = await broker(["--data-dir", dir]);
  expect(b.stderr()).toContain("305 messages");
  const c3 = await amqp.connect(b.url);
  const ch3 = await c3.createChannel();
  const first = await ch3.get("orders", { noAck: true });
  expect(first === false ? "(empty)" : first.content.toString()).toBe("o0");
  await c3.close();
  await b.stop("SIGINT");
});

/** A broker that must refuse to start: its exit code and what it wrote on stderr. */
async function refused(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const p = spawn(process.execPath, [bin, "broker", "--port", "0", ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  p.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await within(
    new Promise<number | null>((resolve) => p.once("exit", (c) => resolve(c))),
    "the broker's refusal",
    15_000,
  );
  return { code, stderr };
}

it("refuses a directory that is a file, or in use, by name", async () => {
  const file = path.join(scratch, "a-file");
  writeFileSync(file, "x");
  const asFile = await refused(["--data-dir", file]);
  expect(asFile.code).not.toBe(0);
  expect(asFile.stderr).toContain(
    `error: cannot use --data-dir: cannot use data directory ${file}: it is a file, not a directory`,
  );
  expect(asFile.stderr).not.toMatch(/\n\s+at /);

  const first = await broker(["--data-dir", dir]);
  const second = await refused(["--data-dir", dir]);
  expect(second.code).not.toBe(0);
  expect(second.stderr).toMatch(new RegExp(`data directory ${dir} is in use by process \\d+`));
  await first.stop("SIGINT");
});

/**
 * `eventlab broker` spawned as a user runs it (bin/eventlab.cjs, so `npm run build` first), with
 * no URL or config from the environment: its first stdout line, everything it printed, and a
 * bounded stop. `stopAll()` (in afterEach) kills whatever a failed test left running.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { within } from "./wait.js";

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "bin/eventlab.cjs");
const started = new Set<ChildProcess>();

export interface BrokerProcess {
  /** The first stdout line: the URL, or the --json line with it. */
  first: string;
  stdout(): string;
  stderr(): string;
  /** Send the signal and wait (bounded) for the exit code. */
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

function launch(args: string[]) {
  const p = spawn(process.execPath, [bin, "broker", "--port", "0", ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", EVENTLAB_URL: "", EVENTLAB_CONFIG: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.add(p);
  let out = "";
  let err = "";
  p.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  p.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    p.once("exit", (code) => {
      started.delete(p);
      resolve(code);
    }),
  );
  return { p, exited, out: () => out, err: () => err };
}

/** Start it and wait until its URL is out and its start lines (the watermark last) are written. */
export async function startBrokerProcess(args: string[]): Promise<BrokerProcess> {
  const { p, exited, out, err } = launch(args);
  await within(
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (out().includes("\n") && err().includes("memory high watermark")) resolve();
      };
      p.stdout?.on("data", check);
      p.stderr?.on("data", check);
      void exited.then((code) => reject(new Error(`broker exited with ${code}: ${err()}`)));
    }),
    "the broker to start",
    15_000,
  );
  return {
    first: out().split("\n")[0] as string,
    stdout: out,
    stderr: err,
    async stop(signal) {
      p.kill(signal);
      return within(exited, "the broker to stop", 15_000);
    },
  };
}

/** A broker that must refuse to start: its exit code and what it wrote on stderr. */
export async function refusedBroker(
  args: string[],
): Promise<{ code: number | null; stderr: string }> {
  const { exited, err } = launch(args);
  const code = await within(exited, "the broker's refusal", 15_000);
  return { code, stderr: err() };
}

export function stopAll(): void {
  for (const p of started) p.kill("SIGKILL");
  started.clear();
}

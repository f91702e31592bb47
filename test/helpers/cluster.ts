/**
 * Running `eventlab cluster …` in-process, and cleaning up after a local cluster even when a
 * test failed half-way: `down`, then killing any VM still running under the test's node names.
 */
import { readdirSync, readFileSync } from "node:fs";
import { type CliResult, runCli } from "./cli.js";

/**
 * `eventlab cluster <args>` with the test process's environment plus `env` (a key set to
 * undefined is removed), as a person would see it: exit code, stdout, stderr.
 */
export async function clusterCli(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<CliResult> {
  const merged: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  return runCli(["cluster", ...args], { env: merged });
}

/** Pids of the VMs started with a node name that begins with `prefix-` (Linux: /proc). */
export function nodeProcesses(prefix: string): number[] {
  if (process.platform !== "linux") return [];
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (environ.some((v) => v.startsWith(`RABBITMQ_NODENAME=${prefix}-`)))
        pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** `cluster down` for the directory; then SIGKILL whatever still runs under those names. */
export async function tearDown(dir: string, prefix: string): Promise<string[]> {
  const problems: string[] = [];
  try {
    const r = await clusterCli(["down", "--dir", dir]);
    if (r.code !== 0) problems.push(`down exited ${r.code}: ${r.stderr}`);
  } catch (err) {
    problems.push(`down threw: ${String(err)}`);
  }
  for (const pid of nodeProcesses(prefix)) {
    problems.push(`killed leftover process ${pid}`);
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  return problems;
}

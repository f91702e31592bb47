/**
 * One node's life: start its VM detached (it outlives the command), wait until RabbitMQ has
 * booted, ask it things with rabbitmqctl, stop it. Every wait has a deadline; a node that
 * dies while starting is reported at once, with the end of what it printed.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { open, readFile, rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { EventlabError, InterruptedError } from "../errors.js";
import { lastLines, type RabbitTools, runTool, ToolError } from "./exec.js";
import { type ClusterNode, ctlEnv, nodeEnv, nodePaths } from "./layout.js";
import { epmdNames, shortName } from "./net.js";

/** What the node functions need: where the tools are, the cluster's directory, the caller's env. */
export interface NodeContext {
  tools: RabbitTools;
  dir: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
}

/** `rabbitmqctl -n NODE args…`, bounded. */
export function ctl(
  c: NodeContext,
  node: string,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<string> {
  return runTool(c.tools.ctl, ["-n", node, ...args], {
    env: ctlEnv(c.dir, c.env),
    timeoutMs,
    cwd: c.dir,
    ...(c.signal ? { signal: c.signal } : {}),
  }).then((r) => r.stdout);
}

/** The members of a node's cluster and the ones running, as that node sees them. */
export interface ClusterView {
  members: string[];
  running: string[];
}

export async function clusterView(
  c: NodeContext,
  node: string,
  timeoutMs = 30_000,
): Promise<ClusterView> {
  const out = await ctl(c, node, ["cluster_status", "--formatter", "json"], timeoutMs);
  const json = JSON.parse(out.slice(out.indexOf("{"))) as {
    disk_nodes?: string[];
    ram_nodes?: string[];
    running_nodes?: string[];
  };
  return {
    members: [...(json.disk_nodes ?? []), ...(json.ram_nodes ?? [])].sort(),
    running: [...(json.running_nodes ?? [])].sort(),
  };
}

/** Whether the node's VM is registered with epmd, i.e. up. */
export async function vmUp(c: NodeContext, node: ClusterNode): Promise<boolean> {
  return (await epmdNames(c.env)).has(shortName(node.name));
}

function aborted(c: NodeContext): void {
  if (c.signal?.aborted) throw new InterruptedError("interrupted while the cluster was changing");
}

/** A node that did not come up: its name, why, and where its logs are. */
export function nodeFailure(node: ClusterNode, why: string, cause?: unknown): EventlabError {
  const f = nodePaths(node);
  return new EventlabError("broker", `node ${node.name} did not start: ${why}`, {
    hint: `its logs: ${f.log} and ${f.startupLog}`,
    cause,
  });
}

async function tail(file: string): Promise<string> {
  try {
    return lastLines(await readFile(file, "utf8"), 6);
  } catch {
    return "";
  }
}

/**
 * Start the node's VM detached (output to startup.log) and wait until RabbitMQ reports it has
 * booted, at most `timeoutMs` in all.
 */
export async function startNodeVm(
  c: NodeContext,
  node: ClusterNode,
  timeoutMs: number,
  onSpawn?: (pid: number) => void,
): Promise<void> {
  aborted(c);
  const f = nodePaths(node);
  const deadline = Date.now() + timeoutMs;
  await rm(f.pidFile, { force: true });
  const out = await open(f.startupLog, "a");
  let exited: string | undefined;
  let onExit: (why: string) => void = () => {};
  const exit = new Promise<string>((resolve) => {
    onExit = resolve;
  });
  try {
    const child = spawn(c.tools.server, [], {
      env: nodeEnv(c.dir, node, c.env),
      cwd: node.dir,
      detached: true,
      stdio: ["ignore", out.fd, out.fd],
    });
    child.on("error", (err) => {
      exited = `cannot run ${c.tools.server}: ${err.message}`;
      onExit(exited);
    });
    child.on("exit", (code, signal) => {
      exited = signal ? `it was killed (${signal})` : `it exited with code ${code}`;
      onExit(exited);
    });
    child.unref();
    if (child.pid !== undefined) onSpawn?.(child.pid);
  } finally {
    await out.close();
  }

  // The VM registers with epmd once its distribution is up; rabbitmqctl can only talk to it then.
  for (;;) {
    if (exited) throw nodeFailure(node, `${exited}${await tail(f.startupLog)}`);
    aborted(c);
    if (await vmUp(c, node)) break;
    if (Date.now() > deadline)
      throw nodeFailure(node, `its VM did not come up within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(150);
  }
  const left = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
  const waited = ctl(
    c,
    node.name,
    ["await_startup", "--timeout", String(left)],
    left * 1000 + 15_000,
  );
  const outcome = await Promise.race([
    waited.then(
      () => undefined,
      (err: unknown) => err,
    ),
    exit.then((why) => new Error(why)),
  ]);
  if (outcome === undefined) return;
  if (c.signal?.aborted) aborted(c);
  const why =
    // rabbitmqctl says it timed out with exit code 75 (EX_TEMPFAIL).
    outcome instanceof ToolError && (outcome.timedOut || outcome.exitCode === 75)
      ? `not booted within ${Math.round(timeoutMs / 1000)} s`
      : (outcome as Error).message;
  throw nodeFailure(node, `${why}${exited ? await tail(f.startupLog) : ""}`, outcome);
}

/** The node's OS process from its pid file, if that process is still this node's. */
export function nodePid(node: ClusterNode): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(nodePaths(node).pidFile, "utf8").trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  // A pid file can outlive its process and the number be reused: on Linux, check that the
  // process is the VM started with this node's name.
  if (process.platform === "linux") {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      if (!environ.includes(`RABBITMQ_NODENAME=${node.name}`)) return undefined;
    } catch {
      return undefined;
    }
  }
  return pid;
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    if (Date.now() > until) return false;
    await sleep(100);
  }
}

/**
 * Stop the node's RabbitMQ and its VM (`rabbitmqctl stop`, which waits for the process to
 * end); if that fails or takes longer than `timeoutMs`, end the process: SIGTERM, then SIGKILL.
 * Returns whether it had to be forced.
 */
export async function stopNodeVm(
  c: NodeContext,
  node: ClusterNode,
  timeoutMs = 60_000,
): Promise<{ forced: boolean }> {
  const pidFile = nodePaths(node).pidFile;
  try {
    await ctl({ ...c, signal: undefined }, node.name, ["stop", "--idempotent", pidFile], timeoutMs);
  } catch {
    // fall through: end the process below
  }
  const pid = nodePid(node);
  if (pid === undefined) return { forced: false };
  for (const [signal, ms] of [
    ["SIGTERM", 10_000],
    ["SIGKILL", 5_000],
  ] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return { forced: true };
    }
    if (await waitGone(pid, ms)) break;
  }
  return { forced: true };
}

/**
 * End what is left of a process group this command spawned (a node's start script and its VM,
 * `detached` gives them a group of their own): for a node that failed or was interrupted
 * before it could be asked to stop. SIGTERM first, SIGKILL after `graceMs` (a VM that is
 * still booting may not act on SIGTERM for a long time). True when something was running.
 */
export async function killGroup(pid: number, graceMs = 1_500): Promise<boolean> {
  if (!groupAlive(pid)) return false;
  for (const [signal, ms] of [
    ["SIGTERM", graceMs],
    ["SIGKILL", 2_000],
  ] as const) {
    try {
      process.kill(-pid, signal);
    } catch {
      return true;
    }
    const until = Date.now() + ms;
    while (groupAlive(pid) && Date.now() < until) await sleep(100);
    if (!groupAlive(pid)) break;
  }
  return true;
}

/**
 * Whether a process of group `pgid` still runs. On Linux, zombies do not count: where nothing
 * reaps orphans (some container inits), a dead VM stays a zombie of its group forever.
 */
function groupAlive(pgid: number): boolean {
  if (process.platform !== "linux") {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z" && state !== "X") return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

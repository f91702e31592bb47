/**
 * A local cluster found by its directory: what it is doing (status), stopping and starting
 * one node, and taking it all down. `up` is in up.ts. No terminal here: progress goes to an
 * `onEvent` callback, results are returned, problems are EventlabErrors.
 */
import { EventlabError, UsageError } from "../errors.js";
import type { RabbitTools } from "./exec.js";
import {
  type ClusterEvent,
  type ClusterNode,
  type ClusterRecord,
  LISTENER_NAMES,
  type Listener,
  type NodePorts,
  type NodeUrls,
  nodePaths,
  nodeUrls,
} from "./layout.js";
import { busyPorts, epmdNames, portAnswers, shortName } from "./net.js";
import {
  type ClusterView,
  clusterView,
  killGroup,
  type NodeContext,
  nodeFailure,
  nodePid,
  startNodeVm,
  stopNodeVm,
} from "./node.js";
import { rabbitTools, readRecord, removeClusterFiles, requireRecord } from "./state.js";

export interface ClusterDeps {
  /** The environment: PATH (to find rabbitmq-server), HOME, EVENTLAB_RABBITMQ_SERVER… */
  env: NodeJS.ProcessEnv;
  /** Aborting stops waiting; `up` then stops the nodes it started. */
  signal?: AbortSignal | undefined;
  onEvent?: ((e: ClusterEvent) => void) | undefined;
}

/**
 * running: serving AMQP; booting: its VM is up but RabbitMQ is not serving (starting, or its
 * app stopped); stopped: no VM.
 */
export type NodeState = "running" | "booting" | "stopped";

export interface NodeStatus {
  index: number;
  name: string;
  state: NodeState;
  ports: NodePorts;
  urls: NodeUrls;
  log: string;
  pid?: number | undefined;
}

export interface ClusterStatus {
  dir: string;
  namePrefix: string;
  tls: boolean;
  management: boolean;
  nodes: NodeStatus[];
  /** The cluster as a running node sees it; absent when no node could be asked. */
  view?: ClusterView | undefined;
  certs?: ClusterRecord["certs"];
}

export const DEFAULT_START_TIMEOUT_MS = 120_000;
export const DEFAULT_STOP_TIMEOUT_MS = 60_000;

export function nodeContext(record: ClusterRecord, deps: ClusterDeps, tools?: RabbitTools) {
  return {
    tools: tools ?? rabbitTools(deps.env),
    dir: record.dir,
    env: deps.env,
    signal: deps.signal,
  } satisfies NodeContext;
}

/** Each node's state from epmd (VM up) and its AMQP port (serving). */
async function nodeStates(record: ClusterRecord, env: NodeJS.ProcessEnv): Promise<NodeStatus[]> {
  const names = await epmdNames(env);
  return Promise.all(
    record.nodes.map(async (node) => {
      const vm = names.has(shortName(node.name));
      const state: NodeState = !vm
        ? "stopped"
        : (await portAnswers(node.ports.amqp))
          ? "running"
          : "booting";
      return {
        index: node.index,
        name: node.name,
        state,
        ports: node.ports,
        urls: nodeUrls(node),
        log: nodePaths(node).log,
        pid: vm ? nodePid(node) : undefined,
      };
    }),
  );
}

/** The cluster in `record`, now. Asks a running node for its view of the cluster. */
export async function statusOf(
  record: ClusterRecord,
  deps: ClusterDeps,
  tools?: RabbitTools,
  known?: ClusterView,
): Promise<ClusterStatus> {
  const nodes = await nodeStates(record, deps.env);
  let view: ClusterStatus["view"] = known;
  const asked = nodes.find((n) => n.state === "running");
  if (asked && !view) {
    try {
      view = await clusterView(nodeContext(record, deps, tools), asked.name, 20_000);
    } catch {
      view = undefined;
    }
  }
  return {
    dir: record.dir,
    namePrefix: record.namePrefix,
    tls: record.tls,
    management: record.management,
    nodes,
    view,
    ...(record.certs ? { certs: record.certs } : {}),
  };
}

/** The cluster recorded in `dir`, now. */
export async function clusterStatus(dir: string, deps: ClusterDeps): Promise<ClusterStatus> {
  return statusOf(await requireRecord(dir), deps);
}

function nodeAt(record: ClusterRecord, index: number): ClusterNode {
  const node = record.nodes.find((n) => n.index === index);
  if (node) return node;
  const last = record.nodes.length;
  throw new UsageError(
    `node ${index} does not exist: the cluster in ${record.dir} has nodes 1 to ${last}`,
    `pass a node number from 1 to ${last}, e.g. \`eventlab cluster stop-node ${Math.min(2, last)}\``,
  );
}

export interface NodeChange {
  node: NodeStatus;
  /** False when the node already was as asked (stopped, or running). */
  changed: boolean;
  /** stop: the VM had to be killed. */
  forced?: boolean;
  elapsedMs: number;
  status: ClusterStatus;
}

/** Stop node `index` (1-based): RabbitMQ and its VM; its data stays. */
export async function stopNode(
  dir: string,
  index: number,
  deps: ClusterDeps,
  timeoutMs = DEFAULT_STOP_TIMEOUT_MS,
): Promise<NodeChange> {
  const started = Date.now();
  const record = await requireRecord(dir);
  const node = nodeAt(record, index);
  const c = nodeContext(record, deps);
  const emit = (phase: "stopping" | "stopped" | "already-stopped", ms?: number) =>
    deps.onEvent?.({ type: "node", node: node.name, index, phase, ...(ms ? { ms } : {}) });
  const up = (await epmdNames(deps.env)).has(shortName(node.name)) || nodePid(node) !== undefined;
  let forced = false;
  if (up) {
    emit("stopping");
    forced = (await stopNodeVm(c, node, timeoutMs)).forced;
    emit("stopped", Date.now() - started);
  } else emit("already-stopped");
  const status = await statusOf(record, deps, c.tools);
  return {
    node: status.nodes[index - 1]!,
    changed: up,
    forced,
    elapsedMs: Date.now() - started,
    status,
  };
}

/** Start node `index` again and wait until it is back in the cluster. */
export async function startNode(
  dir: string,
  index: number,
  deps: ClusterDeps,
  timeoutMs = DEFAULT_START_TIMEOUT_MS,
): Promise<NodeChange> {
  const started = Date.now();
  const record = await requireRecord(dir);
  const node = nodeAt(record, index);
  const c = nodeContext(record, deps);
  const emit = (phase: "starting" | "started" | "already-running", ms?: number) =>
    deps.onEvent?.({ type: "node", node: node.name, index, phase, ...(ms ? { ms } : {}) });
  const before = await nodeStates(record, deps.env);
  const up = before[index - 1]!.state !== "stopped";
  if (!up && record.nodes.length > 1 && before.every((n) => n.state === "stopped"))
    throw new EventlabError(
      "precondition",
      `no node of the cluster in ${record.dir} is running: ${node.name} would wait for the others it last ran with`,
      { hint: `start them all again with \`eventlab cluster up --dir ${record.dir}\`` },
    );
  if (up) emit("already-running");
  else {
    await checkPortsFree(node);
    emit("starting");
    let group: number | undefined;
    try {
      await startNodeVm(c, node, timeoutMs, (pid) => {
        group = pid;
      });
      const left = Math.max(5_000, started + timeoutMs - Date.now());
      await awaitRejoined(c, record, node, before, left);
    } catch (err) {
      // Half-started is worse than stopped: stop what is left of it.
      await stopNodeVm({ ...c, signal: undefined }, node).catch(() => {});
      if (group !== undefined) await killGroup(group);
      throw err;
    }
    emit("started", Date.now() - started);
  }
  const status = await statusOf(record, deps, c.tools);
  return { node: status.nodes[index - 1]!, changed: !up, elapsedMs: Date.now() - started, status };
}

/** Before starting a node again: its ports must still be free. */
export async function checkPortsFree(node: ClusterNode): Promise<void> {
  const entries = Object.entries(node.ports) as [Listener, number][];
  const busy = await busyPorts(entries.map(([, p]) => p));
  if (busy.length === 0) return;
  const named = entries
    .filter(([, p]) => busy.includes(p))
    .map(([l, p]) => `${p} (${LISTENER_NAMES[l]})`);
  throw new EventlabError(
    "connection",
    `cannot start ${node.name}: its port${named.length > 1 ? "s" : ""} ${named.join(", ")} ${named.length > 1 ? "are" : "is"} taken by another process`,
    { hint: "stop that process, or take the cluster down and start a new one with --base-port 0" },
  );
}

/** Wait until the node sees itself and every other node that was running as running. */
async function awaitRejoined(
  c: NodeContext,
  record: ClusterRecord,
  node: ClusterNode,
  before: NodeStatus[],
  timeoutMs: number,
): Promise<void> {
  const expected = [
    node.name,
    ...before.filter((n) => n.state === "running" && n.name !== node.name).map((n) => n.name),
  ];
  const deadline = Date.now() + timeoutMs;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    try {
      seen = (await clusterView(c, node.name, 20_000)).running;
      if (expected.every((n) => seen.includes(n))) return;
    } catch {
      // asked too early: try again
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw nodeFailure(
    node,
    `it started but did not rejoin ${record.namePrefix} within ${Math.round(timeoutMs / 1000)} s (it sees ${seen.join(", ") || "nothing"} running)`,
  );
}

export interface DownResult {
  dir: string;
  /** There was a cluster in the directory. */
  found: boolean;
  /** The nodes that were running and were stopped. */
  stopped: string[];
  /** Stopped by killing the VM: `rabbitmqctl stop` failed or took too long. */
  forced: string[];
  /** The directory was removed (false with keep, or when it holds files of others). */
  removed: boolean;
  elapsedMs: number;
}

/** Stop every node, then remove the cluster's files unless `keep`. */
export async function clusterDown(
  dir: string,
  o: { keep: boolean },
  deps: ClusterDeps,
  timeoutMs = DEFAULT_STOP_TIMEOUT_MS,
): Promise<DownResult> {
  const started = Date.now();
  const record = await readRecord(dir);
  if (!record) return { dir, found: false, stopped: [], forced: [], removed: false, elapsedMs: 0 };
  const stopped = await stopAll(record, deps, timeoutMs);
  const removed = o.keep ? false : await removeClusterFiles(record.dir);
  return { dir: record.dir, found: true, ...stopped, removed, elapsedMs: Date.now() - started };
}

/** Stop every node of the record that is up, in parallel. */
export async function stopAll(
  record: ClusterRecord,
  deps: ClusterDeps,
  timeoutMs = DEFAULT_STOP_TIMEOUT_MS,
  tools?: RabbitTools,
): Promise<{ stopped: string[]; forced: string[] }> {
  const names = await epmdNames(deps.env);
  const up = record.nodes.filter(
    (node) => names.has(shortName(node.name)) || nodePid(node) !== undefined,
  );
  const stopped: string[] = [];
  const forced: string[] = [];
  if (up.length === 0) return { stopped, forced };
  // Stopping must not be cut short by the signal that interrupted the command.
  const c = { ...nodeContext(record, deps, tools), signal: undefined };
  await Promise.all(
    up.map(async (node) => {
      const began = Date.now();
      deps.onEvent?.({ type: "node", node: node.name, index: node.index, phase: "stopping" });
      const r = await stopNodeVm(c, node, timeoutMs);
      stopped.push(node.name);
      if (r.forced) forced.push(node.name);
      deps.onEvent?.({
        type: "node",
        node: node.name,
        index: node.index,
        phase: "stopped",
        ms: Date.now() - began,
        ...(r.forced ? { detail: "killed" } : {}),
      });
    }),
  );
  return { stopped: stopped.sort(), forced: forced.sort() };
}

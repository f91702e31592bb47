/**
 * `up`: a new local cluster. Plan (ports, names), check (free ports, no node of that name,
 * no cluster already in the directory), write each node's files, start every VM at once,
 * then join nodes 2…N to node 1 (stop_app, join_cluster, start_app) and check that node 1
 * sees them all running. If anything fails, the nodes it started are stopped again and the
 * error names the node and its log.
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { EventlabError, InterruptedError, UsageError } from "../errors.js";
import { generateCerts } from "./certs.js";
import type { RabbitTools } from "./exec.js";
import {
  type ClusterNode,
  type ClusterRecord,
  checkNamePrefix,
  clusterPaths,
  enabledPlugins,
  LISTENER_NAMES,
  type Listener,
  MAX_NODES,
  type NodePorts,
  nodeName,
  nodePaths,
  portCount,
  portsFromBase,
  portsFromPool,
  rabbitmqConf,
} from "./layout.js";
import {
  type ClusterDeps,
  type ClusterStatus,
  checkPortsFree,
  DEFAULT_START_TIMEOUT_MS,
  statusOf,
  stopAll,
} from "./manager.js";
import { busyPorts, epmdNames, freePorts, shortName } from "./net.js";
import {
  type ClusterView,
  clusterView,
  ctl,
  killGroup,
  type NodeContext,
  startNodeVm,
} from "./node.js";
import {
  foreignEntries,
  rabbitTools,
  readRecord,
  removeClusterFiles,
  writeCookie,
  writeEnvFile,
  writeRecord,
} from "./state.js";

export interface UpOptions {
  /** The cluster's directory (created; must hold no other files). */
  dir: string;
  /** 1 to 9. */
  nodes: number;
  /** AMQP of node i on basePort+i-1 (see layout.ts for the others); 0 picks free ports. */
  basePort: number;
  tls: boolean;
  management: boolean;
  /** Node names are `<prefix>-<n>@localhost`. */
  namePrefix: string;
  /** How long each node may take to boot; default 120 s. */
  startTimeoutMs?: number;
}

export interface UpResult extends ClusterStatus {
  /** A cluster kept by `down --keep` was started again (with its own settings and data). */
  resumed: boolean;
  elapsedMs: number;
}

/** The user whose certificate logs in with EXTERNAL (`ssl_cert_login_from = common_name`). */
export const TLS_CLIENT_USER = "eventlab-client";

export async function clusterUp(o: UpOptions, deps: ClusterDeps): Promise<UpResult> {
  const started = Date.now();
  checkOptions(o);
  const tools = rabbitTools(deps.env);
  const dir = path.resolve(o.dir);
  const kept = await checkDirectory(dir, deps);
  let record: ClusterRecord;
  const plan = (r: ClusterRecord) =>
    deps.onEvent?.({ type: "plan", dir, nodes: r.nodes.map((n) => n.name), resume: !!kept });
  if (kept) {
    // A cluster stopped with `down --keep`: start all its nodes again, as they were.
    record = kept;
    for (const node of record.nodes) await checkPortsFree(node);
    await checkNamesFree(record.nodes, deps);
    plan(record);
  } else {
    const ports = await planPorts(o);
    record = {
      version: 1,
      dir,
      namePrefix: o.namePrefix,
      tls: o.tls,
      management: o.management,
      status: "starting",
      createdAt: new Date().toISOString(),
      nodes: ports.map((p, i) => ({
        index: i + 1,
        name: nodeName(o.namePrefix, i + 1),
        dir: path.join(dir, `node-${i + 1}`),
        ports: p,
      })),
    };
    await checkNamesFree(record.nodes, deps);
    plan(record);
    await prepareFiles(record, deps);
  }
  const view = await bringUp(
    record,
    kept !== undefined,
    o.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    { ...deps, tools },
  );
  const status = await statusOf(record, deps, tools, view);
  return { ...status, resumed: kept !== undefined, elapsedMs: Date.now() - started };
}

/**
 * Start every node; a new cluster is then formed, a kept one only checked. On failure every
 * node is stopped again; a new cluster's record says it failed (the next `up` replaces it), a
 * kept one's data stays.
 */
async function bringUp(
  record: ClusterRecord,
  resume: boolean,
  timeoutMs: number,
  deps: ClusterDeps & { tools: RabbitTools },
): Promise<ClusterView> {
  // Our own signal: the first node that fails stops the others' waiting.
  const inner = new AbortController();
  const onAbort = () => inner.abort();
  deps.signal?.addEventListener("abort", onAbort, { once: true });
  const c: NodeContext = {
    tools: deps.tools,
    dir: record.dir,
    env: deps.env,
    signal: inner.signal,
  };
  const groups: number[] = [];
  let view: ClusterView;
  try {
    await startAll(c, record, timeoutMs, deps, inner, (pid) => groups.push(pid));
    view = resume ? await checkFormed(c, record, "came back") : await formCluster(c, record, deps);
  } catch (err) {
    inner.abort();
    if (!resume) {
      record.status = "failed";
      await writeRecord(record).catch(() => {});
    }
    await stopAll(record, { ...deps, signal: undefined }, undefined, deps.tools).catch(() => {});
    // A node still booting was not registered yet to be stopped: end its processes.
    await Promise.all(groups.map((g) => killGroup(g)));
    if (deps.signal?.aborted)
      throw new InterruptedError("interrupted: the nodes started were stopped");
    throw err;
  } finally {
    deps.signal?.removeEventListener("abort", onAbort);
  }
  record.status = "formed";
  await writeRecord(record);
  return view;
}

function checkOptions(o: UpOptions): void {
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > MAX_NODES)
    throw new UsageError(`--nodes must be from 1 to ${MAX_NODES}`, "for example --nodes 3");
  const bad = checkNamePrefix(o.namePrefix);
  if (bad) throw new UsageError(`--name-prefix ${JSON.stringify(o.namePrefix)}: ${bad}`);
  if (!Number.isInteger(o.basePort) || o.basePort < 0 || o.basePort > 65_535)
    throw new UsageError("--base-port must be from 0 to 65535", "0 picks free ports");
}

/**
 * Refuse a directory with a cluster that is up, or with files of others in it. A cluster that
 * was formed and is stopped now (`down --keep`) is returned, to be started again; what a
 * failed `up` left is removed.
 */
async function checkDirectory(dir: string, deps: ClusterDeps): Promise<ClusterRecord | undefined> {
  const existing = await readRecord(dir);
  if (existing) {
    const names = await epmdNames(deps.env);
    const up = existing.nodes.filter((n) => names.has(shortName(n.name)));
    if (up.length > 0)
      throw new EventlabError(
        "precondition",
        `a cluster is already running in ${dir} (${up.map((n) => n.name).join(", ")})`,
        {
          hint: `see it with \`eventlab cluster status --dir ${dir}\`; stop and remove it with \`eventlab cluster down --dir ${dir}\``,
        },
      );
    if (existing.status === "formed") return existing;
  }
  const foreign = await foreignEntries(dir);
  if (foreign.length > 0)
    throw new EventlabError("precondition", `${dir} is not empty and holds no cluster`, {
      hint: `it has ${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ", …" : ""}; choose another directory with --dir`,
    });
  // What a failed `up` left (its logs) goes now.
  await removeClusterFiles(dir, { keepDir: true });
  return undefined;
}

/** Every node's ports: from the base port, or free ones; all checked free now. */
async function planPorts(o: UpOptions): Promise<NodePorts[]> {
  const shape = { tls: o.tls, management: o.management };
  if (o.basePort === 0)
    return portsFromPool(await freePorts(portCount(o.nodes, shape)), o.nodes, shape);
  let ports: NodePorts[];
  try {
    ports = portsFromBase(o.basePort, o.nodes, shape);
  } catch (err) {
    throw new UsageError(
      `--base-port ${o.basePort}: ${(err as Error).message}`,
      "choose another base port (default 5673), or --base-port 0 for free ports",
    );
  }
  const all = ports.flatMap((p, i) =>
    (Object.entries(p) as [Listener, number][]).map(([l, port]) => ({ l, port, node: i + 1 })),
  );
  const busy = new Set(await busyPorts(all.map((a) => a.port)));
  const taken = all.filter((a) => busy.has(a.port));
  if (taken.length > 0)
    throw new EventlabError(
      "connection",
      `port${taken.length > 1 ? "s" : ""} ${taken.map((t) => `${t.port} (${LISTENER_NAMES[t.l]} of node ${t.node})`).join(", ")} ${taken.length > 1 ? "are" : "is"} in use`,
      { hint: "choose another --base-port, or --base-port 0 for free ports" },
    );
  return ports;
}

async function checkNamesFree(nodes: readonly ClusterNode[], deps: ClusterDeps): Promise<void> {
  const names = await epmdNames(deps.env);
  const clash = nodes.map((n) => n.name).filter((n) => names.has(shortName(n)));
  if (clash.length > 0)
    throw new EventlabError(
      "precondition",
      `a node named ${clash[0]} is already running (a cluster in another directory?)`,
      {
        hint: `take that cluster down with \`eventlab cluster down --dir <its dir>\`, or name these nodes differently with --name-prefix`,
      },
    );
}

/** Node 1 must see every node running; its view is returned. */
async function checkFormed(c: NodeContext, record: ClusterRecord, how: "formed" | "came back") {
  const first = record.nodes[0]!;
  const view = await clusterView(c, first.name);
  const missing = record.nodes.filter((n) => !view.running.includes(n.name));
  if (missing.length > 0)
    throw new EventlabError(
      "broker",
      `the cluster ${how} without ${missing.map((n) => n.name).join(", ")} (${first.name} sees ${view.running.join(", ")} running)`,
      { hint: `see the logs in ${record.dir}/node-*/log/` },
    );
  return view;
}

/** The directory, the cookie, certificates, and each node's config and plugin files. */
async function prepareFiles(record: ClusterRecord, deps: ClusterDeps): Promise<void> {
  const { dir } = record;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeCookie(dir);
  await writeEnvFile(dir);
  if (record.tls) {
    const tlsDir = clusterPaths(dir).tls;
    deps.onEvent?.({ type: "certs", dir: tlsDir });
    record.certs = await generateCerts(tlsDir, { env: deps.env });
  }
  await Promise.all(
    record.nodes.map(async (node) => {
      const f = nodePaths(node);
      await mkdir(f.mnesia, { recursive: true });
      await mkdir(f.logDir, { recursive: true });
      await writeFile(f.config, rabbitmqConf(record, node));
      await writeFile(f.plugins, enabledPlugins(record));
    }),
  );
  await writeRecord(record);
}

/** Start every node's VM at once; the first failure ends the others' waiting. */
async function startAll(
  c: NodeContext,
  record: ClusterRecord,
  timeoutMs: number,
  deps: ClusterDeps,
  inner: AbortController,
  onSpawn: (pid: number) => void,
): Promise<void> {
  const results = await Promise.allSettled(
    record.nodes.map(async (node) => {
      const began = Date.now();
      emit(deps, node, "starting");
      try {
        await startNodeVm(c, node, timeoutMs, onSpawn);
      } catch (err) {
        if (!inner.signal.aborted) emit(deps, node, "failed");
        inner.abort();
        throw err;
      }
      emit(deps, node, "started", Date.now() - began);
    }),
  );
  const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  if (failures.length === 0) return;
  throw failures.find((e) => !(e instanceof InterruptedError)) ?? failures[0];
}

function emit(
  deps: ClusterDeps,
  node: ClusterNode,
  phase: "starting" | "started" | "joining" | "joined" | "failed",
  ms?: number,
): void {
  deps.onEvent?.({
    type: "node",
    node: node.name,
    index: node.index,
    phase,
    ...(ms !== undefined ? { ms } : {}),
  });
}

/**
 * Nodes 2…N join node 1: their apps stop together, they join one at a time (each changes
 * the cluster's schema), their apps start together. The TLS user is added on node 1 meanwhile.
 */
async function formCluster(
  c: NodeContext,
  record: ClusterRecord,
  deps: ClusterDeps,
): Promise<ClusterView> {
  const [first, ...others] = record.nodes as [ClusterNode, ...ClusterNode[]];
  const began = Date.now();
  // Settled, never rejected: a failure is thrown below, once the joins are done.
  const user = record.tls
    ? addTlsUser(c, first, deps).then(
        () => undefined,
        (err: unknown) => err,
      )
    : Promise.resolve(undefined);
  const step = async (node: ClusterNode, what: string, args: string[]) => {
    try {
      await ctl(c, node.name, args, 120_000);
    } catch (err) {
      if (c.signal?.aborted) throw new InterruptedError();
      throw new EventlabError(
        "broker",
        `node ${node.name} did not join the cluster: ${what} failed: ${(err as Error).message}`,
        { hint: `its logs: ${nodePaths(node).log}`, cause: err },
      );
    }
  };
  await Promise.all(
    others.map((n) => {
      emit(deps, n, "joining");
      return step(n, "stop_app", ["stop_app"]);
    }),
  );
  for (const n of others) await step(n, "join_cluster", ["join_cluster", first.name]);
  await Promise.all(
    others.map(async (n) => {
      await step(n, "start_app", ["start_app"]);
      emit(deps, n, "joined", Date.now() - began);
    }),
  );
  const userError = await user;
  if (userError)
    throw new EventlabError(
      "broker",
      `cannot add the user ${TLS_CLIENT_USER} on ${first.name}: ${(userError as Error).message}`,
      { hint: `its logs: ${nodePaths(first).log}`, cause: userError },
    );
  return checkFormed(c, record, "formed");
}

/** The user a client certificate (CN eventlab-client) logs in as, with every permission on /. */
async function addTlsUser(c: NodeContext, first: ClusterNode, deps: ClusterDeps) {
  // Nobody logs in with it: the certificate is the credential.
  const password = randomBytes(18).toString("base64url");
  await ctl(c, first.name, ["add_user", TLS_CLIENT_USER, password]);
  await ctl(c, first.name, ["set_permissions", "-p", "/", TLS_CLIENT_USER, ".*", ".*", ".*"]);
  deps.onEvent?.({ type: "user", name: TLS_CLIENT_USER });
}

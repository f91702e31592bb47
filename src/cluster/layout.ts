/**
 * The shape of a local cluster, as data: node names, ports, directories, the files each node
 * reads (rabbitmq.conf, enabled_plugins) and the environment it starts with. Pure: nothing
 * here touches the disk or the network, so all of it is checked by unit tests.
 */
import path from "node:path";
import type { CertSet } from "./certs.js";

/** Ports other RabbitMQ nodes on this machine use by default; a cluster never takes them. */
export const RESERVED_PORTS: ReadonlyMap<number, string> = new Map([
  [4369, "epmd"],
  [5671, "the default AMQPS port"],
  [5672, "the default AMQP port"],
  [15672, "the default management port"],
  [15692, "the default Prometheus port"],
  [25672, "the default distribution port"],
  ...Array.from({ length: 11 }, (_, i) => [35672 + i, "rabbitmqctl's distribution ports"] as const),
]);

export const DEFAULT_BASE_PORT = 5673;
export const DEFAULT_NAME_PREFIX = "eventlab";
export const MAX_NODES = 9;
export const HOST = "127.0.0.1";

/** How each listener's port follows from the base port N, for node i (0-based). */
export const PORT_OFFSETS = {
  amqp: 0,
  amqps: 100,
  management: 10_000,
  prometheus: 10_020,
  dist: 20_000,
};

export type Listener = keyof typeof PORT_OFFSETS;

export interface NodePorts {
  amqp: number;
  dist: number;
  amqps?: number;
  management?: number;
  prometheus?: number;
}

export interface ClusterNode {
  /** 1-based. */
  index: number;
  /** e.g. eventlab-1@localhost */
  name: string;
  /** The node's own directory: config, data (mnesia/), logs (log/). */
  dir: string;
  ports: NodePorts;
}

/** What `cluster.json` holds: enough to find, start and stop every node again. */
export interface ClusterRecord {
  version: 1;
  dir: string;
  namePrefix: string;
  tls: boolean;
  management: boolean;
  /**
   * starting while `up` runs; formed once its nodes joined (they may be stopped since); failed
   * when `up` gave up (its nodes were stopped; the next `up` replaces it).
   */
  status: "starting" | "formed" | "failed";
  createdAt: string;
  nodes: ClusterNode[];
  certs?: CertSet | undefined;
}

export interface NodeUrls {
  amqp: string;
  amqps?: string;
  management?: string;
  prometheus?: string;
}

/** `eventlab-1@localhost`. */
export function nodeName(prefix: string, index: number): string {
  return `${prefix}-${index}@localhost`;
}

/** A problem with a name prefix, or undefined when it is fine. */
export function checkNamePrefix(prefix: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,39}$/.test(prefix))
    return "Expected a letter, then up to 39 letters, digits, - or _ (it starts every node name).";
  return undefined;
}

/** The listeners a node has, in a fixed order. */
export function listeners(o: { tls: boolean; management: boolean }): Listener[] {
  return [
    "amqp",
    ...(o.tls ? (["amqps"] as const) : []),
    ...(o.management ? (["management", "prometheus"] as const) : []),
    "dist",
  ];
}

export const LISTENER_NAMES: Record<Listener, string> = {
  amqp: "AMQP",
  amqps: "AMQPS",
  management: "management",
  prometheus: "Prometheus",
  dist: "distribution",
};

/**
 * Ports from a base port N: node i gets N+i for AMQP, N+100+i for AMQPS, N+10000+i for
 * management, N+10020+i for Prometheus and N+20000+i for Erlang distribution (5673 gives
 * 5673…, 5773…, 15673…, 15693…, 25673…). Throws a message naming the first port that is out of
 * range or reserved.
 */
export function portsFromBase(
  base: number,
  nodes: number,
  o: { tls: boolean; management: boolean },
): NodePorts[] {
  const out: NodePorts[] = [];
  for (let i = 0; i < nodes; i++) {
    const ports: NodePorts = { amqp: 0, dist: 0 };
    for (const l of listeners(o)) {
      const port = base + PORT_OFFSETS[l] + i;
      const what = `the ${LISTENER_NAMES[l]} port of node ${i + 1}`;
      if (port > 65_535) throw new RangeError(`${what} would be ${port}, above 65535`);
      const reserved = RESERVED_PORTS.get(port);
      if (reserved) throw new RangeError(`${what} would be ${port}, ${reserved}`);
      ports[l] = port;
    }
    out.push(ports);
  }
  return out;
}

/** Assign ports from a pool of free ones (for --base-port 0), node by node. */
export function portsFromPool(
  pool: readonly number[],
  nodes: number,
  o: { tls: boolean; management: boolean },
): NodePorts[] {
  const free = [...pool];
  const next = () => {
    const p = free.shift();
    if (p === undefined) throw new RangeError("not enough free ports");
    return p;
  };
  return Array.from({ length: nodes }, () => {
    const ports: NodePorts = { amqp: 0, dist: 0 };
    for (const l of listeners(o)) ports[l] = next();
    return ports;
  });
}

/** How many ports a cluster of this shape listens on. */
export function portCount(nodes: number, o: { tls: boolean; management: boolean }): number {
  return nodes * listeners(o).length;
}

export function nodeUrls(node: ClusterNode): NodeUrls {
  const p = node.ports;
  return {
    amqp: `amqp://guest:guest@${HOST}:${p.amqp}`,
    ...(p.amqps !== undefined ? { amqps: `amqps://guest:guest@${HOST}:${p.amqps}` } : {}),
    ...(p.management !== undefined ? { management: `http://${HOST}:${p.management}/` } : {}),
    ...(p.prometheus !== undefined ? { prometheus: `http://${HOST}:${p.prometheus}/metrics` } : {}),
  };
}

/** Where a node keeps what, under its own directory. */
export function nodePaths(node: ClusterNode) {
  return {
    config: path.join(node.dir, "rabbitmq.conf"),
    advancedConfig: path.join(node.dir, "advanced.config"),
    plugins: path.join(node.dir, "enabled_plugins"),
    pidFile: path.join(node.dir, "rabbitmq.pid"),
    mnesia: path.join(node.dir, "mnesia"),
    logDir: path.join(node.dir, "log"),
    log: path.join(node.dir, "log", `${node.name}.log`),
    startupLog: path.join(node.dir, "startup.log"),
  };
}

/** Files of the cluster directory itself. */
export function clusterPaths(dir: string) {
  return {
    record: path.join(dir, "cluster.json"),
    cookie: path.join(dir, ".erlang.cookie"),
    envFile: path.join(dir, "rabbitmq-env.conf"),
    tls: path.join(dir, "tls"),
  };
}

/** The plugins a node enables, as an Erlang term file. */
export function enabledPlugins(o: { tls: boolean; management: boolean }): string {
  const plugins = [
    ...(o.management ? ["rabbitmq_management", "rabbitmq_prometheus"] : []),
    ...(o.tls ? ["rabbitmq_auth_mechanism_ssl"] : []),
  ];
  return `[${plugins.join(",")}].\n`;
}

/** A value in rabbitmq.conf (cuttlefish): paths with spaces are fine as they are. */
function confPath(p: string): string {
  if (/[\n\r#]/.test(p)) throw new RangeError(`not usable in rabbitmq.conf: ${p}`);
  return p;
}

/** A node's rabbitmq.conf: loopback listeners only, its own ports, TLS when asked. */
export function rabbitmqConf(record: ClusterRecord, node: ClusterNode): string {
  const p = node.ports;
  const lines = [
    `# written by eventlab cluster up for ${node.name}`,
    `cluster_name = ${record.namePrefix}`,
    `listeners.tcp.default = ${HOST}:${p.amqp}`,
    "loopback_users.guest = true",
    "log.console = false",
    "log.file.level = info",
  ];
  if (p.management !== undefined && p.prometheus !== undefined) {
    lines.push(
      `management.tcp.ip = ${HOST}`,
      `management.tcp.port = ${p.management}`,
      `prometheus.tcp.ip = ${HOST}`,
      `prometheus.tcp.port = ${p.prometheus}`,
    );
  }
  if (p.amqps !== undefined && record.certs) {
    const c = record.certs;
    lines.push(
      `listeners.ssl.default = ${HOST}:${p.amqps}`,
      `ssl_options.cacertfile = ${confPath(c.caCert)}`,
      `ssl_options.certfile = ${confPath(c.serverCert)}`,
      `ssl_options.keyfile = ${confPath(c.serverKey)}`,
      "ssl_options.verify = verify_peer",
      "ssl_options.fail_if_no_peer_cert = false",
      "auth_mechanisms.1 = PLAIN",
      "auth_mechanisms.2 = AMQPLAIN",
      "auth_mechanisms.3 = EXTERNAL",
      "ssl_cert_login_from = common_name",
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The environment without RABBITMQ_* settings of the caller's own broker. */
function cleanEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!k.startsWith("RABBITMQ_")) env[k] = v;
  return env;
}

/**
 * For rabbitmqctl: the cluster's Erlang cookie (HOME is the cluster directory) and an env
 * file of its own, so that /etc/rabbitmq/rabbitmq-env.conf (NODENAME=rabbit@…) is not read.
 */
export function ctlEnv(dir: string, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...cleanEnv(base),
    HOME: dir,
    RABBITMQ_CONF_ENV_FILE: clusterPaths(dir).envFile,
  };
}

/** Everything a node is started with: its name, ports, files; loopback only. */
export function nodeEnv(
  dir: string,
  node: ClusterNode,
  base: NodeJS.ProcessEnv,
): NodeJS.ProcessEnv {
  const f = nodePaths(node);
  return {
    ...ctlEnv(dir, base),
    ERL_EPMD_ADDRESS: HOST,
    RABBITMQ_NODENAME: node.name,
    RABBITMQ_NODE_IP_ADDRESS: HOST,
    RABBITMQ_NODE_PORT: String(node.ports.amqp),
    RABBITMQ_DIST_PORT: String(node.ports.dist),
    RABBITMQ_CONFIG_FILE: f.config,
    RABBITMQ_ADVANCED_CONFIG_FILE: f.advancedConfig,
    RABBITMQ_MNESIA_BASE: f.mnesia,
    RABBITMQ_LOG_BASE: f.logDir,
    RABBITMQ_ENABLED_PLUGINS_FILE: f.plugins,
    RABBITMQ_PID_FILE: f.pidFile,
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}",
  };
}

/** The record as `cluster.json` holds it, checked; undefined names what is wrong. */
export function parseRecord(text: string): ClusterRecord | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  const r = raw as Partial<ClusterRecord> | null;
  if (!r || typeof r !== "object" || r.version !== 1) return "not a cluster record of version 1";
  if (typeof r.dir !== "string" || typeof r.namePrefix !== "string") return "no dir or namePrefix";
  if (!["starting", "formed", "failed"].includes(r.status as string))
    return `an unknown status ${JSON.stringify(r.status)}`;
  if (!Array.isArray(r.nodes) || r.nodes.length === 0) return "no nodes";
  for (const n of r.nodes) {
    const ok =
      n &&
      Number.isInteger(n.index) &&
      typeof n.name === "string" &&
      typeof n.dir === "string" &&
      n.ports &&
      Number.isInteger(n.ports.amqp) &&
      Number.isInteger(n.ports.dist);
    if (!ok) return "a node without index, name, dir or ports";
  }
  return r as ClusterRecord;
}

/** What a node is doing, as the manager reports it while it works. */
export type NodePhase =
  | "starting"
  | "started"
  | "joining"
  | "joined"
  | "stopping"
  | "stopped"
  | "already-running"
  | "already-stopped"
  | "failed";

export type ClusterEvent =
  /** `up` has checked everything and starts these nodes; resume: a kept cluster, again. */
  | { type: "plan"; dir: string; nodes: string[]; resume: boolean }
  | { type: "certs"; dir: string }
  | { type: "user"; name: string }
  | { type: "node"; node: string; index: number; phase: NodePhase; ms?: number; detail?: string };

/**
 * What `eventlab cluster up|status|stop-node|start-node|down` does once its flags are parsed:
 * call the manager in src/cluster with the command's environment and signal, show each node's
 * progress on stderr (a spinner on a terminal), and print the nodes and their URLs on stdout
 * (or JSON).
 */
import path from "node:path";
import {
  type ClusterEvent,
  type ClusterStatus,
  clusterDown,
  clusterStatus,
  clusterUp,
  defaultClusterDir,
  type NodeStatus,
  startNode,
  stopNode,
  TLS_CLIENT_USER,
} from "../../cluster/index.js";
import type { Context } from "../../context.js";
import { elapsed, plural } from "../../ui/format.js";
import { type Progress, startProgress } from "../../ui/progress.js";
import { table } from "../../ui/table.js";
import type { Theme } from "../../ui/theme.js";
import type { ClusterOptions } from "../cluster.js";

export async function runCluster(ctx: Context, o: ClusterOptions): Promise<void> {
  const dir = path.resolve(ctx.cwd, o.dir ?? defaultClusterDir(ctx.env));
  // Hints repeat --dir only when the cluster is not where it is looked for by default.
  const dirFlag = o.dir === undefined ? "" : ` --dir ${quote(dir)}`;
  switch (o.command) {
    case "up":
      return runUp(ctx, o, dir, dirFlag);
    case "status": {
      const s = await clusterStatus(dir, { env: ctx.env, signal: ctx.signal });
      ctx.io.out(o.json ? json(statusJson(s)) : statusText(s, ctx.theme));
      return;
    }
    case "stop-node":
    case "start-node":
      return runNode(ctx, o, dir);
    case "down":
      return runDown(ctx, o, dir, dirFlag);
  }
}

/** ` (TLS, management)`: what the nodes have besides AMQP. */
function extras(o: { tls: boolean; management: boolean }): string {
  const on = [o.tls ? "TLS" : "", o.management ? "management" : ""].filter(Boolean);
  return on.length ? ` (${on.join(", ")})` : "";
}

function quote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function json(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

async function runUp(
  ctx: Context,
  o: Extract<ClusterOptions, { command: "up" }>,
  dir: string,
  dirFlag: string,
): Promise<void> {
  const { io, theme } = ctx;
  const report = await reporter(ctx, "starting the cluster");
  let r: Awaited<ReturnType<typeof clusterUp>>;
  try {
    r = await clusterUp(
      {
        dir,
        nodes: o.nodes,
        basePort: o.basePort,
        tls: o.tls,
        management: o.management,
        namePrefix: o.namePrefix,
        startTimeoutMs: o.timeoutMs,
      },
      { env: ctx.env, signal: ctx.signal, onEvent: report.event },
    );
  } finally {
    await report.done();
  }
  if (o.json) {
    io.out(json({ ...statusJson(r), resumed: r.resumed, elapsedMs: r.elapsedMs }));
  } else io.out(urlTable(r.nodes, theme));
  const again = r.resumed ? " again, with the data and ports they had" : "";
  io.err(
    `${theme.ok(theme.symbols.ok)} ${plural(r.nodes.length, "node")} up${again} in ${elapsed(r.elapsedMs)} ${theme.dim(`(cluster ${r.namePrefix}, ${dir})`)}`,
  );
  for (const hint of upHints(r, dirFlag)) io.err(theme.dim(`  ${hint}`));
}

/** What to do with the cluster now: connect (plain, TLS, EXTERNAL), stop a node, take it down. */
function upHints(r: Awaited<ReturnType<typeof clusterUp>>, dirFlag: string): string[] {
  const first = r.nodes[0]!;
  const hints = [
    `use it:    eventlab ${r.nodes.map((n) => `--url ${n.urls.amqp}`).join(" ")} consume <queue>`,
  ];
  if (r.certs && first.urls.amqps) {
    const ca = `--ca ${quote(r.certs.caCert)}`;
    hints.push(
      `TLS:       eventlab --url ${first.urls.amqps} ${ca} consume <queue>`,
      `EXTERNAL:  eventlab --url ${first.urls.amqps.replace("guest:guest@", "")} ${ca} --cert ${quote(r.certs.clientCert)} --cert-key ${quote(r.certs.clientKey)} --auth external … (user ${TLS_CLIENT_USER})`,
    );
  }
  const then = [`eventlab cluster status${dirFlag}`, `eventlab cluster down${dirFlag}`];
  if (r.nodes.length > 1) then.unshift(`eventlab cluster stop-node 2${dirFlag}`);
  hints.push(`then:      ${then.join(" · ")}`);
  return hints;
}

async function runNode(
  ctx: Context,
  o: Extract<ClusterOptions, { command: "stop-node" | "start-node" }>,
  dir: string,
): Promise<void> {
  const { io, theme } = ctx;
  const stopping = o.command === "stop-node";
  const report = await reporter(ctx, stopping ? "stopping" : "starting");
  const deps = { env: ctx.env, signal: ctx.signal, onEvent: report.event };
  let r: Awaited<ReturnType<typeof stopNode>>;
  try {
    r = stopping
      ? await stopNode(dir, o.node, deps, o.timeoutMs)
      : await startNode(dir, o.node, deps, o.timeoutMs);
  } finally {
    await report.done();
  }
  if (o.json) {
    io.out(
      json({
        node: nodeJson(r.node),
        changed: r.changed,
        ...(r.forced !== undefined ? { forced: r.forced } : {}),
        elapsedMs: r.elapsedMs,
        cluster: statusJson(r.status),
      }),
    );
  } else if (!stopping) io.out(urlTable([r.node], theme));
  const running = r.status.nodes.filter((n) => n.state === "running");
  io.err(
    theme.dim(
      `  ${running.length} of ${plural(r.status.nodes.length, "node")} running${running.length ? `: ${running.map((n) => n.name).join(", ")}` : ""}`,
    ),
  );
}

async function runDown(
  ctx: Context,
  o: Extract<ClusterOptions, { command: "down" }>,
  dir: string,
  dirFlag: string,
): Promise<void> {
  const { io, theme } = ctx;
  const report = await reporter(ctx, "stopping the cluster");
  let r: Awaited<ReturnType<typeof clusterDown>>;
  try {
    r = await clusterDown(dir, { keep: o.keep }, { env: ctx.env, onEvent: report.event });
  } finally {
    await report.done();
  }
  if (o.json) io.out(json(r));
  if (!r.found) {
    io.err(`${theme.symbols.info} no cluster in ${dir}: nothing to stop`);
    return;
  }
  const what =
    r.stopped.length > 0 ? `stopped ${plural(r.stopped.length, "node")}` : "no node was running";
  const files = o.keep
    ? `kept ${dir}`
    : r.removed
      ? `removed ${dir}`
      : `removed the cluster's files; ${dir} holds other files and stays`;
  io.err(
    `${theme.ok(theme.symbols.ok)} ${what}, ${files} ${theme.dim(`(${elapsed(r.elapsedMs)})`)}`,
  );
  if (o.keep)
    io.err(theme.dim(`  \`eventlab cluster up${dirFlag}\` starts it again, with its data`));
  if (r.forced.length > 0)
    io.err(theme.warn(`  ${r.forced.join(", ")} did not stop in time and were killed`));
}

/** One line per node: name, AMQP URL, and AMQPS and management when there are. */
function urlTable(nodes: readonly NodeStatus[], theme: Theme): string {
  const rows = nodes.map((n) => [
    theme.bold(n.name),
    n.urls.amqp,
    ...(n.urls.amqps ? [n.urls.amqps] : []),
    ...(n.urls.management ? [n.urls.management] : []),
  ]);
  return `${table(rows).join("\n")}\n`;
}

function stateText(n: NodeStatus, theme: Theme): string {
  if (n.state === "running") return theme.ok("running");
  if (n.state === "booting") return theme.warn("not serving");
  return theme.error("stopped");
}

function statusText(s: ClusterStatus, theme: Theme): string {
  const head = `cluster ${theme.bold(s.namePrefix)} in ${s.dir}: ${plural(s.nodes.length, "node")}${extras(s)}`;
  const rows = s.nodes.map((n) => [
    String(n.index),
    n.name,
    stateText(n, theme),
    n.urls.amqp,
    ...(n.urls.amqps ? [n.urls.amqps] : []),
    ...(n.urls.management ? [n.urls.management] : []),
  ]);
  const lines = [head, ...table(rows, { indent: "  " })];
  if (s.view) {
    lines.push(
      theme.dim(
        `  ${s.view.running.length} of ${plural(s.view.members.length, "member")} running, as ${s.nodes.find((n) => n.state === "running")?.name ?? "a node"} sees it`,
      ),
    );
  } else lines.push(theme.dim("  no node is running"));
  return `${lines.join("\n")}\n`;
}

function nodeJson(n: NodeStatus) {
  return {
    index: n.index,
    name: n.name,
    state: n.state,
    ports: n.ports,
    urls: n.urls,
    log: n.log,
  };
}

function statusJson(s: ClusterStatus) {
  return {
    dir: s.dir,
    namePrefix: s.namePrefix,
    tls: s.tls,
    management: s.management,
    nodes: s.nodes.map(nodeJson),
    members: s.view?.members ?? null,
    running: s.view?.running ?? null,
    certs: s.certs
      ? {
          caCert: s.certs.caCert,
          clientCert: s.certs.clientCert,
          clientKey: s.certs.clientKey,
          externalUser: TLS_CLIENT_USER,
        }
      : null,
  };
}

/**
 * Progress on stderr: a line for each node that is done (started, joined, stopped, failed),
 * and on a terminal a spinner that names what is still going on.
 */
async function reporter(ctx: Context, title: string) {
  const { io, theme } = ctx;
  const began = Date.now();
  const active = new Map<string, string>();
  let finished = 0;
  const text = () => {
    const doing = [...active].map(([node, what]) => `${what} ${node}`).join(", ");
    const idle = finished > 0 ? "checking the cluster" : title;
    return `${doing || idle} ${theme.dim(elapsed(Date.now() - began))}`;
  };
  let progress: Progress = await startProgress(io, text, 250);
  let chain = Promise.resolve();
  const line = (s: string) => {
    chain = chain.then(async () => {
      progress.stop();
      io.err(s);
      progress = await startProgress(io, text, 250);
    });
  };
  const ok = (s: string) => line(`${theme.ok(theme.symbols.ok)} ${s}`);
  const took = (ms?: number) => (ms ? ` ${theme.dim(elapsed(ms))}` : "");
  const event = (e: ClusterEvent) => {
    if (e.type === "plan") {
      const what = e.resume ? "starting the kept cluster again" : "starting";
      const n = plural(e.nodes.length, "RabbitMQ node");
      return line(`${theme.symbols.info} ${what}: ${n} in ${e.dir}`);
    }
    if (e.type === "certs")
      return line(`${theme.symbols.info} making TLS certificates in ${e.dir}`);
    if (e.type === "user")
      return ok(`user ${e.name} added (its client certificate logs in with EXTERNAL)`);
    const { node, phase } = e;
    if (phase === "starting" || phase === "joining" || phase === "stopping") {
      active.set(node, phase);
      return;
    }
    active.delete(node);
    finished++;
    if (phase === "started") return ok(`${node} started${took(e.ms)}`);
    if (phase === "joined") return ok(`${node} joined the cluster${took(e.ms)}`);
    if (phase === "stopped")
      return ok(`${node} stopped${e.detail ? ` (${e.detail})` : ""}${took(e.ms)}`);
    if (phase === "failed") return line(`${theme.error(theme.symbols.fail)} ${node} failed`);
    line(
      `${theme.symbols.info} ${node} is already ${phase === "already-running" ? "running" : "stopped"}`,
    );
  };
  return {
    event,
    line,
    async done() {
      await chain;
      progress.stop();
    },
  };
}

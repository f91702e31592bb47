/**
 * `eventlab cluster up|status|stop-node|start-node|down`: a real RabbitMQ cluster on this
 * machine, from the rabbitmq-server installed here, beside (never instead of) a RabbitMQ
 * already running on 5672. This file is the commands' definition (flags, help, argv →
 * options); the work is in run/cluster.ts, loaded lazily, over src/cluster/.
 */
import { Command, InvalidArgumentError } from "@commander-js/extra-typings";
import {
  checkNamePrefix,
  DEFAULT_BASE_PORT,
  DEFAULT_NAME_PREFIX,
  MAX_NODES,
} from "../cluster/layout.js";
import type { Context } from "../context.js";
import { durationArg, intArg, type Run } from "./options.js";

interface ClusterDirOptions {
  /** Undefined: $EVENTLAB_CLUSTER_DIR, else ~/.eventlab/cluster. */
  dir: string | undefined;
  json: boolean;
}

export interface ClusterUpOptions extends ClusterDirOptions {
  nodes: number;
  /** 0: free ports for every listener. */
  basePort: number;
  tls: boolean;
  management: boolean;
  namePrefix: string;
  /** How long each node may take to boot. */
  timeoutMs: number;
}

export interface ClusterNodeOptions extends ClusterDirOptions {
  /** 1-based; checked against the cluster by the run. */
  node: number;
  timeoutMs: number;
}

export interface ClusterDownOptions extends ClusterDirOptions {
  keep: boolean;
}

/** What one `cluster` subcommand was asked to do. */
export type ClusterOptions =
  | ({ command: "up" } & ClusterUpOptions)
  | ({ command: "status" } & ClusterDirOptions)
  | ({ command: "stop-node" } & ClusterNodeOptions)
  | ({ command: "start-node" } & ClusterNodeOptions)
  | ({ command: "down" } & ClusterDownOptions);

function namePrefixArg(raw: string): string {
  const bad = checkNamePrefix(raw);
  if (bad) throw new InvalidArgumentError(bad);
  return raw;
}

function dirArg(raw: string): string {
  if (raw.trim() === "") throw new InvalidArgumentError("Expected a directory.");
  return raw;
}

const DIR_HELP = "the cluster's directory (default: $EVENTLAB_CLUSTER_DIR or ~/.eventlab/cluster)";

function upCommand(then: (o: ClusterUpOptions) => Promise<void>) {
  return new Command("up")
    .description("start a local RabbitMQ cluster: N nodes joined into one, on loopback ports")
    .option("-n, --nodes <n>", `how many nodes (1-${MAX_NODES})`, intArg(1, MAX_NODES), 3)
    .option("--tls", "also listen for amqps://, with a CA and certificates made by openssl", false)
    .option("--management", "enable the management UI and Prometheus metrics on every node", false)
    .option(
      "--base-port <port>",
      "AMQP on N, N+1, …; AMQPS on N+100…, management N+10000…, Prometheus N+10020…, distribution N+20000…; 0 picks free ports",
      intArg(0, 65535),
      DEFAULT_BASE_PORT,
    )
    .option(
      "--name-prefix <prefix>",
      "node names are <prefix>-<n>@localhost",
      namePrefixArg,
      DEFAULT_NAME_PREFIX,
    )
    .option("--dir <dir>", DIR_HELP, dirArg)
    .option(
      "--timeout <duration>",
      "how long each node may take to start (default 2m)",
      durationArg,
    )
    .option("--json", "print the nodes, ports and URLs as JSON", false)
    .addHelpText(
      "after",
      `
Each node gets its own name, data and log directories, and ports; the RabbitMQ already
running on this machine (5672, rabbit@localhost) is left alone. The nodes keep running
after the command ends: stop them with \`eventlab cluster down\`. A cluster stopped with
\`down --keep\` is started again by \`up\`, with its own settings, ports and data.

Examples:
  $ eventlab cluster up                          # 3 nodes: amqp://guest:guest@127.0.0.1:5673, :5674, :5675
  $ eventlab cluster up --nodes 5 --management   # and http://127.0.0.1:15673/ …
  $ eventlab cluster up --tls                    # amqps:// on 5773…, certificates in <dir>/tls/
  $ eventlab cluster up --base-port 0 --dir /tmp/c1 --json   # free ports, for scripts`,
    )
    .action((f) =>
      then({
        nodes: f.nodes,
        basePort: f.basePort,
        tls: f.tls,
        management: f.management,
        namePrefix: f.namePrefix,
        dir: f.dir,
        timeoutMs: f.timeout ?? 120_000,
        json: f.json,
      }),
    );
}

function nodeCommand(
  name: "stop-node" | "start-node",
  description: string,
  examples: string,
  then: (o: ClusterNodeOptions) => Promise<void>,
) {
  return new Command(name)
    .description(description)
    .argument("<n>", "the node's number: 1 for <prefix>-1@localhost", intArg(1))
    .option("--dir <dir>", DIR_HELP, dirArg)
    .option(
      "--timeout <duration>",
      name === "stop-node"
        ? "how long to wait before the node's VM is killed (default 1m)"
        : "how long the node may take to start and rejoin (default 2m)",
      durationArg,
    )
    .option("--json", "print the node and the cluster as JSON", false)
    .addHelpText("after", `\nExamples:\n${examples}`)
    .action((node, f) =>
      then({
        node,
        dir: f.dir,
        timeoutMs: f.timeout ?? (name === "stop-node" ? 60_000 : 120_000),
        json: f.json,
      }),
    );
}

/** `cluster` and its subcommands; `run` gets which one, and its options. */
export function clusterCommand(ctx: Context, run: Run<ClusterOptions>) {
  return new Command("cluster")
    .description("a local RabbitMQ cluster from the installed rabbitmq-server: up, status, down")
    .addCommand(upCommand((o) => run(ctx, { command: "up", ...o })))
    .addCommand(
      new Command("status")
        .description("the cluster's nodes: running or not, ports, URLs")
        .option("--dir <dir>", DIR_HELP, dirArg)
        .option("--json", "print it as JSON", false)
        .addHelpText(
          "after",
          "\nExamples:\n  $ eventlab cluster status\n  $ eventlab cluster status --json",
        )
        .action((f) => run(ctx, { command: "status", dir: f.dir, json: f.json })),
    )
    .addCommand(
      nodeCommand(
        "stop-node",
        "stop one node (RabbitMQ and its VM); its data stays, the others keep serving",
        "  $ eventlab cluster stop-node 2",
        (o) => run(ctx, { command: "stop-node", ...o }),
      ),
    )
    .addCommand(
      nodeCommand(
        "start-node",
        "start a stopped node again and wait until it has rejoined the cluster",
        "  $ eventlab cluster start-node 2",
        (o) => run(ctx, { command: "start-node", ...o }),
      ),
    )
    .addCommand(
      new Command("down")
        .description("stop every node and remove the cluster's directory")
        .option("--keep", "keep the directory: data, logs, certificates", false)
        .option("--dir <dir>", DIR_HELP, dirArg)
        .option("--json", "print what was stopped as JSON", false)
        .addHelpText(
          "after",
          "\nExamples:\n  $ eventlab cluster down\n  $ eventlab cluster down --keep",
        )
        .action((f) => run(ctx, { command: "down", keep: f.keep, dir: f.dir, json: f.json })),
    )
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab cluster up --nodes 3
  $ eventlab cluster status
  $ eventlab cluster stop-node 2         # rehearse a node failure
  $ eventlab cluster start-node 2
  $ eventlab cluster down`,
    );
}

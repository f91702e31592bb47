/**
 * A real three-node RabbitMQ cluster from the installed rabbitmq-server, through the CLI:
 * up (with TLS), status, a quorum queue replicated across nodes, amqps:// with the generated
 * CA and with EXTERNAL, a node stopped and started again, down. Free ports only, a temporary
 * directory, node names of this run's own; torn down even when a test fails, and the RabbitMQ
 * on 5672 is left as it was.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import amqp, { type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { findRabbitTools } from "../../src/cluster/exec.js";
import { ctlEnv } from "../../src/cluster/layout.js";
import { epmdNames, portAnswers } from "../../src/cluster/net.js";
import { runCli } from "../helpers/cli.js";
import { clusterCli, nodeProcesses, tearDown } from "../helpers/cluster.js";
import { clusterFailoverTests } from "../helpers/cluster-failover.js";
import { clusterPlayTests } from "../helpers/cluster-play.js";

const found = findRabbitTools(process.env);
const tools = "tools" in found ? found.tools : undefined;
const run = promisify(execFile);

interface NodeJson {
  index: number;
  name: string;
  state: string;
  ports: { amqp: number; amqps?: number; dist: number };
  urls: { amqp: string; amqps?: string };
}
interface StatusJson {
  dir: string;
  nodes: NodeJson[];
  members: string[] | null;
  running: string[] | null;
  certs: { caCert: string; clientCert: string; clientKey: string; externalUser: string } | null;
}

describe("cluster without rabbitmq-server", () => {
  it("says it is not installed and how to install it, without a stack trace", async () => {
    const r = await clusterCli(["up", "--base-port", "0", "--dir", path.join(os.tmpdir(), "x")], {
      PATH: "/nonexistent",
      EVENTLAB_RABBITMQ_SERVER: undefined,
      EVENTLAB_RABBITMQCTL: undefined,
    });
    expect(r.code).toBe(1);
    // Installed in /usr/sbin but not on the PATH, the error says where it is instead
    // (layout.test.ts checks both messages).
    expect(r.stderr).toMatch(
      /^error: rabbitmq-server (is not installed \(looked in the PATH\)|was not found on the PATH)/m,
    );
    expect(r.stderr).toContain("apt-get install rabbitmq-server");
    expect(r.stderr).toContain("brew install rabbitmq");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe("");
  });

  it("names an EVENTLAB_RABBITMQ_SERVER that is not there", async () => {
    const r = await clusterCli(["status", "--dir", path.join(os.tmpdir(), "none")], {
      EVENTLAB_RABBITMQ_SERVER: "/nonexistent/rabbitmq-server",
    });
    // status of a directory without a cluster does not need RabbitMQ: it says there is none.
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: no cluster in");
    const up = await clusterCli(["up", "--dir", path.join(os.tmpdir(), "none")], {
      EVENTLAB_RABBITMQ_SERVER: "/nonexistent/rabbitmq-server",
    });
    expect(up.code).toBe(1);
    expect(up.stderr).toContain("EVENTLAB_RABBITMQ_SERVER=/nonexistent/rabbitmq-server");
  });
});

describe.skipIf(!tools)("a local RabbitMQ cluster (rabbitmq-server installed)", () => {
  const prefix = `elt${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
  const node = (n: number) => `${prefix}-${n}@localhost`;
  let dir = "";
  let scratch = "";
  let up: StatusJson | undefined;
  let defaultBrokerAnswered = false;
  const connections: ChannelModel[] = [];

  const status = async (): Promise<StatusJson> => {
    const r = await clusterCli(["status", "--dir", dir, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as StatusJson;
  };
  const url = (n: number) => up!.nodes[n - 1]!.urls.amqp;
  const connect = async (u: string, socket?: object) => {
    const c = await amqp.connect(u, socket);
    connections.push(c);
    return c;
  };

  /** Publish to a quorum queue through one node and read it back through another. */
  async function roundTrip(from: number, to: number): Promise<string> {
    const q = `${prefix}.q.${from}.${to}.${Math.random().toString(36).slice(2, 8)}`;
    const body = `hello from node ${from} to node ${to}`;
    const pub = await (await connect(url(from))).createConfirmChannel();
    await pub.assertQueue(q, { durable: true, arguments: { "x-queue-type": "quorum" } });
    pub.sendToQueue(q, Buffer.from(body), { persistent: true });
    await pub.waitForConfirms();
    const sub = await (await connect(url(to))).createChannel();
    // Replicated by the time it was confirmed; asked again for a bounded time all the same.
    const got = await vi
      .waitFor(
        async () => {
          const m = await sub.get(q, { noAck: true });
          if (!m) throw new Error("not there yet");
          return m;
        },
        { timeout: 5000, interval: 100 },
      )
      .catch(() => false as const);
    await sub.deleteQueue(q);
    return got ? got.content.toString() : "(nothing)";
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "eventlab-cluster-"));
    scratch = await mkdtemp(path.join(os.tmpdir(), "eventlab-cluster-tools-"));
    defaultBrokerAnswered = await portAnswers(5672);
  });

  afterAll(async () => {
    await Promise.allSettled(connections.map((c) => c.close()));
    const problems = await tearDown(dir, prefix);
    await rm(dir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
    if (problems.length > 0) console.warn(`cluster teardown: ${problems.join("; ")}`);
  }, 120_000);

  it("up that fails on one node stops the others, and names the node and its log", async () => {
    // A start script that fails for node 2 and runs the real rabbitmq-server for the others.
    const fake = path.join(scratch, "rabbitmq-server");
    await writeFile(
      fake,
      `#!/bin/sh\ncase "$RABBITMQ_NODENAME" in\n  ${prefix}-2@*) echo "simulated: cannot boot" >&2; exit 3;;\nesac\nexec ${tools!.server} "$@"\n`,
    );
    await chmod(fake, 0o755);
    const r = await clusterCli(["up", "--base-port", "0", "--dir", dir, "--name-prefix", prefix], {
      EVENTLAB_RABBITMQ_SERVER: fake,
      EVENTLAB_RABBITMQCTL: tools!.ctl,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: node ${node(2)} did not start: it exited with code 3`);
    expect(r.stderr).toContain("simulated: cannot boot");
    expect(r.stderr).toContain(
      `hint: its logs: ${dir}/node-2/log/${node(2)}.log and ${dir}/node-2/startup.log`,
    );
    expect(r.stderr).toContain(`✗ ${node(2)} failed`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe("");
    // Nothing of it is left running; its logs are kept until the next up.
    await vi.waitFor(() => expect(nodeProcesses(prefix)).toEqual([]), { timeout: 10_000 });
    const names = await epmdNames(process.env);
    expect([1, 2, 3].filter((n) => names.has(`${prefix}-${n}`))).toEqual([]);
    expect(JSON.parse(readFileSync(path.join(dir, "cluster.json"), "utf8")).status).toBe("failed");
    expect(existsSync(path.join(dir, "node-2", "startup.log"))).toBe(true);
  }, 120_000);

  it("up starts three nodes, joins them into one cluster and prints their URLs", async () => {
    const t = Date.now();
    const args = ["up", "--nodes", "3", "--tls", "--base-port", "0", "--dir", dir];
    const r = await clusterCli([...args, "--name-prefix", prefix, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    up = JSON.parse(r.stdout) as StatusJson;
    console.info(`cluster up (3 nodes, TLS): ${((Date.now() - t) / 1000).toFixed(1)} s`);
    expect(up.nodes.map((n) => [n.name, n.state])).toEqual([
      [node(1), "running"],
      [node(2), "running"],
      [node(3), "running"],
    ]);
    for (const n of up.nodes) {
      expect(n.urls.amqp).toBe(`amqp://guest:guest@127.0.0.1:${n.ports.amqp}`);
      expect(n.urls.amqps).toBe(`amqps://guest:guest@127.0.0.1:${n.ports.amqps}`);
      expect([5672, 5671, 15672, 15692, 25672, 4369]).not.toContain(n.ports.amqp);
    }
    expect(up.running).toEqual([node(1), node(2), node(3)]);
    // Progress on stderr, one line per node, and how long it took.
    for (const n of [1, 2, 3]) expect(r.stderr).toContain(`✓ ${node(n)} started`);
    expect(r.stderr).toContain(`✓ ${node(2)} joined the cluster`);
    expect(r.stderr).toMatch(/3 nodes up in [\d.]+ (s|min)/);
    expect(JSON.parse(readFileSync(path.join(dir, "cluster.json"), "utf8"))).toMatchObject({
      status: "formed",
      nodes: [{ name: node(1) }, { name: node(2) }, { name: node(3) }],
    });
  }, 240_000);

  it("rabbitmqctl on node 1 lists the three nodes running", async () => {
    const { stdout } = await run(
      tools!.ctl,
      ["-n", node(1), "cluster_status", "--formatter", "json"],
      { env: ctlEnv(dir, process.env), timeout: 60_000 },
    );
    const view = JSON.parse(stdout.slice(stdout.indexOf("{"))) as { running_nodes: string[] };
    expect(view.running_nodes.sort()).toEqual([node(1), node(2), node(3)]);
  }, 60_000);

  it("a message published on node 1 to a quorum queue is read on node 3", async () => {
    expect(await roundTrip(1, 3)).toBe("hello from node 1 to node 3");
  }, 60_000);

  it("amqps:// works with the generated CA, and EXTERNAL with the client certificate", async () => {
    const certs = up!.certs!;
    const tls = {
      ca: [readFileSync(certs.caCert)],
      cert: readFileSync(certs.clientCert),
      key: readFileSync(certs.clientKey),
    };
    const plain = await connect(up!.nodes[0]!.urls.amqps!, tls);
    expect(plain.connection.serverProperties["product"]).toBe("RabbitMQ");
    const external = await connect(`amqps://127.0.0.1:${up!.nodes[1]!.ports.amqps}`, {
      ...tls,
      credentials: amqp.credentials.external(),
    });
    const ch = await external.createChannel();
    const q = await ch.assertQueue("", { exclusive: true });
    expect(q.queue).toMatch(/^amq\.gen-/);
    expect(certs.externalUser).toBe("eventlab-client");
    // Without the CA, the server's certificate is not trusted.
    await expect(amqp.connect(up!.nodes[0]!.urls.amqps!)).rejects.toThrow(
      /self.signed|certificate/i,
    );
  }, 60_000);

  it("eventlab over amqps:// to a node: --ca works, a wrong CA fails clearly, --insecure, EXTERNAL", async () => {
    const certs = up!.certs!;
    const amqps = up!.nodes[0]!.urls.amqps!;
    const queue = `${prefix}.tls.${Math.random().toString(36).slice(2, 8)}`;
    const good = await runCli(["--url", amqps, "--ca", certs.caCert, "declare", "queue", queue]);
    expect(good.code, good.stderr).toBe(0);
    const insecure = await runCli(["--url", amqps, "--insecure", "declare", "queue", queue]);
    expect(insecure.code, insecure.stderr).toBe(0);
    // Its own client certificate is not a CA: trusting it alone is trusting the wrong CA.
    const wrong = await runCli([
      "--url",
      amqps,
      "--ca",
      certs.clientCert,
      "declare",
      "queue",
      queue,
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(
      /error: the TLS certificate of amqps:\/\/guest:\*\*\*@127\.0\.0\.1:\d+ is not trusted/,
    );
    expect(wrong.stderr).toContain("--ca ca.pem");
    const external = await runCli([
      ...["--url", `amqps://127.0.0.1:${up!.nodes[1]!.ports.amqps}`, "--ca", certs.caCert],
      ...["--cert", certs.clientCert, "--cert-key", certs.clientKey, "--auth", "external"],
      ...["delete", "queue", queue],
    ]);
    expect(external.code, external.stderr).toBe(0);
  }, 60_000);

  it("stop-node 2: status shows it stopped and the cluster still serves", async () => {
    const r = await clusterCli(["stop-node", "2", "--dir", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`✓ ${node(2)} stopped`);
    expect(r.stderr).toContain(`2 of 3 nodes running: ${node(1)}, ${node(3)}`);
    const s = await status();
    expect(s.nodes.map((n) => n.state)).toEqual(["running", "stopped", "running"]);
    expect(s.members).toEqual([node(1), node(2), node(3)]);
    expect(s.running).toEqual([node(1), node(3)]);
    expect(await portAnswers(up!.nodes[1]!.ports.amqp)).toBe(false);
    expect(await roundTrip(1, 3)).toBe("hello from node 1 to node 3");
    // Again: already stopped, nothing to do.
    const again = await clusterCli(["stop-node", "2", "--dir", dir]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`${node(2)} is already stopped`);
  }, 120_000);

  it("stop-node 5 on a three-node cluster names the valid range", async () => {
    const r = await clusterCli(["stop-node", "5", "--dir", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: node 5 does not exist: the cluster in ${dir} has nodes 1 to 3`,
    );
  });

  it("start-node 2 brings it back into the cluster", async () => {
    const r = await clusterCli(["start-node", "2", "--dir", dir, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { node: NodeJson; changed: boolean; cluster: StatusJson };
    expect(out.node).toMatchObject({ name: node(2), state: "running" });
    expect(out.changed).toBe(true);
    expect(out.cluster.running).toEqual([node(1), node(2), node(3)]);
    expect(await roundTrip(2, 1)).toBe("hello from node 2 to node 1");
  }, 180_000);

  describe("eventlab across a node stop", () => {
    clusterFailoverTests({
      url,
      name: (what) => `${prefix}.${what}.${Math.random().toString(36).slice(2, 8)}`,
      async stopNode(n) {
        const r = await clusterCli(["stop-node", String(n), "--dir", dir]);
        expect(r.code, r.stderr).toBe(0);
      },
      async startNode(n) {
        const r = await clusterCli(["start-node", String(n), "--dir", dir]);
        expect(r.code, r.stderr).toBe(0);
      },
    });
    clusterPlayTests({
      urls: () => [1, 2, 3].map(url),
      dir: () => dir,
      name: (w) => `${prefix}.${w}`,
    });
  });

  it("down --keep, then up starts the same cluster again, with its data", async () => {
    const q = `${prefix}.kept`;
    const pub = await (await connect(url(1))).createConfirmChannel();
    await pub.assertQueue(q, { durable: true, arguments: { "x-queue-type": "quorum" } });
    pub.sendToQueue(q, Buffer.from("still here"), { persistent: true });
    await pub.waitForConfirms();
    await Promise.allSettled(connections.splice(0).map((c) => c.close()));

    const down = await clusterCli(["down", "--keep", "--dir", dir]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toContain(`stopped 3 nodes, kept ${dir}`);
    expect((await status()).nodes.map((n) => n.state)).toEqual(["stopped", "stopped", "stopped"]);
    // One node alone would wait for the others: refused, with what to do instead.
    const lone = await clusterCli(["start-node", "2", "--dir", dir]);
    expect(lone.code).toBe(1);
    expect(lone.stderr).toContain(`error: no node of the cluster in ${dir} is running`);
    expect(lone.stderr).toContain(`eventlab cluster up --dir ${dir}`);

    const again = await clusterCli(["up", "--base-port", "0", "--dir", dir, "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("starting the kept cluster again: 3 RabbitMQ nodes");
    const r = JSON.parse(again.stdout) as StatusJson & { resumed: boolean };
    expect(r.resumed).toBe(true);
    expect(r.nodes.map((n) => n.ports)).toEqual(up!.nodes.map((n) => n.ports));
    expect(r.running).toEqual([node(1), node(2), node(3)]);
    // The quorum queue elects a leader again after the restart: ask until it answers.
    let got = "(nothing)";
    await vi.waitFor(
      async () => {
        const ch = await (await connect(url(3))).createChannel();
        const m = await ch.get(q, { noAck: true });
        if (m) got = m.content.toString();
        expect(got).toBe("still here");
        await ch.deleteQueue(q);
      },
      { timeout: 20_000, interval: 500 },
    );
  }, 180_000);

  it("up again says a cluster is running there, and how to take it down", async () => {
    const r = await clusterCli(["up", "--base-port", "0", "--dir", dir, "--name-prefix", prefix]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: a cluster is already running in ${dir}`);
    expect(r.stderr).toContain(`eventlab cluster down --dir ${dir}`);
  });

  it("down stops every node and removes the directory", async () => {
    await Promise.allSettled(connections.splice(0).map((c) => c.close()));
    const r = await clusterCli(["down", "--dir", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`stopped 3 nodes, removed ${dir}`);
    expect(existsSync(dir)).toBe(false);
    const names = await epmdNames(process.env);
    expect([1, 2, 3].filter((n) => names.has(`${prefix}-${n}`))).toEqual([]);
    expect(nodeProcesses(prefix)).toEqual([]);
    for (const n of up!.nodes) expect(await portAnswers(n.ports.amqp)).toBe(false);
    // Again: nothing there, nothing to do.
    const again = await clusterCli(["down", "--dir", dir]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("nothing to stop");
  }, 120_000);

  it("left the RabbitMQ on 5672 as it was", async () => {
    expect(await portAnswers(5672)).toBe(defaultBrokerAnswered);
    if (!defaultBrokerAnswered) return;
    const c = await amqp.connect("amqp://guest:guest@127.0.0.1:5672");
    expect(c.connection.serverProperties["product"]).toBe("RabbitMQ");
    await c.close();
  });
});

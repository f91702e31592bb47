/**
 * The pure parts of the local cluster: ports from a base port, the files a node reads, its
 * environment, the record; and the quick probes: where the RabbitMQ scripts are, epmd's
 * names, free ports. No RabbitMQ is started here.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findRabbitTools } from "../../src/cluster/exec.js";
import {
  type ClusterRecord,
  ctlEnv,
  enabledPlugins,
  nodeEnv,
  nodeUrls,
  parseRecord,
  portsFromBase,
  portsFromPool,
  RESERVED_PORTS,
  rabbitmqConf,
} from "../../src/cluster/layout.js";
import { epmdNames, freePorts } from "../../src/cluster/net.js";
import { rabbitTools } from "../../src/cluster/state.js";
import { EventlabError } from "../../src/errors.js";

const plain = { tls: false, management: false };
const full = { tls: true, management: true };

function record(over: Partial<ClusterRecord> = {}): ClusterRecord {
  return {
    version: 1,
    dir: "/c",
    namePrefix: "eventlab",
    tls: false,
    management: false,
    status: "formed",
    createdAt: "2024-01-01T00:00:00.000Z",
    nodes: [
      {
        index: 1,
        name: "eventlab-1@localhost",
        dir: "/c/node-1",
        ports: { amqp: 5673, dist: 25673 },
      },
    ],
    ...over,
  };
}

describe("ports", () => {
  it("follow from the base port, clear of the default RabbitMQ's", () => {
    expect(portsFromBase(5673, 3, full)).toEqual([
      { amqp: 5673, amqps: 5773, management: 15673, prometheus: 15693, dist: 25673 },
      { amqp: 5674, amqps: 5774, management: 15674, prometheus: 15694, dist: 25674 },
      { amqp: 5675, amqps: 5775, management: 15675, prometheus: 15695, dist: 25675 },
    ]);
    expect(portsFromBase(5673, 1, plain)).toEqual([{ amqp: 5673, dist: 25673 }]);
  });

  it.each([
    [5672, 1, plain, "the AMQP port of node 1 would be 5672, the default AMQP port"],
    [5671, 3, plain, "the AMQP port of node 1 would be 5671, the default AMQPS port"],
    [5669, 3, plain, "the AMQP port of node 3 would be 5671, the default AMQPS port"],
    [5692, 1, full, "the management port of node 1 would be 15692, the default Prometheus port"],
    [45600, 1, plain, "the distribution port of node 1 would be 65600, above 65535"],
  ])("base %i for %i node(s) is refused: %s", (base, nodes, shape, message) => {
    expect(() => portsFromBase(base, nodes, shape)).toThrow(message);
  });

  it("from a pool, each listener gets its own port", () => {
    expect(portsFromPool([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 2, full)).toEqual([
      { amqp: 1, amqps: 2, management: 3, prometheus: 4, dist: 5 },
      { amqp: 6, amqps: 7, management: 8, prometheus: 9, dist: 10 },
    ]);
    expect(() => portsFromPool([1, 2, 3], 2, plain)).toThrow("not enough free ports");
  });

  it("free ports are distinct and none is reserved", async () => {
    const ports = await freePorts(12);
    expect(new Set(ports).size).toBe(12);
    for (const p of ports) expect(RESERVED_PORTS.has(p)).toBe(false);
  });
});

describe("a node's files and environment", () => {
  it("rabbitmq.conf listens on loopback only, on the node's own ports", () => {
    const r = record();
    const conf = rabbitmqConf(r, r.nodes[0]!);
    expect(conf).toContain("listeners.tcp.default = 127.0.0.1:5673\n");
    expect(conf).toContain("cluster_name = eventlab\n");
    expect(conf).not.toContain("management");
    expect(conf).not.toContain("ssl");
    expect(conf).not.toMatch(/0\.0\.0\.0|::/);
  });

  it("with management and TLS: per-node management and Prometheus ports, TLS and EXTERNAL", () => {
    const node = {
      index: 2,
      name: "eventlab-2@localhost",
      dir: "/c/node-2",
      ports: { amqp: 5674, amqps: 5774, management: 15674, prometheus: 15694, dist: 25674 },
    };
    const certs = {
      dir: "/c/tls",
      caCert: "/c/tls/ca.pem",
      caKey: "/c/tls/ca.key",
      serverCert: "/c/tls/server.pem",
      serverKey: "/c/tls/server.key",
      clientCert: "/c/tls/client.pem",
      clientKey: "/c/tls/client.key",
    };
    const conf = rabbitmqConf(record({ tls: true, management: true, certs, nodes: [node] }), node);
    for (const line of [
      "management.tcp.ip = 127.0.0.1",
      "management.tcp.port = 15674",
      "prometheus.tcp.ip = 127.0.0.1",
      "prometheus.tcp.port = 15694",
      "listeners.ssl.default = 127.0.0.1:5774",
      "ssl_options.cacertfile = /c/tls/ca.pem",
      "ssl_options.certfile = /c/tls/server.pem",
      "ssl_options.keyfile = /c/tls/server.key",
      "ssl_options.verify = verify_peer",
      "ssl_options.fail_if_no_peer_cert = false",
      "auth_mechanisms.1 = PLAIN",
      "auth_mechanisms.2 = AMQPLAIN",
      "auth_mechanisms.3 = EXTERNAL",
      "ssl_cert_login_from = common_name",
    ])
      expect(conf).toContain(`${line}\n`);
    expect(nodeUrls(node)).toEqual({
      amqp: "amqp://guest:guest@127.0.0.1:5674",
      amqps: "amqps://guest:guest@127.0.0.1:5774",
      management: "http://127.0.0.1:15674/",
      prometheus: "http://127.0.0.1:15694/metrics",
    });
  });

  it.each([
    [plain, "[].\n"],
    [{ tls: false, management: true }, "[rabbitmq_management,rabbitmq_prometheus].\n"],
    [{ tls: true, management: false }, "[rabbitmq_auth_mechanism_ssl].\n"],
  ])("enabled plugins for %o: %s", (shape, text) => {
    expect(enabledPlugins(shape)).toBe(text);
  });

  it("the environment names the node and its files, and no RABBITMQ_* of the caller survives", () => {
    const r = record();
    const env = nodeEnv("/c", r.nodes[0]!, {
      PATH: "/usr/bin",
      HOME: "/home/someone",
      RABBITMQ_NODENAME: "rabbit@localhost",
      RABBITMQ_MNESIA_BASE: "/var/lib/rabbitmq/mnesia",
    });
    expect(env).toMatchObject({
      PATH: "/usr/bin",
      HOME: "/c",
      RABBITMQ_CONF_ENV_FILE: "/c/rabbitmq-env.conf",
      RABBITMQ_NODENAME: "eventlab-1@localhost",
      RABBITMQ_NODE_PORT: "5673",
      RABBITMQ_DIST_PORT: "25673",
      RABBITMQ_CONFIG_FILE: "/c/node-1/rabbitmq.conf",
      RABBITMQ_MNESIA_BASE: "/c/node-1/mnesia",
      RABBITMQ_LOG_BASE: "/c/node-1/log",
      RABBITMQ_ENABLED_PLUGINS_FILE: "/c/node-1/enabled_plugins",
      RABBITMQ_PID_FILE: "/c/node-1/rabbitmq.pid",
    });
    const ctl = ctlEnv("/c", { RABBITMQ_NODENAME: "rabbit@localhost" });
    expect(ctl).toEqual({ HOME: "/c", RABBITMQ_CONF_ENV_FILE: "/c/rabbitmq-env.conf" });
  });

  it("a record is checked when read", () => {
    expect(parseRecord(JSON.stringify(record()))).toEqual(record());
    expect(parseRecord("{")).toMatch(/^not JSON/);
    expect(parseRecord('{"version":2}')).toBe("not a cluster record of version 1");
    expect(parseRecord(JSON.stringify({ ...record(), nodes: [] }))).toBe("no nodes");
    expect(parseRecord(JSON.stringify({ ...record(), status: "up" }))).toBe(
      'an unknown status "up"',
    );
    expect(parseRecord(JSON.stringify({ ...record(), nodes: [{ index: 1 }] }))).toBe(
      "a node without index, name, dir or ports",
    );
  });
});

describe("probes", () => {
  const tmp: string[] = [];
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(tmp.map((d) => rm(d, { recursive: true, force: true })));
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it("a distribution's wrapper (su rabbitmq) is looked through to the scripts it runs", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "eventlab-tools-"));
    tmp.push(root);
    await mkdir(path.join(root, "sbin"));
    await mkdir(path.join(root, "lib/rabbitmq/bin"), { recursive: true });
    const script = async (file: string, body: string) => {
      await writeFile(path.join(root, file), `#!/bin/sh\n${body}\n`);
      await chmod(path.join(root, file), 0o755);
    };
    await script("sbin/rabbitmq-server", 'su rabbitmq -s /bin/sh -c "..."');
    await script("sbin/rabbitmqctl", 'su rabbitmq -s /bin/sh -c "..."');
    await script("lib/rabbitmq/bin/rabbitmq-server", "exec erl");
    await script("lib/rabbitmq/bin/rabbitmqctl", "exec erl");
    expect(findRabbitTools({ PATH: path.join(root, "sbin") })).toEqual({
      tools: {
        server: path.join(root, "lib/rabbitmq/bin/rabbitmq-server"),
        ctl: path.join(root, "lib/rabbitmq/bin/rabbitmqctl"),
      },
    });
    expect(findRabbitTools({ PATH: "/nonexistent" })).toEqual({
      missing: "rabbitmq-server",
      tried: "the PATH",
    });
    expect(
      findRabbitTools({ PATH: path.join(root, "sbin"), EVENTLAB_RABBITMQCTL: "/nope/rabbitmqctl" }),
    ).toEqual({ missing: "rabbitmqctl", tried: "EVENTLAB_RABBITMQCTL=/nope/rabbitmqctl" });
  });

  it("without rabbitmq-server: how to install it, or where it is when not on the PATH", async () => {
    const caught = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err as EventlabError;
      }
      throw new Error("expected an error");
    };
    const none = caught(() => rabbitTools({ PATH: "/nonexistent" }, []));
    expect(none).toBeInstanceOf(EventlabError);
    expect(none.message).toBe(
      "rabbitmq-server is not installed (looked in the PATH): a local cluster runs the RabbitMQ installed on this machine",
    );
    expect(none.hint).toContain(
      "install RabbitMQ (Debian/Ubuntu: apt-get install rabbitmq-server; macOS: brew install rabbitmq)",
    );
    const sbin = await mkdtemp(path.join(os.tmpdir(), "eventlab-sbin-"));
    tmp.push(sbin);
    await writeFile(path.join(sbin, "rabbitmq-server"), "#!/bin/sh\n", { mode: 0o755 });
    const elsewhere = caught(() => rabbitTools({ PATH: "/nonexistent" }, [sbin]));
    expect(elsewhere.message).toBe("rabbitmq-server was not found on the PATH");
    expect(elsewhere.hint).toContain(
      `it is in ${sbin}: add that directory to PATH, or set EVENTLAB_RABBITMQ_SERVER=${sbin}/rabbitmq-server`,
    );
  });

  it("epmd's names are read from its NAMES answer; no epmd means no nodes", async () => {
    const server = createServer((socket) => {
      socket.once("data", (req) => {
        expect([...req]).toEqual([0, 1, 110]);
        const body = "name rabbit at port 25672\nname eventlab-1 at port 40001\n";
        socket.end(Buffer.concat([Buffer.from([0, 0, 0x11, 0x11]), Buffer.from(body)]));
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const names = await epmdNames({ ERL_EPMD_PORT: String(port) });
    expect([...names]).toEqual([
      ["rabbit", 25672],
      ["eventlab-1", 40001],
    ]);
    const [closed] = await freePorts(1);
    expect((await epmdNames({ ERL_EPMD_PORT: String(closed) })).size).toBe(0);
  });
});

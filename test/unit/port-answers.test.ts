/**
 * What a user sees when the URL points at something that is not an AMQP 0-9-1 port: a server
 * that speaks first (NATS), one that answers like HTTP, another AMQP version, a TLS port with
 * amqp://, a plain port with amqps://, and a TLS certificate this machine does not trust.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { connect } from "../../src/client/connect.js";
import { identify, showBytes } from "../../src/client/probe.js";
import { runCli } from "../helpers/cli.js";

type Closable = { close(cb?: () => void): unknown; address(): unknown };
const servers: Closable[] = [];
const sockets: Socket[] = [];

async function listen<
  T extends Closable & { listen(port: number, host: string, cb: () => void): unknown },
>(server: T): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

/** A TCP server that runs `onSocket` for each connection. */
function tcp(onSocket: (s: Socket) => void): Server {
  return createServer((s) => {
    sockets.push(s);
    s.on("error", () => {});
    onSocket(s);
  });
}

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** The error `consume` prints for a URL, in one run of the CLI. */
async function errorFor(url: string): Promise<{ code: number; error: string; hint: string }> {
  const r = await runCli(["consume", "q", "--url", url, "--count", "1"], {
    env: { EVENTLAB_CONFIG: "" },
  });
  const lines = r.stderr.trim().split("\n");
  return {
    code: r.code,
    error: lines.find((l) => l.startsWith("error: ")) ?? r.stderr,
    hint: lines.find((l) => l.startsWith("hint: ")) ?? "",
  };
}

describe("what is on the port", () => {
  it("a server that speaks first (NATS): its first bytes, and what it looks like", async () => {
    const port = await listen(
      tcp((s) => s.write('INFO {"server_id":"NABC","version":"2.9.0"}\r\n')),
    );
    const r = await errorFor(`amqp://127.0.0.1:${port}`);
    expect(r.code).toBe(1);
    expect(r.error).toBe(
      `error: cannot connect to amqp://127.0.0.1:${port}: the port answered with something that is not AMQP 0-9-1: "INFO {\\"server_id\\":\\"NABC\\",\\"version\\":\\"2.9.…"`,
    );
    expect(r.hint).toBe(
      "hint: it looks like a NATS server; check the host and port: RabbitMQ listens for AMQP on 5672, and for amqps:// on 5671",
    );
    expect(r.error).not.toMatch(/Frame size/);
  });

  it("an HTTP server: says so, and where RabbitMQ's HTTP API lives", async () => {
    const port = await listen(createHttpServer((_q, res) => res.end("hello")));
    const r = await errorFor(`amqp://127.0.0.1:${port}`);
    expect(r.error).toContain('not AMQP 0-9-1: "HTTP/1.1 400 Bad Request\\r\\n');
    expect(r.hint).toContain("an HTTP server (RabbitMQ's management UI and API listen on 15672)");
  });

  it("another AMQP version answers with its own header", async () => {
    const port = await listen(
      tcp((s) => s.once("data", () => s.end(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0])))),
    );
    const r = await errorFor(`amqp://127.0.0.1:${port}`);
    expect(r.error).toBe(
      `error: cannot connect to amqp://127.0.0.1:${port}: the server speaks AMQP 1.0, not AMQP 0-9-1`,
    );
  });

  it("a server that closes without a word", async () => {
    const port = await listen(tcp((s) => s.once("data", () => s.destroy())));
    const r = await errorFor(`amqp://127.0.0.1:${port}`);
    expect(r.error).toBe(
      `error: cannot connect to amqp://127.0.0.1:${port}: the port closed the connection without answering the AMQP 0-9-1 greeting`,
    );
    expect(r.hint).toMatch(/^hint: is it an AMQP port\?/);
  });

  describe("TLS", () => {
    let dir: string;
    let tlsPort: number;
    let broker: RunningBroker;
    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), "eventlab-tls-"));
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=localhost",
          "-keyout",
          path.join(dir, "key.pem"),
          "-out",
          path.join(dir, "cert.pem"),
        ],
        { stdio: "ignore", timeout: 20_000 },
      );
      const server = createTlsServer({
        key: readFileSync(path.join(dir, "key.pem")),
        cert: readFileSync(path.join(dir, "cert.pem")),
      });
      server.on("tlsClientError", () => {});
      tlsPort = await listen(server);
      broker = await startBroker({ port: 0 });
    }, 30_000);
    afterAll(async () => {
      await broker?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("a self-signed certificate: not trusted, and how to trust its CA", async () => {
      const r = await errorFor(`amqps://127.0.0.1:${tlsPort}`);
      expect(r.error).toMatch(
        new RegExp(
          `^error: the TLS certificate of amqps://127\\.0\\.0\\.1:${tlsPort} is not trusted \\(self[- ]signed certificate\\)$`,
        ),
      );
      expect(r.hint).toBe(
        "hint: trust the CA that signed the broker's certificate: --ca ca.pem (or broker.tls.ca in the config); --insecure skips the check, for tests only",
      );
      expect(r.hint).not.toMatch(/start RabbitMQ/);
    });

    it("amqp:// to a TLS port: use amqps://", async () => {
      const r = await errorFor(`amqp://127.0.0.1:${tlsPort}`);
      expect(r.error).toBe(
        `error: cannot connect to amqp://127.0.0.1:${tlsPort}: the port expects TLS`,
      );
      expect(r.hint).toMatch(/^hint: use amqps:\/\//);
    });

    it("amqps:// to a plain AMQP port: use amqp://", async () => {
      const port = new URL(broker.url).port;
      const r = await errorFor(`amqps://127.0.0.1:${port}`);
      expect(r.error).toBe(
        `error: cannot connect to amqps://127.0.0.1:${port}: the port speaks plain AMQP, not TLS`,
      );
      expect(r.hint).toMatch(/^hint: use amqp:\/\//);
    });
  });

  it("a real AMQP port is left alone: the connection works", async () => {
    const broker = await startBroker({ port: 0 });
    try {
      const c = await connect([broker.url], { timeoutMs: 2000 });
      expect(broker.stats().connections).toBe(1);
      // A round trip on a channel: the handshake finished and the connection carries methods.
      const ch = await c.model.createChannel();
      expect((await ch.assertQueue("", { exclusive: true })).queue).toMatch(/^amq\.gen-/);
      await c.close();
      expect(c.closeReason).toBeUndefined();
    } finally {
      await broker.close();
    }
  });
});

describe("reading the first bytes", () => {
  it.each([
    [[0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1], "amqp-0-9-1"],
    [[1, 0, 0, 0, 0, 1, 0x2c, 0, 10], "amqp-0-9-1"],
    [[0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0], "amqp-other"],
    [[0x15, 0x03, 0x03, 0, 2, 2, 0x46], "tls"],
    [[], "silent"],
    [[...Buffer.from("-ERR unknown command\r\n")], "other"],
  ] as const)("%j is %s", (bytes, kind) => {
    expect(identify(Buffer.from(bytes as readonly number[])).kind).toBe(kind);
  });

  it("shows printable text as it is and the rest escaped, within 40 bytes", () => {
    expect(showBytes(Buffer.from('a"b\\c\r\n\x00\xff', "latin1"))).toBe(
      '"a\\"b\\\\c\\r\\n\\x00\\xff"',
    );
    expect(showBytes(Buffer.alloc(100, 0x41))).toBe(`"${"A".repeat(40)}…"`);
  });
});

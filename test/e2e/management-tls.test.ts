/**
 * The management API over https: the client trusts what the AMQP connection trusts (--ca,
 * --cert/--cert-key, --insecure). An https server (certificates made by openssl through
 * src/cluster/certs.ts) stands in front of the embedded broker's HTTP API and relays each
 * request, so `eventlab list` reads a live broker through real TLS. 127.0.0.1, port 0; every
 * wait is bounded.
 */
import { readFile, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { type CertSet, generateCerts } from "../../src/cluster/certs.js";
import { runCli } from "../helpers/cli.js";

let dir: string;
let certs: CertSet;
let other: CertSet;
let broker: RunningBroker;
/** Certificates the https server saw from clients, by common name. */
const clientNames: string[] = [];
const servers: Server[] = [];

/** An https server relaying to the broker's HTTP API; `requireCert`: client certificates. */
async function httpsFront(requireCert: boolean): Promise<string> {
  const [key, cert, ca] = await Promise.all(
    [certs.serverKey, certs.serverCert, certs.caCert].map((f) => readFile(f)),
  );
  const server = createServer(
    { key, cert, ca, requestCert: requireCert, rejectUnauthorized: requireCert },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      if (peer?.subject?.CN) clientNames.push(String(peer.subject.CN));
      const upstream = httpRequest(
        `http://127.0.0.1:${broker.httpPort}${req.url}`,
        { method: req.method, headers: req.headers, signal: AbortSignal.timeout(5000) },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      upstream.on("error", () => res.writeHead(502).end());
      req.pipe(upstream);
    },
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let open: string;
let mutual: string;
let amqpUrl: string;

beforeAll(async () => {
  dir = path.join(tmpdir(), `eventlab-api-tls-${process.pid}-${Date.now().toString(36)}`);
  [certs, other] = await Promise.all([
    generateCerts(path.join(dir, "a"), { clientName: "app", days: 2 }),
    generateCerts(path.join(dir, "b"), { clientName: "app", days: 2 }),
  ]);
  broker = await startBroker({ port: 0, httpPort: 0 });
  amqpUrl = broker.url;
  const c = await amqp.connect(amqpUrl);
  const ch = await c.createChannel();
  await ch.assertQueue("tls.orders", { durable: true });
  ch.sendToQueue("tls.orders", Buffer.from("one"));
  await ch.checkQueue("tls.orders");
  await c.close();
  [open, mutual] = await Promise.all([httpsFront(false), httpsFront(true)]);
}, 60_000);

afterAll(async () => {
  for (const s of servers) s.close();
  await broker?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const list = (api: string, ...flags: string[]) =>
  runCli(["--url", amqpUrl, ...flags, "list", "queues", "--json", "--api", api]);

describe("management API over https", () => {
  it("--ca: the API's certificate is trusted, and list reads the live queue", async () => {
    const r = await list(open, "--ca", certs.caCert);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const queues = JSON.parse(r.stdout) as Array<{ name: string; messages: number }>;
    expect(queues).toEqual([expect.objectContaining({ name: "tls.orders", messages: 1 })]);
  });

  it("without --ca, or with another CA: refused, with what to do", async () => {
    for (const flags of [[], ["--ca", other.caCert]]) {
      const r = await list(open, ...flags);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`cannot reach the management API at ${open}/`);
      expect(r.stderr).toMatch(/its certificate was refused \((SELF_SIGNED|UNABLE_TO_VERIFY)/);
      expect(r.stderr).toContain("--ca ca.pem");
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("https:// to an API on plain HTTP: says so, and names the http:// address", async () => {
    const plain = `https://127.0.0.1:${broker.httpPort}`;
    const r = await list(plain, "--ca", certs.caCert);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${plain}/: it does not speak TLS there`);
    expect(r.stderr).toContain(`use http://127.0.0.1:${broker.httpPort}/`);
  });

  it("--insecure skips the check", async () => {
    const r = await list(open, "--insecure");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(1);
  });

  it("a server that wants a client certificate gets --cert and --cert-key", async () => {
    const before = clientNames.length;
    const r = await list(
      mutual,
      ...["--ca", certs.caCert, "--cert", certs.clientCert, "--cert-key", certs.clientKey],
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(1);
    expect(clientNames.slice(before)).toContain("app");
    const without = await list(mutual, "--ca", certs.caCert);
    expect(without.code).not.toBe(0);
    expect(without.stderr).toContain(`cannot reach the management API at ${mutual}/`);
    expect(without.stderr).not.toMatch(/\n\s+at /);
  });
});

/**
 * eventlab as a TLS client, through the CLI, against the embedded broker's amqps:// port:
 * --ca, --insecure, --servername, a client certificate with SASL EXTERNAL, and the errors a
 * person meets (an unknown CA, a name mismatch, an expired certificate, plain AMQP to a TLS
 * port and the reverse), each with the flag that fixes it.
 */
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { type CertSet, generateCerts } from "../../src/cluster/certs.js";
import { runCli, uniqueName } from "../helpers/cli.js";

let dir: string;
let good: CertSet;
let other: CertSet;
let expired: CertSet;
let broker: RunningBroker;
let stale: RunningBroker;

beforeAll(async () => {
  dir = path.join(tmpdir(), uniqueName("client-tls"));
  [good, other, expired] = await Promise.all([
    generateCerts(path.join(dir, "good"), { clientName: "app", days: 2 }),
    generateCerts(path.join(dir, "other"), { clientName: "app", days: 2 }),
    generateCerts(path.join(dir, "expired"), { expired: true }),
  ]);
  const { readFile } = await import("node:fs/promises");
  const pem = async (c: CertSet) => ({
    cert: await readFile(c.serverCert),
    key: await readFile(c.serverKey),
    ca: await readFile(c.caCert),
  });
  broker = await startBroker({
    port: 0,
    tlsPort: 0,
    users: [
      { username: "guest", password: "guest" },
      { username: "app", password: "unused-with-external" },
    ],
    tls: { ...(await pem(good)), verifyPeer: true },
  });
  stale = await startBroker({ port: 0, tlsPort: 0, tls: await pem(expired) });
}, 60_000);

afterAll(async () => {
  await broker?.close();
  await stale?.close();
  await rm(dir, { recursive: true, force: true });
});

const tlsUrl = (user = "guest:guest@") => `amqps://${user}127.0.0.1:${broker.tlsPort}`;

describe("eventlab over amqps://", () => {
  it("with --ca: a round trip through produce and consume", async () => {
    const queue = uniqueName("tls-q");
    const base = ["--url", tlsUrl(), "--ca", good.caCert];
    expect((await runCli([...base, "declare", "queue", queue])).code).toBe(0);
    const p = await runCli([...base, "produce", "--exchange", "", "--key", queue, "--body", "hi"]);
    expect(p.code, p.stderr).toBe(0);
    const c = await runCli([...base, "consume", queue, "--count", "1", "--json"]);
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout).body).toBe("hi");
  });

  it("an unknown CA fails clearly, and the hint names --ca", async () => {
    for (const ca of [[], ["--ca", other.caCert]]) {
      const r = await runCli(["--url", tlsUrl(), ...ca, "declare", "queue", uniqueName("x")]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /error: the TLS certificate of amqps:\/\/guest:\*\*\*@127\.0\.0\.1:\d+ is not trusted/,
      );
      expect(r.stderr).toContain(
        "hint: trust the CA that signed the broker's certificate: --ca ca.pem",
      );
    }
  });

  it("--insecure connects without checking the certificate", async () => {
    const r = await runCli(["--url", tlsUrl(), "--insecure", "declare", "queue", uniqueName("x")]);
    expect(r.code, r.stderr).toBe(0);
  });

  it("a name the certificate does not list fails, and the hint names --servername", async () => {
    const r = await runCli([
      ...["--url", tlsUrl(), "--ca", good.caCert, "--servername", "elsewhere.example"],
      ...["declare", "queue", uniqueName("x")],
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is for another name/);
    expect(r.stderr).toContain("--servername <name>");
  });

  it("an expired certificate is named as such", async () => {
    const r = await runCli([
      ...["--url", `amqps://127.0.0.1:${stale.tlsPort}`, "--ca", expired.caCert],
      ...["declare", "queue", uniqueName("x")],
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: the TLS certificate of .* is not valid now/);
  });

  it("SASL EXTERNAL with a client certificate logs in as its common name (and without one, it is refused)", async () => {
    const queue = uniqueName("tls-ext");
    const r = await runCli([
      ...["--url", `amqps://127.0.0.1:${broker.tlsPort}`, "--ca", good.caCert],
      ...["--cert", good.clientCert, "--cert-key", good.clientKey, "--auth", "external"],
      ...["declare", "queue", queue],
    ]);
    expect(r.code, r.stderr).toBe(0);
    const without = await runCli([
      ...[
        "--url",
        `amqps://127.0.0.1:${broker.tlsPort}`,
        "--ca",
        good.caCert,
        "--auth",
        "external",
      ],
      ...["declare", "queue", uniqueName("x")],
    ]);
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/^error: /m);
    // The queue it declared is there.
    const amqp = (await import("amqplib")).default;
    const check = await amqp.connect(broker.url);
    try {
      const ch = await check.createChannel();
      await expect(ch.checkQueue(queue)).resolves.toMatchObject({ queue });
    } finally {
      await check.close();
    }
  });

  it("bench's client threads connect as the command does: TLS, client certificate, SASL EXTERNAL", async () => {
    const r = await runCli([
      ...["--url", `amqps://127.0.0.1:${broker.tlsPort}`, "--ca", good.caCert],
      ...["--cert", good.clientCert, "--cert-key", good.clientKey, "--auth", "external"],
      ...["bench", "-x", "1", "-y", "1", "--pmessages", "300", "--threads", "1", "--json"],
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.totals).toMatchObject({ sent: 300, received: 300, missing: 0, duplicated: 0 });
  }, 60_000);

  it("--cert without --cert-key, and a missing file, are usage errors that name the flag", async () => {
    const r = await runCli(["--url", tlsUrl(), "--cert", good.clientCert, "declare", "queue", "x"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: a client certificate needs both --cert and --cert-key");
    const m = await runCli(["--url", tlsUrl(), "--ca", "no/such/ca.pem", "declare", "queue", "x"]);
    expect(m.code).toBe(1);
    expect(m.stderr).toContain("error: cannot read --ca no/such/ca.pem (ENOENT)");
  });

  it("plain amqp:// to the TLS port, and amqps:// to the plain port, say which to use", async () => {
    const plain = await runCli([
      ...["--url", `amqp://127.0.0.1:${broker.tlsPort}`, "declare", "queue", "x"],
    ]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain("the port expects TLS");
    const tls = await runCli([
      ...["--url", `amqps://127.0.0.1:${broker.port}`, "--ca", good.caCert],
      ...["declare", "queue", "x"],
    ]);
    expect(tls.code).toBe(1);
    expect(tls.stderr).toContain("the port speaks plain AMQP, not TLS");
  });
});

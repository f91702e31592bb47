/**
 * The embedded broker over TLS (amqps://), with amqplib as the client and certificates made
 * by src/cluster/certs.ts (openssl): a round trip with the right CA, a certificate error with
 * the wrong one, SASL EXTERNAL with a client certificate and its refusals, clients on the
 * wrong port (plain on TLS, TLS on plain) that never take the broker down, and
 * `eventlab broker --tls-…` run in-process. Servers listen on 127.0.0.1 and port 0; every wait
 * is bounded.
 */
import { readFile, rm } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect as tlsConnect } from "node:tls";
import amqp, { type ChannelModel, type Options } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { type CertSet, generateCerts } from "../../src/cluster/certs.js";
import { brokerCommand } from "../../src/commands/broker.js";
import { optionsOf, usageErrorOf } from "../helpers/argv.js";
import { runCli, startCli } from "../helpers/cli.js";
import { within as withinMs } from "../helpers/wait.js";

const WAIT = 5000;
const POLL = { timeout: WAIT, interval: 10 } as const;
const AMQP_HEADER = Buffer.from("AMQP\u0000\u0000\u0009\u0001", "latin1");

/** Resolve with the promise, or fail after `ms` (default WAIT). */
function within<T>(p: Promise<T>, what: string, ms = WAIT): Promise<T> {
  return withinMs(p, what, ms);
}

/** The error `p` rejects with, within `ms`; fails the test when it resolves. */
async function rejection(p: Promise<unknown>, what: string, ms = WAIT): Promise<Error> {
  const outcome = await within(
    p.then(
      (v) => ({ ok: true as const, v }),
      (err: unknown) => ({ ok: false as const, err }),
    ),
    what,
    ms,
  );
  if (outcome.ok) {
    await (outcome.v as ChannelModel | undefined)?.close?.().catch(() => {});
    throw new Error(`expected ${what} to fail, but it succeeded`);
  }
  expect(outcome.err).toBeInstanceOf(Error);
  return outcome.err as Error;
}

let dir: string;
let certs: CertSet;
/** A second, unrelated CA with its own server and client certificates. */
let other: CertSet;
/** The files' contents: the CA, the server's certificate and key, the client's. */
let pem: Record<"ca" | "cert" | "key" | "clientCert" | "clientKey", Buffer>;
/** The other CA, and a client certificate (CN=app) it signed. */
let pemOther: Record<"ca" | "clientCert" | "clientKey", Buffer>;

const APP = { username: "app", password: "s3cret" };
/** verifyPeer, users app (the client certificate's CN) and ops. */
let broker: RunningBroker;
const brokers: RunningBroker[] = [];

async function serve(options: Parameters<typeof startBroker>[0]): Promise<RunningBroker> {
  const b = await startBroker({ port: 0, tlsPort: 0, ...options });
  brokers.push(b);
  return b;
}

beforeAll(async () => {
  dir = path.join(tmpdir(), `eventlab-broker-tls-${process.pid}-${Date.now().toString(36)}`);
  [certs, other] = await Promise.all([
    generateCerts(path.join(dir, "a"), { clientName: "app", days: 2 }),
    generateCerts(path.join(dir, "b"), { clientName: "app", days: 2 }),
  ]);
  const [ca, cert, key, clientCert, clientKey] = await Promise.all(
    [certs.caCert, certs.serverCert, certs.serverKey, certs.clientCert, certs.clientKey].map((f) =>
      readFile(f),
    ),
  );
  pem = { ca: ca!, cert: cert!, key: key!, clientCert: clientCert!, clientKey: clientKey! };
  const [otherCa, otherCert, otherKey] = await Promise.all(
    [other.caCert, other.clientCert, other.clientKey].map((f) => readFile(f)),
  );
  pemOther = { ca: otherCa!, clientCert: otherCert!, clientKey: otherKey! };
  broker = await serve({
    users: [APP, { username: "ops", password: "pw" }],
    tls: { cert: pem.cert, key: pem.key, ca: pem.ca, verifyPeer: true },
  });
});

afterAll(async () => {
  await Promise.all(brokers.map((b) => b.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Connections a failed test may leave open; closed after each test. */
const leftovers = new Set<ChannelModel>();

afterEach(async () => {
  for (const c of leftovers) await within(c.close(), "closing a leftover").catch(() => {});
  leftovers.clear();
  for (const b of brokers) {
    await vi.waitFor(
      () => expect(b.stats().connections, "connections left after the test").toBe(0),
      POLL,
    );
  }
});

async function open(url: string, options: Options.Connect | object = {}): Promise<ChannelModel> {
  const c = await within(amqp.connect(url, options), `connecting to ${url}`);
  leftovers.add(c);
  return c;
}

async function close(c: ChannelModel): Promise<void> {
  await within(c.close(), "closing");
  leftovers.delete(c);
}

/** Publish one message to a fresh exclusive queue and consume it back. */
async function roundTrip(c: ChannelModel, body: string): Promise<string> {
  const ch = await c.createChannel();
  const { queue } = await ch.assertQueue("", { exclusive: true });
  ch.sendToQueue(queue, Buffer.from(body));
  const got = new Promise<string>((resolve) => {
    void ch.consume(queue, (m) => {
      if (m) {
        ch.ack(m);
        resolve(m.content.toString());
      }
    });
  });
  return within(got, "the message back");
}

function tlsUrl(b: RunningBroker, credentials = "app:s3cret@"): string {
  return `amqps://${credentials}127.0.0.1:${b.tlsPort}`;
}

describe("startBroker with tls", () => {
  it("listens on both ports and says so: url and tlsUrl, port and tlsPort", () => {
    expect(broker.port).toBeGreaterThan(0);
    expect(broker.tlsPort).toBeGreaterThan(0);
    expect(broker.tlsPort).not.toBe(broker.port);
    expect(broker.url).toBe(`amqp://app:s3cret@127.0.0.1:${broker.port}`);
    expect(broker.tlsUrl).toBe(`amqps://app:s3cret@127.0.0.1:${broker.tlsPort}`);
    expect(broker.tlsHost).toBe("127.0.0.1");
  });

  it("without tls: no TLS listener", async () => {
    const b = await serve({});
    expect(b.tlsPort).toBeUndefined();
    expect(b.tlsUrl).toBeUndefined();
  });

  it("publish and consume over amqps:// with the right CA, and over amqp:// beside it", async () => {
    const secure = await open(tlsUrl(broker), { ca: [pem.ca] });
    expect(await roundTrip(secure, "over tls")).toBe("over tls");
    const plain = await open(broker.url);
    expect(await roundTrip(plain, "in the clear")).toBe("in the clear");
    await close(secure);
    await close(plain);
  });

  it("the client refuses a server certificate from a CA it does not trust", async () => {
    const err = await rejection(
      amqp.connect(tlsUrl(broker), { ca: [pemOther.ca] }),
      "connecting with the wrong CA",
    );
    expect((err as NodeJS.ErrnoException).code).toMatch(
      /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/,
    );
  });

  it("rejectUnauthorized: false connects without the CA", async () => {
    const c = await open(tlsUrl(broker), { rejectUnauthorized: false });
    expect(await roundTrip(c, "unchecked")).toBe("unchecked");
    await close(c);
  });

  it("a key that is no PEM: TlsOptionsError, and nothing listens", async () => {
    await expect(
      startBroker({ port: 0, tlsPort: 0, tls: { cert: pem.cert, key: Buffer.from("nope") } }),
    ).rejects.toMatchObject({ name: "TlsOptionsError" });
  });
});

describe("SASL EXTERNAL", () => {
  it("a client certificate whose CN is a user logs in as that user, no password", async () => {
    const c = await open(tlsUrl(broker, ""), {
      ca: [pem.ca],
      cert: pem.clientCert,
      key: pem.clientKey,
      credentials: amqp.credentials.external(),
    });
    expect(await roundTrip(c, "by certificate")).toBe("by certificate");
    await close(c);
  });

  it("without a client certificate: 403 ACCESS_REFUSED, and PLAIN still works", async () => {
    const err = await rejection(
      amqp.connect(tlsUrl(broker, ""), { ca: [pem.ca], credentials: amqp.credentials.external() }),
      "EXTERNAL without a certificate",
    );
    expect(err.message).toMatch(/403 \(ACCESS-REFUSED\)/);
    expect(err.message).toContain("the client presented no TLS (x.509) certificate");
    const c = await open(tlsUrl(broker), { ca: [pem.ca] });
    await close(c);
  });

  it("a certificate whose CN is no user: 403 naming the user", async () => {
    const b = await serve({
      users: [{ username: "ops", password: "pw" }],
      tls: { cert: pem.cert, key: pem.key, ca: pem.ca, verifyPeer: true },
    });
    const err = await rejection(
      amqp.connect(tlsUrl(b, ""), {
        ca: [pem.ca],
        cert: pem.clientCert,
        key: pem.clientKey,
        credentials: amqp.credentials.external(),
      }),
      "EXTERNAL with an unknown CN",
    );
    expect(err.message).toMatch(/403 \(ACCESS-REFUSED\)/);
    expect(err.message).toContain(
      "user 'app' (the client certificate's common name) does not exist",
    );
  });

  it("not offered without verifyPeer, nor on the plain port", async () => {
    const b = await serve({ tls: { cert: pem.cert, key: pem.key } });
    const viaTls = await rejection(
      amqp.connect(`amqps://127.0.0.1:${b.tlsPort}`, {
        ca: [pem.ca],
        cert: pem.clientCert,
        key: pem.clientKey,
        credentials: amqp.credentials.external(),
      }),
      "EXTERNAL on a listener without verifyPeer",
    );
    expect(viaTls.message).toBe("SASL mechanism EXTERNAL is not provided by the server");
    const viaPlain = await rejection(
      amqp.connect(`amqp://127.0.0.1:${broker.port}`, { credentials: amqp.credentials.external() }),
      "EXTERNAL on the plain port",
    );
    expect(viaPlain.message).toBe("SASL mechanism EXTERNAL is not provided by the server");
  });

  it("verifyPeer refuses a client certificate from another CA; the broker serves on", async () => {
    await rejection(
      amqp.connect(tlsUrl(broker), {
        ca: [pem.ca],
        cert: pemOther.clientCert,
        key: pemOther.clientKey,
      }),
      "a client certificate the broker does not trust",
    );
    const c = await open(tlsUrl(broker), { ca: [pem.ca] });
    await close(c);
  });

  it("failIfNoPeerCert refuses a client without a certificate at the handshake", async () => {
    const b = await serve({
      users: [APP],
      tls: { cert: pem.cert, key: pem.key, ca: pem.ca, verifyPeer: true, failIfNoPeerCert: true },
    });
    await rejection(amqp.connect(tlsUrl(b), { ca: [pem.ca] }), "no client certificate");
    const c = await open(tlsUrl(b), { ca: [pem.ca], cert: pem.clientCert, key: pem.clientKey });
    await close(c);
  });
});

describe("the wrong protocol on a port", () => {
  it("plain AMQP on the TLS port fails promptly; the broker serves on", async () => {
    const started = Date.now();
    const err = await rejection(
      amqp.connect(`amqp://app:s3cret@127.0.0.1:${broker.tlsPort}`),
      "plain AMQP on the TLS port",
      2000,
    );
    expect(err.message).toMatch(/closed abruptly|ECONNRESET|socket hang up/i);
    expect(Date.now() - started).toBeLessThan(2000);
    const c = await open(tlsUrl(broker), { ca: [pem.ca] });
    expect(await roundTrip(c, "still here")).toBe("still here");
    await close(c);
  });

  it("a TLS client on the plain port gets AMQP's protocol header, and the socket closes", async () => {
    const raw = netConnect(broker.port, "127.0.0.1");
    const got: Buffer[] = [];
    raw.on("data", (d: Buffer) => got.push(d));
    const closed = new Promise<void>((resolve) => raw.on("close", () => resolve()));
    raw.on("error", () => {});
    // The start of a TLS ClientHello record: content type 22, version 3.1, a length.
    raw.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]));
    await within(closed, "the plain port closing the TLS client");
    expect(Buffer.concat(got)).toEqual(AMQP_HEADER);

    const tlsErr = await within(
      new Promise<Error>((resolve) => {
        const s = tlsConnect({ host: "127.0.0.1", port: broker.port, ca: [pem.ca] });
        s.on("secureConnect", () => {
          s.destroy();
          resolve(new Error("unexpected TLS handshake on the plain port"));
        });
        s.on("error", resolve);
      }),
      "a TLS handshake against the plain port",
    );
    expect(tlsErr.message).not.toBe("unexpected TLS handshake on the plain port");
  });

  it("a client that opens the TLS port and says nothing does not hold it", async () => {
    const b = await serve({
      tls: { cert: pem.cert, key: pem.key },
      handshakeTimeout: 200,
    });
    const raw = netConnect(b.tlsPort ?? 0, "127.0.0.1");
    raw.on("error", () => {});
    const closed = new Promise<void>((resolve) => raw.on("close", () => resolve()));
    await within(closed, "the silent client dropped after the handshake timeout", 3000);
    expect(raw.destroyed).toBe(true);
  });
});

// ------------------------------------------------------------------------------ the command

/** `eventlab <argv>` in-process, with its output readable while it runs. */
const start = (argv: string[]) => startCli(argv);

describe("eventlab broker --tls-…", () => {
  it("maps the TLS flags; --tls-port defaults to 5671", async () => {
    const o = await optionsOf(brokerCommand, [
      "--tls-cert",
      "s.pem",
      "--tls-key",
      "s.key",
      "--tls-ca",
      "ca.pem",
      "--tls-passphrase",
      "pw",
      "--verify-peer",
      "--fail-if-no-peer-cert",
    ]);
    expect(o.tls).toEqual({
      certFile: "s.pem",
      keyFile: "s.key",
      caFile: "ca.pem",
      passphrase: "pw",
      verifyPeer: true,
      failIfNoPeerCert: true,
      port: 5671,
    });
    expect((await optionsOf(brokerCommand, [])).tls).toBeUndefined();
    const p = await optionsOf(brokerCommand, [
      "--tls-cert",
      "a",
      "--tls-key",
      "b",
      "--tls-port",
      "0",
    ]);
    expect(p.tls).toMatchObject({ port: 0, verifyPeer: false, caFile: undefined });
  });

  it("flags that go together are usage errors alone", async () => {
    expect(await usageErrorOf(brokerCommand, ["--tls-cert", "s.pem"])).toBe(
      "--tls-cert needs --tls-key: the server certificate and its private key go together",
    );
    expect(await usageErrorOf(brokerCommand, ["--tls-key", "s.key"])).toBe(
      "--tls-key needs --tls-cert: the server certificate and its private key go together",
    );
    expect(await usageErrorOf(brokerCommand, ["--tls-port", "0"])).toBe(
      "--tls-port goes with --tls-cert and --tls-key",
    );
    expect(await usageErrorOf(brokerCommand, ["--verify-peer"])).toBe(
      "--verify-peer goes with --tls-cert and --tls-key",
    );
    const both = ["--tls-cert", "s.pem", "--tls-key", "s.key"];
    expect(await usageErrorOf(brokerCommand, [...both, "--verify-peer"])).toMatch(
      /^--verify-peer needs --tls-ca/,
    );
    expect(
      await usageErrorOf(brokerCommand, [...both, "--tls-ca", "c", "--fail-if-no-peer-cert"]),
    ).toBe("--fail-if-no-peer-cert goes with --verify-peer");
    expect(await usageErrorOf(brokerCommand, [...both, "--tls-port", "65536"])).toMatch(
      /^error: option '--tls-port <port>' argument '65536' is invalid/,
    );
  });

  it("--json prints the amqps URL and its port, and serves it", async () => {
    // biome-ignore format: one flag a line reads best
    const b = start([
      "broker", "--port", "0", "--json",
      "--tls-port", "0", "--tls-cert", certs.serverCert, "--tls-key", certs.serverKey,
    ]);
    try {
      const ready = await vi.waitFor(() => {
        const line = b.stdout.text().split("\n")[0] ?? "";
        expect(line).toMatch(/^\{/);
        return JSON.parse(line) as { url: string; port: number; tlsUrl: string; tlsPort: number };
      }, POLL);
      expect(ready.tlsPort).toBeGreaterThan(0);
      expect(ready.url).toBe(`amqp://guest:guest@127.0.0.1:${ready.port}`);
      expect(ready.tlsUrl).toBe(`amqps://guest:guest@127.0.0.1:${ready.tlsPort}`);
      const c = await open(ready.tlsUrl, { ca: [pem.ca] });
      expect(await roundTrip(c, "via the command")).toBe("via the command");
      await close(c);
    } finally {
      b.stop();
    }
    expect(await within(b.exited, "the broker command stopping")).toBe(0);
    expect(b.stderr.text()).toMatch(
      /embedded broker listening on amqp:\/\/guest:guest@127\.0\.0\.1:\d+ and amqps:\/\/guest:guest@127\.0\.0\.1:\d+ /,
    );
  });

  it("without --json: both URLs, one a line; a --user password is masked in both", async () => {
    // biome-ignore format: one flag a line reads best
    const b = start([
      "broker", "--port", "0", "--user", "app:s3cret",
      "--tls-port", "0", "--tls-cert", certs.serverCert, "--tls-key", certs.serverKey,
      "--tls-ca", certs.caCert, "--verify-peer",
    ]);
    let tlsPort = 0;
    try {
      await vi.waitFor(() => expect(b.stdout.text().split("\n")).toHaveLength(3), POLL);
      const [plain, secure] = b.stdout.text().split("\n");
      expect(plain).toMatch(/^amqp:\/\/app:\*+@127\.0\.0\.1:\d+$/);
      expect(secure).toMatch(/^amqps:\/\/app:\*+@127\.0\.0\.1:\d+$/);
      tlsPort = Number(secure?.split(":").at(-1));
      const c = await open(`amqps://127.0.0.1:${tlsPort}`, {
        ca: [pem.ca],
        cert: pem.clientCert,
        key: pem.clientKey,
        credentials: amqp.credentials.external(),
      });
      await close(c);
    } finally {
      b.stop();
    }
    expect(await within(b.exited, "the broker command stopping")).toBe(0);
    expect(b.stdout.text() + b.stderr.text()).not.toContain("s3cret");
    expect(b.stderr.text()).toContain("EXTERNAL offered");
  });

  it("a missing --tls-key: a usage error, nothing started", async () => {
    const r = await runCli(["broker", "--port", "0", "--tls-cert", certs.serverCert]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "error: --tls-cert needs --tls-key: the server certificate and its private key go together",
    );
    expect(r.stdout).toBe("");
  });

  it("a file that is not there: an error naming the flag and the path, no stack trace", async () => {
    const missing = path.join(dir, "nowhere", "server-key.pem");
    const r = await runCli([
      "broker",
      "--port",
      "0",
      "--tls-port",
      "0",
      "--tls-cert",
      certs.serverCert,
      "--tls-key",
      missing,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: cannot read --tls-key ${missing}: no such file`);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout).toBe("");
  });

  it("a key that is not the certificate's, or a certificate that is no PEM: named errors", async () => {
    const base = ["broker", "--port", "0", "--tls-port", "0"];
    const mismatch = await runCli([
      ...base,
      "--tls-cert",
      certs.serverCert,
      "--tls-key",
      other.serverKey,
    ]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toContain(
      `error: --tls-key ${other.serverKey} is not the private key of --tls-cert ${certs.serverCert}`,
    );
    const notPem = await runCli([
      ...base,
      "--tls-cert",
      certs.serverKey,
      "--tls-key",
      certs.serverKey,
    ]);
    expect(notPem.code).toBe(1);
    expect(notPem.stderr).toContain(
      `error: --tls-cert ${certs.serverKey} is not a PEM certificate`,
    );
  });
});

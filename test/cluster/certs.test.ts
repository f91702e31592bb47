/**
 * generateCerts: a CA, a server certificate for localhost and 127.0.0.1, a client certificate
 * whose CN is the user for EXTERNAL, and an already-expired server certificate on request;
 * checked with Node's own X.509 and TLS, not with openssl.
 */
import { X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { type AddressInfo, isIP } from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CertSet, generateCerts } from "../../src/cluster/certs.js";
import { whichSync } from "../../src/cluster/exec.js";
import { EventlabError } from "../../src/errors.js";

const openssl = whichSync("openssl", process.env);

/** A TLS handshake against a server with `server`'s certificate; the client's error, if any. */
async function handshake(server: CertSet, client: CertSet, host = "localhost"): Promise<string> {
  const [cert, key, ca, clientCert, clientKey] = (await Promise.all(
    [server.serverCert, server.serverKey, client.caCert, client.clientCert, client.clientKey].map(
      (f) => readFile(f),
    ),
  )) as [Buffer, Buffer, Buffer, Buffer, Buffer];
  const srv = tls.createServer({
    cert,
    key,
    ca: [ca],
    requestCert: true,
    rejectUnauthorized: true,
  });
  srv.on("secureConnection", (s) => s.end("ok"));
  srv.on("tlsClientError", () => {});
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as AddressInfo;
  try {
    return await new Promise<string>((resolve) => {
      const s = tls.connect({
        port,
        host: "127.0.0.1",
        // An address is checked against the certificate's IP entries; a name is sent as SNI.
        ...(isIP(host) ? {} : { servername: host }),
        ca: [ca],
        cert: clientCert,
        key: clientKey,
      });
      s.on("secureConnect", () => s.once("data", (d) => resolve(`ok ${String(d)}`)));
      s.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
  } finally {
    await new Promise((r) => srv.close(r));
  }
}

describe.skipIf(!openssl)("generateCerts (openssl)", () => {
  let dir = "";
  let certs: CertSet;
  let expired: CertSet;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "eventlab-certs-"));
    [certs, expired] = await Promise.all([
      generateCerts(path.join(dir, "ok")),
      generateCerts(path.join(dir, "expired"), { expired: true, clientName: "app" }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("makes a CA, a server certificate for localhost and 127.0.0.1, and a client certificate", async () => {
    expect(certs).toEqual({
      dir: path.join(dir, "ok"),
      caCert: path.join(dir, "ok", "ca.pem"),
      caKey: path.join(dir, "ok", "ca.key"),
      serverCert: path.join(dir, "ok", "server.pem"),
      serverKey: path.join(dir, "ok", "server.key"),
      clientCert: path.join(dir, "ok", "client.pem"),
      clientKey: path.join(dir, "ok", "client.key"),
    });
    const ca = new X509Certificate(await readFile(certs.caCert));
    const server = new X509Certificate(await readFile(certs.serverCert));
    const client = new X509Certificate(await readFile(certs.clientCert));
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(client.verify(ca.publicKey)).toBe(true);
    expect(server.subjectAltName).toBe(
      "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
    );
    expect(server.checkHost("localhost")).toBe("localhost");
    expect(server.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(client.subject).toBe("CN=eventlab-client");
    expect(new Date(server.validTo).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    for (const key of [certs.caKey, certs.serverKey, certs.clientKey])
      expect((await stat(key)).mode & 0o777).toBe(0o600);
    // Only the six files are left: no CSRs, no CA database.
    expect((await readdir(certs.dir)).sort()).toEqual([
      "ca.key",
      "ca.pem",
      "client.key",
      "client.pem",
      "server.key",
      "server.pem",
    ]);
  });

  it("a TLS handshake with them succeeds both ways (server and client certificate)", async () => {
    expect(await handshake(certs, certs)).toBe("ok ok");
    expect(await handshake(certs, certs, "127.0.0.1")).toBe("ok ok");
  });

  it("expired: true gives a server certificate that expired yesterday", async () => {
    const server = new X509Certificate(await readFile(expired.serverCert));
    expect(new Date(server.validTo).getTime()).toBeLessThan(Date.now());
    expect(new X509Certificate(await readFile(expired.clientCert)).subject).toBe("CN=app");
    expect(await handshake(expired, expired)).toBe("CERT_HAS_EXPIRED");
  });

  it("a CA of another set is not trusted", async () => {
    expect(await handshake(certs, expired)).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|unknown ca/i);
  });

  it("without openssl: an error that says how to install it", async () => {
    const err = await generateCerts(path.join(dir, "none"), {
      openssl: "/nonexistent/openssl",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventlabError);
    expect((err as EventlabError).message).toBe(
      "cannot make TLS certificates: /nonexistent/openssl is not installed",
    );
    expect((err as EventlabError).hint).toContain("apt-get install openssl");
  });
});

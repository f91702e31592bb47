/**
 * Certificates for TLS on this machine: a CA, a server certificate for localhost and
 * 127.0.0.1 (subjectAltName), and a client certificate whose common name a broker can take as
 * the user name (SASL EXTERNAL). Made with the `openssl` command line (1.1 or 3.x), each call
 * bounded in time; nothing else is needed, so tests of any TLS listener can use it.
 *
 * The files, all PEM: ca.pem, ca.key, server.pem, server.key, client.pem, client.key; keys
 * are unencrypted and readable by the owner only.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import { EventlabError } from "../errors.js";
import { runTool, ToolError } from "./exec.js";

export interface CertSet {
  /** The directory holding the files. */
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export interface CertOptions {
  /** Names and addresses the server certificate is for; the first is its common name. */
  hosts?: string[];
  /** The client certificate's common name (the user name with EXTERNAL). */
  clientName?: string;
  /** How long the certificates are valid; default 30 days. */
  days?: number;
  /** Make the server certificate one that expired yesterday (for error tests). */
  expired?: boolean;
  /** The openssl executable; default `openssl` on the PATH. */
  openssl?: string;
  /** Environment for openssl; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Bound on each openssl call; default 30 s. */
  timeoutMs?: number;
}

export const DEFAULT_CERT_HOSTS = ["localhost", "127.0.0.1", "::1"];
export const DEFAULT_CLIENT_NAME = "eventlab-client";

/** A value for an openssl config line: `$` would start a variable there. */
function cnfValue(s: string): string {
  if (/[\n\r]/.test(s)) throw new EventlabError("usage", `not usable in a certificate: ${s}`);
  return s.replace(/\\/g, "\\\\").replace(/\$/g, "\\$");
}

/** A common name for `-subj`, where `/`, `+` and `=` are separators. */
function subject(cn: string): string {
  return `/CN=${cn.replace(/([/+=\\])/g, "\\$1")}`;
}

function opensslConfig(hosts: readonly string[]): string {
  const san = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${cnfValue(h)}`)).join(", ");
  return `# written by eventlab for its certificates; removed when they are made
[req]
distinguished_name = dn
prompt = no
[dn]
CN = eventlab
[ca]
default_ca = eventlab_ca
[eventlab_ca]
database = index.txt
new_certs_dir = .
rand_serial = yes
default_md = sha256
policy = any_name
unique_subject = no
copy_extensions = none
email_in_dn = no
[any_name]
commonName = supplied
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = ${san}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;
}

/** `YYYYMMDDHHMMSSZ`, the form `openssl ca -startdate/-enddate` takes. */
function asn1Time(d: Date): string {
  return `${d.toISOString().replace(/[-:T]/g, "").slice(0, 14)}Z`;
}

/**
 * Make a CA, a server certificate and a client certificate in `dir` (created if missing;
 * existing files of the same names are replaced).
 */
export async function generateCerts(dir: string, options: CertOptions = {}): Promise<CertSet> {
  const hosts = options.hosts && options.hosts.length > 0 ? options.hosts : DEFAULT_CERT_HOSTS;
  const clientName = options.clientName ?? DEFAULT_CLIENT_NAME;
  const days = options.days ?? 30;
  if (!Number.isInteger(days) || days < 1)
    throw new EventlabError("usage", `certificate validity must be a whole number of days ≥ 1`);
  const abs = path.resolve(dir);
  const set: CertSet = {
    dir: abs,
    caCert: path.join(abs, "ca.pem"),
    caKey: path.join(abs, "ca.key"),
    serverCert: path.join(abs, "server.pem"),
    serverKey: path.join(abs, "server.key"),
    clientCert: path.join(abs, "client.pem"),
    clientKey: path.join(abs, "client.key"),
  };
  await mkdir(abs, { recursive: true });
  const work = path.join(abs, `.work-${randomBytes(4).toString("hex")}`);
  await mkdir(work, { mode: 0o700 });
  const openssl = options.openssl ?? "openssl";
  const env = { ...(options.env ?? process.env), OPENSSL_CONF: path.join(work, "openssl.cnf") };
  const run = (args: string[]) =>
    runTool(openssl, args, { env, cwd: work, timeoutMs: options.timeoutMs ?? 30_000 }).catch(
      (err: unknown) => {
        throw opensslError(err, openssl);
      },
    );
  try {
    await writeFile(path.join(work, "openssl.cnf"), opensslConfig(hosts));
    await writeFile(path.join(work, "index.txt"), "");
    const cnf = ["-config", "openssl.cnf"];
    const newKey = ["-newkey", "rsa:2048", "-nodes"];
    await run([
      "req",
      "-x509",
      "-new",
      ...newKey,
      "-keyout",
      set.caKey,
      "-out",
      set.caCert,
      "-days",
      String(days + 1),
      "-subj",
      subject("eventlab CA"),
      ...cnf,
      "-extensions",
      "v3_ca",
    ]);
    const leaf = async (
      name: "server" | "client",
      cn: string,
      key: string,
      cert: string,
      dates: string[],
    ) => {
      await run([
        "req",
        "-new",
        ...newKey,
        "-keyout",
        key,
        "-out",
        `${name}.csr`,
        "-subj",
        subject(cn),
      ]);
      await run([
        "ca",
        "-batch",
        "-notext",
        ...cnf,
        "-cert",
        set.caCert,
        "-keyfile",
        set.caKey,
        "-in",
        `${name}.csr`,
        "-out",
        cert,
        "-subj",
        subject(cn),
        "-extensions",
        name,
        ...dates,
      ]);
    };
    const now = Date.now();
    const DAY = 86_400_000;
    const serverDates = options.expired
      ? ["-startdate", asn1Time(new Date(now - 2 * DAY)), "-enddate", asn1Time(new Date(now - DAY))]
      : ["-days", String(days)];
    // One at a time: `openssl ca` keeps its database (index.txt) in the working directory.
    await leaf("server", hosts[0]!, set.serverKey, set.serverCert, serverDates);
    await leaf("client", clientName, set.clientKey, set.clientCert, ["-days", String(days)]);
    await Promise.all([set.caKey, set.serverKey, set.clientKey].map((k) => chmod(k, 0o600)));
    return set;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function opensslError(err: unknown, openssl: string): EventlabError {
  if (err instanceof ToolError && err.notFound) {
    return new EventlabError("io", `cannot make TLS certificates: ${openssl} is not installed`, {
      hint: "install OpenSSL (Debian/Ubuntu: apt-get install openssl; macOS: brew install openssl)",
      cause: err,
    });
  }
  return new EventlabError(
    "io",
    `cannot make TLS certificates: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}

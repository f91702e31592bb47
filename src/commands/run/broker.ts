/**
 * What `eventlab broker` does once its flags are parsed: read the TLS files if any, start the
 * embedded broker, print its URLs, show a refreshing status line until Ctrl-C, then stop it
 * and say what it dropped.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  type BrokerStats,
  type BrokerTlsOptions,
  ListenError,
  type RecoveryReport,
  type RunningBroker,
  StoreError,
  startBroker,
  TlsOptionsError,
} from "../../broker/index.js";
import { describeBudget, formatBytes } from "../../broker/memory.js";
import { maskSecrets } from "../../client/url.js";
import type { Context } from "../../context.js";
import { EventlabError } from "../../errors.js";
import { count, elapsed, plural, rate } from "../../ui/format.js";
import { startProgress } from "../../ui/progress.js";
import type { Theme } from "../../ui/theme.js";
import { VERSION } from "../../version.js";
import { startBrokerWeb } from "../../web/play-web.js";
import type { BrokerCommandOptions, BrokerTlsFlags } from "../broker.js";

export async function runBroker(ctx: Context, o: BrokerCommandOptions): Promise<void> {
  const { io, theme } = ctx;
  const tls = o.tls ? await tlsOptions(ctx, o.tls) : undefined;
  const dataDir = o.dataDir === undefined ? undefined : path.resolve(ctx.cwd, o.dataDir);
  const broker = await start(o, tls, dataDir);
  // guest:guest is public knowledge; a password given with --user is not printed.
  const show = (url: string) => (o.users.length === 0 ? url : maskSecrets(url));
  const shown = show(broker.url);
  const shownTls = broker.tlsUrl === undefined ? undefined : show(broker.tlsUrl);
  if (o.json) {
    const http =
      broker.httpUrl === undefined ? {} : { httpUrl: broker.httpUrl, httpPort: broker.httpPort };
    const ready = { url: shown, host: broker.host, port: broker.port, ...http };
    const secure = shownTls === undefined ? {} : { tlsUrl: shownTls, tlsPort: broker.tlsPort };
    io.out(`${JSON.stringify({ ...ready, ...secure })}\n`);
  } else {
    io.out(`${shown}\n`);
    if (shownTls !== undefined) io.out(`${shownTls}\n`);
  }
  const where =
    shownTls === undefined
      ? theme.accent(shown)
      : `${theme.accent(shown)} and ${theme.accent(shownTls)}${o.tls?.verifyPeer ? " (client certificates verified; EXTERNAL offered)" : ""}`;
  const kept = dataDir === undefined ? "in memory" : `data in ${dataDir}`;
  io.err(
    `${theme.ok(theme.symbols.ok)} embedded broker listening on ${where} ${theme.dim(`(${kept}; Ctrl-C stops it)`)}`,
  );
  if (broker.httpUrl !== undefined) {
    io.err(
      theme.dim(
        `  management API on ${broker.httpUrl}api/ (rabbitmqadmin -P ${broker.httpPort}; eventlab list queues --api ${broker.httpUrl}), metrics on ${broker.httpUrl}metrics`,
      ),
    );
  }
  if (broker.store)
    for (const line of recoveryLines(broker.store.recovery)) io.err(theme.dim(line));
  io.err(theme.dim(`  memory high watermark ${describeBudget(broker.stats().memory)}`));
  if (o.trace)
    io.err(theme.dim("  tracing on: every publish and delivery is copied to amq.rabbitmq.trace"));
  if (o.ledger)
    io.err(theme.dim("  ledger on: `eventlab why <message-id>` tells what happened to a message"));

  const web =
    o.web?.web === true
      ? await startBrokerWeb(ctx, o.web, broker).catch(async (err) => {
          await broker.close();
          throw err;
        })
      : undefined;
  const progress = await startProgress(io, statusLine(broker, theme), 250);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  progress.stop();
  await web?.close();
  const final = broker.stats();
  const keptMessages = broker.store?.messages ?? 0;
  await broker.close();
  if (o.json) io.out(`${JSON.stringify({ stopped: true, ...final, kept: keptMessages })}\n`);
  const dropped = final.ready + final.unacked - keptMessages;
  const keptText = dataDir === undefined ? "" : `${count(keptMessages)} kept in ${dataDir}, `;
  io.err(
    `${theme.symbols.info} broker stopped: ${count(final.published)} published, ${count(final.delivered)} delivered, ${keptText}${count(dropped)} messages dropped with it`,
  );
}

async function start(
  o: BrokerCommandOptions,
  tls: BrokerTlsOptions | undefined,
  dataDir: string | undefined,
): Promise<RunningBroker> {
  try {
    return await startBroker({
      host: o.host,
      port: o.port,
      ...(tls && o.tls ? { tls, tlsPort: o.tls.port } : {}),
      users: o.users,
      ...(o.maxMessageSize !== undefined ? { maxMessageSize: o.maxMessageSize } : {}),
      ...(o.heartbeat !== undefined ? { heartbeat: o.heartbeat } : {}),
      ...(o.memoryHighWatermark !== undefined
        ? { memoryHighWatermark: o.memoryHighWatermark }
        : {}),
      ...(dataDir !== undefined ? { dataDir } : {}),
      ...(o.httpPort !== undefined ? { httpPort: o.httpPort } : {}),
      trace: o.trace,
      // The web view's dots come from the ledger: --web keeps a bounded one.
      ledger: o.ledger === true ? true : o.web?.web === true ? { maxEvents: 200_000 } : false,
      version: VERSION,
    });
  } catch (err) {
    if (err instanceof ListenError) throw listenError(err);
    if (err instanceof StoreError) {
      throw new EventlabError("io", `cannot use --data-dir: ${err.message}`, {
        hint: "give a directory this broker alone uses (it is created if missing), or leave --data-dir out to keep everything in memory",
        cause: err,
      });
    }
    if (err instanceof TlsOptionsError) {
      throw new EventlabError("usage", `cannot use the TLS certificate and key: ${err.message}`, {
        hint: "check that --tls-cert, --tls-key and --tls-ca are PEM files, the key belongs to the certificate, and --tls-passphrase",
        cause: err,
      });
    }
    throw err;
  }
}

/** A file named by a flag, read whole; a clear error naming the flag and the path. */
async function readFlagFile(ctx: Context, flag: string, file: string): Promise<Buffer> {
  try {
    return await readFile(path.resolve(ctx.cwd, file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "it is a directory"
          : code === "EACCES" || code === "EPERM"
            ? "permission denied"
            : (code ?? String(err));
    throw new EventlabError("io", `cannot read ${flag} ${file}: ${why}`, {
      hint: "give the path of a PEM file (relative to the current directory)",
      cause: err,
    });
  }
}

/**
 * The TLS files read and checked one by one, so that a problem names its flag: a certificate
 * that is not PEM, a key that cannot be decrypted or does not belong to the certificate.
 */
async function tlsOptions(ctx: Context, t: BrokerTlsFlags): Promise<BrokerTlsOptions> {
  const cert = await readFlagFile(ctx, "--tls-cert", t.certFile);
  const key = await readFlagFile(ctx, "--tls-key", t.keyFile);
  const ca = t.caFile === undefined ? undefined : await readFlagFile(ctx, "--tls-ca", t.caFile);
  const x509 = certificateOf(cert, "--tls-cert", t.certFile);
  if (ca) certificateOf(ca, "--tls-ca", t.caFile ?? "");
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(
      t.passphrase === undefined ? { key } : { key, passphrase: t.passphrase },
    );
  } catch (err) {
    const encrypted = /passphrase|decrypt|bad password/i.test((err as Error).message);
    throw new EventlabError(
      "usage",
      encrypted
        ? `cannot decrypt --tls-key ${t.keyFile}: ${t.passphrase === undefined ? "it is encrypted" : "wrong passphrase"}`
        : `--tls-key ${t.keyFile} is not a PEM private key`,
      {
        hint: encrypted
          ? "give its passphrase with --tls-passphrase"
          : "give the server certificate's private key, e.g. server-key.pem",
        cause: err,
      },
    );
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new EventlabError(
      "usage",
      `--tls-key ${t.keyFile} is not the private key of --tls-cert ${t.certFile}`,
      { hint: "give the key that was generated with the certificate" },
    );
  }
  return {
    cert,
    key,
    ...(ca ? { ca } : {}),
    ...(t.passphrase !== undefined ? { passphrase: t.passphrase } : {}),
    verifyPeer: t.verifyPeer,
    failIfNoPeerCert: t.failIfNoPeerCert,
  };
}

function certificateOf(pem: Buffer, flag: string, file: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new EventlabError("usage", `${flag} ${file} is not a PEM certificate`, {
      hint: "give an X.509 certificate in PEM form (-----BEGIN CERTIFICATE-----)",
      cause: err,
    });
  }
}

/** What the data directory gave back at start, and any damage recovery cut away. */
function recoveryLines(r: RecoveryReport): string[] {
  const what = [
    plural(r.exchanges, "exchange"),
    plural(r.queues, "queue"),
    plural(r.bindings, "binding"),
    plural(r.messages, "message"),
  ].join(", ");
  const lines = [`  recovered ${what} in ${elapsed(r.ms)}`];
  for (const d of r.damage) {
    lines.push(
      `  segment ${d.segment}: a torn or damaged record at byte ${d.offset}; the ${plural(d.bytes, "byte")} after it were not used (a write a crash interrupted, never confirmed)`,
    );
  }
  return lines;
}

/** The status line: connections, queues, messages, and the rates over the last second or so. */
function statusLine(broker: RunningBroker, theme: Theme): () => string {
  let last: BrokerStats = broker.stats();
  let lastAt = Date.now();
  let inRate = 0;
  let outRate = 0;
  return () => {
    const s = broker.stats();
    const now = Date.now();
    if (now - lastAt >= 1000) {
      inRate = ((s.published - last.published) * 1000) / (now - lastAt);
      outRate = ((s.delivered - last.delivered) * 1000) / (now - lastAt);
      last = s;
      lastAt = now;
    }
    const parts = [
      plural(s.connections, "connection"),
      plural(s.queues, "queue"),
      `${count(s.ready)} ready`,
      `${count(s.unacked)} unacked`,
      `in ${rate(inRate)}/s`,
      `out ${rate(outRate)}/s`,
    ];
    if (broker.store) parts.push(`disk ${formatBytes(broker.store.diskBytes)}`);
    if (s.blocked) parts.push(theme.warn("publishers blocked (memory)"));
    return parts.join(theme.dim(" · "));
  };
}

function listenError(err: ListenError): EventlabError {
  const flag = { amqp: "--port", amqps: "--tls-port", http: "--http-port" }[err.listener];
  if (err.code === "EADDRINUSE") {
    return new EventlabError("connection", `port ${err.port} on ${err.host} is already in use`, {
      hint: `RabbitMQ (or another broker) may already be running there: use it as it is, or start this one on a free port with ${flag} 0`,
    });
  }
  if (err.code === "EACCES") {
    return new EventlabError("connection", `not permitted to listen on port ${err.port}`, {
      hint: `use a port above 1023, or ${flag} 0`,
    });
  }
  if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND") {
    return new EventlabError("connection", `cannot listen on ${err.host}: no such local address`, {
      hint: "use 127.0.0.1 (the default), 0.0.0.0 for every interface, or an address of this machine",
    });
  }
  return new EventlabError(
    "connection",
    `cannot listen on ${err.host}:${err.port}: ${err.message}`,
  );
}

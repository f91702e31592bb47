/**
 * `eventlab broker`: the embedded AMQP 0-9-1 broker on a TCP port until Ctrl-C, with a
 * compact refreshing status line on a terminal. This file is the command's definition
 * (flags, help, argv → options); the work is in run/broker.ts, loaded lazily.
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import type { BrokerUser } from "../broker/index.js";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { WEB_HELP, type WebFlags } from "../web/flags.js";
import { intArg, type Run } from "./options.js";

/** The TLS listener's flags: file paths, read when the broker starts. */
export interface BrokerTlsFlags {
  certFile: string;
  keyFile: string;
  caFile: string | undefined;
  passphrase: string | undefined;
  verifyPeer: boolean;
  failIfNoPeerCert: boolean;
  port: number;
}

export interface BrokerCommandOptions {
  host: string;
  port: number;
  users: BrokerUser[];
  /** Undefined: the broker's default (128 MiB, as RabbitMQ). */
  maxMessageSize: number | undefined;
  /** Undefined: the broker's default (60 s). */
  heartbeat: number | undefined;
  /** Undefined: no TLS listener. */
  tls: BrokerTlsFlags | undefined;
  /** A fraction ("0.4") or a size ("512MiB"), checked; undefined: the broker's default (0.4). */
  memoryHighWatermark: string | undefined;
  /** Undefined: everything in memory. */
  dataDir: string | undefined;
  /** The firehose (amq.rabbitmq.trace) on from the start, as after `rabbitmqctl trace_on`. */
  trace: boolean;
  /** Keep the message event ledger, for `eventlab why` (true with --ledger; else undefined). */
  ledger: true | undefined;
  /** Serve the management HTTP API and /metrics on this port; undefined: no HTTP listener. */
  httpPort: number | undefined;
  /** --web: serve the live web view (and --web-port, --no-open); it keeps a ledger for its dots. */
  web?: WebFlags | undefined;
  json: boolean;
}

/** A repeatable `--user name:password`. */
export function userArg(raw: string, previous: BrokerUser[] = []): BrokerUser[] {
  const at = raw.indexOf(":");
  if (at <= 0 || at === raw.length - 1)
    throw new InvalidArgumentError("Expected name:password, for example --user app:s3cret.");
  return [...previous, { username: raw.slice(0, at), password: raw.slice(at + 1) }];
}

/**
 * RabbitMQ's information units (rabbit_resource_monitor_misc): k, M, G and KiB, MiB, GiB in
 * 1024s, kB, MB, GB in 1000s, in RabbitMQ's spellings. The same list as the broker's
 * parseWatermark (broker/memory.ts), which a command's definition may not load: a unit test
 * holds the two to the same answers.
 */
const SIZE_UNITS: Record<string, number> = Object.fromEntries([
  ...["k", "K", "kiB", "KiB", "kib", "KIB"].map((u) => [u, 1024]),
  ...["m", "M", "MiB", "mib", "MIB"].map((u) => [u, 1024 ** 2]),
  ...["g", "G", "GiB", "gib", "GIB"].map((u) => [u, 1024 ** 3]),
  ...["kB", "KB", "kb", "Kb"].map((u) => [u, 1000]),
  ...["MB", "mb", "Mb"].map((u) => [u, 1000 ** 2]),
  ...["GB", "gb", "Gb"].map((u) => [u, 1000 ** 3]),
]);

/**
 * `--memory-high-watermark`: a fraction from 0 to 1 with a decimal point (0.4, 1.0), or a size
 * (bytes, or a whole number with a unit), as RabbitMQ's relative and absolute watermarks.
 * Passed on as text, so that 1.0 stays a fraction.
 */
export function watermarkArg(raw: string): string {
  const text = raw.trim();
  if (/^(\d+\.\d*|\.\d+)$/.test(text) && Number(text) <= 1) return text;
  const size = /^(\d+)([A-Za-z]+)?$/.exec(text);
  const unit = size?.[2] === undefined ? 1 : SIZE_UNITS[size[2]];
  if (size && unit !== undefined && Number.isSafeInteger(Number(size[1]) * unit)) return text;
  throw new InvalidArgumentError(
    "Expected a fraction of the memory available from 0 to 1 (e.g. 0.4, the default) or a size: bytes, or a whole number with a unit (e.g. 512MiB, 2GB; k, M, G, KiB, MiB, GiB count in 1024s, kB, MB, GB in 1000s).",
  );
}

interface TlsFlagValues {
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsCa?: string | undefined;
  tlsPassphrase?: string | undefined;
  tlsPort?: number | undefined;
  verifyPeer: boolean;
  failIfNoPeerCert: boolean;
}

/** The TLS flags as one object, or undefined without --tls-cert; usage errors across flags. */
export function tlsFlags(f: TlsFlagValues): BrokerTlsFlags | undefined {
  if ((f.tlsCert === undefined) !== (f.tlsKey === undefined)) {
    throw new UsageError(
      `${f.tlsCert === undefined ? "--tls-key" : "--tls-cert"} needs ${f.tlsCert === undefined ? "--tls-cert" : "--tls-key"}: the server certificate and its private key go together`,
      "for example --tls-cert server.pem --tls-key server-key.pem (PEM files)",
    );
  }
  const tlsOnly: [string, boolean][] = [
    ["--tls-ca", f.tlsCa !== undefined],
    ["--tls-passphrase", f.tlsPassphrase !== undefined],
    ["--tls-port", f.tlsPort !== undefined],
    ["--verify-peer", f.verifyPeer],
    ["--fail-if-no-peer-cert", f.failIfNoPeerCert],
  ];
  if (f.tlsCert === undefined || f.tlsKey === undefined) {
    const given = tlsOnly.find(([, on]) => on);
    if (given) throw new UsageError(`${given[0]} goes with --tls-cert and --tls-key`);
    return undefined;
  }
  if (f.failIfNoPeerCert && !f.verifyPeer)
    throw new UsageError("--fail-if-no-peer-cert goes with --verify-peer");
  if (f.verifyPeer && f.tlsCa === undefined) {
    throw new UsageError(
      "--verify-peer needs --tls-ca: the CA certificate that client certificates are checked against",
    );
  }
  return {
    certFile: f.tlsCert,
    keyFile: f.tlsKey,
    caFile: f.tlsCa,
    passphrase: f.tlsPassphrase,
    verifyPeer: f.verifyPeer,
    failIfNoPeerCert: f.failIfNoPeerCert,
    port: f.tlsPort ?? 5671,
  };
}

export function brokerCommand(ctx: Context, run: Run<BrokerCommandOptions>) {
  return new Command("broker")
    .description("run the embedded AMQP 0-9-1 broker (in memory) until Ctrl-C")
    .option("--host <address>", "interface to listen on", "127.0.0.1")
    .addOption(
      new Option("-p, --port <port>", "TCP port; 0 picks a free one")
        .argParser(intArg(0, 65535))
        .default(5672),
    )
    .option(
      "--user <name:password>",
      "a user who may log in (repeatable; default guest:guest, from this machine only)",
      userArg,
    )
    .option(
      "--max-message-size <bytes>",
      "largest message body accepted (default 134217728)",
      intArg(1),
    )
    .option(
      "--heartbeat <seconds>",
      "heartbeat offered to clients (default 60; 0 for none)",
      intArg(0, 65535),
    )
    .option(
      "--memory-high-watermark <fraction|size>",
      "block publishers while queued messages and unread output pass this: a fraction of the memory available (default 0.4) or a size (512MiB, 2GB)",
      watermarkArg,
    )
    .option(
      "--data-dir <dir>",
      "keep durable exchanges, queues, bindings and persistent messages in DIR, across restarts and crashes (created if missing)",
    )
    .option("--tls-cert <file>", "serve amqps:// too, with this server certificate (PEM)")
    .option("--tls-key <file>", "the private key of --tls-cert (PEM)")
    .option("--tls-passphrase <passphrase>", "passphrase of an encrypted --tls-key")
    .option("--tls-ca <file>", "CA certificate(s) (PEM) that client certificates must chain to")
    .option("--tls-port <port>", "TLS port (default 5671); 0 picks a free one", intArg(0, 65535))
    .option(
      "--verify-peer",
      "ask TLS clients for a certificate, refuse one that does not verify, and offer SASL EXTERNAL (login as the certificate's CN)",
      false,
    )
    .option(
      "--fail-if-no-peer-cert",
      "with --verify-peer: refuse TLS clients that present no certificate",
      false,
    )
    .option(
      "--trace",
      "turn the firehose on: a copy of every publish and delivery goes to amq.rabbitmq.trace (publish.<exchange>, deliver.<queue>), as after rabbitmqctl trace_on",
      false,
    )
    .option(
      "--ledger",
      "note what happens to each message with a message_id (published, routed, delivered, settled, dead-lettered, expired), for `eventlab why <message-id>`",
    )
    .option(
      "--http-port <port>",
      "serve RabbitMQ's management HTTP API (rabbitmqadmin, eventlab list/peek/purge) and Prometheus /metrics on this port (RabbitMQ uses 15672); 0 picks a free one",
      intArg(0, 65535),
    )
    .option(
      "--web",
      `${WEB_HELP.web} (keeps a bounded ledger: messages with a message_id move as dots)`,
    )
    .option("--web-port <port>", WEB_HELP.webPort, intArg(0, 65535))
    .option("--no-open", WEB_HELP.noOpen)
    .option(
      "--json",
      "print {url, host, port} (and tlsUrl, tlsPort, httpUrl, httpPort) as one JSON line when ready, and the final stats",
      false,
    )
    .addHelpText(
      "after",
      `
Without --data-dir everything is kept in memory and lost when the broker stops. With it, as
RabbitMQ: durable exchanges, durable non-exclusive queues, the bindings between them, and
persistent messages (delivery mode 2) in durable queues survive a restart or a crash; a
publisher confirm for such a message is sent once it is on disk. Transient messages and
non-durable objects do not survive. One broker per directory.

The memory available is the machine's, or the cgroup's memory limit when it is lower (in a
container). While the broker's queued message bodies and the output its clients have not read
pass --memory-high-watermark, publishing connections get connection.blocked and are not read
until consumers catch up, as RabbitMQ's vm_memory_high_watermark (relative or absolute).

With --tls-cert and --tls-key the broker also listens for amqps:// on --tls-port; the plain
port stays open. With --verify-peer a client may log in with SASL EXTERNAL: its certificate's
common name (CN) must be one of the --user names (its password is not asked), as RabbitMQ's
rabbitmq_auth_mechanism_ssl with ssl_cert_login_from = common_name.

Examples:
  $ eventlab broker                          # amqp://guest:guest@127.0.0.1:5672
  $ eventlab broker --port 0 --json          # a free port; the URL as JSON for scripts
  $ eventlab broker --user app:s3cret --host 0.0.0.0
  $ eventlab broker --data-dir ./broker-data   # durable state survives a restart
  $ eventlab broker --trace   # then: eventlab consume --exchange amq.rabbitmq.trace --key '#'
  $ eventlab broker --ledger  # then: eventlab --url amqp://localhost:5672 why <message-id>
  $ eventlab broker --http-port 15672   # then: rabbitmqadmin list queues, eventlab peek <queue>
  $ eventlab broker --web               # the live topology and message flow, in a browser
  $ eventlab broker --memory-high-watermark 512MiB   # or 0.6: a share of the memory
  $ eventlab broker --tls-cert server.pem --tls-key server-key.pem   # and amqps://…:5671
  $ eventlab broker --tls-cert server.pem --tls-key server-key.pem --tls-ca ca.pem \\
      --verify-peer --user app:unused   # a client certificate with CN=app logs in as app
  $ eventlab produce order-created --amount 10   # in another terminal`,
    )
    .action((f) =>
      run(ctx, {
        host: f.host,
        port: f.port,
        users: f.user ?? [],
        maxMessageSize: f.maxMessageSize,
        // In the whole program the global --heartbeat takes the flag: the same meaning here.
        heartbeat: f.heartbeat ?? ctx.globals.heartbeat,
        tls: tlsFlags(f),
        memoryHighWatermark: f.memoryHighWatermark,
        dataDir: f.dataDir,
        trace: f.trace,
        ledger: f.ledger,
        httpPort: f.httpPort,
        web: { web: f.web === true, webPort: f.webPort ?? 0, open: f.open !== false },
        json: f.json,
      }),
    );
}

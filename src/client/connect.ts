import type { Socket } from "node:net";
import { Writable } from "node:stream";
import amqp, { type Channel, type ChannelModel } from "amqplib";
import { EventlabError, UsageError } from "../errors.js";
import { elapsed } from "../ui/format.js";
import { within } from "./bounded.js";
import { type BrokerAddress, maskSecrets, PERCENT_HINT, parseBrokerUrl } from "./url.js";

export interface ConnectOptions {
  /** Milliseconds to wait for the socket and the AMQP handshake. */
  timeoutMs?: number | undefined;
  /** Heartbeat in seconds (0: none); default DEFAULT_HEARTBEAT_S. */
  heartbeat?: number | undefined;
  /** Shown to the broker (management UI "client properties"). */
  connectionName?: string | undefined;
  /** TLS settings for amqps:// URLs. */
  tls?: TlsSettings | undefined;
  /** SASL mechanism: PLAIN with the URL's user and password, or EXTERNAL (a client certificate). */
  auth?: "plain" | "external" | undefined;
}

/** What an amqps:// connection trusts and shows: PEM contents, read from the files already. */
export interface TlsSettings {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  passphrase?: string | undefined;
  servername?: string | undefined;
  /** Do not verify the broker's certificate (never in production). */
  insecure?: boolean | undefined;
}

export interface Connection {
  readonly model: ChannelModel;
  readonly address: BrokerAddress;
  /** Why the connection closed, when the broker or the network closed it (not `close()`). */
  readonly closeReason: Error | undefined;
  /** True once the connection closed, whoever closed it. */
  readonly closed: boolean;
  /** Resolves when the connection closes, with why when it was not `close()`. */
  readonly whenClosed: Promise<Error | undefined>;
  /** Close, never throwing and never waiting more than a few seconds: the connection may already be gone. */
  close(): Promise<void>;
  /**
   * Call after a send (a publish, an ack): what this turn of the event loop sends leaves in
   * one socket write. amqplib writes each message or method on its own, a system call each,
   * in an immediate queued once the first is sent. The socket stays corked until an immediate
   * queued after that one: the same frames in the same order, in fewer writes.
   */
  corkTurn(): void;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/**
 * The heartbeat eventlab asks for, in seconds. RabbitMQ's own default (60 s) lets a silent
 * partition go unnoticed for minutes; eventlab's watchdog notices one within two intervals.
 */
export const DEFAULT_HEARTBEAT_S = 10;
/** How long close() waits for the broker's close-ok before dropping the socket. */
const CLOSE_TIMEOUT_MS = 2000;

/** Run `fn` on a channel of its own, closed afterwards: an error (a 404) closes only that one. */
export async function withChannel<T>(
  connection: Connection,
  fn: (ch: Channel) => Promise<T>,
): Promise<T> {
  const ch = await connection.model.createChannel();
  ch.on("error", () => {});
  try {
    return await fn(ch);
  } finally {
    await ch.close().catch(() => {});
  }
}
/**
 * Open a connection with `open` (a command passes its context's connect, with the connection
 * name it shows the broker), run `fn` on it, and close it however `fn` ends.
 */
export async function withConnection<T>(
  open: () => Promise<Connection>,
  fn: (connection: Connection) => Promise<T>,
): Promise<T> {
  const connection = await open();
  try {
    return await fn(connection);
  } finally {
    await connection.close();
  }
}

const START_HINT = "start RabbitMQ (`rabbitmq-server -detached`), or run `eventlab broker`";

/** Connect to the first broker URL that answers; errors name the URL (password masked). */
export async function connect(
  urls: readonly string[],
  options: ConnectOptions = {},
): Promise<Connection> {
  if (urls.length === 0) throw new UsageError("no broker URL", "pass --url amqp://host:5672");
  const addresses = urls.map(parseBrokerUrl);
  let last: EventlabError | undefined;
  for (const address of addresses) {
    try {
      return await connectOne(address, options);
    } catch (err) {
      last = await diagnose(err, address, options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
      // Credentials and vhosts are the same problem on every node: stop early.
      if (last.code === "auth" || last.code === "vhost") throw last;
    }
  }
  if (addresses.length > 1 && last) {
    throw new EventlabError(last.code, `${last.message} (tried ${addresses.length} URLs)`, {
      hint: last.hint,
      cause: last,
    });
  }
  throw last!;
}

async function connectOne(address: BrokerAddress, options: ConnectOptions): Promise<Connection> {
  const { frameMax, channelMax, heartbeat } = address.query;
  const int = (v: string | undefined) => (v === undefined ? undefined : Number.parseInt(v, 10));
  const tls = address.protocol === "amqps" ? socketTls(options.tls) : {};
  const model = await amqp.connect(
    {
      protocol: address.protocol,
      hostname: address.hostname,
      port: address.port,
      username: address.username,
      password: address.password,
      vhost: address.vhost,
      locale: "en_US",
      frameMax: int(frameMax) ?? 131072,
      channelMax: int(channelMax) ?? 0,
      heartbeat: options.heartbeat ?? int(heartbeat) ?? DEFAULT_HEARTBEAT_S,
    },
    {
      timeout: options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      noDelay: true,
      clientProperties: { connection_name: options.connectionName ?? "eventlab" },
      ...tls,
      ...(options.auth === "external" ? { credentials: amqp.credentials.external() } : {}),
    },
  );
  // An error after open must never take the process down; whoever uses the
  // connection learns of it through the failing operation, `closeReason` or `close`.
  let closeReason: Error | undefined;
  model.on("error", (err: Error) => {
    closeReason ??= err;
  });
  let closed = false;
  let closing = false;
  let markClosed: (reason: Error | undefined) => void = () => {};
  const whenClosed = new Promise<Error | undefined>((resolve) => {
    markClosed = resolve;
  });
  const stopWatchdog = watchHeartbeat(model);
  let corked = false;
  const corkTurn = () => {
    if (corked || closed) return;
    const socket = socketOf(model);
    if (!(socket instanceof Writable)) return;
    corked = true;
    socket.cork();
    // After the 'readable' tick that queues amqplib's write, so after that write.
    process.nextTick(() =>
      setImmediate(() => {
        corked = false;
        socket.uncork();
      }),
    );
  };
  // When the socket drains, amqplib's multiplexer writes out what piled up meanwhile, one
  // write per frame: corked, it leaves in one.
  socketOf(model)?.prependListener("drain", corkTurn);
  model.once("close", (err?: Error) => {
    closed = true;
    stopWatchdog();
    if (err instanceof Error && !closing) closeReason ??= err;
    markClosed(closing ? undefined : closeReason);
  });
  return {
    model,
    address,
    get closeReason() {
      return closeReason;
    },
    get closed() {
      return closed;
    },
    whenClosed,
    async close() {
      if (closed || closing) return;
      closing = true;
      // A broker that no longer answers (a silent link, a blocked connection) never sends
      // close-ok: drop the socket after a bounded wait.
      await within(model.close(), CLOSE_TIMEOUT_MS);
      if (!closed) socketOf(model)?.destroy();
    },
    corkTurn,
  };
}

/** Drop a connection's socket at once, as a crashed process would (with `why` as the error). */
export function dropConnection(c: Connection | undefined, why: string): void {
  const socket = c ? socketOf(c.model) : undefined;
  // With an error, so the client notices at once and stops its heartbeat timers.
  if (socket) socket.destroy(new Error(why));
  else void c?.close();
}

/** The socket under amqplib's connection (not part of its typed API). */
function socketOf(model: ChannelModel): Socket | undefined {
  return (model as unknown as { connection?: { stream?: Socket } }).connection?.stream;
}

/** The heartbeat amqplib agreed with the broker, in seconds (0: none). */
function negotiatedHeartbeat(model: ChannelModel): number {
  return (model as unknown as { connection?: { heartbeat?: number } }).connection?.heartbeat ?? 0;
}

/**
 * A silent peer (a blackholed link: no FIN, no RST) is noticed within two heartbeat intervals.
 * amqplib gives up after two to three; RabbitMQ sends a heartbeat every half interval, so
 * nothing at all for one and a half intervals means the link is gone. The socket is then
 * destroyed with an error, and amqplib closes the connection as for any socket error.
 */
function watchHeartbeat(model: ChannelModel): () => void {
  const interval = negotiatedHeartbeat(model);
  const socket = socketOf(model);
  if (interval <= 0 || !socket) return () => {};
  const limitMs = interval * 1500;
  let lastBytes = socket.bytesRead;
  let lastSeen = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    if (socket.bytesRead !== lastBytes) {
      lastBytes = socket.bytesRead;
      lastSeen = now;
    } else if (now - lastSeen > limitMs) {
      clearInterval(timer);
      socket.destroy(new HeartbeatTimeout(interval, now - lastSeen));
    }
  }, interval * 250);
  timer.unref();
  return () => clearInterval(timer);
}

/** The broker sent nothing, not even a heartbeat, for longer than the heartbeat allows. */
export class HeartbeatTimeout extends Error {
  readonly code = "HEARTBEAT_TIMEOUT";
  constructor(
    readonly heartbeatSeconds: number,
    silentMs: number,
  ) {
    super(
      `heartbeat timeout: nothing from the broker for ${elapsed(silentMs)} (heartbeat ${heartbeatSeconds}s)`,
    );
  }
}

/** Node's TLS socket options for an amqps:// connection. */
function socketTls(tls: TlsSettings | undefined): Record<string, unknown> {
  if (!tls) return {};
  return {
    ...(tls.ca !== undefined ? { ca: [tls.ca] } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
    ...(tls.insecure ? { rejectUnauthorized: false } : {}),
  };
}

const PORT_HINT =
  "check the host and port: RabbitMQ listens for AMQP on 5672, and for amqps:// on 5671";
const CA_HINT =
  "trust the CA that signed the broker's certificate: --ca ca.pem (or broker.tls.ca in the config); --insecure skips the check, for tests only";

/** Certificate problems of an amqps:// connection, by the code Node.js gives them. */
function tlsError(err: unknown, url: string): EventlabError | undefined {
  const code = (err as NodeJS.ErrnoException)?.code;
  const reason = String((err as Error)?.message ?? "");
  const untrusted = [
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "SELF_SIGNED_CERT_IN_CHAIN",
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "UNABLE_TO_GET_ISSUER_CERT",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  ];
  if (code !== undefined && untrusted.includes(code)) {
    return new EventlabError(
      "connection",
      `the TLS certificate of ${url} is not trusted (${reason})`,
      {
        hint: CA_HINT,
        cause: err,
      },
    );
  }
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") {
    return new EventlabError(
      "connection",
      `the TLS certificate of ${url} is not valid now (${reason})`,
      {
        hint: "the broker needs a certificate valid today; check its dates and this machine's clock",
        cause: err,
      },
    );
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return new EventlabError(
      "connection",
      `the TLS certificate of ${url} is for another name (${reason})`,
      {
        hint: "connect with a host name the certificate lists, --servername <name> to check another name, or give the broker a certificate for this name",
        cause: err,
      },
    );
  }
  return undefined;
}

/**
 * connectionError, made sure of: when the handshake failed in a way that says little (a frame
 * it could not parse, a reset, a close, a timeout, a TLS record error), ask the port what it
 * speaks and say that instead.
 */
export async function diagnose(
  err: unknown,
  address: BrokerAddress,
  timeoutMs: number,
): Promise<EventlabError> {
  const base = connectionError(err, address, timeoutMs);
  if (base.code === "auth" || base.code === "vhost") return base;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN") return base;
  const url = address.display;
  const tls = address.protocol === "amqps" ? tlsError(err, url) : undefined;
  if (tls) return tls;
  const { probe, identify, showBytes, speaksTls } = await import("./probe.js");
  const wait = Math.min(timeoutMs, 1500);
  const answer = await probe(address.hostname, address.port, wait);
  if (!answer.accepted) return base;
  let speaker = identify(answer.bytes);
  // Many TLS servers close a plain connection without an alert: try a handshake.
  if (speaker.kind === "silent" && address.protocol === "amqp") {
    if (await speaksTls(address.hostname, address.port, wait)) speaker = { kind: "tls" };
  }
  const fail = (message: string, hint: string) =>
    new EventlabError("connection", message, { hint, cause: err });
  switch (speaker.kind) {
    case "amqp-0-9-1":
      return address.protocol === "amqps"
        ? fail(
            `cannot connect to ${url}: the port speaks plain AMQP, not TLS`,
            `use amqp:// for this port (amqps:// is usually on 5671)`,
          )
        : base;
    case "tls":
      return address.protocol === "amqp"
        ? fail(
            `cannot connect to ${url}: the port expects TLS`,
            `use amqps:// for this port (plain amqp:// is usually on 5672)`,
          )
        : base;
    case "amqp-other":
      return fail(
        `cannot connect to ${url}: the server speaks AMQP ${speaker.version}, not AMQP 0-9-1`,
        "eventlab speaks AMQP 0-9-1, RabbitMQ's own protocol; connect to a port that serves it",
      );
    case "other":
      return fail(
        `cannot connect to ${url}: the port answered with something that is not AMQP 0-9-1: ${showBytes(answer.bytes)}`,
        `${speaker.guess ? `it looks like ${speaker.guess}; ` : ""}${PORT_HINT}`,
      );
    case "silent":
      return base.code === "timeout"
        ? new EventlabError(
            "timeout",
            `cannot connect to ${url}: the port accepted the connection but did not answer the AMQP 0-9-1 greeting within ${elapsed(timeoutMs)}`,
            { hint: `is it an AMQP port? ${PORT_HINT}`, cause: err },
          )
        : fail(
            `cannot connect to ${url}: the port closed the connection without answering the AMQP 0-9-1 greeting`,
            `is it an AMQP port? ${PORT_HINT}`,
          );
  }
}

/** Turn whatever amqplib or the socket threw into an error that names the URL and says what to do. */
export function connectionError(
  err: unknown,
  address: BrokerAddress,
  timeoutMs: number,
): EventlabError {
  if (err instanceof EventlabError) return err;
  const e = err as NodeJS.ErrnoException & { message?: string };
  const msg = maskSecrets(String(e?.message ?? err));
  const url = address.display;
  const code = e?.code;
  if (code === "ECONNREFUSED") {
    return new EventlabError("connection", `cannot reach ${url} (connection refused)`, {
      hint: START_HINT,
      cause: err,
    });
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new EventlabError(
      "connection",
      `cannot reach ${url} (host ${address.hostname} not found)`,
      {
        hint: "check the host name in the URL",
        cause: err,
      },
    );
  }
  if (code === "ECONNRESET" || code === "EPIPE") {
    return new EventlabError(
      "connection",
      `cannot reach ${url} (connection reset during the handshake)`,
      {
        hint: "is it an AMQP 0-9-1 port? amqps:// needs TLS on the server side, amqp:// must not",
        cause: err,
      },
    );
  }
  if (code === "ETIMEDOUT" || /ETIMEDOUT|timed? ?out/i.test(msg)) {
    return new EventlabError("timeout", `cannot reach ${url} (no answer within ${timeoutMs} ms)`, {
      hint: "check the host and port, or that a firewall lets AMQP through",
      cause: err,
    });
  }
  if (/ACCESS[-_]REFUSED|403|authentication|PLAIN login refused/i.test(msg)) {
    return new EventlabError(
      "auth",
      `access refused by ${url}: wrong user name or password for "${address.username}"`,
      {
        hint: `check the credentials in the URL (guest only works from localhost); ${PERCENT_HINT}`,
        cause: err,
      },
    );
  }
  // RabbitMQ answers connection.open for a missing vhost (or one the user may not use)
  // with connection.close 530 NOT_ALLOWED; amqplib reports it without the reply text.
  if (/NOT[-_]ALLOWED|530|vhost|Expected ConnectionOpenOk; got <ConnectionClose/i.test(msg)) {
    return new EventlabError(
      "vhost",
      `cannot open vhost "${address.vhost}" on ${url}: it does not exist, or user "${address.username}" has no access to it`,
      {
        hint: `fix the vhost in the URL path (the default vhost / is written %2F), create it with \`rabbitmqctl add_vhost ${address.vhost}\`, or grant access with \`rabbitmqctl set_permissions -p ${address.vhost} ${address.username} ".*" ".*" ".*"\``,
        cause: err,
      },
    );
  }
  return new EventlabError("connection", `cannot connect to ${url}: ${msg}`, {
    hint: START_HINT,
    cause: err,
  });
}

/**
 * The embedded broker: one virtual host, users, limits, and a TCP listener handing each
 * socket to an AmqpConnection; with `tls`, a TLS listener (amqps://) beside it whose sockets
 * go to the same connections. `startBroker()` is the in-process API (port 0 picks a free
 * port); `eventlab broker` wraps it. State lives in memory only.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Server as TlsServer } from "node:tls";
import { getHeapStatistics } from "node:v8";
import {
  BrokerFixture,
  type FixtureQueue,
  type PublishedList,
  type RecordOptions,
  type Truthy,
  type WaitForOptions,
} from "./fixture.js";
import type { HttpListener } from "./http/server.js";
import { type MemoryBudget, memoryBudget } from "./memory.js";
import { type LedgerOptions, MessageEvents } from "./model/events.js";
import { VHost } from "./model/vhost.js";
import type { TlsPeer } from "./protocol/auth.js";
import {
  AmqpConnection,
  type ConnectionHost,
  newTotals,
  type ProtocolSettings,
  type Totals,
} from "./protocol/connection.js";
import type { ConnectionView } from "./protocol/views.js";
import { openStore, restoreStore, type Store } from "./store/index.js";
import { type BrokerTlsOptions, createTlsServer } from "./tls.js";

export interface BrokerUser {
  username: string;
  password: string;
}

export interface BrokerOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 5672); 0 picks a free one. The plain listener always runs. */
  port?: number;
  /** Serve amqps:// too: a TLS listener on `tlsPort`, beside the plain one. */
  tls?: BrokerTlsOptions;
  /** Port of the TLS listener (default 5671, as RabbitMQ); 0 picks a free one. */
  tlsPort?: number;
  /** Interface of the TLS listener (default: `host`). */
  tlsHost?: string;
  /**
   * Serve RabbitMQ's management HTTP API and Prometheus /metrics on this port (http/); 0
   * picks a free one. Off unless given.
   */
  httpPort?: number;
  /** Interface of the HTTP listener (default: `host`). */
  httpHost?: string;
  /** Users allowed to log in (default guest/guest, from loopback only, as in RabbitMQ). */
  users?: BrokerUser[];
  /** Largest message body accepted, bytes (default 128 MiB, as RabbitMQ). */
  maxMessageSize?: number;
  /** frame_max offered to clients (default 131072). */
  frameMax?: number;
  /** channel_max offered to clients (default 2047). */
  channelMax?: number;
  /** Heartbeat offered to clients, seconds (default 60; 0 for none). */
  heartbeat?: number;
  /** Most connections open at once (default 10,000). */
  maxConnections?: number;
  /**
   * The memory alarm's threshold, as RabbitMQ's vm_memory_high_watermark: publishers are
   * blocked (connection.blocked, and no longer read) while queued message bodies plus the
   * output not yet written to clients are above it, until consumers catch up. A number below
   * 1 is a fraction of the memory available (the machine's, or the cgroup's limit when lower);
   * a whole number from 1 up is bytes. Text is a fraction with a decimal point (`"0.4"`) or a
   * size (`"1073741824"`, `"512MiB"`, `"1GB"`, RabbitMQ's units). Default 0.4, as RabbitMQ.
   * Throws WatermarkError for anything else. Publishers are also blocked while the JavaScript
   * heap is over 80% of its limit.
   */
  memoryHighWatermark?: number | string;
  /** Time a client has to complete the handshake, ms (default 10,000, as RabbitMQ). */
  handshakeTimeout?: number;
  /**
   * Delivery acknowledgement timeout, ms (RabbitMQ's consumer_timeout; default 30 minutes, as
   * RabbitMQ 3.10): a channel holding a delivery unacknowledged for longer is closed with a
   * 406 and its deliveries go back to their queues. A queue's `x-consumer-timeout` replaces it
   * for that queue's deliveries. `false` turns it off. RabbitMQ looks only once a minute (its
   * channel tick), so it closes up to 60 s later than this broker, which closes at the timeout.
   */
  consumerTimeout?: number | false;
  /** Version reported to clients. */
  version?: string;
  /**
   * Keep durable exchanges, queues, bindings and persistent messages in this directory, so
   * that they survive a restart or a crash (store/). Without it everything is in memory.
   */
  dataDir?: string;
  /** Size at which a storage segment file is closed and the next begun (default 16 MiB). */
  segmentSize?: number;
  /** Told when storage fails (disk full, I/O error); the broker then closes every connection. */
  onStorageError?: (err: Error) => void;
  /**
   * Start with the firehose on, as after RabbitMQ's `rabbitmqctl trace_on`: a copy of every
   * publish and delivery goes to amq.rabbitmq.trace (model/trace.ts). Default false.
   */
  trace?: boolean;
  /**
   * Keep a ledger of what happens to each message with an id (model/events.ts), for
   * `eventlab why`: `true`, or its bounds and id, or a ledger to go on with (a broker
   * restarted in the same process keeps one story per message). Default off (no cost).
   */
  ledger?: boolean | LedgerOptions | MessageEvents;
  /**
   * Record every message clients publish, for `published()` (fixture.ts): `true` keeps the
   * last 10,000 (and at most 64 MiB of bodies), or give the bounds. Default off (no cost);
   * the `eventlab/broker` entry turns it on.
   */
  record?: boolean | RecordOptions;
}

export interface Churn {
  connectionCreated: number;
  connectionClosed: number;
  channelCreated: number;
  channelClosed: number;
}

export interface BrokerStats {
  connections: number;
  channels: number;
  queues: number;
  consumers: number;
  ready: number;
  unacked: number;
  /** Messages accepted from publishers since start, over connections closed since too. */
  published: number;
  /** Messages handed to consumers and basic.get since start, from queues deleted since too. */
  delivered: number;
  storedBytes: number;
  /** Bytes written to connections and not yet taken by their clients (counted by the alarm). */
  outputBytes: number;
  /** Connections the broker is not reading from: blocked by the alarm, or their output backed up. */
  readPaused: number;
  blocked: boolean;
  /** The alarm's threshold and the memory it is a share of. */
  memory: MemoryBudget;
}

export interface RunningBroker {
  /** amqp://user:password@host:port for the first user. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** amqps://user:password@host:tlsPort when started with `tls`. */
  readonly tlsUrl: string | undefined;
  readonly tlsHost: string | undefined;
  readonly tlsPort: number | undefined;
  /** http://host:httpPort/ when started with `httpPort`: the management API is under api/. */
  readonly httpUrl: string | undefined;
  readonly httpPort: number | undefined;
  readonly vhost: VHost;
  /** The data directory's storage, when started with `dataDir`. */
  readonly store: Store | undefined;
  stats(): BrokerStats;
  /** Turn the firehose on or off (RabbitMQ's trace_on / trace_off). */
  trace(on: boolean): void;
  /** The message event ledger, when started with `ledger`. */
  readonly events: MessageEvents | undefined;
  /**
   * Raise or clear a memory alarm by hand, as `rabbitmqctl set_vm_memory_high_watermark 0`
   * does on RabbitMQ: publishers are blocked (connection.blocked) until it is cleared.
   */
  alarm(on: boolean): void;
  /**
   * Back to a fresh broker without restarting the listener (the URL stays): every open
   * connection is closed (320 CONNECTION_FORCED), then every queue, stream, message, binding
   * and declared exchange goes (the predeclared exchanges stay), and the record of
   * `published()` starts again.
   */
  reset(): Promise<void>;
  /** A queue of the vhost "/", to look at without consuming (fixture.ts). */
  queue(name: string, options?: { vhost?: string }): FixtureQueue;
  /**
   * Every message clients published since start or reset, oldest first, with where it was
   * routed; the last 10,000 at most (`trimmed` says how many older ones were dropped). Needs
   * `record` (on in the `eventlab/broker` entry).
   */
  published(): PublishedList;
  /**
   * The first truthy value of `predicate(broker)`, checked now and again after broker activity
   * (a client's frames, a message entering or leaving a queue, a publish); rejects after
   * `timeout` ms (default 5,000) with the predicate's last error, if it threw.
   */
  waitFor<T>(predicate: (broker: RunningBroker) => T, options?: WaitForOptions): Promise<Truthy<T>>;
  /** Close every connection (320 CONNECTION_FORCED) and stop listening. */
  close(): Promise<void>;
}

const GUEST: BrokerUser = { username: "guest", password: "guest" };

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return true;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function ledgerOf(o: BrokerOptions["ledger"]): MessageEvents | undefined {
  if (o === undefined || o === false) return undefined;
  if (o instanceof MessageEvents) return o;
  return new MessageEvents(o === true ? {} : o);
}

/** The broker without a listener: accepts any duplex stream as a connection. */
export class Broker implements ConnectionHost {
  readonly vhost: VHost;
  readonly store: Store | undefined;
  readonly settings: ProtocolSettings;
  readonly totals: Totals = newTotals();
  private readonly users: BrokerUser[];
  private readonly maxConnections: number;
  private readonly memory: MemoryBudget;
  private readonly connections = new Set<AmqpConnection>();
  private readonly churn = { connectionCreated: 0, connectionClosed: 0 };
  private channelsOfClosed = 0;
  private readonly octetsOfClosed = { recv: 0, send: 0 };
  private nextId = 1;
  private stored = 0;
  private output = 0;
  private heapUsed = 0;
  private readonly heapLimit = getHeapStatistics().heap_size_limit;
  private readonly heapTimer: NodeJS.Timeout;
  private blocked = false;
  /** An alarm raised by hand (alarm()), whatever the memory use. */
  private forcedAlarm = false;
  private storageError: Error | undefined;
  private readonly onStorageError: (err: Error) => void;
  /** Called when stored messages change (the test fixture's waitFor); none by default. */
  onChange: (() => void) | undefined;

  constructor(options: BrokerOptions = {}) {
    this.users = options.users && options.users.length > 0 ? options.users : [GUEST];
    this.maxConnections = options.maxConnections ?? 10_000;
    this.memory = memoryBudget(options.memoryHighWatermark);
    this.settings = {
      frameMax: options.frameMax ?? 131_072,
      channelMax: options.channelMax ?? 2047,
      heartbeat: options.heartbeat ?? 60,
      maxMessageSize: options.maxMessageSize ?? 128 * 1024 * 1024,
      handshakeTimeout: options.handshakeTimeout ?? 10_000,
      consumerTimeout: options.consumerTimeout ?? 1_800_000,
      productVersion: options.version ?? "0.0.0",
    };
    this.onStorageError = options.onStorageError ?? (() => {});
    this.store = options.dataDir === undefined ? undefined : openStore(options, this);
    this.vhost = new VHost({
      onStored: (d) => this.adjustStored(d),
      journal: this.store,
      pager: this.store,
      trace: options.trace ?? false,
      events: ledgerOf(options.ledger),
    });
    if (this.store) restoreStore(this.store, this.vhost);
    // Reading heap statistics costs microseconds: a few times a second, not per message.
    this.heapTimer = setInterval(() => this.sampleHeap(), 250);
    this.heapTimer.unref();
  }

  get firstUser(): BrokerUser {
    return this.users[0] as BrokerUser;
  }

  /** The users' names (the management API lists them). */
  get userNames(): string[] {
    return this.users.map((u) => u.username);
  }

  /** A user's password, for the definitions export's password_hash. */
  passwordOf(username: string): string | undefined {
    return this.users.find((u) => u.username === username)?.password;
  }

  /** What the management API shows of every connection. */
  connectionViews(): ConnectionView[] {
    return [...this.connections].map((c) => c.view());
  }

  /** Close the connection with this name, as the management API's DELETE does. */
  closeConnection(name: string, reason: string): boolean {
    const c = [...this.connections].find((x) => x.connectionName === name);
    c?.forceClose(`${reason}`);
    return c !== undefined;
  }

  get memoryBlocked(): boolean {
    return this.blocked;
  }

  /**
   * Serve AMQP on a stream; `loopback` says whether guest may log in over it, `tls` what a
   * TLS handshake proved (for SASL EXTERNAL).
   */
  accept(stream: Duplex, loopback: boolean, tls?: TlsPeer): AmqpConnection {
    const c = new AmqpConnection(this.nextId++, stream, this, loopback, tls);
    this.connections.add(c);
    this.churn.connectionCreated += 1;
    return c;
  }

  /** A known user with this password; the built-in guest only over loopback, as in RabbitMQ. */
  authenticate(username: string, password: string, loopback: boolean): boolean {
    const user = this.users.find((u) => u.username === username);
    if (!user || !sameSecret(user.password, password)) return false;
    // RabbitMQ's loopback_users default: the built-in guest only from localhost.
    return !(user === GUEST && !loopback);
  }

  /** EXTERNAL: the certificate's user must exist; guest still only over loopback. */
  refuseCertificateUser(username: string, loopback: boolean): string | undefined {
    const user = this.users.find((u) => u.username === username);
    if (!user) return `user '${username}' (the client certificate's common name) does not exist`;
    if (user === GUEST && !loopback) return `user '${username}' can only connect via localhost`;
    return undefined;
  }

  refuseOpen(): string | undefined {
    if (this.storageError) {
      return `access to vhost '/' refused: storage failed (${this.storageError.message})`;
    }
    const open = [...this.connections].filter((c) => c.open).length;
    return open >= this.maxConnections
      ? `access to vhost '/' refused: connection limit (${this.maxConnections}) is reached`
      : undefined;
  }

  connectionClosed(c: AmqpConnection): void {
    if (!this.connections.delete(c)) return;
    this.churn.connectionClosed += 1;
    this.channelsOfClosed += c.channelsOpened;
    const o = c.octets;
    this.octetsOfClosed.recv += o.recv;
    this.octetsOfClosed.send += o.send;
  }

  /** Bytes received and sent over every connection since start. */
  octets(): { recv: number; send: number } {
    const sum = { ...this.octetsOfClosed };
    for (const c of this.connections) {
      const o = c.octets;
      sum.recv += o.recv;
      sum.send += o.send;
    }
    return sum;
  }

  /** Connections and channels opened and closed since start (the management API's churn). */
  churnCounts(): Churn {
    let opened = this.channelsOfClosed;
    let open = 0;
    for (const c of this.connections) {
      opened += c.channelsOpened;
      open += c.channelCount;
    }
    return { ...this.churn, channelCreated: opened, channelClosed: opened - open };
  }

  private adjustStored(delta: number): void {
    this.stored += delta;
    this.checkMemory();
    if (this.onChange) this.onChange();
  }

  /**
   * The memory alarm: queued bodies plus output that clients have not taken over the
   * watermark, or the JavaScript heap (where every queued message has its bookkeeping) over
   * 80% of its limit. It clears with 10% to spare, so it does not flap.
   */
  private checkMemory(): void {
    const used = this.stored + this.output;
    const watermark = this.memory.highWatermark;
    const over = this.forcedAlarm || used > watermark || this.heapUsed > this.heapLimit * 0.8;
    const under =
      !this.forcedAlarm && used < watermark * 0.9 && this.heapUsed < this.heapLimit * 0.72;
    if (this.blocked && under) this.setBlocked(false);
    else if (!this.blocked && over) this.setBlocked(true);
  }

  /** The heap and the connections' unwritten output change without a queue noticing: sampled. */
  private sampleHeap(): void {
    this.heapUsed = getHeapStatistics().used_heap_size;
    let output = 0;
    for (const c of this.connections) output += c.outputBytes;
    this.output = output;
    this.checkMemory();
  }

  alarm(on: boolean): void {
    this.forcedAlarm = on;
    this.checkMemory();
  }

  private setBlocked(on: boolean): void {
    this.blocked = on;
    for (const c of this.connections) c.setBlocked(on);
  }

  stats(): BrokerStats {
    let channels = 0;
    let outputBytes = 0;
    let readPaused = 0;
    for (const c of this.connections) {
      channels += c.channelCount;
      outputBytes += c.outputBytes;
      if (c.readPaused) readPaused += 1;
    }
    let ready = 0;
    let unacked = 0;
    let consumers = 0;
    for (const q of this.vhost.queues.values()) {
      ready += q.messageCount;
      unacked += q.unacked;
      consumers += q.consumers.length;
    }
    // A stream is a queue too, but what it holds is not "ready": it is never taken away.
    for (const st of this.vhost.streams.values()) consumers += st.consumers.length;
    return {
      connections: this.connections.size,
      channels,
      queues: this.vhost.queues.size + this.vhost.streams.size,
      consumers,
      ready,
      unacked,
      published: this.totals.published,
      delivered: this.totals.delivered,
      storedBytes: this.stored,
      outputBytes,
      readPaused,
      blocked: this.blocked,
      memory: this.memory,
    };
  }

  /** Close every open connection with 320 CONNECTION_FORCED (the test fixture's reset). */
  closeConnections(reason: string): void {
    for (const c of [...this.connections]) c.forceClose(reason);
  }

  /** Close every connection and stop all timers; storage is closed by `closeStore`. */
  shutdown(): void {
    clearInterval(this.heapTimer);
    for (const c of [...this.connections]) c.forceClose();
    this.vhost.close();
  }

  /** Write what storage still holds in memory and release the data directory. */
  async closeStore(): Promise<void> {
    await this.store?.close();
  }

  /**
   * Storage cannot write (disk full, I/O error): as a RabbitMQ node whose message store
   * fails, stop serving. Every connection is closed, so no client is told a message was
   * kept when it was not; waiting confirms become nacks.
   */
  storageFailed(err: Error): void {
    this.storageError = err;
    this.onStorageError(err);
    for (const c of [...this.connections]) c.forceClose();
  }
}

/** Thrown when a port is taken; `code` is the socket error's, `listener` names the listener. */
export class ListenError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly host: string,
    readonly port: number,
    readonly listener: "amqp" | "amqps" | "http" = "amqp",
  ) {
    super(message);
    this.name = "ListenError";
  }

  get tls(): boolean {
    return this.listener === "amqps";
  }
}

function listen(server: Server | TlsServer, port: number, host: string, tls: boolean) {
  return new Promise<number>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new ListenError(err.message, err.code, host, port, tls ? "amqps" : "amqp")),
    );
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

function urlHostOf(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

function urlOf(scheme: "amqp" | "amqps", user: BrokerUser, host: string, port: number): string {
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return `${scheme}://${encodeURIComponent(user.username)}:${encodeURIComponent(user.password)}@${urlHost}:${port}`;
}

function closeServer(server: Server | TlsServer | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (server?.listening) server.close(() => resolve());
    else resolve();
  });
}

/**
 * Start the broker and its listeners; throws ListenError when a port cannot be had, and
 * TlsOptionsError when the TLS certificate, key or CA cannot be used.
 */
export async function startBroker(options: BrokerOptions = {}): Promise<RunningBroker> {
  const broker = new Broker(options);
  const host = options.host ?? "127.0.0.1";
  const tlsHost = options.tlsHost ?? host;
  const sockets = new Set<Socket>();
  const fixture = new BrokerFixture(broker, options.record);
  // Every TCP socket, TLS ones from before their handshake, so that close() can drop them.
  const track = (socket: Socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  };
  // What a client sends is activity for the fixture's waitFor: this listener comes after the
  // connection's own, so it runs once the frames are handled.
  const accept = (stream: Duplex, loopback: boolean, peer?: TlsPeer) => {
    broker.accept(stream, loopback, peer);
    stream.on("data", fixture.activity);
  };
  const server: Server = createServer((socket) => accept(socket, isLoopback(socket.remoteAddress)));
  server.on("connection", track);
  let secure: TlsServer | undefined;
  let port: number;
  let tlsPort: number | undefined;
  let http: HttpListener | undefined;
  try {
    if (options.tls) {
      secure = createTlsServer(options.tls, broker.settings.handshakeTimeout, (socket, peer) =>
        accept(socket, isLoopback(socket.remoteAddress), peer),
      );
      secure.on("connection", track);
    }
    port = await listen(server, options.port ?? 5672, host, false);
    if (secure) tlsPort = await listen(secure, options.tlsPort ?? 5671, tlsHost, true);
    if (options.httpPort !== undefined) {
      const httpHost = options.httpHost ?? host;
      const amqpPort = port;
      // Loaded only when asked for: a test fixture starts faster without it.
      const { startHttp } = await import("./http/server.js");
      http = await startHttp(broker, {
        host: httpHost,
        port: options.httpPort,
        amqpHost: host,
        amqpPort: () => amqpPort,
        tlsPort: () => tlsPort,
      }).catch((err: NodeJS.ErrnoException) => {
        throw new ListenError(err.message, err.code, httpHost, options.httpPort ?? 0, "http");
      });
    }
  } catch (err) {
    await closeServer(server);
    await closeServer(secure);
    broker.shutdown();
    await broker.closeStore();
    throw err;
  }
  const user = broker.firstUser;
  let closing: Promise<void> | undefined;
  const running: RunningBroker = {
    url: urlOf("amqp", user, host, port),
    host,
    port,
    tlsUrl: tlsPort === undefined ? undefined : urlOf("amqps", user, tlsHost, tlsPort),
    tlsHost: secure ? tlsHost : undefined,
    tlsPort,
    httpUrl: http ? `http://${urlHostOf(options.httpHost ?? host)}:${http.port}/` : undefined,
    httpPort: http?.port,
    vhost: broker.vhost,
    store: broker.store,
    stats: () => broker.stats(),
    events: broker.vhost.events,
    trace: (on) => {
      broker.vhost.tracer.enabled = on;
    },
    alarm: (on) => broker.alarm(on),
    reset: () => fixture.reset([...sockets]),
    queue: (name, o) => fixture.queue(name, o),
    published: () => fixture.published(),
    waitFor: (predicate, o) => fixture.waitFor(() => predicate(running), o),
    close() {
      fixture.close();
      closing ??= new Promise<void>((resolve) => {
        void Promise.all([closeServer(server), closeServer(secure), http?.close()])
          .then(() => broker.closeStore())
          .then(() => resolve());
        broker.shutdown();
        // Clients that do not answer connection.close are dropped.
        setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 200).unref();
      });
      return closing;
    },
  };
  return running;
}

/**
 * One AMQP connection over any duplex stream (a socket, or an in-memory pair in tests):
 * the handshake (protocol header, start/start-ok, tune/tune-ok, open), frame dispatch to
 * channels, heartbeats, output batching with backpressure, the memory alarm, and closing.
 * When the client is read, and when a silent one is dropped, is flow.ts's.
 * This is the only place errors become channel.close or connection.close; anything
 * unexpected becomes a 541 for this connection and never reaches other clients.
 */
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import {
  type ArgsParam,
  CodecError,
  type ContentMethodName,
  type DecodedMethod,
  decodeMethod,
  type FieldTable,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  type Frame,
  FrameReader,
  type MethodName,
  type MethodParams,
  PROTOCOL_HEADER,
  tableField,
} from "../codec/index.js";
import { AmqpError, amqpError } from "../errors.js";
import type { Message } from "../model/message.js";
import type { Queue } from "../model/queue.js";
import type { Stream } from "../model/stream.js";
import type { VHost } from "../model/vhost.js";
import { type LoginHost, login, mechanisms, type TlsPeer } from "./auth.js";
import type { Channel, ChannelHost } from "./channel.js";
import { type Blame, Channels, NO_METHOD } from "./channels.js";
import { ReadFlow } from "./flow.js";
import { clientFeatures, negotiate, type ProtocolSettings, startArgs } from "./handshake.js";
import { Outbox } from "./outbox.js";
import { type ConnectionView, tlsDetails } from "./views.js";

export type { ProtocolSettings } from "./handshake.js";

/** Deliveries and acks of one queue type, as RabbitMQ's global counters split them. */
export interface QueueTypeTotals {
  /** Handed out by basic.deliver or basic.get-ok. */
  delivered: number;
  consumeManualAck: number;
  consumeAutoAck: number;
  getManualAck: number;
  getAutoAck: number;
  /** basic.get answered with get-empty. */
  getEmpty: number;
  /** Delivered with the redelivered flag. */
  redelivered: number;
  /** Settled by the client's basic.ack (not nack, reject, or automatic acks). */
  acknowledged: number;
}

/**
 * What the broker counted since it started, whatever became of the connections and queues
 * (the Prometheus global counters, http/metrics.ts). Integer increments where events happen.
 */
export interface Totals {
  /** Messages accepted from publishers. */
  published: number;
  /** Messages handed to consumers and to basic.get (direct reply-to included). */
  delivered: number;
  /** Of the published, those on channels in confirm mode. */
  receivedConfirm: number;
  /** Published messages routed to at least one queue or stream. */
  routed: number;
  /** Unroutable, not mandatory: dropped. */
  unroutableDropped: number;
  /** Unroutable and mandatory: basic.return. */
  unroutableReturned: number;
  /** Publisher confirms sent as basic.ack (each message once). */
  confirmed: number;
  readonly queueTypes: Record<"classic" | "quorum" | "stream", QueueTypeTotals>;
}

function queueTypeTotals(): QueueTypeTotals {
  return {
    delivered: 0,
    consumeManualAck: 0,
    consumeAutoAck: 0,
    getManualAck: 0,
    getAutoAck: 0,
    getEmpty: 0,
    redelivered: 0,
    acknowledged: 0,
  };
}

/** Every counter at zero. */
export function newTotals(): Totals {
  return {
    published: 0,
    delivered: 0,
    receivedConfirm: 0,
    routed: 0,
    unroutableDropped: 0,
    unroutableReturned: 0,
    confirmed: 0,
    queueTypes: {
      classic: queueTypeTotals(),
      quorum: queueTypeTotals(),
      stream: queueTypeTotals(),
    },
  };
}

/** What a connection needs from the broker that accepted it (logins: see auth.ts). */
export interface ConnectionHost extends LoginHost {
  readonly vhost: VHost;
  readonly settings: ProtocolSettings;
  /** Counted into as messages pass; never reset. */
  readonly totals: Totals;
  /** Why a new connection may not open (connection limit), or undefined. */
  refuseOpen(): string | undefined;
  readonly memoryBlocked: boolean;
  connectionClosed(connection: AmqpConnection): void;
}

type State = "header" | "start" | "tune" | "open-wait" | "open" | "closing" | "closed";

export class AmqpConnection implements ChannelHost {
  readonly vhost: VHost;
  readonly maxMessageSize: number;
  user = "";
  /** The client's connection_name client property (the message event ledger names it). */
  clientName: string | undefined;
  private clientProperties: FieldTable = {};
  private readonly received = { bytes: 0, chunks: 0 };
  private readonly connectedAt = Date.now();
  private tuned = { frameMax: 0, channelMax: 0, heartbeat: 0 };
  consumerCancelNotify = false;
  private blockedNotify = false;
  private state: State = "header";
  private readonly reader: FrameReader;
  private readonly channels: Channels;
  private deadline: NodeJS.Timeout | undefined;
  private readonly outbox: Outbox;
  private tickScheduled = false;
  private readonly dirty = new Set<Queue | Stream>();
  private hasPublished = false;
  private readonly flow: ReadFlow;

  constructor(
    readonly id: number,
    private readonly transport: Duplex,
    private readonly host: ConnectionHost,
    private readonly loopback: boolean,
    /** Set for a TLS connection: whether EXTERNAL is offered, and the verified certificate. */
    private readonly tls?: TlsPeer,
  ) {
    this.vhost = host.vhost;
    this.maxMessageSize = host.settings.maxMessageSize;
    this.channels = new Channels(
      this,
      (err, ch, blame) => this.fail(err, ch, blame),
      host.settings.channelMax,
    );
    this.outbox = new Outbox(
      transport,
      host.settings.frameMax,
      () => this.schedule(),
      () => this.flow.update(),
    );
    this.flow = new ReadFlow(transport, this.outbox, () => this.destroy());
    this.reader = new FrameReader({ frameMax: host.settings.frameMax, protocolHeader: true });
    transport.on("data", (chunk: Buffer) => this.onData(chunk));
    transport.on("drain", () => {
      this.outbox.backpressure = false;
      this.flow.update();
      this.redrainAll();
    });
    transport.on("error", () => this.teardown());
    transport.on("close", () => this.teardown());
    transport.on("end", () => this.teardown());
    this.deadline = setTimeout(() => this.destroy(), host.settings.handshakeTimeout);
    this.deadline.unref();
  }

  get connectionName(): string {
    // A socket has addresses; an in-memory stream (protocol tests) has only this broker's id.
    const t = this.transport as Partial<Socket>;
    if (t.remoteAddress === undefined) return `connection ${this.id}`;
    return `${t.remoteAddress}:${t.remotePort} -> ${t.localAddress}:${t.localPort}`;
  }

  get writable(): boolean {
    return !this.outbox.backpressure && this.state === "open";
  }

  private isClosed(): boolean {
    return this.state === "closed";
  }

  get open(): boolean {
    return this.state === "open";
  }

  /** Bytes received from and sent to the client so far. */
  get octets(): { recv: number; send: number } {
    return { recv: this.received.bytes, send: this.outbox.sentBytes };
  }

  /** Channels opened on this connection so far. */
  get channelsOpened(): number {
    return this.channels.opened;
  }

  get channelCount(): number {
    return this.channels.size;
  }

  /** RabbitMQ's consumer_timeout, for the channels' unacknowledged deliveries. */
  get consumerTimeout(): number | false {
    return this.host.settings.consumerTimeout;
  }

  /** A channel's own timer found an error (the consumer timeout): close the channel for it. */
  channelError(ch: Channel, err: Error): void {
    this.fail(err, ch);
  }

  /** What the management API shows of this connection and its channels. */
  view(): ConnectionView {
    const t = this.transport as Partial<Socket>;
    const states: Record<State, string> = {
      header: "starting",
      start: "starting",
      tune: "tuning",
      "open-wait": "opening",
      open: this.flow.paused ? "blocked" : "running",
      closing: "closing",
      closed: "closed",
    };
    return {
      id: this.id,
      name: this.connectionName,
      user: this.user,
      clientName: this.clientName,
      clientProperties: this.clientProperties,
      connectedAt: this.connectedAt,
      peerHost: t.remoteAddress,
      peerPort: t.remotePort,
      host: t.localAddress,
      port: t.localPort,
      tls: this.tls !== undefined,
      tlsDetails: tlsDetails(this.transport),
      recvOct: this.received.bytes,
      recvCnt: this.received.chunks,
      sendOct: this.outbox.sentBytes,
      sendCnt: this.outbox.sentWrites,
      sendPend: this.outbox.pending,
      ...this.tuned,
      state: states[this.state],
      channels: [...this.channels.values()].map((ch) => ch.view()),
    };
  }

  /** Bytes written to this client and not yet taken by it (the broker's memory alarm counts them). */
  get outputBytes(): number {
    return this.outbox.pending;
  }

  /** The broker is not reading this client: blocked by the alarm, or its output backed up. */
  get readPaused(): boolean {
    return this.flow.paused;
  }

  // ------------------------------------------------------------ input

  private onData(chunk: Buffer): void {
    this.received.bytes += chunk.length;
    this.received.chunks += 1;
    if (this.state === "closed") return;
    this.flow.received();
    try {
      for (const ev of this.reader.push(chunk)) {
        if (ev.kind === "frame") this.onFrame(ev.frame);
        else if (ev.kind === "protocol-header") this.sendStart();
        else {
          // A wrong protocol header is answered with ours, then the socket closes.
          this.transport.end(PROTOCOL_HEADER);
          this.teardown();
          return;
        }
        if (this.isClosed()) return;
      }
    } catch (err) {
      this.fail(err, undefined);
    }
    this.schedule();
  }

  private onFrame(f: Frame): void {
    if (f.type === FRAME_HEARTBEAT) {
      if (f.channel !== 0) throw amqpError("FRAME_ERROR", "heartbeat frame on a non-zero channel");
      return;
    }
    if (this.state === "closing") {
      this.whileClosing(f);
      return;
    }
    if (f.channel === 0) {
      if (f.type !== FRAME_METHOD) {
        throw amqpError(
          "UNEXPECTED_FRAME",
          `expected method frame on channel 0, got frame type ${f.type}`,
        );
      }
      this.connectionMethod(decodeMethod(f.payload));
      return;
    }
    if (this.state !== "open") {
      throw amqpError("CHANNEL_ERROR", `frame on channel ${f.channel} before connection.open`);
    }
    this.channels.frame(f);
  }

  /** We sent connection.close: only the client's close-ok (or its own close) counts now. */
  private whileClosing(f: Frame): void {
    if (f.channel !== 0 || f.type !== FRAME_METHOD) return;
    const m = decodeMethod(f.payload);
    if (m.name !== "connection.close-ok" && m.name !== "connection.close") return;
    if (m.name === "connection.close") this.sendMethod(0, "connection.close-ok");
    this.end();
  }

  // ------------------------------------------------------------ handshake

  private sendStart(): void {
    this.state = "start";
    const start = startArgs(this.host.settings);
    this.sendMethod(0, "connection.start", { ...start, mechanisms: mechanisms(this.tls) });
  }

  /** A method on channel 0: the handshake step the state expects, or one of an open connection. */
  private connectionMethod(m: DecodedMethod): void {
    const unexpected = (expected: string) =>
      amqpError("COMMAND_INVALID", `expected ${expected}, got ${m.name}`);
    switch (this.state) {
      case "start":
        if (m.name !== "connection.start-ok") throw unexpected("connection.start-ok");
        this.startOk(m.args);
        return;
      case "tune":
        if (m.name !== "connection.tune-ok") throw unexpected("connection.tune-ok");
        this.tuneOk(m.args);
        return;
      case "open-wait":
        if (m.name !== "connection.open") throw unexpected("connection.open");
        this.openOk(m.args);
        return;
      case "open":
        this.whileOpen(m);
        return;
      default:
        throw amqpError("COMMAND_INVALID", `unexpected method ${m.name}`);
    }
  }

  private startOk(a: MethodParams["connection.start-ok"]): void {
    const features = clientFeatures(a.clientProperties);
    this.clientProperties = a.clientProperties;
    this.consumerCancelNotify = features.consumerCancelNotify;
    this.blockedNotify = features.blockedNotify;
    const name = tableField(a.clientProperties, "connection_name");
    this.clientName = Buffer.isBuffer(name)
      ? name.toString("utf8")
      : typeof name === "string"
        ? name
        : undefined;
    this.user = login(this.host, a, this.loopback, this.tls);
    this.state = "tune";
    const s = this.host.settings;
    this.sendMethod(0, "connection.tune", {
      channelMax: s.channelMax,
      frameMax: s.frameMax,
      heartbeat: s.heartbeat,
    });
  }

  private tuneOk(a: MethodParams["connection.tune-ok"]): void {
    const tuned = negotiate(a, this.host.settings);
    this.tuned = tuned;
    this.channels.channelMax = tuned.channelMax;
    this.outbox.frameMax = tuned.frameMax;
    this.reader.frameMax = tuned.frameMax;
    this.state = "open-wait";
    this.flow.startHeartbeat(tuned.heartbeat);
  }

  private openOk(a: MethodParams["connection.open"]): void {
    const vhost = a.virtualHost;
    if (vhost !== "/") throw amqpError("NOT_ALLOWED", `vhost ${vhost} not found`);
    const refused = this.host.refuseOpen();
    if (refused) throw amqpError("NOT_ALLOWED", refused);
    this.state = "open";
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = undefined;
    this.sendMethod(0, "connection.open-ok", { knownHosts: "" });
  }

  private whileOpen(m: DecodedMethod): void {
    switch (m.name) {
      case "connection.close":
        this.sendMethod(0, "connection.close-ok");
        this.end();
        return;
      case "connection.update-secret":
        this.sendMethod(0, "connection.update-secret-ok");
        return;
      case "connection.blocked":
      case "connection.unblocked":
        return;
      default:
        throw amqpError("COMMAND_INVALID", `unexpected method ${m.name} on channel 0`);
    }
  }

  // ------------------------------------------------------------ errors

  /** Turn an error into channel.close (soft) or connection.close (hard). */
  private fail(err: unknown, ch: Channel | undefined, cause: Blame = NO_METHOD): void {
    let e: AmqpError;
    if (err instanceof AmqpError) e = err;
    else if (err instanceof CodecError) e = new AmqpError(err.replyCode, err.message);
    else e = amqpError("INTERNAL_ERROR", err instanceof Error ? err.message : String(err));
    const ids = { classId: cause.classId, methodId: cause.methodId };
    if (!e.hard && ch && this.state === "open") {
      this.channels.closedByBroker(ch);
      this.sendMethod(ch.number, "channel.close", {
        replyCode: e.replyCode,
        replyText: e.replyText,
        ...ids,
      });
      return;
    }
    this.closeWith(e, ids);
  }

  private closeWith(e: AmqpError, ids: Blame): void {
    if (this.state === "closing" || this.state === "closed") return;
    if (this.state === "header") {
      this.destroy();
      return;
    }
    this.channels.closeAll();
    this.state = "closing";
    this.sendMethod(0, "connection.close", {
      replyCode: e.replyCode,
      replyText: e.replyText,
      ...ids,
    });
    this.outbox.flush();
    // Wait briefly for close-ok, then drop the socket anyway.
    const t = setTimeout(() => this.destroy(), 1000);
    t.unref();
  }

  /** Close from the broker side: connection.close 320, with RabbitMQ's text for a shutdown. */
  forceClose(reason = "broker forced connection closure with reason 'shutdown'"): void {
    if (this.state === "open") this.closeWith(amqpError("CONNECTION_FORCED", reason), NO_METHOD);
    else this.destroy();
  }

  /** The close handshake is done: write what is queued, end the stream, forget everything. */
  private end(): void {
    this.outbox.flush();
    this.transport.end();
    this.teardown();
  }

  destroy(): void {
    this.transport.destroy();
    this.teardown();
  }

  private teardown(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.outbox.closed = true;
    this.flow.stop();
    if (this.deadline) clearTimeout(this.deadline);
    this.channels.closeAll();
    this.vhost.connectionClosed(this.id);
    this.drainDirty();
    this.host.connectionClosed(this);
  }

  // ------------------------------------------------------------ output

  sendMethod<K extends MethodName>(
    channel: number,
    name: K,
    ...args: ArgsParam<MethodParams[K]>
  ): void {
    this.outbox.method(channel, name, ...args);
  }

  sendContent<K extends ContentMethodName>(
    channel: number,
    name: K,
    args: MethodParams[K],
    message: Message,
  ): void {
    this.outbox.content(channel, name, args, message);
  }

  markDirty(queue: Queue | Stream): void {
    this.dirty.add(queue);
    this.schedule();
  }

  get totals(): Totals {
    return this.host.totals;
  }

  published(): void {
    this.hasPublished = true;
    this.host.totals.published += 1;
  }

  delivered(): void {
    this.host.totals.delivered += 1;
  }

  private schedule(): void {
    if (this.tickScheduled) return;
    this.tickScheduled = true;
    process.nextTick(() => this.tick());
  }

  /** After a batch of input or deliveries: confirms, pending deliveries, then one write. */
  private tick(): void {
    this.tickScheduled = false;
    try {
      for (const ch of this.channels.values()) ch.publisher.flushConfirms();
      this.drainDirty();
      if (this.host.memoryBlocked && !this.flow.blockedByAlarm) this.setBlocked(true);
    } catch (err) {
      this.fail(err, undefined);
    }
    this.outbox.flush();
  }

  private drainDirty(): void {
    if (this.dirty.size === 0) return;
    const queues = [...this.dirty];
    this.dirty.clear();
    for (const q of queues) q.drain();
  }

  private redrainAll(): void {
    // Queues this connection consumes from are re-tried through the channels' consumers.
    for (const q of this.vhost.queues.values()) {
      if (q.consumers.length > 0 && q.messageCount > 0) this.dirty.add(q);
    }
    for (const s of this.vhost.streams.values()) if (s.consumers.length > 0) this.dirty.add(s);
    this.schedule();
  }

  /** The memory alarm: tell a publishing client and stop reading from it, or resume. */
  setBlocked(on: boolean): void {
    if (on === this.flow.blockedByAlarm || this.state !== "open") return;
    // As RabbitMQ, only a connection that publishes is blocked.
    if (on && !this.hasPublished) return;
    if (this.blockedNotify) {
      if (on) this.sendMethod(0, "connection.blocked", { reason: "low on memory" });
      else this.sendMethod(0, "connection.unblocked");
    }
    this.flow.setAlarm(on);
  }
}

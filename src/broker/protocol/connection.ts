/**
 * One AMQP connection over any duplex stream (a socket, or an in-memory pair in tests):
 * the handshake (protocol header, start/start-ok, tune/tune-ok, open), frame dispatch to
 * channels, heartbeats, output batching with backpressure, the memory alarm, and closing.
 * This is the only place errors become channel.close or connection.close; anything
 * unexpected becomes a 541 for this connection and never reaches other clients.
 */
import type { Duplex } from "node:stream";
import {
  type ArgValue,
  CodecError,
  type DecodedMethod,
  decodeMethod,
  decodeTableBody,
  encodeFrame,
  encodeMethodFrame,
  type FieldTable,
  FRAME_BODY,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  FRAME_OVERHEAD,
  type Frame,
  FrameReader,
  HEARTBEAT_FRAME,
  methodByName,
  PROTOCOL_HEADER,
} from "../codec/index.js";
import { AmqpError, amqpError } from "../errors.js";
import type { Message } from "../model/message.js";
import type { Queue } from "../model/queue.js";
import type { VHost } from "../model/vhost.js";
import { Channel, type ChannelHost } from "./channel.js";

export interface ProtocolSettings {
  /** Largest frame offered in connection.tune, header and frame-end included. */
  frameMax: number;
  channelMax: number;
  /** Heartbeat offered in connection.tune, seconds; 0 offers none. */
  heartbeat: number;
  maxMessageSize: number;
  /** Time allowed from accept to connection.open-ok, ms. */
  handshakeTimeout: number;
  productVersion: string;
}

/** What the broker counted since it started, whatever became of the connections and queues. */
export interface Totals {
  /** Messages accepted from publishers. */
  published: number;
  /** Messages handed to consumers and to basic.get. */
  delivered: number;
}

/** What a connection needs from the broker that accepted it. */
export interface ConnectionHost {
  readonly vhost: VHost;
  readonly settings: ProtocolSettings;
  /** Counted into as messages pass; never reset. */
  readonly totals: Totals;
  /** The user name, or an error text for a refused login. */
  authenticate(username: string, password: string, loopback: boolean): boolean;
  /** Why a new connection may not open (connection limit), or undefined. */
  refuseOpen(): string | undefined;
  readonly memoryBlocked: boolean;
  connectionClosed(connection: AmqpConnection): void;
}

type State = "header" | "start" | "tune" | "open-wait" | "open" | "closing" | "closed";

const CAPABILITIES: FieldTable = {
  publisher_confirms: true,
  exchange_exchange_bindings: true,
  "basic.nack": true,
  consumer_cancel_notify: true,
  "connection.blocked": true,
  consumer_priorities: false,
  authentication_failure_close: true,
  per_consumer_qos: true,
  direct_reply_to: false,
};

function text(v: unknown): string {
  return typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("utf8") : "";
}

export class AmqpConnection implements ChannelHost {
  readonly vhost: VHost;
  readonly maxMessageSize: number;
  user = "";
  consumerCancelNotify = false;
  private blockedNotify = false;
  private state: State = "header";
  private readonly reader: FrameReader;
  private readonly channels = new Map<number, Channel>();
  /** Channels we closed, waiting for channel.close-ok; their frames are ignored. */
  private readonly closingChannels = new Set<number>();
  private channelMax: number;
  private frameMax: number;
  private heartbeat = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private lastReceived = Date.now();
  private lastSent = Date.now();
  private out: Buffer[] = [];
  private outBytes = 0;
  private tickScheduled = false;
  private backpressure = false;
  private readonly dirty = new Set<Queue>();
  private hasPublished = false;
  private paused = false;

  constructor(
    readonly id: number,
    private readonly transport: Duplex,
    private readonly host: ConnectionHost,
    private readonly loopback: boolean,
  ) {
    this.vhost = host.vhost;
    this.maxMessageSize = host.settings.maxMessageSize;
    this.channelMax = host.settings.channelMax;
    this.frameMax = host.settings.frameMax;
    this.reader = new FrameReader({ frameMax: this.frameMax, protocolHeader: true });
    transport.on("data", (chunk: Buffer) => this.onData(chunk));
    transport.on("drain", () => {
      this.backpressure = false;
      this.redrainAll();
    });
    transport.on("error", () => this.teardown());
    transport.on("close", () => this.teardown());
    transport.on("end", () => this.teardown());
    this.deadline = setTimeout(() => this.destroy(), host.settings.handshakeTimeout);
    this.deadline.unref();
  }

  get writable(): boolean {
    return !this.backpressure && this.state === "open";
  }

  private isClosed(): boolean {
    return this.state === "closed";
  }

  get open(): boolean {
    return this.state === "open";
  }

  get channelCount(): number {
    return this.channels.size;
  }

  // ------------------------------------------------------------ input

  private onData(chunk: Buffer): void {
    if (this.state === "closed") return;
    this.lastReceived = Date.now();
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
      if (f.channel === 0 && f.type === FRAME_METHOD) {
        const m = decodeMethod(f.payload);
        if (m.name === "connection.close-ok" || m.name === "connection.close") {
          if (m.name === "connection.close") this.sendMethod(0, "connection.close-ok");
          this.flush();
          this.transport.end();
          this.teardown();
        }
      }
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
    if (this.closingChannels.has(f.channel)) {
      if (f.type === FRAME_METHOD) {
        const m = decodeMethod(f.payload);
        if (m.name === "channel.close-ok") this.closingChannels.delete(f.channel);
        else if (m.name === "channel.close") {
          this.closingChannels.delete(f.channel);
          this.sendMethod(f.channel, "channel.close-ok");
        }
      }
      return;
    }
    const ch = this.channels.get(f.channel);
    if (f.type === FRAME_METHOD) {
      const m = decodeMethod(f.payload);
      if (ch?.expectingContent) {
        throw amqpError(
          "UNEXPECTED_FRAME",
          "expected content header for class 60, got non content header frame instead",
        );
      }
      this.channelMethod(f.channel, ch, m);
      return;
    }
    if (!ch?.expectingContent) {
      throw amqpError("UNEXPECTED_FRAME", "expected method frame, got non method frame instead");
    }
    const publish = { classId: 60, methodId: 40 };
    try {
      if (f.type === FRAME_HEADER) {
        if (!ch.expectingHeader) {
          throw amqpError("UNEXPECTED_FRAME", "expected content body, got content header instead");
        }
        ch.contentHeader(f.payload);
      } else if (f.type === FRAME_BODY) {
        if (ch.expectingHeader) {
          throw amqpError(
            "UNEXPECTED_FRAME",
            "expected content header for class 60, got body instead",
          );
        }
        if (!ch.contentBody(f.payload)) {
          throw amqpError("UNEXPECTED_FRAME", "content body larger than the size in its header");
        }
      }
    } catch (err) {
      this.fail(err, ch, publish);
    }
  }

  private channelMethod(n: number, ch: Channel | undefined, m: DecodedMethod): void {
    if (!ch) {
      if (m.name !== "channel.open") {
        throw amqpError("CHANNEL_ERROR", `expected 'channel.open' on channel ${n}`);
      }
      if (n > this.channelMax) {
        throw amqpError(
          "NOT_ALLOWED",
          `channel ${n} is above the negotiated channel_max ${this.channelMax}`,
        );
      }
      this.channels.set(n, new Channel(n, this));
      this.sendMethod(n, "channel.open-ok", { channelId: Buffer.alloc(0) });
      return;
    }
    if (m.name === "channel.open") {
      throw amqpError("CHANNEL_ERROR", "second 'channel.open' seen");
    }
    if (m.name === "channel.close") {
      ch.close();
      this.channels.delete(n);
      this.sendMethod(n, "channel.close-ok");
      return;
    }
    if (m.name === "channel.close-ok") return;
    try {
      ch.handle(m);
    } catch (err) {
      this.fail(err, ch, m);
    }
  }

  // ------------------------------------------------------------ handshake

  private sendStart(): void {
    this.state = "start";
    this.sendMethod(0, "connection.start", {
      versionMajor: 0,
      versionMinor: 9,
      serverProperties: {
        product: "eventlab embedded broker",
        version: this.host.settings.productVersion,
        platform: `Node.js ${process.version}`,
        copyright: "eventlab contributors",
        information: "An in-memory AMQP 0-9-1 broker for learning, demos and tests",
        capabilities: CAPABILITIES,
      },
      mechanisms: Buffer.from("PLAIN AMQPLAIN"),
      locales: Buffer.from("en_US"),
    });
  }

  private connectionMethod(m: DecodedMethod): void {
    const a = m.args;
    const expect = (state: State, name: string) => {
      if (this.state !== state || m.name !== name) {
        throw amqpError("COMMAND_INVALID", `expected ${name}, got ${m.name}`);
      }
    };
    switch (this.state) {
      case "start": {
        expect("start", "connection.start-ok");
        const caps = (a.clientProperties as FieldTable | undefined)?.capabilities as
          | FieldTable
          | undefined;
        this.consumerCancelNotify = caps?.consumer_cancel_notify === true;
        this.blockedNotify = caps?.["connection.blocked"] === true;
        const mechanism = text(a.mechanism);
        const response = Buffer.isBuffer(a.response) ? a.response : Buffer.alloc(0);
        let user: string;
        let password: string;
        if (mechanism === "PLAIN") {
          const parts = response.toString("utf8").split("\u0000");
          user = parts[1] ?? "";
          password = parts[2] ?? "";
        } else if (mechanism === "AMQPLAIN") {
          const t = decodeTableBody(response);
          user = text(t.LOGIN);
          password = text(t.PASSWORD);
        } else {
          throw amqpError("COMMAND_INVALID", `unknown authentication mechanism '${mechanism}'`);
        }
        if (!this.host.authenticate(user, password, this.loopback)) {
          throw amqpError(
            "ACCESS_REFUSED",
            `Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`,
          );
        }
        this.user = user;
        this.state = "tune";
        const s = this.host.settings;
        this.sendMethod(0, "connection.tune", {
          channelMax: s.channelMax,
          frameMax: s.frameMax,
          heartbeat: s.heartbeat,
        });
        return;
      }
      case "tune": {
        expect("tune", "connection.tune-ok");
        const s = this.host.settings;
        const channelMax = Number(a.channelMax);
        const frameMax = Number(a.frameMax);
        if (channelMax > s.channelMax) {
          throw amqpError(
            "NOT_ALLOWED",
            `negotiated channel_max = ${channelMax} is higher than the maximum allowed value (${s.channelMax})`,
          );
        }
        if (frameMax !== 0 && (frameMax < FRAME_MIN_SIZE || frameMax > s.frameMax)) {
          throw amqpError(
            "NOT_ALLOWED",
            `frame_max=${frameMax} < ${FRAME_MIN_SIZE} min size or > ${s.frameMax} max size`,
          );
        }
        this.channelMax = channelMax === 0 ? s.channelMax : channelMax;
        this.frameMax = frameMax === 0 ? s.frameMax : frameMax;
        this.reader.frameMax = this.frameMax;
        this.heartbeat = Number(a.heartbeat);
        this.state = "open-wait";
        this.startHeartbeat();
        return;
      }
      case "open-wait": {
        expect("open-wait", "connection.open");
        const vhost = text(a.virtualHost);
        if (vhost !== "/") throw amqpError("NOT_ALLOWED", `vhost ${vhost} not found`);
        const refused = this.host.refuseOpen();
        if (refused) throw amqpError("NOT_ALLOWED", refused);
        this.state = "open";
        if (this.deadline) clearTimeout(this.deadline);
        this.deadline = undefined;
        this.sendMethod(0, "connection.open-ok", { knownHosts: "" });
        return;
      }
      case "open":
        if (m.name === "connection.close") {
          this.sendMethod(0, "connection.close-ok");
          this.flush();
          this.transport.end();
          this.teardown();
          return;
        }
        if (m.name === "connection.update-secret") {
          this.sendMethod(0, "connection.update-secret-ok");
          return;
        }
        if (m.name === "connection.blocked" || m.name === "connection.unblocked") return;
        throw amqpError("COMMAND_INVALID", `unexpected method ${m.name} on channel 0`);
      default:
        throw amqpError("COMMAND_INVALID", `unexpected method ${m.name}`);
    }
  }

  private startHeartbeat(): void {
    if (this.heartbeat <= 0) return;
    const period = (this.heartbeat * 1000) / 2;
    this.heartbeatTimer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastReceived > this.heartbeat * 2000) {
        // Missed heartbeats: RabbitMQ drops the socket without a close frame.
        this.destroy();
        return;
      }
      if (now - this.lastSent >= period) this.write(HEARTBEAT_FRAME);
    }, period);
    this.heartbeatTimer.unref();
  }

  // ------------------------------------------------------------ errors

  /** Turn an error into channel.close (soft) or connection.close (hard). */
  private fail(
    err: unknown,
    ch: Channel | undefined,
    cause?: { classId: number; methodId: number },
  ): void {
    let e: AmqpError;
    if (err instanceof AmqpError) e = err;
    else if (err instanceof CodecError) e = new AmqpError(err.replyCode, err.message);
    else e = amqpError("INTERNAL_ERROR", err instanceof Error ? err.message : String(err));
    const ids = { classId: cause?.classId ?? 0, methodId: cause?.methodId ?? 0 };
    if (!e.hard && ch && this.state === "open") {
      ch.close();
      this.channels.delete(ch.number);
      this.closingChannels.add(ch.number);
      this.sendMethod(ch.number, "channel.close", {
        replyCode: e.replyCode,
        replyText: e.replyText,
        ...ids,
      });
      return;
    }
    this.closeWith(e, ids);
  }

  private closeWith(e: AmqpError, ids: { classId: number; methodId: number }): void {
    if (this.state === "closing" || this.state === "closed") return;
    if (this.state === "header") {
      this.destroy();
      return;
    }
    this.closeChannels();
    this.state = "closing";
    this.sendMethod(0, "connection.close", {
      replyCode: e.replyCode,
      replyText: e.replyText,
      ...ids,
    });
    this.flush();
    // Wait briefly for close-ok, then drop the socket anyway.
    const t = setTimeout(() => this.destroy(), 1000);
    t.unref();
  }

  /** Close from the broker side: connection.close 320, with RabbitMQ's text for a shutdown. */
  forceClose(reason = "broker forced connection closure with reason 'shutdown'"): void {
    if (this.state === "open")
      this.closeWith(amqpError("CONNECTION_FORCED", reason), { classId: 0, methodId: 0 });
    else this.destroy();
  }

  private closeChannels(): void {
    for (const ch of this.channels.values()) ch.close();
    this.channels.clear();
  }

  destroy(): void {
    this.transport.destroy();
    this.teardown();
  }

  private teardown(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.deadline) clearTimeout(this.deadline);
    this.closeChannels();
    this.vhost.connectionClosed(this.id);
    this.drainDirty();
    this.host.connectionClosed(this);
  }

  // ------------------------------------------------------------ output

  sendMethod(channel: number, name: string, args: Record<string, ArgValue | undefined> = {}): void {
    const spec = methodByName(name);
    if (!spec) throw new Error(`unknown method ${name}`);
    this.push(encodeMethodFrame(channel, spec.classId, spec.methodId, args));
  }

  sendContent(
    channel: number,
    name: string,
    args: Record<string, ArgValue | undefined>,
    message: Message,
  ): void {
    this.sendMethod(channel, name, args);
    this.push(encodeFrame(FRAME_HEADER, channel, message.header));
    const body = message.body;
    const max = this.frameMax - FRAME_OVERHEAD;
    for (let at = 0; at < body.length; at += max) {
      this.push(encodeFrame(FRAME_BODY, channel, body.subarray(at, at + max)));
    }
  }

  private push(buf: Buffer): void {
    if (this.state === "closed") return;
    this.out.push(buf);
    this.outBytes += buf.length;
    this.schedule();
  }

  markDirty(queue: Queue): void {
    this.dirty.add(queue);
    this.schedule();
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
      for (const ch of this.channels.values()) ch.flushConfirms();
      this.drainDirty();
      if (this.host.memoryBlocked && this.hasPublished && !this.paused) this.setBlocked(true);
    } catch (err) {
      this.fail(err, undefined);
    }
    this.flush();
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
    this.schedule();
  }

  private flush(): void {
    if (this.out.length === 0) return;
    const data =
      this.out.length === 1 ? (this.out[0] as Buffer) : Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    this.write(data);
  }

  private write(data: Buffer): void {
    if (this.transport.destroyed) return;
    this.lastSent = Date.now();
    if (!this.transport.write(data)) this.backpressure = true;
  }

  /** The memory alarm: tell a publishing client and stop reading from it, or resume. */
  setBlocked(on: boolean): void {
    if (on === this.paused || this.state !== "open") return;
    if (on && !this.hasPublished) return;
    this.paused = on;
    if (this.blockedNotify) {
      if (on) this.sendMethod(0, "connection.blocked", { reason: "low on memory" });
      else this.sendMethod(0, "connection.unblocked");
    }
    if (on) this.transport.pause();
    else this.transport.resume();
  }
}

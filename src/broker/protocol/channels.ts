/**
 * The channels of one connection: channel.open and channel.close, the frames of channels
 * other than 0 routed to their channel (methods, and the content frames that complete a
 * basic.publish), and the channels the broker closed, whose frames are ignored until the
 * client's close-ok. Errors go to the connection, which turns them into close frames.
 */
import {
  type DecodedMethod,
  decodeMethod,
  FRAME_BODY,
  FRAME_HEADER,
  FRAME_METHOD,
  type Frame,
} from "../codec/index.js";
import { amqpError } from "../errors.js";
import { Channel, type ChannelHost } from "./channel.js";

/** The method a close frame blames: class and method ids, 0 and 0 for none. */
export interface Blame {
  readonly classId: number;
  readonly methodId: number;
}

export const NO_METHOD: Blame = { classId: 0, methodId: 0 };
const BASIC_PUBLISH: Blame = { classId: 60, methodId: 40 };

/** The connection's one way to report an error: it closes the channel or itself. */
export type Fail = (err: unknown, ch: Channel | undefined, blame?: Blame) => void;

export class Channels {
  private readonly open = new Map<number, Channel>();
  /** Channels the broker closed, waiting for channel.close-ok. */
  private readonly closing = new Set<number>();

  constructor(
    private readonly host: ChannelHost,
    private readonly fail: Fail,
    /** The highest channel number a client may open (negotiated in tune-ok). */
    public channelMax: number,
  ) {}

  /** Channels opened on this connection so far (the management API's channel churn). */
  opened = 0;

  get size(): number {
    return this.open.size;
  }

  values(): IterableIterator<Channel> {
    return this.open.values();
  }

  /** A frame on a channel other than 0, once the connection is open. */
  frame(f: Frame): void {
    if (this.closing.has(f.channel)) {
      this.whileClosing(f);
      return;
    }
    const ch = this.open.get(f.channel);
    if (f.type === FRAME_METHOD) this.method(f.channel, ch, decodeMethod(f.payload));
    else this.content(ch, f);
  }

  /** A soft error closed `ch`: forget it, and ignore its frames until close-ok. */
  closedByBroker(ch: Channel): void {
    ch.close();
    this.open.delete(ch.number);
    this.closing.add(ch.number);
  }

  /** The connection ends: every channel gives back what it holds. */
  closeAll(): void {
    for (const ch of this.open.values()) ch.close();
    this.open.clear();
  }

  /** We closed this channel: ignore everything on it until its close-ok (or close). */
  private whileClosing(f: Frame): void {
    if (f.type !== FRAME_METHOD) return;
    const m = decodeMethod(f.payload);
    if (m.name === "channel.close-ok") this.closing.delete(f.channel);
    else if (m.name === "channel.close") {
      this.closing.delete(f.channel);
      this.host.sendMethod(f.channel, "channel.close-ok");
    }
  }

  private method(n: number, ch: Channel | undefined, m: DecodedMethod): void {
    if (ch?.publisher.expectingContent) {
      throw amqpError(
        "UNEXPECTED_FRAME",
        "expected content header for class 60, got non content header frame instead",
      );
    }
    if (!ch) {
      this.openChannel(n, m);
      return;
    }
    if (m.name === "channel.open") {
      throw amqpError("CHANNEL_ERROR", "second 'channel.open' seen");
    }
    if (m.name === "channel.close") {
      ch.close();
      this.open.delete(n);
      this.host.sendMethod(n, "channel.close-ok");
      return;
    }
    if (m.name === "channel.close-ok") return;
    try {
      ch.handle(m);
    } catch (err) {
      this.fail(err, ch, m);
    }
  }

  /** The first method on a channel number not in use must be channel.open. */
  private openChannel(n: number, m: DecodedMethod): void {
    if (m.name !== "channel.open") {
      throw amqpError("CHANNEL_ERROR", `expected 'channel.open' on channel ${n}`);
    }
    if (n > this.channelMax) {
      throw amqpError(
        "NOT_ALLOWED",
        `channel ${n} is above the negotiated channel_max ${this.channelMax}`,
      );
    }
    this.open.set(n, new Channel(n, this.host));
    this.opened += 1;
    this.host.sendMethod(n, "channel.open-ok", { channelId: Buffer.alloc(0) });
  }

  /** A content header or body frame, which must complete a basic.publish. */
  private content(ch: Channel | undefined, f: Frame): void {
    if (!ch?.publisher.expectingContent) {
      throw amqpError("UNEXPECTED_FRAME", "expected method frame, got non method frame instead");
    }
    try {
      if (f.type === FRAME_HEADER) this.contentHeader(ch, f.payload);
      else if (f.type === FRAME_BODY) this.contentBody(ch, f.payload);
    } catch (err) {
      this.fail(err, ch, BASIC_PUBLISH);
    }
  }

  private contentHeader(ch: Channel, payload: Buffer): void {
    if (!ch.publisher.expectingHeader) {
      throw amqpError("UNEXPECTED_FRAME", "expected content body, got content header instead");
    }
    ch.publisher.contentHeader(payload);
  }

  private contentBody(ch: Channel, payload: Buffer): void {
    if (ch.publisher.expectingHeader) {
      throw amqpError("UNEXPECTED_FRAME", "expected content header for class 60, got body instead");
    }
    if (!ch.publisher.contentBody(payload)) {
      throw amqpError("UNEXPECTED_FRAME", "content body larger than the size in its header");
    }
  }
}

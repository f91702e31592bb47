/**
 * A connection's output: methods and content encoded into frames (bodies split to fit
 * frame-max), queued while one input chunk or one round of deliveries is handled, and
 * written to the stream in one write (or sooner, once FLUSH_AT bytes are queued, so that a
 * long round of deliveries meets the stream's backpressure instead of piling up here). A
 * write the stream cannot take whole sets `backpressure`, and tells the connection, until
 * the stream drains.
 */
import type { Duplex } from "node:stream";
import {
  type ArgsParam,
  type ContentMethodName,
  encodeFrame,
  encodeMethodFrame,
  FRAME_BODY,
  FRAME_HEADER,
  FRAME_OVERHEAD,
  HEARTBEAT_FRAME,
  type MethodName,
  type MethodParams,
  methodSpec,
} from "../codec/index.js";
import type { Message } from "../model/message.js";

/** Queued bytes that are written at once rather than at the end of the round. */
const FLUSH_AT = 256 * 1024;

export class Outbox {
  private frames: Buffer[] = [];
  private bytes = 0;
  /** Nothing more is queued (the connection is gone). */
  closed = false;
  /** The stream's buffer is full; deliveries wait for its drain event. */
  backpressure = false;
  /** When bytes last went out, for heartbeats. */
  lastSent = Date.now();

  constructor(
    private readonly transport: Duplex,
    /** Largest frame, header and frame-end included (negotiated in tune-ok). */
    public frameMax: number,
    /** Called whenever a frame is queued, to schedule the flush. */
    private readonly queued: () => void,
    /** Called when a write leaves the stream over its high-water mark. */
    private readonly full: () => void = () => {},
  ) {}

  /** Bytes queued here or buffered in the stream, not yet taken by the other side. */
  get pending(): number {
    return this.bytes + (this.transport.destroyed ? 0 : this.transport.writableLength);
  }

  method<K extends MethodName>(
    channel: number,
    name: K,
    ...[args]: ArgsParam<MethodParams[K]>
  ): void {
    const spec = methodSpec(name);
    this.push(encodeMethodFrame(channel, spec.classId, spec.methodId, args ?? {}));
  }

  /** A method with content: the method, the message's header as it arrived, its body. */
  content<K extends ContentMethodName>(
    channel: number,
    name: K,
    args: MethodParams[K],
    message: Message,
  ): void {
    const spec = methodSpec(name);
    this.push(encodeMethodFrame(channel, spec.classId, spec.methodId, args));
    this.push(encodeFrame(FRAME_HEADER, channel, message.header));
    const body = message.body;
    const max = this.frameMax - FRAME_OVERHEAD;
    for (let at = 0; at < body.length; at += max) {
      this.push(encodeFrame(FRAME_BODY, channel, body.subarray(at, at + max)));
    }
  }

  /** A heartbeat goes out at once, past anything queued. */
  heartbeat(): void {
    this.write(HEARTBEAT_FRAME);
  }

  /** Write everything queued, in one write. */
  flush(): void {
    if (this.frames.length === 0) return;
    const data =
      this.frames.length === 1
        ? (this.frames[0] as Buffer)
        : Buffer.concat(this.frames, this.bytes);
    this.frames = [];
    this.bytes = 0;
    this.write(data);
  }

  /** Bytes and socket writes sent so far (the management API's send_oct and send_cnt). */
  sentBytes = 0;
  sentWrites = 0;

  private push(buf: Buffer): void {
    if (this.closed) return;
    this.frames.push(buf);
    this.bytes += buf.length;
    if (this.bytes >= FLUSH_AT) this.flush();
    else this.queued();
  }

  private write(data: Buffer): void {
    if (this.transport.destroyed) return;
    this.lastSent = Date.now();
    this.sentBytes += data.length;
    this.sentWrites += 1;
    if (!this.transport.write(data) && !this.backpressure) {
      this.backpressure = true;
      this.full();
    }
  }
}

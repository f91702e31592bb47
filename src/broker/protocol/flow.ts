/**
 * When a connection reads its client, and when it gives up on a silent one. The broker stops
 * reading a client while the memory alarm blocks it, and while the client has not taken what
 * was written to it (as RabbitMQ's flow control does): what one input chunk makes the broker
 * write (returns, replies) is then all that can wait for a client that does not read. Like
 * RabbitMQ's heartbeat monitor, the missed-heartbeat check is paused while the broker is not
 * reading, since a client that is not read cannot be heard; its clock restarts with reading.
 */
import type { Duplex } from "node:stream";
import type { Outbox } from "./outbox.js";

export class ReadFlow {
  /** Blocked by the memory alarm (connection.blocked sent, if the client asked for it). */
  blockedByAlarm = false;
  private reading = true;
  private closed = false;
  private lastReceived = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly transport: Duplex,
    private readonly outbox: Outbox,
    /** Missed heartbeats: the connection is dropped. */
    private readonly silent: () => void,
  ) {}

  /** The broker is not reading: blocked by the alarm, or the client's output backed up. */
  get paused(): boolean {
    return !this.reading;
  }

  /** Bytes arrived from the client. */
  received(): void {
    this.lastReceived = Date.now();
  }

  setAlarm(on: boolean): void {
    this.blockedByAlarm = on;
    this.update();
  }

  /** Read while nothing holds reading back; called when the alarm or the output changes. */
  update(): void {
    const read = !this.blockedByAlarm && !this.outbox.backpressure;
    if (read === this.reading || this.closed) return;
    this.reading = read;
    if (read) {
      this.lastReceived = Date.now();
      this.transport.resume();
    } else {
      this.transport.pause();
    }
  }

  /** Heartbeats every half interval when there was no other output; drop after two silent. */
  startHeartbeat(seconds: number): void {
    if (seconds <= 0) return;
    const period = (seconds * 1000) / 2;
    this.timer = setInterval(() => {
      const now = Date.now();
      if (this.reading && now - this.lastReceived > seconds * 2000) {
        // Missed heartbeats: RabbitMQ drops the socket without a close frame.
        this.silent();
        return;
      }
      if (now - this.outbox.lastSent >= period) this.outbox.heartbeat();
    }, period);
    this.timer.unref();
  }

  stop(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
  }
}

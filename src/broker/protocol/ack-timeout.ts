/**
 * The delivery acknowledgement timeout of one channel (RabbitMQ's `consumer_timeout`): when
 * the channel's oldest unacknowledged delivery — to a consumer or by basic.get — has waited
 * longer than the timeout, the channel is closed with a 406 and everything it holds goes back
 * to its queues. Only the oldest delivery is looked at, and its queue's `x-consumer-timeout`
 * (RabbitMQ 3.12) replaces the broker's timeout for it, as in RabbitMQ.
 *
 * RabbitMQ checks on each channel's tick (`channel_tick_interval`, 60 s by default), so a
 * delivery there times out between T and T + 60 s after it was sent. Here one timer per channel
 * is set for the oldest delivery's deadline, so the channel closes just after T.
 */
import { amqpError } from "../errors.js";

/** A delivery waiting for its acknowledgement. */
export interface Pending {
  /** When it was sent, ms since the epoch. */
  readonly at: number;
}

export interface AckTimeoutHost<P extends Pending> {
  readonly channelNumber: number;
  /** The oldest delivery still waiting (not settled, not settled in an open transaction). */
  oldest(): P | undefined;
  /** The timeout that applies to this delivery, ms; false for none. */
  limitOf(p: P): number | false;
  /** Close the channel with this error. */
  expire(err: Error): void;
}

export class AckTimeout<P extends Pending> {
  private timer: NodeJS.Timeout | undefined;
  private due = Number.POSITIVE_INFINITY;

  constructor(private readonly host: AckTimeoutHost<P>) {}

  /**
   * Deliveries were sent, settled or came back (tx.rollback): make sure a timer is set for
   * the oldest one's deadline. A later deadline than the timer's is checked when it fires.
   */
  changed(): void {
    const head = this.host.oldest();
    if (head === undefined) {
      this.stop();
      return;
    }
    const due = this.deadline(head);
    if (due < this.due) this.arm(due);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.due = Number.POSITIVE_INFINITY;
  }

  private deadline(p: P): number {
    const limit = this.host.limitOf(p);
    // RabbitMQ: timed out when `delivered_at < now - timeout`, i.e. one ms after the limit.
    return limit === false ? Number.POSITIVE_INFINITY : p.at + limit + 1;
  }

  private arm(due: number): void {
    this.stop();
    this.due = due;
    this.timer = setTimeout(() => this.fire(), Math.max(0, due - Date.now()));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.due = Number.POSITIVE_INFINITY;
    const head = this.host.oldest();
    if (head === undefined) return;
    const limit = this.host.limitOf(head);
    if (limit === false) return;
    if (head.at < Date.now() - limit) {
      this.host.expire(
        amqpError(
          "PRECONDITION_FAILED",
          `delivery acknowledgement on channel ${this.host.channelNumber} timed out. Timeout value used: ${limit} ms. This timeout value can be configured, see consumers doc guide to learn more`,
        ),
      );
      return;
    }
    this.arm(this.deadline(head));
  }
}

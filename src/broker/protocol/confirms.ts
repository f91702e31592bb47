/**
 * Publisher confirms of one channel, in order. Acks gathered while one input chunk is
 * handled go out as one (multiple) ack. With durable storage, a confirm that covers a written
 * message waits until the journal has it on disk, and every confirm after it waits behind it,
 * since a multiple ack would otherwise confirm it early. If storage fails, the waiting
 * confirms become nacks: the broker could not keep those messages.
 */
import type { Journal } from "../model/journal.js";
import type { Channel } from "./channel.js";

interface Confirm {
  readonly tag: number;
  readonly multiple: boolean;
  readonly ack: boolean;
  /** How many messages it confirms (for the broker's confirmed total). */
  readonly count: number;
  /** The journal position that must be on disk first (0: none). */
  readonly mark: number;
}

export class Confirms {
  /** Acks gathered since the last flush: from ackFrom to ackTo, none when ackTo is 0. */
  private ackFrom = 0;
  private ackTo = 0;
  private mark = 0;
  private readonly waiting: Confirm[] = [];
  private releasing = false;

  constructor(
    private readonly channel: Channel,
    private readonly journal: Journal | undefined,
  ) {}

  /** Where the journal stands before a publish (for `ack`). */
  position(): number {
    return this.journal?.appended ?? 0;
  }

  /** A publish was accepted; `before` is `position()` from before it was routed. */
  ack(seq: number, before: number): void {
    if (this.ackTo === 0) this.ackFrom = seq;
    this.ackTo = seq;
    const after = this.position();
    if (after > before) this.mark = after;
  }

  /** A publish was refused (reject-publish overflow): a nack, after what came before. */
  nack(seq: number): void {
    this.flush();
    this.enqueue({ tag: seq, multiple: false, ack: false, count: 1, mark: 0 });
  }

  /** Send the confirms gathered while handling one input chunk, as one ack. */
  flush(): void {
    if (this.ackTo === 0) return;
    const c = {
      tag: this.ackTo,
      multiple: this.ackTo !== this.ackFrom,
      ack: true,
      // Gathered acks are consecutive: a nack flushes what came before it.
      count: this.ackTo - this.ackFrom + 1,
      mark: this.mark,
    };
    this.ackFrom = 0;
    this.ackTo = 0;
    this.mark = 0;
    this.enqueue(c);
  }

  private enqueue(c: Confirm): void {
    if (this.waiting.length === 0 && c.mark === 0) {
      this.send(c, undefined);
      return;
    }
    this.waiting.push(c);
    if (c.mark > 0) this.journal?.afterSync(c.mark, (err) => this.release(err));
  }

  /** Send the waiting confirms whose messages are on disk, in order. */
  private release(err?: Error): void {
    if (this.releasing) return;
    this.releasing = true;
    try {
      const synced = this.journal?.synced ?? 0;
      while (this.waiting.length > 0) {
        const c = this.waiting[0] as Confirm;
        if (!err && c.mark > synced) break;
        this.waiting.shift();
        this.send(c, err);
      }
    } finally {
      this.releasing = false;
    }
  }

  private send(c: Confirm, err: Error | undefined): void {
    // A channel closed meanwhile gets nothing (its number may belong to a new channel).
    if (!this.channel.isOpen) return;
    if (c.ack && !err) {
      this.channel.host.totals.confirmed += c.count;
      this.channel.send("basic.ack", { deliveryTag: c.tag, multiple: c.multiple });
    } else
      this.channel.send("basic.nack", { deliveryTag: c.tag, multiple: c.multiple, requeue: false });
  }
}

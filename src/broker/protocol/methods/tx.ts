/**
 * The tx class: a transactional channel holds its publishes and settlements until
 * tx.commit applies them (publishes first) or tx.rollback drops them.
 */
import { amqpError } from "../../errors.js";
import type { Channel } from "../channel.js";
import type { ClassHandlers } from "./types.js";

export const TX_METHODS: ClassHandlers<"tx"> = {
  "tx.select": (ch) => {
    if (ch.mode === "confirm") {
      throw amqpError("PRECONDITION_FAILED", "cannot switch from confirm to tx mode");
    }
    ch.mode = "tx";
    ch.send("tx.select-ok");
  },
  "tx.commit": (ch) => {
    needTx(ch);
    const journal = ch.host.vhost.journal;
    const before = journal?.appended ?? 0;
    ch.publisher.commit();
    ch.deliveries.commit();
    const mark = journal?.mark() ?? 0;
    if (!journal || mark === before) {
      ch.send("tx.commit-ok");
      return;
    }
    // As RabbitMQ: commit-ok once what the transaction stored is on disk. If storage fails,
    // the broker closes every connection, this one included.
    journal.afterSync(mark, (err) => {
      if (!err && ch.isOpen) ch.send("tx.commit-ok");
    });
  },
  "tx.rollback": (ch) => {
    needTx(ch);
    ch.publisher.rollback();
    ch.deliveries.rollback();
    ch.send("tx.rollback-ok");
  },
};

function needTx(ch: Channel): void {
  if (ch.mode !== "tx") throw amqpError("PRECONDITION_FAILED", "channel is not transactional");
}

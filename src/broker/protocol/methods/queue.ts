/**
 * queue.declare, bind, unbind, purge and delete. An empty queue name means the queue last
 * declared on the channel, as in RabbitMQ.
 */
import type { MethodParams } from "../../codec/index.js";
import { isReplyQueueName } from "../../model/reply-to.js";
import type { Channel } from "../channel.js";
import type { ClassHandlers } from "./types.js";

export const QUEUE_METHODS: ClassHandlers<"queue"> = {
  "queue.declare": (ch, a) => {
    const name = a.passive && a.queue === "" ? ch.queueName("") : a.queue;
    // Every declare of the direct reply-to pseudo-queue is passive, as in RabbitMQ.
    if (isReplyQueueName(name)) {
      const reply = ch.host.vhost.replies.declare(name);
      ch.declared(reply);
      ch.reply(a.nowait, "queue.declare-ok", { queue: reply, messageCount: 0, consumerCount: 1 });
      return;
    }
    const q = ch.host.vhost.declareQueue(ch.host.id, {
      name,
      passive: a.passive,
      durable: a.durable,
      exclusive: a.exclusive,
      autoDelete: a.autoDelete,
      args: a.arguments,
    });
    ch.declared(q.name);
    ch.reply(a.nowait, "queue.declare-ok", {
      queue: q.name,
      messageCount: q.messageCount,
      consumerCount: q.consumerCount,
    });
  },
  "queue.bind": (ch, a) => {
    ch.host.vhost.bind(ch.host.id, queueBinding(ch, a), false);
    ch.reply(a.nowait, "queue.bind-ok");
  },
  "queue.unbind": (ch, a) => {
    ch.host.vhost.bind(ch.host.id, queueBinding(ch, a), true);
    // queue.unbind has no nowait
    ch.send("queue.unbind-ok");
  },
  "queue.purge": (ch, a) => {
    const n = ch.host.vhost.purgeQueue(ch.host.id, ch.queueName(a.queue));
    ch.reply(a.nowait, "queue.purge-ok", { messageCount: n });
  },
  "queue.delete": (ch, a) => {
    const name = ch.queueName(a.queue);
    const n = ch.host.vhost.deleteQueue(ch.host.id, name, a.ifUnused, a.ifEmpty);
    ch.reply(a.nowait, "queue.delete-ok", { messageCount: n });
  },
};

function queueBinding(ch: Channel, a: MethodParams["queue.bind" | "queue.unbind"]) {
  return {
    source: a.exchange,
    destination: ch.queueName(a.queue),
    destinationType: "queue" as const,
    routingKey: a.routingKey,
    args: a.arguments,
  };
}

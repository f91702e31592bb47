/**
 * The basic class: prefetch, consumers, basic.get, publishing and settlement. The work is
 * the channel's deliveries (consuming side) and publisher (publishing side).
 */
import { amqpError } from "../../errors.js";
import { REPLY_QUEUE } from "../../model/reply-to.js";
import { notSupported } from "../../model/stream.js";
import { crash } from "../../model/stream-args.js";
import type { Channel } from "../channel.js";
import type { Settlement } from "../deliveries.js";
import type { ClassHandlers } from "./types.js";

export const BASIC_METHODS: ClassHandlers<"basic"> = {
  "basic.qos": (ch, a) => {
    if (a.prefetchSize !== 0) {
      throw amqpError("NOT_IMPLEMENTED", `prefetch_size!=0 (${a.prefetchSize})`);
    }
    ch.deliveries.qos(a.prefetchCount, a.global);
    ch.send("basic.qos-ok");
    ch.deliveries.redrain();
  },
  "basic.consume": (ch, a) => {
    const name = ch.queueName(a.queue);
    const options = { noAck: a.noAck, exclusive: a.exclusive, nowait: a.nowait, args: a.arguments };
    if (name === REPLY_QUEUE) return ch.deliveries.consumeReplies(a.consumerTag, options);
    const stream = ch.host.vhost.streams.get(name);
    if (stream) return ch.deliveries.consumeStream(stream, a.consumerTag, options);
    const q = ch.host.vhost.queue(name, ch.host.id);
    ch.deliveries.consume(q, a.consumerTag, options);
  },
  "basic.cancel": (ch, a) => {
    ch.deliveries.cancel(a.consumerTag);
    ch.reply(a.nowait, "basic.cancel-ok", { consumerTag: a.consumerTag });
  },
  "basic.publish": (ch, a) => {
    ch.publisher.start(a);
  },
  "basic.get": (ch, a) => {
    const name = ch.queueName(a.queue);
    const stream = ch.host.vhost.streams.get(name);
    if (stream) throw notSupported("basic.get", stream);
    const q = ch.host.vhost.queue(name, ch.host.id);
    ch.deliveries.get(q, a.noAck);
  },
  "basic.ack": (ch, a) => {
    ch.deliveries.settle(Number(a.deliveryTag), a.multiple, "ack");
  },
  "basic.nack": (ch, a) => {
    ch.deliveries.settle(Number(a.deliveryTag), a.multiple, requeueOrReject(a.requeue), "nacked");
  },
  "basic.reject": (ch, a) => {
    ch.deliveries.settle(Number(a.deliveryTag), false, requeueOrReject(a.requeue), "rejected");
  },
  "basic.recover-async": (ch, a) => {
    recover(ch, a.requeue);
  },
  "basic.recover": (ch, a) => {
    recover(ch, a.requeue);
    ch.send("basic.recover-ok");
  },
};

const requeueOrReject = (requeue: boolean): Settlement => (requeue ? "requeue" : "reject");

/** Redeliver everything unacknowledged; RabbitMQ, too, cannot drop it instead. */
function recover(ch: Channel, requeue: boolean): void {
  if (!requeue) throw amqpError("NOT_IMPLEMENTED", "requeue=false");
  // RabbitMQ 3.10's channel crashes asking a stream to requeue.
  if (ch.deliveries.holdsStreamDeliveries) throw crash("basic.recover with stream deliveries");
  ch.deliveries.requeueAll();
}

/** exchange.declare, delete, bind and unbind: the vhost does the work and the checks. */
import type { MethodParams } from "../../codec/index.js";
import type { ClassHandlers } from "./types.js";

export const EXCHANGE_METHODS: ClassHandlers<"exchange"> = {
  "exchange.declare": (ch, a) => {
    ch.host.vhost.declareExchange({
      name: a.exchange,
      type: a.type,
      passive: a.passive,
      durable: a.durable,
      autoDelete: a.autoDelete,
      internal: a.internal,
      args: a.arguments,
    });
    ch.reply(a.nowait, "exchange.declare-ok");
  },
  "exchange.delete": (ch, a) => {
    ch.host.vhost.deleteExchange(a.exchange, a.ifUnused);
    ch.reply(a.nowait, "exchange.delete-ok");
  },
  "exchange.bind": (ch, a) => {
    ch.host.vhost.bind(ch.host.id, exchangeBinding(a), false);
    ch.reply(a.nowait, "exchange.bind-ok");
  },
  "exchange.unbind": (ch, a) => {
    ch.host.vhost.bind(ch.host.id, exchangeBinding(a), true);
    ch.reply(a.nowait, "exchange.unbind-ok");
  },
};

/** exchange.bind and exchange.unbind carry the same arguments. */
function exchangeBinding(a: MethodParams["exchange.bind" | "exchange.unbind"]) {
  return {
    source: a.source,
    destination: a.destination,
    destinationType: "exchange" as const,
    routingKey: a.routingKey,
    args: a.arguments,
  };
}

/**
 * A channel method handler: what the broker does for one method a client sends on a channel,
 * with the method's arguments exactly typed (MethodParams). One module per method class
 * holds its handlers; index.ts gathers them into the table the channel dispatches on.
 */
import type { MethodName, MethodParams } from "../../codec/index.js";
import type { Channel } from "../channel.js";

export type Handler<K extends MethodName> = (ch: Channel, args: MethodParams[K]) => void;

/** The handlers of one method class ("basic", "queue", …); methods left out are refused. */
export type ClassHandlers<C extends string> = {
  readonly [K in MethodName as K extends `${C}.${string}` ? K : never]?: Handler<K>;
};

/** Every handler, by method name. */
export type HandlerTable = { readonly [K in MethodName]?: Handler<K> };

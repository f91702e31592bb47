/** The channel's method table: every method class's handlers, gathered. */
import { BASIC_METHODS } from "./basic.js";
import { CHANNEL_CLASS_METHODS } from "./channel.js";
import { CONFIRM_METHODS } from "./confirm.js";
import { EXCHANGE_METHODS } from "./exchange.js";
import { QUEUE_METHODS } from "./queue.js";
import { TX_METHODS } from "./tx.js";
import type { HandlerTable } from "./types.js";

export type { Handler } from "./types.js";

export const CHANNEL_METHODS: HandlerTable = {
  ...CHANNEL_CLASS_METHODS,
  ...EXCHANGE_METHODS,
  ...QUEUE_METHODS,
  ...BASIC_METHODS,
  ...CONFIRM_METHODS,
  ...TX_METHODS,
};

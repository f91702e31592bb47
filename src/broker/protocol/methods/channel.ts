/**
 * The channel class's methods a channel handles itself (channel.open and channel.close are
 * the connection's), and access.request, which 0-9-1 keeps only for old clients.
 */
import type { ClassHandlers } from "./types.js";

export const CHANNEL_CLASS_METHODS: ClassHandlers<"channel" | "access"> = {
  "channel.flow": (ch, a) => {
    ch.setFlow(a.active);
    ch.send("channel.flow-ok", { active: a.active });
    if (a.active) ch.deliveries.redrain();
  },
  "channel.flow-ok": () => {},
  "access.request": (ch) => {
    ch.send("access.request-ok", { ticket: 1 });
  },
};

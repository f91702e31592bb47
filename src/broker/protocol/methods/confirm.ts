/** confirm.select: publisher confirms for the rest of the channel's life. */
import { amqpError } from "../../errors.js";
import type { ClassHandlers } from "./types.js";

export const CONFIRM_METHODS: ClassHandlers<"confirm"> = {
  "confirm.select": (ch, a) => {
    if (ch.mode === "tx") {
      throw amqpError("PRECONDITION_FAILED", "cannot switch from tx to confirm mode");
    }
    ch.mode = "confirm";
    ch.reply(a.nowait, "confirm.select-ok");
  },
};

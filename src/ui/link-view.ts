/**
 * How a lost connection and its reconnect read on stderr: a line when it is lost, a dim line
 * per retry, a line when it is back (or when eventlab gives up).
 */
import type { LinkEvent } from "../client/reconnect.js";
import { elapsed, plural } from "./format.js";
import type { Theme } from "./theme.js";

export function linkEventLine(event: LinkEvent, theme: Theme): string {
  switch (event.kind) {
    case "lost":
      return theme.warn(`! lost the connection to ${event.url} (${event.reason})`);
    case "retry":
      return theme.dim(
        `  reconnect try ${event.attempt} in ${elapsed(event.delayMs)} (last: ${event.error})`,
      );
    case "reconnected": {
      const r = event.reconnect;
      return `${theme.ok("✓")} reconnected to ${r.to} after ${elapsed(r.downMs)}${r.attempts > 1 ? ` (${plural(r.attempts, "try", "tries")})` : ""}`;
    }
    case "gave-up":
      return theme.error(
        `✗ gave up reconnecting after ${plural(event.attempts, "try", "tries")} in ${elapsed(event.downMs)}`,
      );
  }
}

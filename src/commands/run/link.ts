/**
 * A command's connection that comes back after a loss, with each loss, retry and reconnect
 * shown on stderr as it happens.
 */
import type { Link, LinkEvent, ReconnectPolicy } from "../../client/reconnect.js";
import type { Context } from "../../context.js";
import { linkEventLine } from "../../ui/link-view.js";
import type { ReconnectChoice } from "../options.js";

export async function openLink(
  ctx: Context,
  connectionName: string,
  choice: ReconnectChoice,
  also?: (event: LinkEvent) => void,
): Promise<Link> {
  const link = await ctx.link({
    connectionName,
    reconnect: reconnectPolicy(choice),
    onEvent: (event) => {
      ctx.io.err(linkEventLine(event, ctx.theme));
      also?.(event);
    },
  });
  // With several nodes, say which one answered: the one a failover will leave.
  if (link.urls.length > 1) {
    ctx.io.err(
      ctx.theme.dim(
        `connected to ${link.connection.address.display} (of ${link.urls.length} URLs)`,
      ),
    );
  }
  return link;
}

/** The reconnect flags as a policy: what they leave out comes from the config or the defaults. */
export function reconnectPolicy(choice: ReconnectChoice): Partial<ReconnectPolicy> {
  return {
    ...(choice.attempts !== undefined ? { attempts: choice.attempts } : {}),
    ...(choice.timeoutMs !== undefined ? { timeoutMs: choice.timeoutMs } : {}),
  };
}

/**
 * Whether a queue or exchange exists on a broker: a passive declare answers 404 when it does
 * not (and closes its channel, which is its own).
 */
import type { ChannelModel } from "amqplib";

export async function exists(
  conn: ChannelModel,
  kind: "queue" | "exchange",
  name: string,
): Promise<boolean> {
  const ch = await conn.createChannel();
  ch.on("error", () => {});
  try {
    if (kind === "queue") await ch.checkQueue(name);
    else await ch.checkExchange(name);
    await ch.close();
    return true;
  } catch {
    return false;
  }
}

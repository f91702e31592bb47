/** Queues filled and measured over a plain amqplib connection, for tests of the consumers. */
import type { ChannelModel } from "amqplib";
import { uniqueName } from "./cli.js";

/** A new non-durable queue holding `bodies`, in order, all confirmed. */
export async function queueWith(
  conn: ChannelModel,
  prefix: string,
  bodies: Iterable<string>,
): Promise<string> {
  const q = uniqueName(prefix);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(q, { durable: false });
  for (const body of bodies) ch.sendToQueue(q, Buffer.from(body));
  await ch.waitForConfirms();
  await ch.close();
  return q;
}

/** How many messages `q` holds that are ready for delivery. */
export async function depth(conn: ChannelModel, q: string): Promise<number> {
  const ch = await conn.createChannel();
  const { messageCount } = await ch.checkQueue(q);
  await ch.close();
  return messageCount;
}

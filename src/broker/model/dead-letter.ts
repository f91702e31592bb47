/**
 * Dead-lettering, as RabbitMQ 3.10 does it: each message that leaves a queue with a dead-letter
 * exchange (rejected, expired, dropped by a length limit, past its delivery limit) is routed
 * from that exchange with its x-death, except back into a queue it already died in (unless a
 * rejection is in the loop), and never into a stream.
 */
import { type DeathReason, deadLettered, isDeathCycle } from "./message.js";
import type { Queue, QueuedMessage } from "./queue.js";
import type { VHost } from "./vhost.js";

export function deadLetter(
  v: VHost,
  q: Queue,
  entries: readonly QueuedMessage[],
  reason: DeathReason,
  now: number,
): void {
  const dlx = q.settings.deadLetterExchange;
  if (dlx === undefined || !v.exchanges.has(dlx)) return;
  const events = v.events;
  for (const e of entries) {
    const key = q.settings.deadLetterRoutingKey ?? e.message.routingKey;
    const m = deadLettered(e.message, q.name, reason, dlx, key, now);
    // Not to a stream: RabbitMQ 3.10 dead-letters without a stream client, and a stream
    // drops what comes that way (rabbit_stream_queue:deliver, "stateless").
    const targets = v
      .route(dlx, m)
      .queues.filter(
        (name) => v.queues.has(name) && (reason === "rejected" || !isDeathCycle(m, name)),
      );
    if (events) events.deadLettered(q.name, e.message, reason, dlx, key, targets);
    for (const name of targets) v.queues.get(name)?.enqueue(m);
  }
}

/**
 * Messages already waiting in the queues a run will consume: left by an earlier run that was
 * interrupted, or by another producer. A run tags each message it publishes with its own id,
 * which tells its messages from older ones; before anything starts, a passive declare counts
 * what each queue holds, and the run refuses, purges, or keeps them (consumed, and counted
 * apart as `preexisting`, never as this run's).
 */
import { type Connection, withChannel } from "../client/connect.js";
import { brokerError, replyOf } from "../client/errors.js";
import { EventlabError } from "../errors.js";

/** The header that carries `<run id>:<message>` on every message a run publishes. */
export const ID_HEADER = "x-eventlab-id";

/**
 * What a run does with messages that were in its queues before it:
 * - "refuse": an error that names each queue and how many it holds (the default of `play`);
 * - "purge": delete them first, and say how many;
 * - "keep": consume them too, counted apart as `preexisting`;
 * - "process": no check; every message is the run's work (consume with behaviours, which has
 *   no producers of its own).
 */
export type LeftoverPolicy = "refuse" | "purge" | "keep" | "process";

/** A short id, unique to one run, that prefixes the id of each message it publishes. */
export function newRunId(): string {
  return Math.random().toString(36).slice(2, 8).padEnd(6, "0");
}

/** Whether a message's headers say that run `runId` published it. */
export function publishedBy(runId: string, headers: Record<string, unknown> | undefined): boolean {
  const id = headers?.[ID_HEADER];
  return typeof id === "string" && id.startsWith(`${runId}:`);
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;

/** Ready messages in each queue that holds any (a passive declare); missing queues hold none. */
export async function waitingIn(
  connection: Connection,
  queues: Iterable<string>,
): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const queue of new Set(queues)) {
    try {
      const n = (await withChannel(connection, (ch) => ch.checkQueue(queue))).messageCount;
      if (n > 0) found.set(queue, n);
    } catch (err) {
      if (replyOf(err)?.code !== 404) {
        throw brokerError(
          err,
          { op: "declare", kind: "queue", name: queue, passive: true },
          connection,
        );
      }
    }
  }
  return found;
}

/**
 * Look for messages from before the run in `queues` (the queues it consumes, and the retry
 * queues that feed them) and apply the policy: throw with "refuse", purge with "purge", and
 * only report them with "keep". `onEvent` tells what was done, for the run's event log.
 * Returns the messages purged, per queue.
 */
export async function handleLeftovers(
  connection: Connection,
  queues: Iterable<string>,
  policy: LeftoverPolicy,
  onEvent: (text: string) => void = () => {},
): Promise<Record<string, number>> {
  const purged: Record<string, number> = {};
  if (policy === "process") return purged;
  const found = await waitingIn(connection, queues);
  if (found.size === 0) return purged;
  const held = [...found].map(([q, n]) => `${q} holds ${plural(n, "message")}`);
  if (policy === "refuse") {
    throw new EventlabError("precondition", `${held.join(", ")} from before this run`, {
      hint: "run again with --purge to delete them first, or with --keep to consume them too and count them apart as preexisting",
    });
  }
  if (policy === "purge") {
    for (const queue of found.keys()) {
      try {
        purged[queue] = (await withChannel(connection, (ch) => ch.purgeQueue(queue))).messageCount;
      } catch (err) {
        throw brokerError(err, { op: "purge", queue }, connection);
      }
      onEvent(`${queue}: purged ${plural(purged[queue] ?? 0, "message")} from before this run`);
    }
  } else {
    for (const h of held) onEvent(`${h} from before this run: kept, counted as preexisting`);
  }
  return purged;
}

/**
 * What a consumer's decision about one delivery does, apart from the consumer that made it:
 * the event the decision is reported as (`consume` prints it), how it is carried out on the
 * broker (ack, nack, reject, or a republish to a retry or dead-letter queue first), and how
 * the ledger counts the copy once it is settled for good.
 */
import type { ConsumeMessage } from "amqplib";
import type { QueueConsumer } from "../client/consumer.js";
import type { Decision } from "./behaviour.js";
import { deathsOf } from "./deaths.js";
import { SENT_HEADER } from "./producers.js";
import type { RunState } from "./state.js";
import type { DecisionEvent } from "./types.js";

/** The decision as the event `onDecision` is told. */
export function decisionEvent(
  consumer: string,
  instance: number,
  msg: ConsumeMessage,
  d: Decision,
): DecisionEvent {
  const o = d.outcome;
  const moved = o.kind === "retry" || o.kind === "dead-letter";
  return {
    consumer,
    instance,
    routingKey: msg.fields.routingKey,
    messageId:
      msg.properties.messageId === undefined ? undefined : String(msg.properties.messageId),
    redelivered: msg.fields.redelivered,
    outcome: o.kind,
    workMs: d.workMs,
    attempt: moved ? o.attempt : undefined,
    to: moved ? o.queue : undefined,
    outOfOrder: d.outOfOrder,
    gap: d.gap,
    xDeath: deathsOf(msg.properties.headers as Record<string, unknown> | undefined),
    latencyMs: latencyOf(msg),
  };
}

/** Ms since the producer published this message (its sent header), when it says. */
function latencyOf(msg: ConsumeMessage): number | undefined {
  const sent = Number(msg.properties.headers?.[SENT_HEADER]);
  return Number.isFinite(sent) && sent > 0 ? Date.now() - sent : undefined;
}

/**
 * Carry the decision out on the broker. True when the message is settled for good here;
 * false when it comes back (requeued, or on its way through a retry queue) or the channel
 * went away (a fault: the broker gives the message to someone else). `republish` sends a copy
 * to a retry or dead-letter queue, with confirms, before the original is acked.
 */
export async function settleOnBroker(
  msg: ConsumeMessage,
  via: QueueConsumer,
  d: Decision,
  republish: (msg: ConsumeMessage, queue: string) => Promise<void>,
): Promise<boolean> {
  const ch = via.channel;
  const o = d.outcome;
  if (!via.alive) return false;
  try {
    switch (o.kind) {
      case "requeue":
        ch.nack(msg, false, true);
        return false;
      case "reject":
        ch.reject(msg, false);
        return true;
      case "retry":
      case "dead-letter":
        await republish(msg, o.queue);
        ch.ack(msg);
        return o.kind === "dead-letter";
      default:
        ch.ack(msg);
        return true;
    }
  } catch {
    return false;
  }
}

/** This run's copy in `queue`, settled for good: how the ledger counts it. */
export function settleInLedger(
  run: RunState,
  queue: string,
  id: string,
  msg: ConsumeMessage,
  d: Decision,
): void {
  const ledger = run.ledger;
  const counters = ledger.queue(queue);
  switch (d.outcome.kind) {
    case "ack":
      if (ledger.settle(queue, id, "processed")) {
        const sent = Number(msg.properties.headers?.[SENT_HEADER]);
        if (Number.isFinite(sent)) ledger.latencies.push(Date.now() - sent);
      }
      break;
    case "duplicate":
      counters.duplicates += 1;
      ledger.settle(queue, id, "duplicate");
      break;
    case "reject":
      run.rejected(queue, id, msg.fields.routingKey, msg.properties.headers);
      break;
    case "dead-letter":
      counters.deadLettered += 1;
      ledger.settle(queue, id, "dead-lettered");
      break;
  }
}

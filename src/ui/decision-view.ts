/**
 * One line per message a consumer with behaviours handled: what it decided and did.
 */
import type { DecisionEvent } from "../lab/runner.js";
import type { Theme } from "./theme.js";

export interface DecisionRecord {
  n: number;
  consumer: string;
  instance: number;
  routingKey: string;
  messageId?: string | undefined;
  redelivered: boolean;
  outcome: string;
  workMs: number;
  attempt?: number | undefined;
  to?: string | undefined;
  outOfOrder: boolean;
  gap: number;
  /** The broker's x-death entries of the message: where it died before, why, how often. */
  xDeath?: Array<{ queue: string; reason: string; count: number }> | undefined;
}

function deaths(headers: Record<string, unknown> | undefined): DecisionRecord["xDeath"] {
  const raw = headers?.["x-death"];
  if (!Array.isArray(raw) || raw.length === 0) return undefined;
  return raw.map((d) => {
    const t = (d ?? {}) as Record<string, unknown>;
    return {
      queue: String(t.queue ?? ""),
      reason: String(t.reason ?? ""),
      count: Number(t.count ?? 0),
    };
  });
}

export function decisionRecord(n: number, e: DecisionEvent): DecisionRecord {
  return {
    n,
    consumer: e.consumer,
    instance: e.instance,
    routingKey: e.message.fields.routingKey,
    messageId: e.message.properties.messageId as string | undefined,
    redelivered: e.message.fields.redelivered,
    outcome: e.outcome,
    workMs: e.workMs,
    attempt: e.attempt,
    to: e.to,
    outOfOrder: e.outOfOrder,
    gap: e.gap,
    xDeath: deaths(e.message.properties.headers as Record<string, unknown> | undefined),
  };
}

export function decisionLine(r: DecisionRecord, theme: Theme): string {
  const s = theme.symbols;
  const what = (() => {
    switch (r.outcome) {
      case "ack":
        return `${theme.ok(s.ok)} processed in ${r.workMs} ms`;
      case "duplicate":
        return `${theme.warn("=")} duplicate: acknowledged, not processed again`;
      case "requeue":
        return `${theme.error(s.fail)} failed → requeued`;
      case "reject":
        return `${theme.error(s.fail)} failed → rejected (to the dead-letter exchange, if any)`;
      case "retry":
        return `${theme.error(s.fail)} failed (attempt ${r.attempt}) → retry through ${r.to}`;
      case "dead-letter":
        return `${theme.error(s.fail)} failed (attempt ${r.attempt}) → dead-lettered to ${r.to}`;
      case "crash":
        return `${theme.error("!")} crashed: connection dropped without acking; unacked messages go back`;
      default:
        return r.outcome;
    }
  })();
  const flags = [
    r.redelivered ? "redelivered" : "",
    r.outOfOrder ? theme.warn("out of order") : "",
    r.gap > 0 ? theme.warn(`${r.gap} missing before it`) : "",
    r.xDeath
      ? `x-death ${r.xDeath.map((d) => `${d.queue} ${d.reason}×${d.count}`).join(", ")}`
      : "",
  ].filter(Boolean);
  const who = r.instance > 1 || r.consumer.includes("#") ? ` ${theme.dim(`#${r.instance}`)}` : "";
  return `${theme.dim(String(r.n).padStart(4))} ${r.routingKey}${who} ${what}${flags.length ? ` ${theme.dim("·")} ${flags.join(", ")}` : ""}`;
}

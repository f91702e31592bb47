/**
 * One line per message a consumer with behaviours handled: what it decided and did. The
 * decisions arrive as plain data (the x-death header already read by the playground).
 */
import type { DecisionEvent } from "../lab/types.js";
import type { Theme } from "./theme.js";

/** A decision as printed: its number in the run, then the decision itself. */
export type DecisionRecord = { n: number } & DecisionEvent;

/** The `n`-th decision, as printed (one JSON object per line with --json). */
export function decisionRecord(n: number, e: DecisionEvent): DecisionRecord {
  return { n, ...e };
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

/**
 * A scenario's faults as the runner sees them: one plain union, from the config's written
 * form (config/fault-schema.ts) and back to it (for a scenario file that `--explore` writes),
 * and the one line that names a fault in the event log, the report and the timeline.
 */
import type { FaultConfig } from "../config/fault-schema.js";
import { elapsed } from "../ui/format.js";

interface Timed {
  /** When, in milliseconds from the start of producing. */
  at: number;
  /** How long it lasts, when it lasts. */
  for?: number | undefined;
}

export type ConsumerFault = Timed & {
  kind: "consumer";
  consumer: string;
  action: "kill" | "pause" | "cut" | "ack-timeout";
};
export type ProducerFault = Timed & {
  kind: "producer";
  producer: string;
  action: "crash" | "pause";
};
export type BrokerFault = Timed & { kind: "broker"; action: "restart" | "block" | "unblock" };
export type NetworkFault = Timed & {
  kind: "network";
  action: "cut" | "blackhole" | "latency" | "bandwidth" | "reset";
  /** A producer (template) or consumer name, or "all". */
  target: string;
  delayMs?: number | undefined;
  jitterMs?: number | undefined;
  bytesPerSecond?: number | undefined;
};
export type NodeFault = Timed & { kind: "node"; action: "stop" | "start"; node: number };

export type Fault = ConsumerFault | ProducerFault | BrokerFault | NetworkFault | NodeFault;

/** Faults that last `for` (and end by themselves); the others happen once. */
export function lasts(f: Fault): boolean {
  switch (f.kind) {
    case "consumer":
      return f.action === "pause" || f.action === "ack-timeout";
    case "producer":
      return f.action === "pause" || f.action === "crash";
    case "broker":
      return f.action !== "unblock";
    case "network":
      return f.action === "blackhole" || f.action === "latency" || f.action === "bandwidth";
    case "node":
      return f.action === "stop";
  }
}

/** The config's fault (validated by the schema) as the runner's; `at` defaults to 0. */
export function faultOf(c: Partial<FaultConfig>): Fault {
  const timed: Timed = { at: c.at ?? 0, ...(c.for !== undefined ? { for: c.for } : {}) };
  if (c.consumer !== undefined) {
    return {
      ...timed,
      kind: "consumer",
      consumer: c.consumer,
      action: c.action as ConsumerFault["action"],
    };
  }
  if (c.producer !== undefined) {
    return {
      ...timed,
      kind: "producer",
      producer: c.producer,
      action: c.action as ProducerFault["action"],
    };
  }
  if (c.broker !== undefined)
    return { ...timed, kind: "broker", action: c.broker as BrokerFault["action"] };
  if (c.network !== undefined) {
    return {
      ...timed,
      kind: "network",
      action: c.network as NetworkFault["action"],
      target: c.target ?? "all",
      ...(c.delay !== undefined ? { delayMs: c.delay } : {}),
      ...(c.jitter !== undefined ? { jitterMs: c.jitter } : {}),
      ...(c.rate !== undefined ? { bytesPerSecond: c.rate } : {}),
    };
  }
  return { ...timed, kind: "node", action: c.node as NodeFault["action"], node: c.n ?? 1 };
}

const ms = (n: number) => (n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`);

/** The fault in the config's written form, durations as text: what a scenario file holds. */
export function configOf(f: Fault): Record<string, unknown> {
  const out: Record<string, unknown> = { at: ms(f.at) };
  switch (f.kind) {
    case "consumer":
      Object.assign(out, { consumer: f.consumer, action: f.action });
      break;
    case "producer":
      Object.assign(out, { producer: f.producer, action: f.action });
      break;
    case "broker":
      Object.assign(out, { broker: f.action });
      break;
    case "network":
      Object.assign(out, {
        network: f.action,
        ...(f.target !== "all" ? { target: f.target } : {}),
        ...(f.delayMs !== undefined ? { delay: ms(f.delayMs) } : {}),
        ...(f.jitterMs !== undefined ? { jitter: ms(f.jitterMs) } : {}),
        ...(f.bytesPerSecond !== undefined ? { rate: f.bytesPerSecond } : {}),
      });
      break;
    case "node":
      Object.assign(out, { node: f.action, n: f.node });
      break;
  }
  return f.for !== undefined ? { ...out, for: ms(f.for) } : out;
}

/** One line: `network latency 200ms±50ms on billing for 3s`. */
export function describeFault(f: Fault): string {
  const span = f.for !== undefined && lasts(f) ? ` for ${elapsed(f.for)}` : "";
  switch (f.kind) {
    case "consumer":
      return `${f.action} ${f.consumer}${span}`;
    case "producer":
      return `${f.action} producer ${f.producer}${span}`;
    case "broker":
      return `broker ${f.action}${span}`;
    case "network": {
      const shape =
        f.action === "latency"
          ? ` ${elapsed(f.delayMs ?? 0)}${f.jitterMs ? `±${elapsed(f.jitterMs)}` : ""}`
          : f.action === "bandwidth"
            ? ` ${f.bytesPerSecond} B/s`
            : "";
      return `network ${f.action}${shape} on ${f.target === "all" ? "every connection" : f.target}${span}`;
    }
    case "node":
      return `${f.action} node ${f.node}${span}`;
  }
}

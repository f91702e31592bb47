/**
 * A scenario's timed faults (`scenarios.<name>.faults`) and the space `--explore` draws fault
 * schedules from (`scenarios.<name>.explore`). One entry names one fault family by its key:
 *
 *   {at: 2s, consumer: billing, action: kill | pause | cut | ack-timeout, for: 1s}
 *   {at: 2s, producer: order-created, action: crash | pause, for: 1s}
 *   {at: 2s, broker: restart | block | unblock, for: 1s}
 *   {at: 2s, network: cut | blackhole | latency | bandwidth | reset, target: billing, delay: 200ms, jitter: 50ms, rate: 16KiB, for: 3s}
 *   {at: 2s, node: stop | start, n: 2, for: 5s}
 *
 * Parsed here to the plain `Fault` union of lab/faults.ts; the rest of the code never sees
 * the written form.
 */
import { z } from "zod";
import { type Rule, refineWith, whenMapping } from "./rules.js";
import { durationRangeSchema, durationSchema, name, wholeNumber } from "./schema-fields.js";

export const consumerFaultActions = ["kill", "pause", "cut", "ack-timeout"] as const;
export const producerFaultActions = ["crash", "pause"] as const;
export const brokerFaultActions = ["restart", "block", "unblock"] as const;
export const networkFaultActions = ["cut", "blackhole", "latency", "bandwidth", "reset"] as const;
export const nodeFaultActions = ["stop", "start"] as const;
const FAMILIES = ["consumer", "producer", "broker", "network", "node"] as const;

const SIZE_HINT = "a number of bytes per second, or a size like 64KiB, 1MB";
const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/** Bytes per second: a number, or `64KiB`, `1MB` (per second). */
export const rateSchema = z
  .union([z.number(), z.string()], { error: `expected ${SIZE_HINT}` })
  .transform((v, ctx) => {
    const m =
      typeof v === "number"
        ? [String(v), String(v), ""]
        : /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)(?:\/s)?\s*$/i.exec(v);
    const unit = UNITS[(m?.[2] ?? "").toLowerCase()];
    const n = m && unit !== undefined ? Number(m[1]) * unit : Number.NaN;
    if (!Number.isFinite(n) || n <= 0) {
      ctx.addIssue({
        code: "custom",
        message: `expected ${SIZE_HINT}, got ${JSON.stringify(v)}`,
        input: v,
      });
      return z.NEVER;
    }
    return Math.round(n);
  });

const actionOf = (family: string, actions: readonly string[]) =>
  z.enum(actions as [string, ...string[]], {
    error: `expected one of ${actions.join(", ")} for a ${family} fault`,
  });

const faultFields = {
  at: durationSchema.optional().meta({ description: "When, from the start of producing" }),
  for: durationSchema.optional().meta({
    description:
      "How long it lasts: a pause, a block, a restart's downtime, a network fault, a stopped node",
  }),
  consumer: name("consumer")
    .optional()
    .meta({ description: "A consumer fault: which consumer profile (with action)" }),
  producer: name("template")
    .optional()
    .meta({ description: "A producer fault: which producer, by its template (with action)" }),
  action: z.string().optional().meta({
    description:
      "consumer: kill | pause | cut | ack-timeout; producer: crash | pause (crash: its connection drops with confirms outstanding)",
  }),
  broker: actionOf("broker", brokerFaultActions).optional().meta({
    description:
      "The embedded broker: restart (down for `for`, keeping what its data directory keeps), block (memory alarm: connection.blocked), unblock",
  }),
  network: actionOf("network", networkFaultActions).optional().meta({
    description:
      "Through the network-fault proxy: cut (FIN), blackhole (nothing passes), latency, bandwidth, reset (RST)",
  }),
  target: name("target").optional().meta({
    description:
      "A network fault's target: a producer (template) or consumer name, or all (default)",
  }),
  delay: durationSchema.optional().meta({ description: "latency: delay per chunk" }),
  jitter: durationSchema.optional().meta({ description: "latency: ± random jitter" }),
  rate: rateSchema.optional().meta({ description: `bandwidth: ${SIZE_HINT}` }),
  node: actionOf("node", nodeFaultActions).optional().meta({
    description: "A node of the cluster `eventlab cluster up` started: stop or start node n",
  }),
  n: wholeNumber(1).optional().meta({ description: "node: which node, 1-based" }),
};

/** Where each field belongs, for the message that says it is in the wrong place. */
const BELONGS: Record<string, string> = {
  action: "consumer and producer faults have an action",
  target: "it names the target of a network fault",
  delay: "it is the delay of a network latency fault",
  jitter: "it is the jitter of a network latency fault",
  rate: "it is the rate of a network bandwidth fault",
  n: "it names the node of a node fault",
};

/** What each family needs besides its key. */
function familyNeeds(
  family: (typeof FAMILIES)[number],
  o: Record<string, unknown>,
  add: Parameters<Rule>[1],
): void {
  const { action, network, delay, rate, n } = o as Record<string, unknown> & {
    action?: unknown;
    network?: unknown;
    delay?: unknown;
    rate?: unknown;
    n?: unknown;
  };
  if (family === "consumer" || family === "producer") {
    const actions = family === "consumer" ? consumerFaultActions : producerFaultActions;
    if (action === undefined || !actions.includes(action as never)) {
      add(["action"], () => `a ${family} fault needs action: one of ${actions.join(", ")}`);
    }
  }
  if (family === "network") {
    const shaping: Record<string, string[]> = { latency: ["delay", "jitter"], bandwidth: ["rate"] };
    for (const key of ["delay", "jitter", "rate"]) {
      if (o[key] !== undefined && !shaping[String(network)]?.includes(key)) {
        add(
          [key],
          () =>
            `\`${key}\` does not apply to a network ${String(network)}: remove it (${BELONGS[key]})`,
        );
      }
    }
    if (network === "latency" && delay === undefined)
      add(["delay"], () => "a latency fault needs `delay`, such as 200ms");
    if (network === "bandwidth" && rate === undefined)
      add(["rate"], () => "a bandwidth fault needs `rate`, such as 16KiB");
  }
  if (family === "node" && n === undefined)
    add(["n"], () => "a node fault needs `n`: which node of the cluster, 1-based");
}

const faultRules =
  (needAt: boolean): Rule =>
  (o, add) => {
    const families = FAMILIES.filter((f) => o[f] !== undefined);
    if (families.length !== 1) {
      add([], () =>
        families.length === 0
          ? `a fault names its family: one of ${FAMILIES.join(", ")} (for example {at: 2s, consumer: billing, action: kill})`
          : `a fault has one family, not ${families.join(" and ")}: split it into one fault each`,
      );
      return;
    }
    if (needAt && (o as { at?: unknown }).at === undefined)
      add(["at"], () => "a fault needs `at`: when it happens, such as 2s");
    const family = families[0] as (typeof FAMILIES)[number];
    const allowed: Record<string, readonly string[]> = {
      consumer: ["action"],
      producer: ["action"],
      broker: [],
      network: ["target", "delay", "jitter", "rate"],
      node: ["n"],
    };
    for (const key of ["action", "target", "delay", "jitter", "rate", "n"]) {
      if (o[key] !== undefined && !allowed[family]?.includes(key)) {
        add(
          [key],
          () => `\`${key}\` does not apply to a ${family} fault: remove it (${BELONGS[key]})`,
        );
      }
    }
    familyNeeds(family, o, add);
  };

export const faultSchema = z
  .strictObject(faultFields)
  .superRefine(refineWith(faultRules(true)), whenMapping)
  .meta({ description: "A timed fault: one of consumer, producer, broker, network, node" });

export const exploreSchema = z
  .strictObject({
    faults: z
      .array(z.strictObject(faultFields).superRefine(refineWith(faultRules(false)), whenMapping))
      .min(1, { error: "give at least one fault to draw from" })
      .meta({
        description: "The faults a schedule is drawn from; `at` and `for` are drawn unless given",
      }),
    at: durationRangeSchema
      .optional()
      .meta({ description: "When faults may happen, a range like 0s..5s (default 0s..3s)" }),
    for: durationRangeSchema
      .optional()
      .meta({ description: "How long faults last, a range like 100ms..2s (default 200ms..2s)" }),
    max: wholeNumber(1, 10)
      .optional()
      .meta({ description: "Most faults in one schedule (default 3)" }),
  })
  .meta({ description: "What `eventlab play --explore N` draws fault schedules from" });

export type FaultConfig = z.output<typeof faultSchema>;
export type ExploreConfig = z.output<typeof exploreSchema>;

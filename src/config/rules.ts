/**
 * The config's rules that span several fields of one mapping (a dead-letter routing key needs
 * the exchange, a retry needs its delays, …). The schemas run them as refinements; the loader
 * runs them on the raw document as well, so one pass reports every problem; and commands that
 * check their flags with the schemas get the messages in flags (see FieldNamer).
 */
import type { z } from "zod";

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Cross-field rules run whenever the object itself is a mapping, whatever else is wrong in it. */
export const whenMapping = { when: (payload: { value: unknown }) => isMapping(payload.value) };

const given = (o: Record<string, unknown>, key: string) => o[key] !== undefined;

/**
 * How a rule's message names a field. The config file speaks of `deadLetterExchange` and
 * `ack: false`; the command line of --dead-letter-exchange and --no-ack. A rule writes its
 * message through a namer, so that one rule, with one message, serves both.
 * `value` is given when the message names a setting (a field with its value).
 */
export type FieldNamer = (key: string, value?: unknown) => string;

/** The config file's names: `key` for a field; key: value for a true/false setting, key value otherwise. */
export const configNames: FieldNamer = (key, value) => {
  if (value === undefined) return `\`${key}\``;
  return typeof value === "boolean" ? `${key}: ${value}` : `${key} ${String(value)}`;
};

/** A rule's message, in the names of whoever reads it. */
export type RuleMessage = (name: FieldNamer) => string;

/**
 * A rule that spans several fields of one mapping; `add` reports a problem at a field.
 * The issue carries its message as a RuleMessage too (`params.message`), so a command that
 * checks its flags with these schemas can name flags instead of fields.
 */
export type Rule = (
  o: Record<string, unknown>,
  add: (path: string[], message: RuleMessage) => void,
) => void;

export function refineWith<T>(rule: Rule) {
  return (value: T, ctx: z.core.$RefinementCtx<T>): void => {
    if (!isMapping(value)) return;
    rule(value, (path, message) =>
      ctx.addIssue({ code: "custom", path, message: message(configNames), params: { message } }),
    );
  };
}

/** The RuleMessage of an issue a cross-field rule reported; undefined for other issues. */
export function ruleMessageOf(issue: z.core.$ZodIssue): RuleMessage | undefined {
  if (issue.code !== "custom") return undefined;
  const { message }: { message?: unknown } = issue.params ?? {};
  return typeof message === "function" ? (message as RuleMessage) : undefined;
}

export const queueRules: Rule = (o, add) => {
  if (given(o, "deadLetterRoutingKey") && !given(o, "deadLetterExchange")) {
    add(
      ["deadLetterRoutingKey"],
      (n) =>
        `${n("deadLetterRoutingKey")} needs ${n("deadLetterExchange")} (the broker refuses it alone)`,
    );
  }
  const { queueType: type } = o;
  if (type === "quorum" || type === "stream") {
    for (const [key, bad] of [
      ["durable", false],
      ["exclusive", true],
      ["autoDelete", true],
    ] as const) {
      if (o[key] === bad) add([key], (n) => `a ${type} queue cannot have ${n(key, bad)}`);
    }
  }
};

// A binding may name an exchange or queue the topology does not declare: it may exist on the broker.
export const bindingRules: Rule = (o, add) => {
  if (given(o, "match") && !given(o, "headers")) {
    add(["match"], (n) => `${n("match")} needs ${n("headers")} to match on`);
  }
};

export const templateRules: Rule = (o, add) => {
  if (given(o, "delay") && given(o, "rate")) {
    add(["rate"], (n) => `give either ${n("delay")} or ${n("rate")}, not both`);
  }
};

export const consumerRules: Rule = (o, add) => {
  const tap = given(o, "exchange");
  if (given(o, "queue") && tap) {
    add(["exchange"], (n) => `give either ${n("queue")} or ${n("exchange")}, not both`);
  } else if (!given(o, "queue") && !tap) {
    add([], () => "name a `queue` to consume from, or an `exchange` to tap");
  }
  if (!tap) {
    for (const key of ["routingKey", "headers", "match"]) {
      if (given(o, key)) {
        add(
          [key],
          (n) => `${n(key)} goes with ${n("exchange")} (it binds the temporary queue of a tap)`,
        );
      }
    }
  } else if (given(o, "match") && !given(o, "headers")) {
    add(["match"], (n) => `${n("match")} needs ${n("headers")} to match on`);
  }
  const { ack, policy, onFailure } = o;
  if (ack === false && (policy === "reject" || policy === "requeue")) {
    add(
      ["policy"],
      (n) => `${n("policy", policy)} needs acknowledgements; it cannot go with ${n("ack", false)}`,
    );
  }
  if (onFailure === "retry" && !given(o, "retry")) {
    add(["retry"], (n) => `${n("onFailure", "retry")} needs ${n("retry.delays")}`);
  }
  if (given(o, "retry") && onFailure !== "retry") {
    add(["onFailure"], (n) => `${n("retry")} goes with ${n("onFailure", "retry")}`);
  }
  if (ack === false && (given(o, "failures") || given(o, "crashAt"))) {
    add(
      ["ack"],
      (n) => `failures and crashes need acknowledgements; they cannot go with ${n("ack", false)}`,
    );
  }
};

export interface CrossFieldIssue {
  path: (string | number)[];
  message: string;
}

/**
 * The rules that span several fields, run on the raw document. zod skips an object's
 * refinements once one of its fields failed, so the loader runs these as well and
 * reports every problem in one pass.
 */
export function crossFieldIssues(data: unknown): CrossFieldIssue[] {
  const out: CrossFieldIssue[] = [];
  if (!isMapping(data)) return out;
  const run = (rule: Rule, value: unknown, at: (string | number)[]) => {
    if (isMapping(value))
      rule(value, (path, message) =>
        out.push({ path: [...at, ...path], message: message(configNames) }),
      );
  };
  const eachEntry = (section: unknown, at: string[], rule: Rule) => {
    if (isMapping(section)) for (const [k, v] of Object.entries(section)) run(rule, v, [...at, k]);
  };
  const { topology, templates, consumers } = data;
  if (isMapping(topology)) {
    const { queues, bindings } = topology;
    eachEntry(queues, ["topology", "queues"], queueRules);
    if (Array.isArray(bindings)) {
      bindings.forEach((b, i) => {
        run(bindingRules, b, ["topology", "bindings", i]);
      });
    }
  }
  eachEntry(templates, ["templates"], templateRules);
  eachEntry(consumers, ["consumers"], consumerRules);
  return out;
}

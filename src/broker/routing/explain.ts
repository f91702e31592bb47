/**
 * Routing, explained in words: why each binding matched a message or not, and the whole
 * resolution hop by hop. The yes/no always comes from the matchers and the resolution loop
 * that route messages (RoutingTable.route with a tracer); this module only adds the reason.
 */

import type { ExchangeType, RoutedMessage } from "./bindings.js";
import { delayOf } from "./delay.js";
import { compileHeaders, matchHeaders, sameValue } from "./headers.js";
import type { BindingDef, ExchangeDef, RouteResult, RoutingTable, Via } from "./resolve.js";
import { compileTopic } from "./topic.js";

export interface BindingVerdict {
  match: boolean;
  reason: string;
}

const q = (s: string) => `'${s}'`;

function words(s: string): string[] {
  return s === "" ? [] : s.split(".");
}

/**
 * The search behind explainTopic: an alignment of the pattern's words with the key's, with
 * what each wildcard took, or else the failure that got furthest into the key.
 */
class TopicAlignment {
  private readonly seen = new Set<string>();
  /** The furthest failure so far: key word, pattern word, and why it failed there. */
  private best = { ki: -1, pi: -1, why: "" };

  constructor(
    private readonly p: readonly string[],
    private readonly k: readonly string[],
  ) {}

  get failure(): string {
    return this.best.why;
  }

  private fail(pi: number, ki: number, why: string): undefined {
    if (ki > this.best.ki || (ki === this.best.ki && pi > this.best.pi))
      this.best = { ki, pi, why };
    return undefined;
  }

  /** Align pattern words from `pi` with key words from `ki`; `acc` says what wildcards took. */
  search(pi: number, ki: number, acc: string[]): string[] | undefined {
    const id = `${pi},${ki}`;
    if (this.seen.has(id)) return undefined;
    this.seen.add(id);
    const { p, k } = this;
    if (pi === p.length) {
      if (ki === k.length) return acc;
      return this.fail(
        pi,
        ki,
        `the key has words the binding does not take: ${q(k.slice(ki).join("."))} (a trailing \`#\` would)`,
      );
    }
    const w = p[pi] as string;
    if (w === "#") return this.hash(pi, ki, acc);
    if (ki === k.length) return this.fail(pi, ki, this.keyEnded(pi, w));
    const kw = k[ki] as string;
    if (w === "*") return this.search(pi + 1, ki + 1, [...acc, `\`*\` took ${q(kw)}`]);
    if (w === kw) return this.search(pi + 1, ki + 1, acc);
    return this.fail(pi, ki, `word ${ki + 1} of the key is ${q(kw)}; the binding wants ${q(w)}`);
  }

  /** `#` at pattern word `pi`: try it taking no words, then one, two, … */
  private hash(pi: number, ki: number, acc: string[]): string[] | undefined {
    for (let n = 0; ki + n <= this.k.length; n++) {
      const got = this.k.slice(ki, ki + n).join(".");
      const took = n === 0 ? "`#` took no words" : `\`#\` took ${q(got)}`;
      const r = this.search(pi + 1, ki + n, [...acc, took]);
      if (r) return r;
    }
    return undefined;
  }

  private keyEnded(pi: number, w: string): string {
    if (w !== "*") return `the binding wants ${q(w)} as word ${pi + 1}; the key ends before it`;
    return `\`*\` needs exactly one word; the key has ${this.k.length === 0 ? "none" : "none left"}`;
  }
}

/** Why a topic binding key matches a routing key, or where it stops matching. */
export function explainTopic(pattern: string, key: string): BindingVerdict {
  const match = compileTopic(pattern)(key);
  const p = words(pattern);
  const k = words(key);
  if (!p.includes("*") && !p.includes("#")) {
    if (match) return { match, reason: `the key equals ${q(pattern)}` };
    return {
      match,
      reason:
        key === ""
          ? `the key is empty; the binding wants ${q(pattern)}`
          : `the key is not ${q(pattern)}`,
    };
  }
  if (p.every((w) => w === "#")) return { match, reason: "`#` matches any key, the empty one too" };
  // Search the alignments; keep the one that got furthest, to say where matching stops.
  const search = new TopicAlignment(p, k);
  const alignment = search.search(0, 0, []);
  if (match) {
    return {
      match,
      reason: alignment && alignment.length > 0 ? alignment.join(", ") : "the key fits the pattern",
    };
  }
  return { match, reason: search.failure || "the key does not fit the pattern" };
}

function show(v: unknown): string {
  if (typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  return JSON.stringify(v);
}

/** Why a headers binding matches a message's headers, pair by pair. */
export function explainHeaders(
  args: Readonly<Record<string, unknown>> | undefined,
  headers: Readonly<Record<string, unknown>> | undefined,
): BindingVerdict {
  const binding = compileHeaders(args);
  const match = matchHeaders(binding, headers);
  const h = headers ?? {};
  const notes: string[] = [];
  const matched: string[] = [];
  for (const [key, value] of binding.pairs) {
    const present = Object.hasOwn(h, key);
    if (value === null || value === undefined) {
      if (present) matched.push(`${key} present`);
      else notes.push(`${key}: missing (the binding asks only that it be present)`);
    } else if (!present) notes.push(`${key}: missing from the message`);
    else if (sameValue(value, h[key])) matched.push(`${key}=${show(value)} matched`);
    else {
      const types =
        typeof value !== typeof h[key]
          ? ` (a ${typeof h[key]}, the binding has a ${typeof value})`
          : "";
      notes.push(
        `${key}: the message has ${show(h[key])}, the binding wants ${show(value)}${types}`,
      );
    }
  }
  const withX = binding.mode.endsWith("-with-x");
  const ignored = Object.keys(args ?? {}).filter(
    (k) => k.startsWith("x-") && k !== "x-match" && !withX,
  );
  const tail = ignored.map(
    (k) => `header ${k} ignored: x- keys count only with all-with-x or any-with-x`,
  );
  const mode = `x-match ${binding.mode}`;
  let head: string;
  if (binding.pairs.length === 0) {
    head = binding.mode.startsWith("all")
      ? `${mode} with nothing to compare matches every message`
      : `${mode} with nothing to compare matches no message`;
  } else if (binding.mode.startsWith("any")) {
    head = match
      ? `${mode}: ${matched.join(", ")}`
      : `${mode}: no pair matched; ${notes.join("; ")}`;
  } else {
    head = match
      ? `${mode}: ${matched.join(", ")}`
      : `${mode}: ${notes.join("; ")}${matched.length > 0 ? ` (${matched.join(", ")})` : ""}`;
  }
  return { match, reason: [head, ...tail].join("; ") };
}

/** Why one binding of an exchange of `kind` takes a message or not. */
export function explainBinding(
  kind: ExchangeType,
  bindingKey: string,
  args: Readonly<Record<string, unknown>> | undefined,
  message: RoutedMessage,
): BindingVerdict {
  switch (kind) {
    case "direct": {
      const match = message.routingKey === bindingKey;
      return {
        match,
        reason: match
          ? `the key equals ${q(bindingKey)}`
          : `the key ${q(message.routingKey)} is not ${q(bindingKey)}`,
      };
    }
    case "fanout":
      return { match: true, reason: "fanout: every binding takes every message" };
    case "topic":
      return explainTopic(bindingKey, message.routingKey);
    case "headers":
      return explainHeaders(args, message.headers);
  }
}

export interface BindingStep {
  destination: string;
  destinationType: "queue" | "exchange";
  routingKey: string;
  arguments: Record<string, unknown>;
  matched: boolean;
  reason: string;
}

export interface Hop {
  exchange: string;
  /** Undefined when the exchange does not exist. */
  type: ExchangeType | undefined;
  internal: boolean;
  /** An x-delayed-message exchange (its `type` is the x-delayed-type it routes by). */
  delayed?: boolean;
  /** Published here with this x-delay (ms): held that long, then routed as shown. */
  delayMs?: number;
  via: Via;
  bindings: BindingStep[];
  /** For the default exchange: the queue the key names, and whether it exists. */
  defaultQueue?: { name: string; exists: boolean };
  /** Nothing matched, and the alternate exchange it names is missing. */
  alternateMissing?: string;
  /** Nothing matched, and the message goes on to this alternate exchange. */
  alternate?: string;
}

export interface RouteExplanation extends RouteResult {
  hops: Hop[];
  /** Hops skipped because the exchange was already visited. */
  cycles: Array<{ exchange: string; via: Via }>;
}

/** Route a message through the table, explaining every step. */
export function explainRoute(
  table: RoutingTable,
  exchange: string,
  message: RoutedMessage,
): RouteExplanation {
  const hops: Hop[] = [];
  const cycles: RouteExplanation["cycles"] = [];
  const current = () => hops[hops.length - 1] as Hop;
  const result = table.route(exchange, message, {
    hop(name, def: ExchangeDef | undefined, via) {
      // Only a publish to it is held: the broker routes at once what arrives by a binding.
      const delayMs = def?.delayed && via.kind === "publish" ? delayOf(message.headers) : undefined;
      hops.push({
        exchange: name,
        type: def?.type,
        internal: def?.internal === true,
        ...(def?.delayed ? { delayed: true } : {}),
        ...(delayMs !== undefined ? { delayMs } : {}),
        via,
        bindings: [],
      });
    },
    binding(b: BindingDef, matched) {
      const hop = current();
      const v = explainBinding(hop.type as ExchangeType, b.routingKey, b.arguments, message);
      hop.bindings.push({
        destination: b.destination,
        destinationType: b.destinationType,
        routingKey: b.routingKey,
        arguments: { ...(b.arguments ?? {}) },
        // The router's decision; the explanation only gives the reason.
        matched,
        reason:
          v.match === matched
            ? v.reason
            : `${v.reason} (router: ${matched ? "match" : "no match"})`,
      });
    },
    cycle(name, via) {
      cycles.push({ exchange: name, via });
    },
    alternateMissing(from, to) {
      const hop = hops.find((h) => h.exchange === from);
      if (hop) hop.alternateMissing = to;
    },
    defaultExchange(queue, exists) {
      current().defaultQueue = { name: queue, exists };
    },
  });
  for (const h of hops) {
    if (h.via.kind === "alternate") {
      const from = hops.find((x) => x.exchange === (h.via as { from: string }).from);
      if (from) from.alternate = h.exchange;
    }
  }
  return { ...result, hops, cycles };
}

/**
 * What `eventlab setup` asks for and what it suggests: the shape of the answers, where
 * each comes from (a flag, a default, a question), the generators a body field can use,
 * the defaults, and the name rule, which is the config schema's own so setup never accepts
 * a name the file refuses.
 * Pure data and small functions: the command's definition loads this at startup.
 */
import type { ExchangeType, HeadersMatch } from "./constants.js";

export interface QueueAnswer {
  name: string;
  /** Binding key (direct, topic). */
  key?: string;
  /** Header pairs (headers). */
  headers?: Record<string, unknown>;
}

export interface TemplateAnswer {
  name: string;
  routingKey: string;
  headers: Record<string, unknown>;
  /** Body field → generator id. */
  fields: Array<[field: string, generator: string]>;
  amount: number;
  delayMs: number;
}

export interface SetupAnswers {
  /** "embedded", or an amqp URL. */
  broker: string;
  exchange: string;
  type: ExchangeType;
  match: HeadersMatch;
  queues: QueueAnswer[];
  templates: TemplateAnswer[];
}

/** A `--template name[=routing-key]`. */
export interface TemplateFlag {
  name: string;
  routingKey?: string;
}

export const TYPE_HELP: Record<ExchangeType, string> = {
  topic: "routing keys like order.created.eu; bindings use patterns: * one word, # any words",
  direct: "a queue gets the messages whose routing key equals its binding key",
  fanout: "every bound queue gets a copy of every message; routing keys are ignored",
  headers: "routes on message headers (region=eu, …), all or any of them, not on the key",
};

/** Generators a template field can use: id → [placeholder, what it gives]. */
export const GENERATORS: Record<string, [placeholder: string, help: string]> = {
  seq: ["{{seq}}", "a counter: 1, 2, 3, …"],
  uuid: ["{{uuid}}", "a random UUID"],
  now: ["{{now}}", "the time, ISO 8601"],
  int: ["{{int 1 100}}", "a whole number from 1 to 100"],
  float: ["{{float 0 100}}", "a number from 0 to 100, two decimals"],
  pick: ["{{pick red green blue}}", "one of a list"],
  bool: ["{{bool}}", "true or false"],
  name: ["{{faker person.fullName}}", "a person's name (Faker)"],
  email: ["{{faker internet.email}}", "an e-mail address (Faker)"],
  city: ["{{faker location.city}}", "a city (Faker)"],
  product: ["{{faker commerce.productName}}", "a product name (Faker)"],
};

export const DEFAULT_FIELDS: Array<[string, string]> = [
  ["id", "uuid"],
  ["n", "seq"],
  ["at", "now"],
];

export const DEFAULT_EXCHANGE = "events";
export const DEFAULT_AMOUNT = 10;
export const DEFAULT_DELAY_MS = 100;

/** What setup needs without a terminal (or --yes): the topology. */
const NEEDED = ["--exchange", "--type", "--queue"];

/**
 * Where each answer comes from: the flag, else the default (with --yes), else a question
 * to the person at the terminal (`asker`, when there is one). Without a terminal, the
 * topology flags are needed: each one missing is noted in `missing`, and takes its default
 * meanwhile so that every missing flag is found in one pass.
 */
export function answerer<Asker>(yes: boolean, asker: Asker | undefined, missing: string[]) {
  return async <T>(
    given: T | undefined,
    flag: string,
    fallback: T,
    question: (asker: Asker) => Promise<T>,
  ): Promise<T> => {
    if (given !== undefined) return given;
    if (yes) return fallback;
    if (asker !== undefined) return question(asker);
    if (NEEDED.includes(flag)) missing.push(flag);
    return fallback;
  };
}

export function defaultQueues(exchange: string, type: ExchangeType): QueueAnswer[] {
  switch (type) {
    case "topic":
      return [{ name: `${exchange}.all`, key: "#" }];
    case "direct":
      return [{ name: `${exchange}.created`, key: "created" }];
    case "fanout":
      return [{ name: `${exchange}.all` }];
    case "headers":
      return [{ name: `${exchange}.eu`, headers: { region: "eu" } }];
  }
}

/** A routing key that the first binding takes: wildcards filled with sample words. */
export function sampleKey(type: ExchangeType, queues: QueueAnswer[]): string {
  if (type === "fanout" || type === "headers") return "";
  const key = queues.find((q) => q.key !== undefined)?.key ?? "created";
  if (type === "direct") return key;
  return key
    .split(".")
    .map((w) => (w === "#" ? "event.created" : w === "*" ? "example" : w))
    .join(".");
}

/** The suggested name of the first template: the exchange's, singular. */
export function templateBase(exchange: string): string {
  return exchange.replace(/s$/, "") || "event";
}

/** The queues template `i` is aimed at, the first of them first (templates take turns). */
export function targetQueues(queues: QueueAnswer[], i: number): QueueAnswer[] {
  return queues.slice(i % Math.max(1, queues.length));
}

/** Headers of template `i`'s messages: for a headers exchange, those its first queue matches. */
export function templateHeaders(
  type: ExchangeType,
  queues: QueueAnswer[],
  i: number,
): Record<string, unknown> {
  return type === "headers" ? { ...(targetQueues(queues, i)[0]?.headers ?? {}) } : {};
}

/** Templates from flags (or defaults): one per `--template`, fields and pace shared. */
export function templatesFromFlags(
  given: TemplateFlag[] | undefined,
  shared: {
    exchange: string;
    type: ExchangeType;
    queues: QueueAnswer[];
    routingKey?: string | undefined;
    fields?: Array<[string, string]> | undefined;
    amount?: number | undefined;
    delayMs?: number | undefined;
  },
): TemplateAnswer[] {
  const { type, queues } = shared;
  return (given ?? [{ name: templateBase(shared.exchange) }]).map((t, i) => ({
    name: t.name,
    routingKey:
      type === "fanout" || type === "headers"
        ? ""
        : (t.routingKey ?? shared.routingKey ?? sampleKey(type, targetQueues(queues, i))),
    headers: templateHeaders(type, queues, i),
    fields: shared.fields ?? DEFAULT_FIELDS,
    amount: shared.amount ?? DEFAULT_AMOUNT,
    delayMs: shared.delayMs ?? DEFAULT_DELAY_MS,
  }));
}

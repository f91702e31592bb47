/**
 * The config file's schema: one zod schema that validates, types the rest of the
 * program and generates `config/eventlab.schema.json` for editors.
 * Past `loadConfig` nothing re-checks these shapes.
 *
 * Messages are written for a person reading `file:line path: message`: they start with
 * what was expected ("expected a whole number ≥ 0"); the loader adds what it got.
 * Rules that span several fields run even when other fields of the same object are
 * wrong (`when`), so one pass reports every problem. Those rules are in rules.ts, the
 * building blocks (durations, names, field tables) in schema-fields.ts.
 */
import { z } from "zod";
import { brokerSchema } from "./broker-schema.js";
import {
  DEFAULT_URL,
  exchangeTypes,
  failureActions,
  headersMatchModes,
  overflowModes,
  queueTypes,
  settlePolicies,
} from "./constants.js";
import { expectSchema, thresholdsSchema } from "./expect-schema.js";
import { exploreSchema, faultSchema } from "./fault-schema.js";
import {
  bindingRules,
  consumerRules,
  queueRules,
  refineWith,
  templateRules,
  whenMapping,
} from "./rules.js";
import {
  bool,
  declaredName,
  durationRangeSchema,
  durationSchema,
  failureSchema,
  fieldPath,
  fieldTable,
  fieldValueSchema,
  name,
  text,
  wholeNumber,
} from "./schema-fields.js";

export {
  DEFAULT_URL,
  type ExchangeType,
  exchangeTypes,
  failureActions,
  type HeadersMatch,
  headersMatchModes,
  overflowModes,
  queueTypes,
  type SettlePolicy,
  settlePolicies,
} from "./constants.js";
export {
  type CrossFieldIssue,
  configNames,
  crossFieldIssues,
  type FieldNamer,
  type RuleMessage,
  ruleMessageOf,
} from "./rules.js";
export {
  declaredName,
  durationSchema,
  fieldValueSchema,
  name as nameSchema,
} from "./schema-fields.js";

export const exchangeSchema = z
  .strictObject({
    type: z.enum(exchangeTypes).default("direct").meta({
      description:
        "direct: exact routing key; topic: patterns with * and #; fanout: every bound queue; headers: match on headers",
    }),
    durable: bool().default(true).meta({ description: "Survives a broker restart" }),
    autoDelete: bool()
      .default(false)
      .meta({ description: "Deleted when its last binding is removed" }),
    internal: bool().default(false).meta({ description: "Only other exchanges may publish to it" }),
    alternateExchange: name("exchange")
      .optional()
      .meta({ description: "alternate-exchange: where messages that route nowhere go" }),
    arguments: fieldTable
      .default({})
      .meta({ description: "Extra x- arguments, passed to the broker as given" }),
  })
  .meta({ description: "An exchange, declared by `eventlab topology apply`" });

export const queueSchema = z
  .strictObject({
    durable: bool().default(true).meta({ description: "Survives a broker restart" }),
    exclusive: bool()
      .default(false)
      .meta({ description: "Used by one connection only, deleted when it closes" }),
    autoDelete: bool()
      .default(false)
      .meta({ description: "Deleted when its last consumer goes away" }),
    messageTtl: durationSchema
      .optional()
      .meta({ description: "x-message-ttl: messages older than this expire (or dead-letter)" }),
    expires: durationSchema
      .refine((ms) => ms > 0, { error: "expected a duration above 0 (the broker refuses 0)" })
      .optional()
      .meta({ description: "x-expires: the queue is deleted after being unused this long" }),
    maxLength: wholeNumber(0)
      .optional()
      .meta({ description: "x-max-length: at most this many ready messages" }),
    maxLengthBytes: wholeNumber(0)
      .optional()
      .meta({ description: "x-max-length-bytes: at most this many bytes of ready bodies" }),
    overflow: z.enum(overflowModes).optional().meta({
      description: "x-overflow: what happens when a limit is reached (default drop-head)",
    }),
    deadLetterExchange: text()
      .optional()
      .meta({ description: "x-dead-letter-exchange: where rejected and expired messages go" }),
    deadLetterRoutingKey: text().optional().meta({
      description: "x-dead-letter-routing-key: replaces the routing key when dead-lettering",
    }),
    maxPriority: wholeNumber(1, 255)
      .optional()
      .meta({ description: "x-max-priority: makes a priority queue (1-255; 10 is plenty)" }),
    queueType: z
      .enum(queueTypes)
      .optional()
      .meta({ description: "x-queue-type: classic (default), quorum or stream" }),
    arguments: fieldTable
      .default({})
      .meta({ description: "Extra x- arguments, passed to the broker as given" }),
  })
  .superRefine(refineWith(queueRules), whenMapping)
  .meta({ description: "A queue, declared by `eventlab topology apply`" });

/**
 * A binding's settings without its two ends. `eventlab declare binding` and `delete binding`
 * check their flags with it: their ends may be names the config refuses (the default exchange
 * ''), which the broker then refuses with its own reason.
 */
export const bindingSettingsSchema = z
  .strictObject({
    destinationType: z
      .enum(["queue", "exchange"])
      .default("queue")
      .meta({ description: "queue, or exchange for exchange-to-exchange bindings" }),
    routingKey: text().default("").meta({
      description:
        "Binding key: exact for direct exchanges, a pattern for topic (* one word, # zero or more)",
    }),
    match: z.enum(headersMatchModes).optional().meta({
      description:
        "x-match for headers exchanges: all (default) or any; *-with-x also compares x- headers",
    }),
    headers: fieldTable
      .optional()
      .meta({ description: "Header values to match, for headers exchanges" }),
    arguments: fieldTable
      .default({})
      .meta({ description: "Extra binding arguments, passed to the broker as given" }),
  })
  .superRefine(refineWith(bindingRules), whenMapping);

export const bindingSchema = bindingSettingsSchema
  .safeExtend({
    source: name("exchange").meta({ description: "The exchange messages come from" }),
    destination: name("destination").meta({
      description:
        "The queue (or exchange) messages go to; it may also be one that exists on the broker only",
    }),
  })
  .meta({ description: "A binding from an exchange to a queue or exchange" });

export const topologySchema = z
  .strictObject({
    exchanges: z
      .record(declaredName("exchange"), exchangeSchema, {
        error: "expected a mapping of exchange names to their settings",
      })
      .default({})
      .meta({ description: "Exchanges by name" }),
    queues: z
      .record(declaredName("queue"), queueSchema, {
        error: "expected a mapping of queue names to their settings",
      })
      .default({})
      .meta({ description: "Queues by name" }),
    bindings: z
      .array(bindingSchema, { error: "expected a list of bindings (each line starts with -)" })
      .default([])
      .meta({ description: "Bindings; each names its source exchange and destination" }),
  })
  .meta({ description: "What `eventlab topology apply` declares" });

export const propertiesSchema = z
  .strictObject({
    contentType: text()
      .optional()
      .meta({ description: "The MIME type of the body, e.g. application/json" }),
    contentEncoding: text().optional().meta({ description: "e.g. gzip, utf-8" }),
    persistent: bool()
      .optional()
      .meta({ description: "Delivery mode 2: written to disk by durable queues" }),
    priority: wholeNumber(0, 255)
      .optional()
      .meta({ description: "Message priority, for queues with maxPriority" }),
    expiration: z
      .union([text(), wholeNumber(0)], {
        error: "expected milliseconds (a whole number ≥ 0) or a placeholder",
      })
      .optional()
      .meta({ description: "Per-message TTL in milliseconds, or a placeholder" }),
    messageId: text().optional().meta({ description: 'Message id, e.g. "{{uuid}}"' }),
    correlationId: text().optional().meta({ description: "Correlation id" }),
    replyTo: text().optional().meta({ description: "Queue name for replies" }),
    type: text().optional().meta({ description: "Message type name" }),
    appId: text().optional().meta({ description: "Application id" }),
    userId: text()
      .optional()
      .meta({ description: "Must match the connection's user name when given" }),
    timestamp: z
      .union([bool(), wholeNumber(0), text()], {
        error: "expected true, epoch seconds or a placeholder",
      })
      .optional()
      .meta({ description: "true stamps the publish time; or epoch seconds, or a placeholder" }),
  })
  .meta({ description: "AMQP message properties; strings may hold placeholders" });

/** A JSON Schema for message bodies: a file (relative to the config file) or inline. */
const contractSchema = z
  .union([text(), z.record(z.string(), z.unknown())], {
    error: "expected the path of a JSON Schema file, or a JSON Schema mapping",
  })
  .meta({ description: "A JSON Schema: a .json file relative to this config, or inline" });

export const templateSchema = z
  .strictObject({
    description: text().optional().meta({ description: "What this template is for" }),
    exchange: text()
      .default("")
      .meta({ description: "Exchange to publish to; '' is the default exchange" }),
    routingKey: text().default("").meta({
      description:
        "Routing key; placeholders allowed. With the default exchange it is the queue name",
    }),
    headers: fieldTable
      .default({})
      .meta({ description: "Message headers; string values may hold placeholders" }),
    properties: propertiesSchema.default({}),
    body: z
      .union([text(), z.record(z.string(), fieldValueSchema), z.array(fieldValueSchema)], {
        error: "expected a string, a mapping or a list",
      })
      .default("")
      .meta({
        description:
          "An object (sent as JSON) or a string; placeholders like {{uuid}} are filled per message",
      }),
    amount: wholeNumber(0)
      .default(1)
      .meta({ description: "How many messages one run publishes (--amount overrides)" }),
    delay: durationSchema
      .optional()
      .meta({ description: "Pause between messages, e.g. 250ms (or give rate)" }),
    rate: z
      .number({ error: "expected a rate > 0 (messages per second)" })
      .positive("expected a rate > 0 (messages per second)")
      .optional()
      .meta({ description: "Messages per second to aim at (or give delay)" }),
    schema: contractSchema
      .optional()
      .meta({ description: "The message contract: `produce --validate` checks bodies against it" }),
  })
  .superRefine(refineWith(templateRules), whenMapping)
  .meta({ description: "A message template: `eventlab produce <name>`" });

export const consumerSchema = z
  .strictObject({
    description: text().optional().meta({ description: "What this consumer is for" }),
    queue: text().optional().meta({ description: "Queue to consume from" }),
    exchange: text().optional().meta({
      description: "Or: tap this exchange through a temporary exclusive queue",
    }),
    routingKey: text()
      .optional()
      .meta({ description: "Binding key for the tap (default # on topic exchanges)" }),
    match: z
      .enum(headersMatchModes)
      .optional()
      .meta({ description: "x-match for a tap on a headers exchange" }),
    headers: fieldTable.optional().meta({ description: "Headers to match, for the tap" }),
    prefetch: wholeNumber(0, 65535)
      .optional()
      .meta({ description: "Unacknowledged messages in flight (0 means no limit)" }),
    ack: bool().optional().meta({ description: "false consumes in no-ack mode" }),
    policy: z.enum(settlePolicies).optional().meta({
      description: "What to do with each message: ack, reject (dead-letter) or requeue",
    }),
    count: wholeNumber(1).optional().meta({ description: "Stop after this many messages" }),
    idleTimeout: durationSchema
      .optional()
      .meta({ description: "Stop after this long without a message" }),
    concurrency: wholeNumber(1, 64)
      .optional()
      .meta({ description: "Competing consumers on the queue, each on its own channel" }),
    workTime: durationRangeSchema
      .optional()
      .meta({ description: "Processing time per message: 50ms, or a range 20ms..200ms" }),
    failures: failureSchema.optional(),
    onFailure: z.enum(failureActions).optional().meta({
      description:
        "What a failure does: requeue it, reject it (to the queue's dead-letter exchange), or retry through delay queues",
    }),
    retry: z
      .strictObject({
        delays: z
          .array(durationSchema)
          .min(1, { error: "give at least one delay, like [1s, 5s]" })
          .meta({ description: "One TTL'd retry queue per delay, in order" }),
        deadLetterQueue: name("queue")
          .optional()
          .meta({ description: "Where messages go after the last retry (default <queue>.dlq)" }),
      })
      .optional()
      .meta({ description: "With onFailure: retry: the delays, then the dead-letter queue" }),
    dedupe: fieldPath.optional().meta({
      description: "Idempotency key (messageId, body.order_id, …): repeats are acked and counted",
    }),
    ordering: z
      .strictObject({ key: fieldPath, sequence: fieldPath })
      .optional()
      .meta({ description: "Ordering check: per key, the sequence must grow by one" }),
    breaker: z
      .strictObject({
        failures: wholeNumber(1).meta({ description: "Consecutive failures that open it" }),
        pause: durationSchema.meta({ description: "How long it stays open before a trial" }),
      })
      .optional()
      .meta({ description: "Circuit breaker" }),
    crashAt: wholeNumber(1)
      .optional()
      .meta({ description: "Drop the connection without acking at this message (1-based)" }),
    command: text().optional().meta({
      description:
        "Your own service as the consumer: this command runs (through the shell, in the config's directory) with EVENTLAB_URL and EVENTLAB_QUEUE in its environment, judged from the embedded broker's ledger",
    }),
    doneWhen: z.enum(["ack", "publish"]).optional().meta({
      description:
        "A command's message is processed when it acks it (default), or when it publishes a result carrying the message's id",
    }),
    ackBeforeWork: bool().optional().meta({
      description:
        "Ack each message as it arrives, before the work: a crash during the work loses it (an at-least-once bug, for play to find)",
    }),
    schema: contractSchema.optional().meta({
      description:
        "The message contract: `consume --validate` and the playground check every message against it",
    }),
  })
  .superRefine(refineWith(consumerRules), whenMapping)
  .meta({ description: "A consumer profile: `eventlab consume <name>`" });

export const scenarioSchema = z
  .strictObject({
    description: text().optional().meta({ description: "What this scenario shows" }),
    duration: durationSchema
      .optional()
      .meta({ description: "Stop after this long even if not done (default: when done)" }),
    producers: z
      .array(
        z.strictObject({
          template: name("template").meta({ description: "A template from templates:" }),
          amount: wholeNumber(0).optional().meta({ description: "Instead of the template's" }),
          rate: z.number().positive().optional().meta({ description: "Messages per second" }),
          delay: durationSchema.optional().meta({ description: "Pause between messages" }),
        }),
      )
      .min(1, { error: "give at least one producer" })
      .meta({ description: "Templates to publish, all in parallel" }),
    consumers: z
      .array(name("consumer"))
      .default([])
      .meta({ description: "Consumer profiles (from consumers:) to run" }),
    faults: z
      .array(faultSchema)
      .default([])
      .meta({ description: "Timed faults: consumer, producer, broker, network or node" }),
    explore: exploreSchema.optional(),
    consumerTimeout: durationSchema.optional().meta({
      description:
        "The embedded broker's consumer_timeout for this scenario (default 30 min, or 1s when a fault times acks out); on RabbitMQ, the server's setting applies",
    }),
    expect: z.array(expectSchema).optional().meta({
      description:
        "What the run must show, checked by `eventlab play --ci` and `eventlab test`: queue, consumer and message expectations",
    }),
    thresholds: thresholdsSchema.optional(),
  })
  .meta({ description: "A playground scenario: `eventlab play <name>`" });

export const configSchema = z
  .strictObject({
    $schema: text()
      .optional()
      .meta({ description: "Path or URL of this JSON Schema, for editors" }),
    broker: brokerSchema.default({ url: DEFAULT_URL }),
    topology: topologySchema.default({ exchanges: {}, queues: {}, bindings: [] }),
    templates: z
      .record(name("template"), templateSchema, {
        error: "expected a mapping of template names to templates",
      })
      .default({})
      .meta({ description: "Message templates by name" }),
    consumers: z
      .record(name("consumer"), consumerSchema, {
        error: "expected a mapping of consumer names to profiles",
      })
      .default({})
      .meta({ description: "Consumer profiles by name" }),
    scenarios: z
      .record(name("scenario"), scenarioSchema, {
        error: "expected a mapping of scenario names to scenarios",
      })
      .default({})
      .meta({ description: "Playground scenarios by name (`eventlab play <name>`)" }),
  })
  .meta({
    title: "eventlab config",
    description: "eventlab.config.yaml: broker, topology, message templates and consumers",
  });

export type Config = z.output<typeof configSchema>;
export type Topology = Config["topology"];
export type ExchangeConfig = z.output<typeof exchangeSchema>;
export type QueueConfig = z.output<typeof queueSchema>;
export type BindingConfig = z.output<typeof bindingSchema>;
export type TemplateConfig = z.output<typeof templateSchema>;
export type PropertiesConfig = z.output<typeof propertiesSchema>;
export type ConsumerConfig = z.output<typeof consumerSchema>;
export type ScenarioConfig = z.output<typeof scenarioSchema>;

/** JSON Schema for editors, generated from the same schema (input side: what a person writes). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
}

/** The config's rules for the names of exchanges, queues and templates. */
const NAME_RULES = {
  exchange: topologySchema.shape.exchanges.unwrap().keyType,
  queue: topologySchema.shape.queues.unwrap().keyType,
  template: configSchema.shape.templates.unwrap().keyType,
};

/** True when the config accepts `value` as a name of this kind, else what is wrong with it. */
export function nameIssue(what: keyof typeof NAME_RULES, value: string): true | string {
  const checked = NAME_RULES[what].safeParse(value);
  return checked.success ? true : (checked.error.issues[0]?.message ?? `not a ${what} name`);
}

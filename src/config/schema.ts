/**
 * The config file's schema: one zod schema that validates, types the rest of the
 * program and generates `config/eventlab.schema.json` for editors.
 * Past `loadConfig` nothing re-checks these shapes.
 */
import { z } from "zod";
import {
  DEFAULT_URL,
  exchangeTypes,
  headersMatchModes,
  overflowModes,
  queueTypes,
  settlePolicies,
} from "./constants.js";
import { DURATION_HINT, parseDuration } from "./duration.js";

export {
  DEFAULT_URL,
  type ExchangeType,
  exchangeTypes,
  type HeadersMatch,
  headersMatchModes,
  overflowModes,
  queueTypes,
  type SettlePolicy,
  settlePolicies,
} from "./constants.js";

/** A duration: `250ms`, `1s`, `2m`, or a number of milliseconds. Parsed to milliseconds. */
export const durationSchema = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `expected ${DURATION_HINT}, got ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ description: DURATION_HINT });

const name = (what: string) =>
  z
    .string()
    .min(1, `${what} name must not be empty`)
    .max(255, `${what} name is longer than 255 bytes`);

const amqpUrl = z
  .string()
  .refine((s) => /^amqps?:\/\//.test(s), "expected an amqp:// or amqps:// URL")
  .meta({
    description: "amqp://user:password@host:port/vhost (percent-encode special characters)",
  });

/** Field-table values: what AMQP can carry in headers and arguments. */
export const fieldValueSchema: z.ZodType<unknown> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(fieldValueSchema),
    z.record(z.string(), fieldValueSchema),
  ]),
);
const fieldTable = z.record(z.string(), fieldValueSchema);

export const brokerSchema = z
  .strictObject({
    url: z
      .union([amqpUrl, z.array(amqpUrl).min(1, "give at least one URL")])
      .default(DEFAULT_URL)
      .meta({ description: "Broker URL, or a list of URLs tried in order" }),
    heartbeat: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: "Heartbeat in seconds (0 turns it off)" }),
    connectTimeout: durationSchema.optional(),
  })
  .meta({ description: "Where the broker is" });

export const exchangeSchema = z.strictObject({
  type: z.enum(exchangeTypes).default("direct"),
  durable: z.boolean().default(true),
  autoDelete: z.boolean().default(false),
  internal: z.boolean().default(false),
  alternateExchange: name("exchange").optional(),
  arguments: fieldTable.default({}),
});

export const queueSchema = z.strictObject({
  durable: z.boolean().default(true),
  exclusive: z.boolean().default(false),
  autoDelete: z.boolean().default(false),
  messageTtl: durationSchema.optional().meta({ description: "x-message-ttl" }),
  expires: durationSchema.optional().meta({ description: "x-expires" }),
  maxLength: z.number().int().min(0).optional().meta({ description: "x-max-length" }),
  maxLengthBytes: z.number().int().min(0).optional().meta({ description: "x-max-length-bytes" }),
  overflow: z.enum(overflowModes).optional().meta({ description: "x-overflow" }),
  deadLetterExchange: z.string().optional().meta({ description: "x-dead-letter-exchange" }),
  deadLetterRoutingKey: z.string().optional().meta({ description: "x-dead-letter-routing-key" }),
  maxPriority: z.number().int().min(1).max(255).optional().meta({ description: "x-max-priority" }),
  queueType: z.enum(queueTypes).optional().meta({ description: "x-queue-type" }),
  arguments: fieldTable.default({}),
});

export const bindingSchema = z
  .strictObject({
    source: name("exchange").meta({ description: "The exchange messages come from" }),
    destination: name("destination"),
    destinationType: z.enum(["queue", "exchange"]).default("queue"),
    routingKey: z.string().default(""),
    match: z
      .enum(headersMatchModes)
      .optional()
      .meta({ description: "x-match, for headers exchanges" }),
    headers: fieldTable
      .optional()
      .meta({ description: "Header values to match, for headers exchanges" }),
    arguments: fieldTable.default({}),
  })
  .refine((b) => b.match === undefined || b.headers !== undefined, {
    message: "`match` needs `headers` to match on",
    path: ["headers"],
  });

export const topologySchema = z.strictObject({
  exchanges: z.record(name("exchange"), exchangeSchema).default({}),
  queues: z.record(name("queue"), queueSchema).default({}),
  bindings: z.array(bindingSchema).default([]),
});

export const propertiesSchema = z.strictObject({
  contentType: z.string().optional(),
  contentEncoding: z.string().optional(),
  persistent: z.boolean().optional(),
  priority: z.number().int().min(0).max(255).optional(),
  expiration: z
    .union([z.string(), z.number()])
    .optional()
    .meta({ description: "Per-message TTL: a duration, or a placeholder" }),
  messageId: z.string().optional(),
  correlationId: z.string().optional(),
  replyTo: z.string().optional(),
  type: z.string().optional(),
  appId: z.string().optional(),
  userId: z.string().optional(),
  timestamp: z
    .union([z.boolean(), z.number(), z.string()])
    .optional()
    .meta({ description: "true stamps the publish time; or epoch seconds, or a placeholder" }),
});

export const templateSchema = z
  .strictObject({
    description: z.string().optional(),
    exchange: z
      .string()
      .default("")
      .meta({ description: "Exchange to publish to; '' is the default exchange" }),
    routingKey: z.string().default(""),
    headers: fieldTable.default({}),
    properties: propertiesSchema.default({}),
    body: z
      .union([z.string(), z.record(z.string(), fieldValueSchema), z.array(fieldValueSchema)])
      .default("")
      .meta({
        description:
          "An object (sent as JSON) or a string; placeholders like {{uuid}} are filled per message",
      }),
    amount: z.number().int().min(0, "expected a whole number ≥ 0").default(1),
    delay: durationSchema.optional().meta({ description: "Pause between messages" }),
    rate: z.number().positive("expected a rate > 0 messages per second").optional(),
  })
  .refine((t) => t.delay === undefined || t.rate === undefined, {
    message: "give either `delay` or `rate`, not both",
    path: ["rate"],
  });

export const consumerSchema = z.strictObject({
  description: z.string().optional(),
  queue: z.string().optional(),
  exchange: z
    .string()
    .optional()
    .meta({ description: "Tap this exchange through a temporary queue" }),
  routingKey: z.string().optional(),
  match: z.enum(headersMatchModes).optional(),
  headers: fieldTable.optional(),
  prefetch: z.number().int().min(0).max(65535).optional(),
  ack: z.boolean().optional().meta({ description: "false consumes in no-ack mode" }),
  policy: z.enum(settlePolicies).optional().meta({ description: "What to do with each message" }),
  count: z.number().int().min(1).optional(),
  idleTimeout: durationSchema.optional(),
});

export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    broker: brokerSchema.default({ url: DEFAULT_URL }),
    topology: topologySchema.default({ exchanges: {}, queues: {}, bindings: [] }),
    templates: z.record(name("template"), templateSchema).default({}),
    consumers: z.record(name("consumer"), consumerSchema).default({}),
  })
  .meta({ title: "eventlab config", description: "eventlab.config.yaml" });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type BrokerConfig = Config["broker"];
export type Topology = Config["topology"];
export type ExchangeConfig = z.output<typeof exchangeSchema>;
export type QueueConfig = z.output<typeof queueSchema>;
export type BindingConfig = z.output<typeof bindingSchema>;
export type TemplateConfig = z.output<typeof templateSchema>;
export type PropertiesConfig = z.output<typeof propertiesSchema>;
export type ConsumerConfig = z.output<typeof consumerSchema>;

/** JSON Schema for editors, generated from the same schema (input side: what a person writes). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
}

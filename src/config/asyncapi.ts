/**
 * AsyncAPI in and out (only `import asyncapi` and `export asyncapi` load this module, and with
 * it the parser, which is heavy). `planImport` reads an AsyncAPI 2.x or 3.x document (YAML or JSON,
 * through @asyncapi/parser) into what eventlab would add:
 * one JSON Schema file per message of components.messages, and, where channels carry AMQP
 * bindings, exchanges, queues, templates and consumer profiles. `exportDocument` writes a
 * config's topology and templates as an AsyncAPI 3.0 document with AMQP channel bindings,
 * one message per template with its schema as payload. Pure, apart from the parser.
 */
import { Parser } from "@asyncapi/parser";
import { EventlabError } from "../errors.js";
import type { SchemaSpec } from "./contracts.js";
import type { Config, ExchangeType } from "./schema.js";

type Json = Record<string, unknown>;

/** Diagnostics of severity "error" (0) make a document unusable; the rest are advice. */
const ERROR = 0;

export interface ParsedAsyncApi {
  version: string;
  title: string;
  // The parser's document model; typed loosely so its types load only with it.
  document: AsyncApiDocument;
  warnings: string[];
}

/** Parse and validate a document; throws with the parser's errors (path: message). */
export async function parseAsyncApi(text: string, shown: string): Promise<ParsedAsyncApi> {
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(text);
  const errors = diagnostics.filter((d) => d.severity === ERROR);
  if (document === undefined || errors.length > 0) {
    const lines = errors
      .slice(0, 8)
      .map((d) => `${d.path.length > 0 ? `${d.path.join(".")}: ` : ""}${d.message}`);
    const more = errors.length > 8 ? `\n  … and ${errors.length - 8} more` : "";
    throw new EventlabError(
      "usage",
      `${shown} is not a valid AsyncAPI document${lines.length > 0 ? `:\n  ${lines.join("\n  ")}${more}` : ""}`,
      { hint: "eventlab reads AsyncAPI 2.x and 3.x documents, in YAML or JSON" },
    );
  }
  const doc = document as unknown as AsyncApiDocument;
  return {
    version: doc.version(),
    title: doc.info().title(),
    document: doc,
    warnings: diagnostics
      .filter((d) => d.severity === 1)
      .map((d) => `${d.path.length > 0 ? `${d.path.join(".")}: ` : ""}${d.message}`),
  };
}

/** The parts of the parser's document model used here. */
interface AsyncApiDocument {
  version(): string;
  info(): { title(): string };
  components(): { messages(): Iterable<AsyncApiMessage> };
  channels(): Iterable<AsyncApiChannel>;
  operations(): Iterable<AsyncApiOperation>;
}
interface AsyncApiMessage {
  id(): string;
  payload(): { json(): unknown } | undefined;
  contentType(): string | undefined;
  summary(): string | undefined;
  examples(): { all(): Array<{ payload(): unknown }> };
}
interface AsyncApiChannel {
  id(): string;
  address(): string | null | undefined;
  messages(): { all(): AsyncApiMessage[] };
  bindings(): { get(protocol: string): { value(): unknown } | undefined };
}
interface AsyncApiOperation {
  id(): string;
  action(): string;
  channels(): { all(): AsyncApiChannel[] };
  messages(): { all(): AsyncApiMessage[] };
}

export interface ImportPlan {
  /** One schema file per message: its path relative to the config, and the schema. */
  schemas: Array<{ message: string; file: string; schema: Json }>;
  exchanges: Record<string, { type: ExchangeType; durable: boolean; autoDelete: boolean }>;
  queues: Record<string, { durable: boolean; exclusive: boolean; autoDelete: boolean }>;
  templates: Record<
    string,
    {
      description?: string;
      exchange: string;
      routingKey: string;
      properties?: { contentType: string };
      body: unknown;
      schema: string;
    }
  >;
  consumers: Record<string, { description?: string; queue: string; schema: string }>;
  /** What was in the document but not imported, and why. */
  skipped: string[];
}

const EXCHANGE_TYPES = new Set(["direct", "topic", "fanout", "headers"]);

/** What the document says eventlab should add; `schemasDir` is relative to the config. */
export function planImport(parsed: ParsedAsyncApi, schemasDir = "schemas"): ImportPlan {
  const doc = parsed.document;
  const plan: ImportPlan = {
    schemas: [],
    exchanges: {},
    queues: {},
    templates: {},
    consumers: {},
    skipped: [],
  };
  const fileOf = new Map<string, string>();
  const addSchema = (m: AsyncApiMessage) => {
    const known = fileOf.get(m.id());
    if (known !== undefined) return known;
    const file = `${schemasDir}/${safeName(m.id())}.json`;
    fileOf.set(m.id(), file);
    const payload = m.payload()?.json();
    const schema = payload === undefined ? {} : (clean(payload) as Json);
    plan.schemas.push({
      message: m.id(),
      file,
      schema: { $schema: "http://json-schema.org/draft-07/schema#", title: m.id(), ...schema },
    });
    return file;
  };
  for (const m of doc.components().messages()) addSchema(m);
  for (const channel of doc.channels()) importChannel(plan, channel, addSchema);
  importUncarried(plan);
  for (const op of doc.operations()) importReceive(plan, op, addSchema);
  return plan;
}

/** The AMQP binding of a channel, if it has one. */
function amqpOf(channel: AsyncApiChannel): Json | undefined {
  return channel.bindings().get("amqp")?.value() as Json | undefined;
}

/** The queue a channel with `is: queue` names: the binding's, else the channel's address. */
function queueNameOf(channel: AsyncApiChannel, amqp: Json): string {
  const q = (amqp["queue"] ?? {}) as Json;
  return typeof q["name"] === "string" ? q["name"] : (channel.address() ?? channel.id());
}

/** A channel's exchange or queue, and a template per message it carries. */
function importChannel(
  plan: ImportPlan,
  channel: AsyncApiChannel,
  addSchema: (m: AsyncApiMessage) => string,
): void {
  const amqp = amqpOf(channel);
  const messages = channel.messages().all();
  if (amqp === undefined) {
    if (messages.length > 0)
      plan.skipped.push(`channel ${channel.id()}: no AMQP binding (its messages' schemas only)`);
    return;
  }
  let exchange = "";
  let routingKey = channel.address() ?? channel.id();
  if (amqp["is"] === "queue") {
    const q = (amqp["queue"] ?? {}) as Json;
    routingKey = queueNameOf(channel, amqp);
    plan.queues[routingKey] = {
      durable: q["durable"] !== false,
      exclusive: q["exclusive"] === true,
      autoDelete: q["autoDelete"] === true,
    };
  } else {
    exchange = importExchange(plan, (amqp["exchange"] ?? {}) as Json);
  }
  for (const m of messages) {
    const name = uniqueKey(plan.templates, safeName(m.id()), safeName(channel.id()));
    const example = m.examples().all()[0]?.payload();
    const schema = addSchema(m);
    const summary = m.summary();
    const contentType = m.contentType();
    plan.templates[name] = {
      ...(summary ? { description: summary } : {}),
      exchange,
      routingKey,
      ...(contentType && contentType !== "application/json" ? { properties: { contentType } } : {}),
      body:
        example !== undefined
          ? clean(example)
          : sampleOf(plan.schemas.find((s) => s.file === schema)?.schema),
      schema,
    };
  }
}

/** The exchange of an `is: routingKey` binding, added to the plan; its name ('' for none). */
function importExchange(plan: ImportPlan, ex: Json): string {
  if (typeof ex["name"] !== "string" || ex["name"] === "") return "";
  const name = ex["name"];
  const type = String(ex["type"] ?? "topic");
  if (!EXCHANGE_TYPES.has(type)) {
    plan.skipped.push(`exchange ${name}: type ${type} is not one eventlab declares`);
    return name;
  }
  plan.exchanges[name] = {
    type: type as ExchangeType,
    durable: ex["durable"] !== false,
    autoDelete: ex["autoDelete"] === true,
  };
  return name;
}

/**
 * A message no AMQP channel carries: a template to finish by hand (exchange, routing key),
 * so that its contract is in the config and goes out again with `export asyncapi`.
 */
function importUncarried(plan: ImportPlan): void {
  const carried = new Set(Object.values(plan.templates).map((t) => t.schema));
  for (const s of plan.schemas) {
    if (carried.has(s.file)) continue;
    const name = uniqueKey(plan.templates, safeName(s.message), "message");
    plan.templates[name] = {
      description: `AsyncAPI message ${s.message}: no AMQP channel carries it; set exchange and routingKey`,
      exchange: "",
      routingKey: "",
      body: sampleOf(s.schema),
      schema: s.file,
    };
    plan.skipped.push(
      `message ${s.message}: no channel with an AMQP binding carries it; template ${name} needs an exchange and a routing key`,
    );
  }
}

/** A receive operation on a queue channel: a consumer profile that checks its messages. */
function importReceive(
  plan: ImportPlan,
  op: AsyncApiOperation,
  addSchema: (m: AsyncApiMessage) => string,
): void {
  if (op.action() !== "receive") return;
  for (const channel of op.channels().all()) {
    const amqp = amqpOf(channel);
    if (amqp?.["is"] !== "queue") continue;
    const first = op.messages().all()[0] ?? channel.messages().all()[0];
    if (first === undefined) continue;
    plan.consumers[uniqueKey(plan.consumers, safeName(op.id()), "")] = {
      queue: queueNameOf(channel, amqp),
      schema: addSchema(first),
    };
  }
}

function uniqueKey(taken: Record<string, unknown>, name: string, suffix: string): string {
  if (!(name in taken)) return name;
  const withSuffix = suffix !== "" ? `${name}-${suffix}` : name;
  let candidate = withSuffix;
  for (let i = 2; candidate in taken; i++) candidate = `${withSuffix}-${i}`;
  return candidate;
}

/** A name for files and config keys: letters, digits, `.`, `_` and `-`. */
function safeName(s: string): string {
  const out = s.replace(/[^\w.-]+/g, "-").replace(/^[-.]+|-+$/g, "");
  return out === "" ? "message" : out;
}

/** A JSON value without the parser's own annotations (x-parser-…). */
function clean(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clean);
  if (value === null || typeof value !== "object") return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) if (!k.startsWith("x-parser-")) out[k] = clean(v);
  return out;
}

/** A body that fits a simple schema: its required fields, each a plain value of its type. */
export function sampleOf(schema: unknown, depth = 0): unknown {
  if (schema === null || typeof schema !== "object" || depth > 8) return {};
  const s = schema as Json;
  if (s["const"] !== undefined) return s["const"];
  if (Array.isArray(s["enum"]) && s["enum"].length > 0) return s["enum"][0];
  if (s["examples"] !== undefined && Array.isArray(s["examples"]) && s["examples"].length > 0)
    return s["examples"][0];
  const type = Array.isArray(s["type"]) ? s["type"][0] : s["type"];
  switch (type) {
    case "string":
      return s["format"] === "date-time"
        ? "2026-01-01T00:00:00Z"
        : s["format"] === "uuid"
          ? "00000000-0000-4000-8000-000000000000"
          : s["format"] === "email"
            ? "someone@example.com"
            : "text";
    case "integer":
    case "number":
      return typeof s["minimum"] === "number" ? s["minimum"] : 1;
    case "boolean":
      return false;
    case "array":
      return [];
    case "null":
      return null;
    default: {
      const props = (s["properties"] ?? {}) as Json;
      const required = Array.isArray(s["required"]) ? (s["required"] as string[]) : [];
      return Object.fromEntries(required.map((k) => [k, sampleOf(props[k], depth + 1)]));
    }
  }
}

// ---- export --------------------------------------------------------------------------------

/**
 * The config as an AsyncAPI 3.0 document: a channel per template (its routing key as the
 * address, the exchange in the AMQP binding), per queue and per exchange no template uses;
 * a send operation per template, a receive operation per consumer profile on a queue; one
 * message per template, its schema (read by `schemaOf`) as the payload.
 */
export function exportDocument(
  config: Pick<Config, "topology" | "templates" | "consumers">,
  schemaOf: (spec: SchemaSpec) => Json,
  title: string,
): Json {
  const { exchanges } = config.topology;
  const b = bindingsOf(config.topology);
  const channels: Json = {};
  const operations: Json = {};
  const messages: Json = {};
  const usedExchanges = new Set<string>();
  const channelId = (kind: string, name: string) => uniqueKey(channels, `${kind}.${key(name)}`, "");

  for (const [name, t] of Object.entries(config.templates)) {
    const id = key(name);
    messages[id] = templateMessage(name, t, schemaOf);
    if (t.exchange !== "") usedExchanges.add(t.exchange);
    const cid = channelId("template", name);
    channels[cid] = templateChannel(t, id, b);
    operations[uniqueKey(operations, `send.${id}`, "")] = {
      action: "send",
      ...(t.description ? { summary: t.description } : {}),
      channel: { $ref: `#/channels/${escapeRef(cid)}` },
      messages: [{ $ref: `#/channels/${escapeRef(cid)}/messages/${id}` }],
    };
  }
  for (const name of Object.keys(exchanges)) {
    if (usedExchanges.has(name)) continue;
    channels[channelId("exchange", name)] = {
      address: null,
      bindings: { amqp: { is: "routingKey", exchange: b.exchange(name), bindingVersion: "0.3.0" } },
    };
  }
  const queueChannel = new Map<string, string>();
  for (const name of Object.keys(config.topology.queues)) {
    const cid = channelId("queue", name);
    queueChannel.set(name, cid);
    channels[cid] = {
      address: name,
      bindings: { amqp: { is: "queue", queue: b.queue(name), bindingVersion: "0.3.0" } },
    };
  }
  for (const [name, c] of Object.entries(config.consumers)) {
    const cid = c.queue !== undefined ? queueChannel.get(c.queue) : undefined;
    if (cid === undefined) continue;
    const op: Json = { action: "receive", channel: { $ref: `#/channels/${escapeRef(cid)}` } };
    if (c.description) op["summary"] = c.description;
    if (c.schema !== undefined) {
      const id = consumerMessage(name, c.schema, config.templates, messages, schemaOf);
      const channel = channels[cid] as Json;
      channel["messages"] = {
        ...(channel["messages"] as Json | undefined),
        [id]: { $ref: `#/components/messages/${id}` },
      };
      op["messages"] = [{ $ref: `#/channels/${escapeRef(cid)}/messages/${id}` }];
    }
    operations[uniqueKey(operations, `receive.${key(name)}`, "")] = op;
  }
  return {
    asyncapi: "3.0.0",
    info: {
      title,
      version: "1.0.0",
      description: "Exported by eventlab from its config: topology, templates and consumers.",
    },
    defaultContentType: "application/json",
    channels,
    operations,
    components: { messages },
  };
}

type TemplateConfig = Config["templates"][string];

/** The AMQP channel bindings of an exchange and of a queue, from the topology. */
function bindingsOf(topology: Config["topology"]) {
  return {
    exchange: (name: string) => {
      const e = topology.exchanges[name];
      return {
        name,
        type: e?.type ?? (name.startsWith("amq.") ? amqType(name) : "direct"),
        durable: e?.durable ?? true,
        autoDelete: e?.autoDelete ?? false,
        vhost: "/",
      };
    },
    queue: (name: string) => {
      const q = topology.queues[name];
      return {
        name,
        durable: q?.durable ?? true,
        exclusive: q?.exclusive ?? false,
        autoDelete: q?.autoDelete ?? false,
        vhost: "/",
      };
    },
  };
}

/** A template's message: its name, summary, content type, and its schema as the payload. */
function templateMessage(
  name: string,
  t: TemplateConfig,
  schemaOf: (spec: SchemaSpec) => Json,
): Json {
  const message: Json = { name, title: name };
  if (t.description) message["summary"] = t.description;
  if (t.properties.contentType) message["contentType"] = t.properties.contentType;
  const payload = t.schema !== undefined ? forAsyncApi(schemaOf(t.schema)) : inferredSchema(t.body);
  if (payload !== undefined) message["payload"] = payload;
  return message;
}

/**
 * A template's channel: its routing key as the address and its exchange in the binding; on
 * the default exchange, the queue (the routing key) instead; no binding for a template that
 * names neither. A routing key with placeholders has no fixed address: it goes in the
 * description.
 */
function templateChannel(t: TemplateConfig, id: string, b: ReturnType<typeof bindingsOf>): Json {
  const fixedKey = !t.routingKey.includes("{{");
  const nowhere = t.exchange === "" && t.routingKey === "";
  const amqp =
    t.exchange === ""
      ? { is: "queue", queue: b.queue(t.routingKey), bindingVersion: "0.3.0" }
      : { is: "routingKey", exchange: b.exchange(t.exchange), bindingVersion: "0.3.0" };
  return {
    address: fixedKey && !nowhere ? t.routingKey : null,
    ...(fixedKey ? {} : { description: `routing key template: ${t.routingKey}` }),
    messages: { [id]: { $ref: `#/components/messages/${id}` } },
    ...(nowhere ? {} : { bindings: { amqp } }),
  };
}

/** The message a consumer receives: a template's with the same schema, else one of its own. */
function consumerMessage(
  name: string,
  schema: SchemaSpec,
  templates: Config["templates"],
  messages: Json,
  schemaOf: (spec: SchemaSpec) => Json,
): string {
  const same = Object.entries(templates).find(([, t]) => t.schema === schema);
  if (same) return key(same[0]);
  const id = uniqueKey(messages, `${key(name)}.received`, "");
  messages[id] = { name: id, payload: forAsyncApi(schemaOf(schema)) };
  return id;
}

function amqType(name: string): ExchangeType {
  if (name.startsWith("amq.topic")) return "topic";
  if (name.startsWith("amq.fanout")) return "fanout";
  if (name.startsWith("amq.headers") || name.startsWith("amq.match")) return "headers";
  return "direct";
}

/** A key AsyncAPI accepts for components and channels: ^[\w.-]+$. */
function key(name: string): string {
  return safeName(name);
}

/** A JSON Pointer segment for $ref. */
function escapeRef(s: string): string {
  return s.replace(/~/g, "~0").replace(/\//g, "~1");
}

/**
 * A JSON Schema as an AsyncAPI payload: its internal $refs (#/definitions/…, #/$defs/…)
 * resolved in place, since inside the document they would point at the document's root,
 * and the keywords that only make sense at a file's top ($schema, $id) dropped.
 */
export function forAsyncApi(schema: Json): Json {
  const root = schema;
  const resolve = (value: unknown, depth: number): unknown => {
    if (Array.isArray(value)) return value.map((v) => resolve(v, depth));
    if (value === null || typeof value !== "object") return value;
    const v = value as Json;
    const ref = v["$ref"];
    if (typeof ref === "string" && ref.startsWith("#/") && depth < 32) {
      const target = pointer(root, ref.slice(1));
      if (target !== undefined) {
        const { $ref: _, ...rest } = v;
        return resolve({ ...(target as Json), ...rest }, depth + 1);
      }
    }
    const out: Json = {};
    for (const [k, child] of Object.entries(v)) {
      if (v === root && (k === "$schema" || k === "$id" || k === "definitions" || k === "$defs"))
        continue;
      out[k] = resolve(child, depth);
    }
    return out;
  };
  return resolve(schema, 0) as Json;
}

function pointer(root: unknown, p: string): unknown {
  let cur: unknown = root;
  for (const raw of p.split("/").slice(1)) {
    const seg = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Json)[seg];
  }
  return cur;
}

/** A template without a schema: the shape of its body, as far as it goes. */
function inferredSchema(body: unknown): Json | undefined {
  if (typeof body === "string") return body === "" ? undefined : { type: "string" };
  if (Array.isArray(body)) return { type: "array" };
  if (body !== null && typeof body === "object")
    return {
      type: "object",
      properties: Object.fromEntries(Object.keys(body).map((k) => [k, {}])),
    };
  return undefined;
}

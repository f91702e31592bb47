/**
 * RabbitMQ's definitions.json (what `rabbitmqctl export_definitions` and the management UI
 * write) ⇄ eventlab's topology. Pure: objects in, objects out; the command reads and writes
 * the files. Reading a file is definitions-file.ts; putting the result into a config file is
 * topology-merge.ts. This module is what `topology export` and `topology import` load.
 *
 * Both directions use the same tables (arguments.ts): export declares exactly what apply
 * would, and import maps back each argument that an eventlab field declares the same way,
 * when the config schema accepts its value. The rest passes through as `arguments`, with a note.
 */
import { isDeepStrictEqual } from "node:util";
import type { z } from "zod";
import {
  bindingArguments,
  EXCHANGE_ARGUMENTS,
  exchangeArguments,
  exchangeOptions,
  QUEUE_ARGUMENTS,
  queueArguments,
} from "./arguments.js";
import type {
  Definitions,
  DefinitionsBinding,
  DefinitionsExchange,
  DefinitionsQueue,
} from "./definitions-file.js";
import { durationInUnits } from "./duration.js";
import {
  bindingSchema,
  type ExchangeConfig,
  exchangeSchema,
  type QueueConfig,
  queueSchema,
  type Topology,
  topologySchema,
} from "./schema.js";
import type { BindingInput, ExchangeInput, QueueInput, TopologyInput } from "./topology-merge.js";

// What the command loads with this module: reading a file, and merging into the config.

// -- export ----------------------------------------------------------------------------------

/** The config's topology as definitions for one vhost. Exclusive queues cannot be defined: skipped, with a note. */
export function toDefinitions(
  t: Topology,
  vhost = "/",
): { definitions: Definitions; notes: string[] } {
  const notes: string[] = [];
  const exchanges = Object.entries(t.exchanges).map(([name, e]): DefinitionsExchange => {
    const o = exchangeOptions(e);
    return {
      name,
      vhost,
      type: e.type,
      durable: o.durable,
      auto_delete: o.autoDelete,
      internal: o.internal,
      arguments: o.arguments,
    };
  });
  const queues: DefinitionsQueue[] = [];
  for (const [name, q] of Object.entries(t.queues)) {
    if (q.exclusive) {
      notes.push(
        `queue ${name} is exclusive: definitions cannot hold exclusive queues, so it is left out`,
      );
      continue;
    }
    queues.push({
      name,
      vhost,
      durable: q.durable,
      auto_delete: q.autoDelete,
      arguments: queueArguments(q),
    });
  }
  const bindings = t.bindings.map(
    (b): DefinitionsBinding => ({
      source: b.source,
      vhost,
      destination: b.destination,
      destination_type: b.destinationType,
      routing_key: b.routingKey,
      arguments: bindingArguments(b),
    }),
  );
  return { definitions: { vhosts: [{ name: vhost }], exchanges, queues, bindings }, notes };
}

// -- import ----------------------------------------------------------------------------------

type Mapping = Record<string, unknown>;
type FieldSchemas = Record<string, z.ZodType>;

const HEADERS_EXCHANGES = new Set(["amq.headers", "amq.match"]);

/** The config's rules for the names it declares. */
const exchangeName = topologySchema.shape.exchanges.unwrap().keyType;
const queueName = topologySchema.shape.queues.unwrap().keyType;

/** The default exchange, amq.* exchanges and server-named queues: the broker's own. */
const brokersOwn = (name: string) => name === "" || name.startsWith("amq.");

/**
 * Take out of `args` the arguments that a field declares: the schema accepts the value for
 * the field, and declaring the field (`declare`) gives back the same argument.
 */
function argumentFields<C extends object>(
  args: Mapping,
  table: ReadonlyArray<readonly [keyof C & string, string]>,
  shape: FieldSchemas,
  declare: (fields: Partial<C>) => Mapping,
): Partial<C> {
  const fields: Mapping = {};
  for (const [field, arg] of table) {
    if (!(arg in args)) continue;
    const parsed = shape[field]?.safeParse(args[arg]);
    if (!parsed?.success) continue;
    const declared = declare({ [field]: parsed.data } as Partial<C>);
    if (!isDeepStrictEqual(declared, { [arg]: args[arg] })) continue;
    fields[field] = parsed.data;
    delete args[arg];
  }
  return fields as Partial<C>;
}

/** What the schema gives a field that is left out: its default, or undefined. */
function defaultOf(field: z.ZodType): unknown {
  const r = field.safeParse(undefined);
  return r.success ? r.data : undefined;
}

/**
 * Parsed settings as a person writes them: the `lead` settings first (always written), then
 * the others that are not their default, in the schema's order; 3600000 as "1h" where the
 * field reads that back as the same value (durations).
 */
function compact(shape: FieldSchemas, value: Mapping, lead: readonly string[] = []): Mapping {
  const out: Mapping = {};
  const rest = Object.keys(shape).filter((key) => !lead.includes(key));
  for (const key of [...lead, ...rest]) {
    const v = value[key];
    const field = shape[key];
    if (v === undefined || field === undefined) continue;
    if (!lead.includes(key) && isDeepStrictEqual(v, defaultOf(field))) continue;
    const text = typeof v === "number" ? durationInUnits(v) : undefined;
    out[key] = text !== undefined && field.safeParse(text).data === v ? text : v;
  }
  return out;
}

/** The first problem zod found, for a note. */
function firstProblem(error: z.ZodError, withPath: boolean): string {
  const issue = error.issues[0];
  const at = withPath && issue?.path.length ? `${issue.path.join(".")}: ` : "";
  return `${at}${issue?.message ?? "invalid"}`;
}

function importExchange(x: DefinitionsExchange, notes: string[]): ExchangeInput | undefined {
  const name = exchangeName.safeParse(x.name);
  if (!name.success) {
    if (!brokersOwn(x.name))
      notes.push(`exchange ${x.name} skipped: ${firstProblem(name.error, false)}`);
    return undefined;
  }
  if (!exchangeSchema.shape.type.safeParse(x.type).success) {
    notes.push(
      `exchange ${x.name} skipped: its type ${x.type} is a plugin's; eventlab declares direct, topic, fanout and headers exchanges`,
    );
    return undefined;
  }
  const args = { ...x.arguments };
  const fields = argumentFields<ExchangeConfig>(
    args,
    EXCHANGE_ARGUMENTS,
    exchangeSchema.shape,
    exchangeArguments,
  );
  const parsed = exchangeSchema.safeParse({
    type: x.type,
    durable: x.durable,
    autoDelete: x.auto_delete,
    internal: x.internal,
    ...fields,
    arguments: args,
  });
  if (!parsed.success) {
    notes.push(`exchange ${x.name} skipped: ${firstProblem(parsed.error, false)}`);
    return undefined;
  }
  return compact(exchangeSchema.shape, parsed.data, ["type"]) as ExchangeInput;
}

function importQueue(q: DefinitionsQueue, notes: string[]): QueueInput | undefined {
  const name = queueName.safeParse(q.name);
  if (!name.success) {
    notes.push(
      brokersOwn(q.name)
        ? `queue ${q.name || '""'} skipped: amq.* names are the broker's (server-named queues)`
        : `queue ${q.name} skipped: ${firstProblem(name.error, false)}`,
    );
    return undefined;
  }
  const args = { ...q.arguments };
  const fields = argumentFields<QueueConfig>(
    args,
    QUEUE_ARGUMENTS,
    queueSchema.shape,
    queueArguments,
  );
  // The schema refuses a dead-letter routing key alone; the broker takes it as an argument.
  if (fields.deadLetterRoutingKey !== undefined && fields.deadLetterExchange === undefined) {
    args["x-dead-letter-routing-key"] = fields.deadLetterRoutingKey;
    delete fields.deadLetterRoutingKey;
  }
  if (fields.queueType === undefined && q.type !== undefined && q.type !== "classic") {
    const type = queueSchema.shape.queueType.safeParse(q.type);
    if (type.success) fields.queueType = type.data;
    else
      notes.push(`queue ${q.name}: type ${q.type} is not one eventlab knows; declared as classic`);
  }
  const unknown = Object.keys(args);
  if (unknown.length > 0) {
    notes.push(
      `queue ${q.name}: ${unknown.join(", ")} ${unknown.length === 1 ? "has" : "have"} no eventlab field, passed through as arguments`,
    );
  }
  const parsed = queueSchema.safeParse({
    durable: q.durable,
    autoDelete: q.auto_delete,
    ...fields,
    arguments: args,
  });
  if (!parsed.success) {
    notes.push(`queue ${q.name} skipped: ${firstProblem(parsed.error, true)}`);
    return undefined;
  }
  return compact(queueSchema.shape, parsed.data) as QueueInput;
}

/**
 * A headers binding's arguments as `match` and `headers`, taken out of `args`. x- arguments
 * are the broker's, not headers to match, unless x-match is one of the *-with-x modes.
 */
function headersFields(args: Mapping): Pick<BindingInput, "match" | "headers"> {
  const match = args["x-match"];
  const withX = typeof match === "string" && match.endsWith("-with-x");
  const headers: Mapping = {};
  for (const [k, v] of Object.entries(args)) {
    if (k === "x-match" || (k.startsWith("x-") && !withX)) continue;
    headers[k] = v;
    delete args[k];
  }
  // x-match with nothing to match stays the argument it is.
  if (Object.keys(headers).length === 0) return {};
  if (match === undefined || !bindingSchema.shape.match.safeParse(match).success)
    return { headers };
  delete args["x-match"];
  return { match: match as BindingInput["match"], headers };
}

function importBinding(
  b: DefinitionsBinding,
  sourceType: string | undefined,
  notes: string[],
): BindingInput | undefined {
  const args = { ...b.arguments };
  const headersLike =
    sourceType === "headers" || HEADERS_EXCHANGES.has(b.source) || "x-match" in args;
  const parsed = bindingSchema.safeParse({
    source: b.source,
    destination: b.destination,
    destinationType: b.destination_type,
    routingKey: b.routing_key,
    ...(headersLike ? headersFields(args) : {}),
    arguments: args,
  });
  if (!parsed.success) {
    notes.push(
      `binding ${b.source} → ${b.destination} skipped: ${firstProblem(parsed.error, false)}`,
    );
    return undefined;
  }
  return compact(bindingSchema.shape, parsed.data, ["source", "destination"]) as BindingInput;
}

/**
 * The topology of one vhost of a definitions file, as config input, with notes on what was
 * skipped or passed through. The default exchange and amq.* objects are the broker's own
 * and are skipped; so are objects of other vhosts and exchange types eventlab cannot declare.
 */
export function fromDefinitions(
  d: Definitions,
  vhost = "/",
): { topology: TopologyInput; notes: string[] } {
  const notes: string[] = [];
  const elsewhere = new Map<string, number>();
  // An object without a vhost comes from a vhost's own export: it is of the vhost imported.
  const here = <T extends { vhost?: string | undefined }>(items: T[]): T[] =>
    items.filter((o) => {
      if (o.vhost === undefined || o.vhost === vhost) return true;
      elsewhere.set(o.vhost, (elsewhere.get(o.vhost) ?? 0) + 1);
      return false;
    });
  const topology: TopologyInput = { exchanges: {}, queues: {}, bindings: [] };
  const exchangesHere = here(d.exchanges);
  const typeOf = new Map(exchangesHere.map((x) => [x.name, x.type]));
  for (const x of exchangesHere) {
    const e = importExchange(x, notes);
    if (e !== undefined) topology.exchanges[x.name] = e;
  }
  for (const q of here(d.queues)) {
    const e = importQueue(q, notes);
    if (e !== undefined) topology.queues[q.name] = e;
  }
  // Bindings of the default exchange are implicit, one per queue.
  for (const b of here(d.bindings).filter((b) => b.source !== "")) {
    const e = importBinding(b, typeOf.get(b.source), notes);
    if (e !== undefined) topology.bindings.push(e);
  }
  for (const [v, n] of elsewhere) {
    notes.push(
      `${n} object${n === 1 ? "" : "s"} of vhost ${JSON.stringify(v)} skipped (importing vhost ${JSON.stringify(vhost)})`,
    );
  }
  return { topology, notes };
}

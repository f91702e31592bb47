/**
 * RabbitMQ's definitions.json (what `rabbitmqctl export_definitions` and the management UI
 * write) ⇄ eventlab's topology. Pure: text and objects in, text and objects out; the command
 * reads and writes the files.
 *
 * Export uses the same argument builders as `topology apply`, so a definitions file declares
 * exactly what apply would. Import maps the x- arguments eventlab knows back to named fields and
 * passes the rest through as `arguments`, saying so.
 */
import { Document, isMap, isSeq, parseDocument, type YAMLMap } from "yaml";
import { EventlabError } from "../errors.js";
import { bindingArguments, exchangeOptions, queueArguments } from "./arguments.js";
import {
  type ExchangeType,
  exchangeTypes,
  headersMatchModes,
  overflowModes,
  queueTypes,
} from "./constants.js";
import {
  type BindingConfig,
  bindingSchema,
  type ExchangeConfig,
  exchangeSchema,
  type QueueConfig,
  queueSchema,
  type Topology,
} from "./schema.js";

export interface DefinitionsExchange {
  name: string;
  vhost: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: Record<string, unknown>;
}

export interface DefinitionsQueue {
  name: string;
  vhost: string;
  durable: boolean;
  auto_delete: boolean;
  arguments: Record<string, unknown>;
  /** Newer RabbitMQ versions write the queue type here too (classic, quorum, stream). */
  type?: string | undefined;
}

export interface DefinitionsBinding {
  source: string;
  vhost: string;
  destination: string;
  destination_type: "queue" | "exchange";
  routing_key: string;
  arguments: Record<string, unknown>;
}

export interface Definitions {
  rabbit_version?: string | undefined;
  vhosts: Array<{ name: string }>;
  exchanges: DefinitionsExchange[];
  queues: DefinitionsQueue[];
  bindings: DefinitionsBinding[];
}

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
      durable: o.durable ?? true,
      auto_delete: o.autoDelete ?? false,
      internal: o.internal ?? false,
      arguments: o.arguments ?? {},
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

// -- reading a definitions file --------------------------------------------------------------

const FILE_HINT =
  "give a file written by `rabbitmqctl export_definitions FILE.json`, the management UI's export, or `eventlab topology export`";

type Mapping = Record<string, unknown>;
const isMapping = (v: unknown): v is Mapping =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** "at position 42" → line and column, for JSON.parse messages. */
function jsonSyntaxMessage(err: unknown, text: string): string {
  const raw = String((err as Error).message ?? err).split("\n")[0]!;
  const at = / at position (\d+)/.exec(raw);
  const clean = raw
    .replace(/ in JSON at position \d+.*$/, "")
    .replace(/ \(line \d+ column \d+\)$/, "");
  if (!at) {
    if (/end of JSON input/.test(raw)) return "the file ends too early (a missing } or ]?)";
    return clean;
  }
  const offset = Number(at[1]);
  const before = text.slice(0, offset).split("\n");
  return `${clean} at line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}

/**
 * Parse and check a definitions file, collecting every problem with its place
 * (`queues[3].durable: expected true or false`). Sections eventlab does not use (users,
 * permissions, policies, parameters, …) are ignored. `file` names the file in messages.
 */
export function parseDefinitions(text: string, file: string): Definitions {
  const source = text.startsWith("\uFEFF") ? text.slice(1) : text;
  if (source.trim() === "") {
    throw new EventlabError("config", `${file} is empty, not a definitions file`, {
      hint: FILE_HINT,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(source);
  } catch (err) {
    throw new EventlabError(
      "config",
      `${file} is not valid JSON: ${jsonSyntaxMessage(err, source)}`,
      {
        hint: `fix the syntax there; ${FILE_HINT}`,
      },
    );
  }
  const sections = ["exchanges", "queues", "bindings"] as const;
  if (!isMapping(data) || !sections.some((s) => s in data)) {
    throw new EventlabError(
      "config",
      `${file} is not a RabbitMQ definitions file: expected an object with "exchanges", "queues" and "bindings" lists, got ${isMapping(data) ? `an object with ${Object.keys(data).slice(0, 5).join(", ") || "no keys"}` : typeName(data)}`,
      { hint: FILE_HINT },
    );
  }
  const problems: string[] = [];
  const list = (key: (typeof sections)[number]): Mapping[] => {
    const v = data[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      problems.push(`${key}: expected a list, got ${typeName(v)}`);
      return [];
    }
    return v.filter((item, i) => {
      if (isMapping(item)) return true;
      problems.push(`${key}[${i}]: expected an object, got ${typeName(item)}`);
      return false;
    });
  };
  const field = <T>(
    where: string,
    o: Mapping,
    key: string,
    check: (v: unknown) => v is T,
    expected: string,
    fallback?: T,
  ): T => {
    const v = o[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (check(v)) return v;
    problems.push(
      `${where}.${key}: expected ${expected}, got ${v === undefined ? "nothing" : typeName(v)}`,
    );
    return fallback as T;
  };
  const str = (v: unknown): v is string => typeof v === "string";
  const bool = (v: unknown): v is boolean => typeof v === "boolean";
  const args = (v: unknown): v is Mapping => isMapping(v);
  const vhostOf = (where: string, o: Mapping) =>
    // A vhost's own export (management API /api/definitions/<vhost>) leaves vhost out.
    field(where, o, "vhost", str, "a vhost name (text)", "\u0000") as string;

  const exchanges = list("exchanges").map((o, i): DefinitionsExchange => {
    const w = `exchanges[${i}]`;
    return {
      name: field(w, o, "name", str, "a name (text)", ""),
      vhost: vhostOf(w, o),
      type: field(w, o, "type", str, "an exchange type (text)", "direct"),
      durable: field(w, o, "durable", bool, "true or false", true),
      auto_delete: field(w, o, "auto_delete", bool, "true or false", false),
      internal: field(w, o, "internal", bool, "true or false", false),
      arguments: field(w, o, "arguments", args, "an object", {}),
    };
  });
  const queues = list("queues").map((o, i): DefinitionsQueue => {
    const w = `queues[${i}]`;
    const type = o.type === undefined ? undefined : field(w, o, "type", str, "a queue type (text)");
    return {
      name: field(w, o, "name", str, "a name (text)", ""),
      vhost: vhostOf(w, o),
      durable: field(w, o, "durable", bool, "true or false", true),
      auto_delete: field(w, o, "auto_delete", bool, "true or false", false),
      arguments: field(w, o, "arguments", args, "an object", {}),
      ...(type !== undefined ? { type } : {}),
    };
  });
  const bindings = list("bindings").map((o, i): DefinitionsBinding => {
    const w = `bindings[${i}]`;
    const destinationType = field(
      w,
      o,
      "destination_type",
      (v): v is "queue" | "exchange" => v === "queue" || v === "exchange",
      '"queue" or "exchange"',
      "queue",
    );
    return {
      source: field(w, o, "source", str, "an exchange name (text)", ""),
      vhost: vhostOf(w, o),
      destination: field(w, o, "destination", str, "a name (text)", ""),
      destination_type: destinationType,
      routing_key: field(w, o, "routing_key", str, "a routing key (text)", ""),
      arguments: field(w, o, "arguments", args, "an object", {}),
    };
  });
  if (problems.length > 0) {
    const shown = problems.slice(0, 10);
    const more =
      problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : "";
    throw new EventlabError(
      "config",
      `${file} is not a valid definitions file (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  ${shown.join("\n  ")}${more}`,
      { hint: FILE_HINT },
    );
  }
  const vhosts = Array.isArray(data.vhosts)
    ? data.vhosts
        .filter(isMapping)
        .flatMap((v) => (typeof v.name === "string" ? [{ name: v.name }] : []))
    : [];
  return {
    ...(typeof data.rabbit_version === "string" ? { rabbit_version: data.rabbit_version } : {}),
    vhosts,
    exchanges,
    queues,
    bindings,
  };
}

// -- import ----------------------------------------------------------------------------------

/** A topology as a person writes it: defaults left out. Parses (topologySchema) to the full form. */
export interface TopologyInput {
  exchanges: Record<string, Record<string, unknown>>;
  queues: Record<string, Record<string, unknown>>;
  bindings: Array<Record<string, unknown>>;
}

const HEADERS_EXCHANGES = new Set(["amq.headers", "amq.match"]);

const isWhole = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max;
const isString = (v: unknown): v is string => typeof v === "string";
const oneOf =
  (values: readonly string[]) =>
  (v: unknown): v is string =>
    typeof v === "string" && values.includes(v);

/** x- queue arguments eventlab has a field for, and the values that field accepts. */
const QUEUE_FIELDS: Array<[string, keyof QueueConfig, (v: unknown) => boolean]> = [
  ["x-message-ttl", "messageTtl", (v) => isWhole(v, 0)],
  ["x-expires", "expires", (v) => isWhole(v, 1)],
  ["x-max-length", "maxLength", (v) => isWhole(v, 0)],
  ["x-max-length-bytes", "maxLengthBytes", (v) => isWhole(v, 0)],
  ["x-overflow", "overflow", oneOf(overflowModes)],
  ["x-dead-letter-exchange", "deadLetterExchange", isString],
  ["x-dead-letter-routing-key", "deadLetterRoutingKey", isString],
  ["x-max-priority", "maxPriority", (v) => isWhole(v, 1, 255)],
  ["x-queue-type", "queueType", oneOf(queueTypes)],
];

/** Defaults are left out of what import writes: the config stays short. */
function compactExchange(e: ExchangeConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { type: e.type };
  if (!e.durable) out.durable = false;
  if (e.autoDelete) out.autoDelete = true;
  if (e.internal) out.internal = true;
  if (e.alternateExchange !== undefined) out.alternateExchange = e.alternateExchange;
  if (Object.keys(e.arguments).length > 0) out.arguments = e.arguments;
  return out;
}

/** 3600000 → "1h": durations as a person writes them; other values stay milliseconds. */
function duration(ms: number): string | number {
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms;
}

function compactQueue(q: QueueConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(q)) {
    if (value === undefined) continue;
    if ((key === "messageTtl" || key === "expires") && typeof value === "number") {
      out[key] = duration(value);
      continue;
    }
    if (key === "durable" && value === true) continue;
    if ((key === "exclusive" || key === "autoDelete") && value === false) continue;
    if (key === "arguments" && Object.keys(value as object).length === 0) continue;
    out[key] = value;
  }
  return out;
}

function compactBinding(b: BindingConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { source: b.source, destination: b.destination };
  if (b.destinationType !== "queue") out.destinationType = b.destinationType;
  if (b.routingKey !== "") out.routingKey = b.routingKey;
  if (b.match !== undefined) out.match = b.match;
  if (b.headers !== undefined) out.headers = b.headers;
  if (Object.keys(b.arguments).length > 0) out.arguments = b.arguments;
  return out;
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
  const inVhost = (v: string) => v === "\u0000" || v === vhost;
  const elsewhere = new Map<string, number>();
  const countElsewhere = (v: string) => {
    if (!inVhost(v)) elsewhere.set(v, (elsewhere.get(v) ?? 0) + 1);
    return inVhost(v);
  };
  const exchanges: TopologyInput["exchanges"] = {};
  const exchangeTypeOf = new Map<string, string>();
  for (const x of d.exchanges) {
    if (!countElsewhere(x.vhost)) continue;
    exchangeTypeOf.set(x.name, x.type);
    if (x.name === "" || x.name.startsWith("amq.")) continue;
    if (!exchangeTypes.includes(x.type as ExchangeType)) {
      notes.push(
        `exchange ${x.name} skipped: its type ${x.type} is a plugin's; eventlab declares direct, topic, fanout and headers exchanges`,
      );
      continue;
    }
    const { "alternate-exchange": ae, ...rest } = x.arguments;
    const e = {
      type: x.type,
      durable: x.durable,
      autoDelete: x.auto_delete,
      internal: x.internal,
      ...(typeof ae === "string" && ae !== "" ? { alternateExchange: ae } : {}),
      arguments: typeof ae === "string" && ae !== "" ? rest : x.arguments,
    };
    const parsed = exchangeSchema.safeParse(e);
    if (!parsed.success) {
      notes.push(`exchange ${x.name} skipped: ${parsed.error.issues[0]?.message ?? "invalid"}`);
      continue;
    }
    exchanges[x.name] = compactExchange(parsed.data);
  }

  const queues: TopologyInput["queues"] = {};
  for (const q of d.queues) {
    if (!countElsewhere(q.vhost)) continue;
    if (q.name.startsWith("amq.") || q.name === "") {
      notes.push(
        `queue ${q.name || '""'} skipped: amq.* names are the broker's (server-named queues)`,
      );
      continue;
    }
    const args = { ...q.arguments };
    const fields: Record<string, unknown> = {};
    for (const [arg, key, ok] of QUEUE_FIELDS) {
      if (arg in args && ok(args[arg])) {
        fields[key] = args[arg];
        delete args[arg];
      }
    }
    // The schema refuses a dead-letter routing key alone; the broker takes it as an argument.
    if (fields.deadLetterRoutingKey !== undefined && fields.deadLetterExchange === undefined) {
      args["x-dead-letter-routing-key"] = fields.deadLetterRoutingKey;
      delete fields.deadLetterRoutingKey;
    }
    if (fields.queueType === undefined && q.type !== undefined && q.type !== "classic") {
      if (oneOf(queueTypes)(q.type)) fields.queueType = q.type;
      else
        notes.push(
          `queue ${q.name}: type ${q.type} is not one eventlab knows; declared as classic`,
        );
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
      const issue = parsed.error.issues[0];
      notes.push(
        `queue ${q.name} skipped: ${issue?.path.length ? `${issue.path.join(".")}: ` : ""}${issue?.message ?? "invalid"}`,
      );
      continue;
    }
    queues[q.name] = compactQueue(parsed.data);
  }

  const bindings: TopologyInput["bindings"] = [];
  for (const b of d.bindings) {
    if (!countElsewhere(b.vhost)) continue;
    // Bindings of the default exchange are implicit, one per queue.
    if (b.source === "") continue;
    const args = { ...b.arguments };
    const sourceType = exchangeTypeOf.get(b.source);
    const headersLike =
      sourceType === "headers" || HEADERS_EXCHANGES.has(b.source) || "x-match" in args;
    const binding: Record<string, unknown> = {
      source: b.source,
      destination: b.destination,
      destinationType: b.destination_type,
      routingKey: b.routing_key,
    };
    if (headersLike) {
      const match = args["x-match"];
      const withX = typeof match === "string" && match.endsWith("-with-x");
      if (oneOf(headersMatchModes)(match)) {
        binding.match = match;
        delete args["x-match"];
      }
      const headers: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(args)) {
        if (k.startsWith("x-") && !withX) continue;
        headers[k] = v;
        delete args[k];
      }
      if (Object.keys(headers).length > 0) binding.headers = headers;
      else if (binding.match !== undefined) {
        // x-match with nothing to match: keep it as the argument it is.
        args["x-match"] = binding.match;
        delete binding.match;
      }
    }
    binding.arguments = args;
    const parsed = bindingSchema.safeParse(binding);
    if (!parsed.success) {
      notes.push(
        `binding ${b.source} → ${b.destination} skipped: ${parsed.error.issues[0]?.message ?? "invalid"}`,
      );
      continue;
    }
    bindings.push(compactBinding(parsed.data));
  }
  for (const [v, n] of elsewhere) {
    notes.push(
      `${n} object${n === 1 ? "" : "s"} of vhost ${JSON.stringify(v)} skipped (importing vhost ${JSON.stringify(vhost)})`,
    );
  }
  return { topology: { exchanges, queues, bindings }, notes };
}

// -- merging into a config file --------------------------------------------------------------

export interface MergeResult {
  text: string;
  /** Exchanges and queues added, as "exchange x", "queue y". */
  added: string[];
  addedBindings: number;
  /** Objects that existed with the same name and were replaced. */
  replaced: string[];
  /** Bindings the file already had. */
  unchanged: number;
}

/** Two bindings are the same when they would bind the same thing. */
function bindingKey(b: Record<string, unknown>): string {
  const p = bindingSchema.parse(b);
  const args = bindingArguments(p);
  const sorted = Object.fromEntries(
    Object.keys(args)
      .sort()
      .map((k) => [k, args[k]]),
  );
  return JSON.stringify([p.source, p.destinationType, p.destination, p.routingKey, sorted]);
}

/**
 * Put an imported topology into config text: a new file when `existing` is undefined, else
 * merged into its topology section (same-named exchanges and queues replaced, bindings added
 * unless already there). YAML keeps its comments and the other sections; JSON is rewritten
 * with two-space indentation. `existingBindings` are the file's bindings after validation.
 */
export function mergeTopology(
  existing: string | undefined,
  json: boolean,
  imported: TopologyInput,
  header: string,
): MergeResult {
  const added: string[] = [];
  const replaced: string[] = [];
  let unchanged = 0;
  if (existing === undefined) {
    for (const n of Object.keys(imported.exchanges)) added.push(`exchange ${n}`);
    for (const n of Object.keys(imported.queues)) added.push(`queue ${n}`);
    const addedBindings = imported.bindings.length;
    const data = { topology: imported };
    if (json)
      return {
        text: `${JSON.stringify(data, null, 2)}\n`,
        added,
        addedBindings,
        replaced,
        unchanged,
      };
    const doc = new Document(data);
    doc.commentBefore = ` ${header}`;
    return { text: doc.toString({ lineWidth: 0 }), added, addedBindings, replaced, unchanged };
  }

  if (json) {
    const data = JSON.parse(
      existing.startsWith("\uFEFF") ? existing.slice(1) : existing,
    ) as Mapping;
    const topology = isMapping(data.topology) ? data.topology : {};
    data.topology = topology;
    for (const kind of ["exchanges", "queues"] as const) {
      const section = isMapping(topology[kind]) ? topology[kind] : {};
      topology[kind] = section;
      for (const [name, value] of Object.entries(imported[kind])) {
        (name in section ? replaced : added).push(`${kind.slice(0, -1)} ${name}`);
        section[name] = value;
      }
    }
    const list = Array.isArray(topology.bindings) ? (topology.bindings as Mapping[]) : [];
    topology.bindings = list;
    const have = new Set(list.map(bindingKey));
    let n = 0;
    for (const b of imported.bindings) {
      if (have.has(bindingKey(b))) unchanged += 1;
      else {
        list.push(b);
        have.add(bindingKey(b));
        n += 1;
      }
    }
    return {
      text: `${JSON.stringify(data, null, 2)}\n`,
      added,
      addedBindings: n,
      replaced,
      unchanged,
    };
  }

  const doc = parseDocument(existing, { keepSourceTokens: false });
  const ensureMap = (path: string[]): YAMLMap => {
    let node = doc.getIn(path, true);
    if (!isMap(node)) {
      doc.setIn(path, doc.createNode({}));
      node = doc.getIn(path, true);
    }
    const map = node as YAMLMap;
    // `exchanges: {}` is written in flow style; entries added to it read better as a block.
    map.flow = false;
    return map;
  };
  if (!isMap(doc.contents)) doc.contents = doc.createNode({}) as never;
  ensureMap(["topology"]);
  for (const kind of ["exchanges", "queues"] as const) {
    const map = ensureMap(["topology", kind]);
    for (const [name, value] of Object.entries(imported[kind])) {
      (map.has(name) ? replaced : added).push(`${kind.slice(0, -1)} ${name}`);
      map.set(name, doc.createNode(value));
    }
  }
  let seq = doc.getIn(["topology", "bindings"], true);
  if (!isSeq(seq)) {
    doc.setIn(["topology", "bindings"], doc.createNode([]));
    seq = doc.getIn(["topology", "bindings"], true);
  }
  const bindings = seq as import("yaml").YAMLSeq;
  bindings.flow = false;
  const current = doc.toJS() as Mapping;
  const list = ((current.topology as Mapping | undefined)?.bindings ?? []) as Mapping[];
  const have = new Set(list.map(bindingKey));
  let n = 0;
  for (const b of imported.bindings) {
    if (have.has(bindingKey(b))) unchanged += 1;
    else {
      bindings.add(doc.createNode(b));
      have.add(bindingKey(b));
      n += 1;
    }
  }
  return { text: doc.toString({ lineWidth: 0 }), added, addedBindings: n, replaced, unchanged };
}

/**
 * RabbitMQ's definitions.json (what `rabbitmqctl export_definitions` and the management UI
 * write) ⇄ eventlab's topology. Pure: text and objects in, text and objects out; the command
 * reads and writes the files.
 *
 * Export uses the same argument builders as `topology apply`, so a definitions file declares
 * exactly what apply would. Import maps the x- arguments eventlab knows back to named fields and
 * passes the rest through as `arguments`, saying so.
 */
import { isDeepStrictEqual } from "node:util";
import {
  Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  type Node,
  Pair,
  parseDocument,
  YAMLMap,
  YAMLSeq,
} from "yaml";
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
import { editYamlText, keyName } from "./write.js";

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

export type ImportStatus = "added" | "replaced" | "unchanged";
export type ImportedKind = "exchange" | "queue" | "binding";

/** A setting of a replaced object: the config's value and the imported one (undefined: unset). */
export interface SettingChange {
  setting: string;
  from: unknown;
  to: unknown;
}

export interface ImportedObject {
  kind: ImportedKind;
  /** The exchange's or queue's name; for a binding, `source → destination (key)`. */
  name: string;
  status: ImportStatus;
  /** What a replaced object's settings were and are (full settings, defaults filled in). */
  changes?: SettingChange[];
}

export type ImportCounts = Record<
  ImportStatus,
  Record<"exchanges" | "queues" | "bindings", number>
>;

export interface MergeResult {
  /** The config text to write; `existing` itself when nothing changed. */
  text: string;
  /** False when the file already held every imported object with the same settings. */
  changed: boolean;
  /** Every imported object, in the order exchanges, queues, bindings. */
  objects: ImportedObject[];
  counts: ImportCounts;
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

function bindingLabel(b: Record<string, unknown>): string {
  const p = bindingSchema.parse(b);
  const dest = p.destinationType === "exchange" ? `exchange ${p.destination}` : p.destination;
  const what =
    p.headers !== undefined
      ? `match ${p.match ?? "all"}: ${Object.entries(p.headers)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(", ")}`
      : p.routingKey;
  return `${p.source} → ${dest}${what !== "" ? ` (${what})` : ""}`;
}

/** One change to the config data: set (or add) a value, delete an entry, append to a list. */
type Op =
  | { path: string[]; set: unknown }
  | { path: string[]; delete: true }
  | { path: string[]; append: unknown };

/**
 * What importing `imported` into a config whose topology section is `current` does: each
 * object added, replaced (the settings that differ) or unchanged, and the few changes to the
 * config data that do it. A replaced exchange or queue keeps its entry: only the settings that
 * differ are set or removed, so its other lines (and their comments) stay.
 */
function planMerge(current: unknown, imported: TopologyInput) {
  const objects: ImportedObject[] = [];
  const ops: Op[] = [];
  const t = isMapping(current) ? current : {};
  for (const kind of ["exchanges", "queues"] as const) {
    const schema = kind === "exchanges" ? exchangeSchema : queueSchema;
    const section = isMapping(t[kind]) ? t[kind] : {};
    const label = kind === "exchanges" ? "exchange" : "queue";
    for (const [name, value] of Object.entries(imported[kind])) {
      const path = ["topology", kind, name];
      if (!Object.hasOwn(section, name)) {
        objects.push({ kind: label, name, status: "added" });
        ops.push({ path, set: value });
        continue;
      }
      const raw = section[name];
      const was = schema.safeParse(raw ?? {});
      const now: Mapping = schema.parse(value);
      if (was.success && isDeepStrictEqual(was.data, now)) {
        objects.push({ kind: label, name, status: "unchanged" });
        continue;
      }
      const old: Mapping = was.success ? was.data : isMapping(raw) ? raw : {};
      // In the schema's order, which is the order the settings are documented in.
      const differ = Object.keys(schema.shape).filter((k) => !isDeepStrictEqual(old[k], now[k]));
      objects.push({
        kind: label,
        name,
        status: "replaced",
        changes: differ.map((setting) => ({ setting, from: old[setting], to: now[setting] })),
      });
      if (!was.success || !isMapping(raw)) ops.push({ path, set: value });
      else
        for (const k of differ)
          ops.push(
            k in value
              ? { path: [...path, k], set: value[k] }
              : { path: [...path, k], delete: true },
          );
    }
  }
  const have = new Set(
    (Array.isArray(t.bindings) ? t.bindings : []).flatMap((b) => {
      try {
        return [bindingKey(b as Mapping)];
      } catch {
        return [];
      }
    }),
  );
  for (const b of imported.bindings) {
    const key = bindingKey(b);
    const added = !have.has(key);
    objects.push({ kind: "binding", name: bindingLabel(b), status: added ? "added" : "unchanged" });
    if (added) ops.push({ path: ["topology", "bindings"], append: b });
    have.add(key);
  }
  return { objects, ops };
}

function countObjects(objects: ImportedObject[]): ImportCounts {
  const zero = () => ({ exchanges: 0, queues: 0, bindings: 0 });
  const counts: ImportCounts = { added: zero(), replaced: zero(), unchanged: zero() };
  for (const o of objects) counts[o.status][`${o.kind}s`] += 1;
  return counts;
}

/** The ops on plain data (JSON, and what the YAML text must read back as). */
function applyToData(data: Mapping, ops: Op[]): void {
  for (const op of ops) {
    const key = op.path[op.path.length - 1]!;
    let parent = data;
    for (const k of op.path.slice(0, -1)) {
      if (!isMapping(parent[k])) parent[k] = {};
      parent = parent[k] as Mapping;
    }
    if ("delete" in op) delete parent[key];
    else if ("set" in op) parent[key] = structuredClone(op.set);
    else {
      if (!Array.isArray(parent[key])) parent[key] = [];
      (parent[key] as unknown[]).push(structuredClone(op.append));
    }
  }
}

/** The ops on a YAML document, keeping the style of what they replace (flow, quotes, comments). */
function applyToYaml(doc: Document, ops: Op[]): void {
  if (!isMap(doc.contents)) doc.contents = new YAMLMap() as never;
  const entry = (map: YAMLMap, key: string) => map.items.find((p) => keyName(p.key) === key);
  const add = (parent: YAMLMap | YAMLSeq, owner: Pair | undefined, item: unknown) => {
    // `queues: {}` is written in flow style; entries added to it read better as a block, and
    // its comment stays on the line of its key.
    if (parent.flow && parent.items.length === 0) {
      parent.flow = false;
      if (isScalar(owner?.key) && parent.comment !== undefined) {
        owner.key.comment = parent.comment;
        parent.comment = undefined;
      }
    }
    parent.items.push(item as never);
  };
  for (const op of ops) {
    const key = op.path[op.path.length - 1]!;
    let parent = doc.contents as unknown as YAMLMap;
    let owner: Pair | undefined;
    for (const k of op.path.slice(0, -1)) {
      const pair = entry(parent, k);
      // An entry that is an alias (`q: *base`) gets its own copy before it is edited.
      const target = isAlias(pair?.value) ? pair.value.resolve(doc) : undefined;
      if (pair !== undefined && isMap(target)) {
        const copy = target.clone();
        copy.anchor = undefined;
        pair.value = copy;
      }
      if (pair !== undefined && isMap(pair.value)) {
        parent = pair.value;
        owner = pair;
        continue;
      }
      const map = new YAMLMap();
      if (pair === undefined) add(parent, owner, new Pair(doc.createNode(k), map));
      else {
        // `topology:   # soon` (nothing yet): the comment stays on the line of the key.
        const comment = (pair.value as Node | null)?.comment;
        if (isScalar(pair.key) && comment !== undefined) pair.key.comment = comment;
        pair.value = map;
      }
      parent = map;
      owner = pair;
    }
    const pair = entry(parent, key);
    if ("delete" in op) {
      if (pair !== undefined) parent.items.splice(parent.items.indexOf(pair), 1);
    } else if ("set" in op) {
      const node = styledLike(pair?.value, doc.createNode(op.set));
      if (pair === undefined) add(parent, owner, new Pair(doc.createNode(key), node));
      else pair.value = node;
    } else {
      let seq = pair?.value;
      if (!isSeq(seq)) {
        seq = new YAMLSeq();
        if (pair === undefined) add(parent, owner, new Pair(doc.createNode(key), seq));
        else pair.value = seq;
      }
      add(seq as YAMLSeq, pair, doc.createNode(op.append));
    }
  }
}

/** `node` written the way `old` was: flow or block, the same quotes, its comments. */
function styledLike(old: unknown, node: Node): Node {
  if (!isNode(old)) return node;
  if (isScalar(old) && isScalar(node) && typeof old.value === typeof node.value)
    node.type = old.type;
  if ((isMap(old) || isSeq(old)) && (isMap(node) || isSeq(node))) node.flow = old.flow;
  node.comment = old.comment;
  node.commentBefore = old.commentBefore;
  node.spaceBefore = old.spaceBefore;
  return node;
}

/** JSON written as the file wrote it: its indentation (two spaces if it has none). */
function jsonIndent(text: string): string {
  return /^[{[][ \t]*\r?\n([ \t]+)\S/.exec(text)?.[1] ?? "  ";
}

/**
 * Put an imported topology into config text: a new file when `existing` is undefined, else
 * merged into its topology section. Exchanges and queues of the same name with other settings
 * take the imported settings (only the settings that differ change); bindings are added unless
 * already there. YAML is edited in place: lines that do not change stay byte for byte,
 * comments included. JSON is rewritten with the file's indentation. Nothing changes, and
 * `text` is `existing`, when the file already holds every imported object.
 */
export function mergeTopology(
  existing: string | undefined,
  json: boolean,
  imported: TopologyInput,
  header: string,
): MergeResult {
  if (existing === undefined) {
    const { objects } = planMerge({}, imported);
    const result = { changed: true, objects, counts: countObjects(objects) };
    const data = { topology: imported };
    if (json) return { text: `${JSON.stringify(data, null, 2)}\n`, ...result };
    const doc = new Document(data);
    doc.commentBefore = ` ${header}`;
    return { text: doc.toString({ lineWidth: 0 }), ...result };
  }
  const bom = existing.startsWith("\uFEFF") ? "\uFEFF" : "";
  const source = existing.slice(bom.length);
  const data = (json ? JSON.parse(source) : parseDocument(source).toJS()) as unknown;
  const { objects, ops } = planMerge(isMapping(data) ? data.topology : undefined, imported);
  const result = { changed: ops.length > 0, objects, counts: countObjects(objects) };
  if (ops.length === 0) return { text: existing, ...result };
  // A copy without shared parts: YAML aliases read as the same object as their anchor's.
  const expected = isMapping(data) ? (JSON.parse(JSON.stringify(data)) as Mapping) : {};
  applyToData(expected, ops);
  if (json) {
    return { text: `${bom}${JSON.stringify(expected, null, jsonIndent(source))}\n`, ...result };
  }
  const text = editYamlText(source, (doc) => applyToYaml(doc, ops));
  if (!isDeepStrictEqual(parseDocument(text).toJS(), expected)) {
    // Anchors and aliases: a change to an anchored entry would change its aliases too.
    throw new EventlabError(
      "config",
      "the topology section cannot be changed in place without changing other entries (it uses YAML anchors and aliases)",
      { hint: "import into a new file with --out FILE, or replace the aliases with their values" },
    );
  }
  return { text: `${bom}${text}`, ...result };
}

/**
 * Putting a topology into config text: `topology import` adds the exchanges, queues and
 * bindings it read to the config file's topology section. YAML is edited in place (see
 * editYamlText), JSON rewritten in the file's indentation. Pure: text in, text out.
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
import type { z } from "zod";
import { EventlabError } from "../errors.js";
import { bindingArguments } from "./arguments.js";
import { type BindingConfig, bindingSchema, exchangeSchema, queueSchema } from "./schema.js";
import { editYamlText, keyName } from "./write.js";

export type ExchangeInput = z.input<typeof exchangeSchema>;
export type QueueInput = z.input<typeof queueSchema>;
export type BindingInput = z.input<typeof bindingSchema>;

/** A topology as a person writes it: defaults left out. Parses (topologySchema) to the full form. */
export interface TopologyInput {
  exchanges: Record<string, ExchangeInput>;
  queues: Record<string, QueueInput>;
  bindings: BindingInput[];
}

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

type Mapping = Record<string, unknown>;
const isMapping = (v: unknown): v is Mapping =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Two bindings are the same when they would bind the same thing. */
function bindingKey(b: BindingConfig): string {
  const args = bindingArguments(b);
  const sorted = Object.fromEntries(
    Object.keys(args)
      .sort()
      .map((k) => [k, args[k]]),
  );
  return JSON.stringify([b.source, b.destinationType, b.destination, b.routingKey, sorted]);
}

function bindingLabel(b: BindingConfig): string {
  const dest = b.destinationType === "exchange" ? `exchange ${b.destination}` : b.destination;
  const what =
    b.headers !== undefined
      ? `match ${b.match ?? "all"}: ${Object.entries(b.headers)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(", ")}`
      : b.routingKey;
  return `${b.source} → ${dest}${what !== "" ? ` (${what})` : ""}`;
}

/** One change to the config data: set (or add) a value, delete an entry, append to a list. */
type Op =
  | { path: string[]; set: unknown }
  | { path: string[]; delete: true }
  | { path: string[]; append: unknown };

/** What an import does: each object's fate, and the changes to the config data that do it. */
interface Plan {
  objects: ImportedObject[];
  ops: Op[];
}

const ENTRY_SCHEMAS = { exchange: exchangeSchema, queue: queueSchema } as const;

/**
 * What importing `imported` into a config whose topology section is `current` does: each
 * object added, replaced (the settings that differ) or unchanged, and the few changes to the
 * config data that do it. A replaced exchange or queue keeps its entry: only the settings that
 * differ are set or removed, so its other lines (and their comments) stay.
 */
function planMerge(current: unknown, imported: TopologyInput): Plan {
  const plan: Plan = { objects: [], ops: [] };
  const t: { exchanges?: unknown; queues?: unknown; bindings?: unknown } = isMapping(current)
    ? current
    : {};
  planEntries(plan, "exchange", t.exchanges, imported.exchanges);
  planEntries(plan, "queue", t.queues, imported.queues);
  planBindings(plan, t.bindings, imported.bindings);
  return plan;
}

function planEntries(
  plan: Plan,
  kind: "exchange" | "queue",
  current: unknown,
  imported: Record<string, Mapping>,
): void {
  const section = isMapping(current) ? current : {};
  for (const [name, value] of Object.entries(imported)) {
    const path = ["topology", `${kind}s`, name];
    if (Object.hasOwn(section, name)) {
      planReplace(plan, kind, path, section[name], value);
      continue;
    }
    plan.objects.push({ kind, name, status: "added" });
    plan.ops.push({ path, set: value });
  }
}

/** An exchange or queue the config has already: unchanged, or the settings that differ. */
function planReplace(
  plan: Plan,
  kind: "exchange" | "queue",
  path: string[],
  raw: unknown,
  value: Mapping,
): void {
  const schema = ENTRY_SCHEMAS[kind];
  const name = path[path.length - 1]!;
  const was = schema.safeParse(raw ?? {});
  const now: Mapping = schema.parse(value);
  if (was.success && isDeepStrictEqual(was.data, now)) {
    plan.objects.push({ kind, name, status: "unchanged" });
    return;
  }
  const old: Mapping = was.success ? was.data : isMapping(raw) ? raw : {};
  // In the schema's order, which is the order the settings are documented in.
  const differ = Object.keys(schema.shape).filter((k) => !isDeepStrictEqual(old[k], now[k]));
  plan.objects.push({
    kind,
    name,
    status: "replaced",
    changes: differ.map((setting) => ({ setting, from: old[setting], to: now[setting] })),
  });
  if (!was.success || !isMapping(raw)) {
    plan.ops.push({ path, set: value });
    return;
  }
  for (const k of differ) {
    plan.ops.push(
      k in value ? { path: [...path, k], set: value[k] } : { path: [...path, k], delete: true },
    );
  }
}

/** Bindings are added unless the config binds the same thing already. */
function planBindings(plan: Plan, current: unknown, imported: BindingInput[]): void {
  const have = new Set(
    (Array.isArray(current) ? current : []).flatMap((b) => {
      const parsed = bindingSchema.safeParse(b);
      return parsed.success ? [bindingKey(parsed.data)] : [];
    }),
  );
  for (const b of imported) {
    const parsed = bindingSchema.parse(b);
    const key = bindingKey(parsed);
    const added = !have.has(key);
    plan.objects.push({
      kind: "binding",
      name: bindingLabel(parsed),
      status: added ? "added" : "unchanged",
    });
    if (added) plan.ops.push({ path: ["topology", "bindings"], append: b });
    have.add(key);
  }
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

const entryOf = (map: YAMLMap, key: string) => map.items.find((p) => keyName(p.key) === key);

/** Add an item to a map or list: `owner` is the pair that holds the collection, if any. */
function addTo(parent: YAMLMap | YAMLSeq, owner: Pair | undefined, item: unknown): void {
  // `queues: {}` is written in flow style; entries added to it read better as a block, and
  // its comment stays on the line of its key.
  if (parent.flow && parent.items.length === 0) {
    parent.flow = false;
    if (isScalar(owner?.key) && parent.comment !== undefined) {
      owner.key.comment = parent.comment;
      delete parent.comment;
    }
  }
  parent.items.push(item as never);
}

/** An entry that is an alias (`q: *base`) gets its own copy before it is edited. */
function unalias(doc: Document, pair: Pair | undefined): void {
  const target = isAlias(pair?.value) ? pair.value.resolve(doc) : undefined;
  if (pair !== undefined && isMap(target)) {
    const copy = target.clone();
    delete copy.anchor;
    pair.value = copy;
  }
}

/** The map at `path`, made on the way where missing, and the pair that holds it. */
function mapAt(doc: Document, path: string[]): { parent: YAMLMap; owner: Pair | undefined } {
  let parent = doc.contents as unknown as YAMLMap;
  let owner: Pair | undefined;
  for (const k of path) {
    const pair = entryOf(parent, k);
    unalias(doc, pair);
    if (pair !== undefined && isMap(pair.value)) {
      parent = pair.value;
      owner = pair;
      continue;
    }
    const map = new YAMLMap();
    if (pair === undefined) addTo(parent, owner, new Pair(doc.createNode(k), map));
    else {
      // `topology:   # soon` (nothing yet): the comment stays on the line of the key.
      const comment = (pair.value as Node | null)?.comment;
      if (isScalar(pair.key) && comment !== undefined) pair.key.comment = comment;
      pair.value = map;
    }
    parent = map;
    owner = pair;
  }
  return { parent, owner };
}

function applyOp(doc: Document, op: Op): void {
  const key = op.path[op.path.length - 1]!;
  const { parent, owner } = mapAt(doc, op.path.slice(0, -1));
  const pair = entryOf(parent, key);
  if ("delete" in op) {
    if (pair !== undefined) parent.items.splice(parent.items.indexOf(pair), 1);
    return;
  }
  if ("set" in op) {
    const node = styledLike(pair?.value, doc.createNode(op.set));
    if (pair === undefined) addTo(parent, owner, new Pair(doc.createNode(key), node));
    else pair.value = node;
    return;
  }
  let seq = pair?.value;
  if (!isSeq(seq)) {
    seq = new YAMLSeq();
    if (pair === undefined) addTo(parent, owner, new Pair(doc.createNode(key), seq));
    else pair.value = seq;
  }
  addTo(seq as YAMLSeq, pair, doc.createNode(op.append));
}

/** The ops on a YAML document, keeping the style of what they replace (flow, quotes, comments). */
function applyToYaml(doc: Document, ops: Op[]): void {
  if (!isMap(doc.contents)) doc.contents = new YAMLMap() as never;
  for (const op of ops) applyOp(doc, op);
}

/** `node` written the way `old` was: flow or block, the same quotes, its comments. */
function styledLike(old: unknown, node: Node): Node {
  if (!isNode(old)) return node;
  if (isScalar(old) && isScalar(node) && typeof old.value === typeof node.value) {
    if (old.type !== undefined) node.type = old.type;
  }
  if ((isMap(old) || isSeq(old)) && (isMap(node) || isSeq(node)) && old.flow !== undefined)
    node.flow = old.flow;
  if (old.comment !== undefined) node.comment = old.comment;
  if (old.commentBefore !== undefined) node.commentBefore = old.commentBefore;
  if (old.spaceBefore !== undefined) node.spaceBefore = old.spaceBefore;
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
  const config: { topology?: unknown } = isMapping(data) ? data : {};
  const { objects, ops } = planMerge(config.topology, imported);
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

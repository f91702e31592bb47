/**
 * Field-by-field comparison of two recordings of the management API scenario
 * (test/helpers/management-shapes.ts): RabbitMQ's (the reference) and another broker's (the
 * embedded one, or a second RabbitMQ run). For every request it reports
 * - the HTTP status when it differs;
 * - every field of the reference that the other lacks ("missing"), recursively;
 * - every field whose JSON type (null, boolean, number, string, array, object) differs ("type");
 * - the values that must be equal ("value"): names, types, flags, arguments, routing keys,
 *   message and consumer counts, … (VALUE_KEYS below);
 * - the order of a list ("order"): RabbitMQ sorts lists by name (bindings by source and
 *   destination) unless asked to sort by a column, and tools print them in that order;
 * - fields only the other has ("extra"): reported, but harmless to tools that read by name.
 * Array elements are matched by what names them (queue and exchange names, binding source →
 * destination, consumer tag, the connection's client-provided name…), not by position.
 * Findings are then matched against a list of accepted differences; a finding at a field that
 * rabbitmqadmin reads (TOOL_READS) cannot be accepted.
 */
import { isDeepStrictEqual } from "node:util";
import type { Json, Recorded, Recording } from "./management-shapes.js";

export type FindingKind = "status" | "missing" | "type" | "value" | "order" | "extra";

export interface Finding {
  /** Request name, then the path into its response: "queue/message_stats/publish". */
  path: string;
  kind: FindingKind;
  /** The reference's value (type or value findings) or its type (missing). */
  expected?: string;
  actual?: string;
}

export interface AcceptedDifference {
  /**
   * A pattern over Finding.path: "*" matches within one path segment, "**" across segments,
   * "{a,b}" either; e.g. "{queues,queue}/**&#47;garbage_collection" or "nodes/[*]/io_*".
   */
  at: string;
  /** Which kinds of finding it accepts (default: missing and type). */
  kinds?: FindingKind[];
  reason: string;
}

export interface ToolRead {
  at: string;
  /** The command that reads it, e.g. "rabbitmqadmin list queues". */
  by: string;
}

export interface Comparison {
  /** Findings no accepted difference covers (extras excluded). */
  unexpected: Finding[];
  /** Findings covered by an accepted difference, with it. */
  accepted: { finding: Finding; by: AcceptedDifference }[];
  /** Fields only the compared broker has. */
  extra: Finding[];
  /** Accepted differences that matched no finding (stale entries). */
  unused: AcceptedDifference[];
}

/** Keys whose values must be equal wherever they appear (after normalize()). */
export const VALUE_KEYS = new Set([
  "name",
  "vhost",
  "type",
  "durable",
  "auto_delete",
  "internal",
  "exclusive",
  "arguments",
  "source",
  "destination",
  "destination_type",
  "routing_key",
  "properties_key",
  "messages",
  "messages_ready",
  "messages_unacknowledged",
  "consumers",
  "consumer_count",
  "channels",
  "connections",
  "exchanges",
  "queues",
  "routed",
  "payload",
  "payload_encoding",
  "payload_bytes",
  "message_count",
  "redelivered",
  "exchange",
  "properties",
  "error",
  "reason",
  "status",
  "prefetch_count",
  "ack_required",
  "active",
  "confirm",
  "consumer_tag",
  "user",
  "number",
  "queue",
  "client_properties",
  "user_provided_name",
  "protocol",
  "auth_mechanism",
  "tags",
  "rabbitmq_version",
  "connection_name",
]);

/** Parents under which the value keys are not values of ours (e.g. statistics, node data). */
const NO_VALUES_UNDER = new Set([
  "message_stats",
  "churn_rates",
  "exchange_types",
  "listeners",
  "contexts",
  "applications",
  "auth_mechanisms",
  "garbage_collection",
  "backing_queue_status",
  "cluster_links",
  "sample_retention_policies",
  "global_parameters",
  "metadata",
]);

export function jsonType(v: Json | undefined): string {
  if (v === undefined) return "absent";
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function isObject(v: Json | undefined): v is { [key: string]: Json } {
  return v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v);
}

function show(v: Json | undefined): string {
  const s = JSON.stringify(v) ?? "absent";
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}

function sortedArgs(v: Json | undefined): string {
  if (!isObject(v) || Object.keys(v).length === 0) return "";
  const keys = Object.keys(v).sort();
  return ` ${keys.map((k) => `${k}=${JSON.stringify(v[k])}`).join(",")}`;
}

/** What names an array element, so that elements are matched by it; undefined: by position. */
export function elementKey(e: Json): string | undefined {
  if (!isObject(e)) return undefined;
  if (typeof e["source"] === "string" && typeof e["destination"] === "string") {
    const dt = e["destination_type"] === "exchange" ? "e:" : "";
    return `${e["source"]}>${dt}${e["destination"]}:${String(e["routing_key"] ?? "")}${sortedArgs(e["arguments"])}`;
  }
  if (typeof e["consumer_tag"] === "string") return e["consumer_tag"];
  if (isObject(e["client_properties"])) {
    const n = e["client_properties"]["connection_name"];
    if (typeof n === "string") return n;
  }
  if (typeof e["name"] === "string") return e["name"];
  // an HTTP context of the overview: by its protocol (plain HTTP when it names none)
  if (typeof e["path"] === "string" && typeof e["description"] === "string")
    return `context ${typeof e["protocol"] === "string" ? e["protocol"] : "http"}`;
  for (const k of ["user", "protocol", "description"]) {
    if (typeof e[k] === "string") return `${k}=${e[k]}`;
  }
  return undefined;
}

/**
 * The recording with run-specific strings replaced: each connection's name ("127.0.0.1:51940 ->
 * 127.0.0.1:42895") by its client-provided name in angle brackets (channels: "<name> (1)"), and
 * the node's name by "<node>" (in values and in keys: cluster_state, open_files), so that names
 * compare across runs and brokers.
 */
export function normalize(rec: Recording): Recording {
  const replace = new Map<string, string>();
  const conns = rec["connections"]?.body;
  if (Array.isArray(conns)) {
    for (const c of conns) {
      if (!isObject(c) || typeof c["name"] !== "string" || !isObject(c["client_properties"]))
        continue;
      const given = c["client_properties"]["connection_name"];
      if (typeof given === "string") replace.set(c["name"], `<${given}>`);
    }
  }
  const overview = rec["overview"]?.body;
  if (isObject(overview) && typeof overview["node"] === "string")
    replace.set(overview["node"], "<node>");
  const fix = (s: string): string => {
    const whole = replace.get(s);
    if (whole !== undefined) return whole;
    const channel = /^(.*) \((\d+)\)$/.exec(s);
    const conn = channel ? replace.get(channel[1]!) : undefined;
    return conn !== undefined ? `${conn} (${channel![2]})` : s;
  };
  const walk = (v: Json): Json => {
    if (typeof v === "string") return fix(v);
    if (Array.isArray(v)) return v.map(walk);
    if (isObject(v)) {
      const out: { [key: string]: Json } = {};
      for (const [k, x] of Object.entries(v)) out[fix(k)] = walk(x);
      return out;
    }
    return v;
  };
  const out: Recording = {};
  for (const [name, r] of Object.entries(rec)) out[name] = { ...r, body: walk(r.body) };
  return out;
}

function compareValue(
  path: string,
  key: string | undefined,
  values: boolean,
  expected: Json,
  actual: Json | undefined,
  out: Finding[],
): void {
  if (actual === undefined) {
    out.push({ path, kind: "missing", expected: jsonType(expected) });
    return;
  }
  const te = jsonType(expected);
  const ta = jsonType(actual);
  if (te !== ta) {
    out.push({
      path,
      kind: "type",
      expected: `${te} ${show(expected)}`,
      actual: `${ta} ${show(actual)}`,
    });
    return;
  }
  const listOfObjects = Array.isArray(expected) && expected.some(isObject);
  if (values && key !== undefined && VALUE_KEYS.has(key) && !listOfObjects) {
    if (!isDeepStrictEqual(expected, actual))
      out.push({ path, kind: "value", expected: show(expected), actual: show(actual) });
    return;
  }
  const inner = values && (key === undefined || !NO_VALUES_UNDER.has(key));
  if (isObject(expected) && isObject(actual)) {
    for (const [k, v] of Object.entries(expected))
      compareValue(`${path}/${k}`, k, inner, v, actual[k], out);
    for (const k of Object.keys(actual)) {
      if (!(k in expected))
        out.push({ path: `${path}/${k}`, kind: "extra", actual: jsonType(actual[k]) });
    }
  } else if (Array.isArray(expected) && Array.isArray(actual)) {
    compareArray(path, inner, expected, actual, out);
  }
}

function compareArray(
  path: string,
  values: boolean,
  expected: Json[],
  actual: Json[],
  out: Finding[],
): void {
  const keyed = expected.every((e) => elementKey(e) !== undefined);
  if (keyed) {
    const ours = new Map<string, Json>();
    for (const a of actual) {
      const k = elementKey(a);
      if (k !== undefined) ours.set(k, a);
    }
    const theirs = new Set<string>();
    for (const e of expected) {
      const k = elementKey(e)!;
      theirs.add(k);
      const a = ours.get(k);
      if (a === undefined)
        out.push({ path: `${path}/[${k}]`, kind: "missing", expected: jsonType(e) });
      else compareValue(`${path}/[${k}]`, undefined, values, e, a, out);
    }
    for (const [k, a] of ours) {
      if (!theirs.has(k)) out.push({ path: `${path}/[${k}]`, kind: "extra", actual: jsonType(a) });
    }
    return;
  }
  // Unnamed elements (strings, pairs…): compare each with the one at the same position, and
  // all of RabbitMQ's with our first when we have fewer.
  expected.forEach((e, i) => {
    const a = actual[i] ?? actual[0];
    if (a === undefined)
      out.push({ path: `${path}/[#${i}]`, kind: "missing", expected: jsonType(e) });
    else compareValue(`${path}/[#${i}]`, undefined, values, e, a, out);
  });
}

/**
 * What orders a list: the column of `sort=` in the request, else the name (bindings: source and
 * destination). Undefined when the list is not ordered by something both brokers share (names
 * of connections and channels hold port numbers).
 */
function orderOf(request: string, e: Json): string | undefined {
  if (!isObject(e)) return undefined;
  const sort = new URLSearchParams(request.split("?")[1] ?? "").get("sort");
  if (sort !== null) return JSON.stringify(e[sort] ?? null);
  if (typeof e["source"] === "string" && typeof e["destination"] === "string")
    return `${e["source"]}>${e["destination"]}`;
  const n = e["name"];
  return typeof n === "string" && !n.startsWith("<") ? n : undefined;
}

function compareOrder(name: string, expected: Recorded, actual: Recorded): Finding | undefined {
  if (!Array.isArray(expected.body) || !Array.isArray(actual.body)) return undefined;
  const path = expected.request.path;
  const theirs = new Set(expected.body.map((e) => elementKey(e)));
  const ours = new Set(actual.body.map((e) => elementKey(e)));
  const seq = (list: Json[], other: Set<string | undefined>) =>
    list.filter((e) => other.has(elementKey(e))).map((e) => orderOf(path, e));
  const want = seq(expected.body, ours);
  const got = seq(actual.body, theirs);
  if (want.includes(undefined) || got.includes(undefined) || isDeepStrictEqual(want, got))
    return undefined;
  return {
    path: `${name}/(order)`,
    kind: "order",
    expected: want.join(" "),
    actual: got.join(" "),
  };
}

/** Every finding for one request. */
export function compareResponse(name: string, expected: Recorded, actual: Recorded): Finding[] {
  const out: Finding[] = [];
  const order = compareOrder(name, expected, actual);
  if (order) out.push(order);
  if (expected.status !== actual.status) {
    out.push({
      path: `${name}/(status)`,
      kind: "status",
      expected: String(expected.status),
      actual: String(actual.status),
    });
  }
  compareValue(name, undefined, true, expected.body, actual.body, out);
  return out;
}

/** A pattern of AcceptedDifference.at as a regular expression over the whole path. */
export function pattern(at: string): RegExp {
  let re = "";
  for (let i = 0; i < at.length; i++) {
    const c = at[i]!;
    if (c === "*" && at[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "{") re += "(?:";
    else if (c === "}") re += ")";
    else if (c === ",") re += "|";
    else re += c.replace(/[.+?^$()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

const DEFAULT_KINDS: FindingKind[] = ["missing", "type"];

/** Compare two whole recordings, and sort the findings by the accepted differences. */
export function compareRecordings(
  reference: Recording,
  other: Recording,
  differences: AcceptedDifference[],
  toolReads: ToolRead[] = [],
): Comparison {
  const ref = normalize(reference);
  const oth = normalize(other);
  const findings: Finding[] = [];
  for (const [name, r] of Object.entries(ref)) {
    const o = oth[name];
    if (o === undefined) findings.push({ path: name, kind: "missing", expected: "response" });
    else findings.push(...compareResponse(name, r, o));
  }
  const compiled = differences.map((d) => ({ d, re: pattern(d.at), used: false }));
  const reads = toolReads.map((t) => pattern(t.at));
  const result: Comparison = { unexpected: [], accepted: [], extra: [], unused: [] };
  for (const f of findings) {
    if (f.kind === "extra") {
      result.extra.push(f);
      continue;
    }
    const readByTool = reads.some((re) => re.test(f.path));
    const match = readByTool
      ? undefined
      : compiled.find((c) => (c.d.kinds ?? DEFAULT_KINDS).includes(f.kind) && c.re.test(f.path));
    if (match) {
      match.used = true;
      result.accepted.push({ finding: f, by: match.d });
    } else result.unexpected.push(f);
  }
  result.unused = compiled.filter((c) => !c.used).map((c) => c.d);
  return result;
}

/** One line per finding, for assertion messages and reports. */
export function formatFindings(findings: Finding[]): string[] {
  return findings.map((f) => {
    const detail =
      f.kind === "missing"
        ? `(RabbitMQ: ${f.expected})`
        : f.kind === "extra"
          ? `(ours: ${f.actual})`
          : `RabbitMQ ${f.expected}, ours ${f.actual}`;
    return `${f.kind} ${f.path} ${detail}`;
  });
}

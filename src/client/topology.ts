/**
 * Declaring and deleting exchanges, queues and bindings, reporting what was created
 * and what was already there. A 406 (the object exists with other settings) becomes an
 * error that shows what was asked beside what the broker has.
 */
import type { Channel } from "amqplib";
import { REPLY } from "../broker/errors.js";
import {
  bindingArguments,
  exchangeOptions,
  queueArguments,
  queueOptions,
} from "../config/arguments.js";
import type { BindingConfig, ExchangeConfig, QueueConfig, Topology } from "../config/schema.js";
import { EventlabError } from "../errors.js";
import { describeSettings } from "../ui/declared-view.js";
import { table } from "../ui/table.js";
import { type Connection, withChannel } from "./connect.js";
import { brokerError, type Operation, replyOf, shellQuote } from "./errors.js";

/** The declarations' flags and arguments, for callers that import them from here. */
/** Settings in words, for callers that import them from here (the printer is in ui/). */
export { bindingArguments, describeSettings, exchangeOptions, queueArguments, queueOptions };

export type ObjectKind = "exchange" | "queue" | "binding";

export interface DeclareResult {
  kind: ObjectKind;
  name: string;
  status: "created" | "exists" | "bound";
  /** The settings asked for, as the broker sees them (x- arguments included). */
  settings: Record<string, unknown>;
}

export interface DeleteResult {
  kind: ObjectKind;
  name: string;
  status: "deleted" | "absent";
  /** Messages deleted with a queue. */
  messageCount?: number;
}

export function bindingName(
  b: Pick<BindingConfig, "source" | "destination" | "destinationType" | "routingKey">,
): string {
  const dest = b.destinationType === "exchange" ? `exchange ${b.destination}` : b.destination;
  return `${b.source} → ${dest}${b.routingKey !== "" ? ` (${b.routingKey})` : ""}`;
}

/** Passive declare on a throwaway channel (a 404 closes the channel). */
export async function exists(
  connection: Connection,
  kind: "exchange" | "queue",
  name: string,
): Promise<boolean> {
  try {
    await withChannel(connection, (ch) =>
      kind === "exchange" ? ch.checkExchange(name) : ch.checkQueue(name),
    );
    return true;
  } catch (err) {
    if (replyOf(err)?.code === REPLY.NOT_FOUND) return false;
    throw brokerError(err, { op: "declare", kind, name, passive: true }, connection);
  }
}

export async function declareExchange(
  connection: Connection,
  name: string,
  e: Partial<ExchangeConfig>,
): Promise<DeclareResult> {
  const type = e.type ?? "direct";
  const options = exchangeOptions(e);
  const settings = { type, ...options };
  const already = await exists(connection, "exchange", name);
  try {
    await withChannel(connection, (ch) => ch.assertExchange(name, type, options));
  } catch (err) {
    throw declareError(err, "exchange", name, settings, connection);
  }
  return { kind: "exchange", name, status: already ? "exists" : "created", settings };
}

/** Declare a queue; an empty name lets the broker name it (the result carries the name). */
export async function declareQueue(
  connection: Connection,
  name: string,
  q: Partial<QueueConfig>,
): Promise<DeclareResult> {
  const options = queueOptions(q);
  const { arguments: args, ...flags } = options;
  // Settings as shown: the x- arguments only when there are some.
  const settings: Record<string, unknown> =
    Object.keys(args ?? {}).length > 0 ? { ...flags, arguments: args } : flags;
  const already = name !== "" && (await exists(connection, "queue", name));
  let actual = name;
  try {
    actual = (await withChannel(connection, (ch) => ch.assertQueue(name, options))).queue;
  } catch (err) {
    throw declareError(err, "queue", name, settings, connection);
  }
  return { kind: "queue", name: actual, status: already ? "exists" : "created", settings };
}

export async function declareBinding(
  connection: Connection,
  b: BindingConfig,
): Promise<DeclareResult> {
  const args = bindingArguments(b);
  try {
    await withChannel(connection, (ch) =>
      b.destinationType === "exchange"
        ? ch.bindExchange(b.destination, b.source, b.routingKey, args)
        : ch.bindQueue(b.destination, b.source, b.routingKey, args),
    );
  } catch (err) {
    throw brokerError(err, bindOperation("bind", b), connection);
  }
  const settings: Record<string, unknown> = {
    routingKey: b.routingKey,
    destinationType: b.destinationType,
    ...(Object.keys(args).length > 0 ? { arguments: args } : {}),
  };
  // AMQP cannot ask whether a binding exists; binding twice is harmless.
  return { kind: "binding", name: bindingName(b), status: "bound", settings };
}

/**
 * Remove a binding. AMQP cannot tell whether it existed (unbinding a missing one
 * succeeds), so "absent" is reported only when its source or destination is missing.
 */
export async function unbind(connection: Connection, b: BindingConfig): Promise<DeleteResult> {
  const destinationKind = b.destinationType === "exchange" ? "exchange" : "queue";
  if (
    !(await exists(connection, "exchange", b.source)) ||
    !(await exists(connection, destinationKind, b.destination))
  ) {
    return { kind: "binding", name: bindingName(b), status: "absent" };
  }
  const args = bindingArguments(b);
  try {
    await withChannel(connection, (ch) =>
      b.destinationType === "exchange"
        ? ch.unbindExchange(b.destination, b.source, b.routingKey, args)
        : ch.unbindQueue(b.destination, b.source, b.routingKey, args),
    );
  } catch (err) {
    throw brokerError(err, bindOperation("unbind", b), connection);
  }
  return { kind: "binding", name: bindingName(b), status: "deleted" };
}

export async function deleteExchange(
  connection: Connection,
  name: string,
  ifUnused: boolean,
): Promise<DeleteResult> {
  if (!(await exists(connection, "exchange", name)))
    return { kind: "exchange", name, status: "absent" };
  try {
    await withChannel(connection, (ch) => ch.deleteExchange(name, { ifUnused }));
  } catch (err) {
    // brokerError explains a 406 too (bindings, with --if-unused), with the broker's reply.
    throw brokerError(err, { op: "delete", kind: "exchange", name }, connection);
  }
  return { kind: "exchange", name, status: "deleted" };
}

export async function deleteQueue(
  connection: Connection,
  name: string,
  opts: { ifUnused: boolean; ifEmpty: boolean },
): Promise<DeleteResult> {
  if (!(await exists(connection, "queue", name))) return { kind: "queue", name, status: "absent" };
  try {
    const r = await withChannel(connection, (ch) => ch.deleteQueue(name, opts));
    return { kind: "queue", name, status: "deleted", messageCount: r.messageCount };
  } catch (err) {
    // brokerError explains a 406 too (messages with --if-empty, consumers with --if-unused).
    throw brokerError(err, { op: "delete", kind: "queue", name }, connection);
  }
}

/** Declare a whole topology in order: exchanges, queues, bindings. */
export async function applyTopology(
  connection: Connection,
  topology: Topology,
  onResult: (r: DeclareResult) => void,
): Promise<DeclareResult[]> {
  const results: DeclareResult[] = [];
  const report = (r: DeclareResult) => {
    results.push(r);
    onResult(r);
  };
  for (const [name, e] of Object.entries(topology.exchanges))
    report(await declareExchange(connection, name, e));
  for (const [name, q] of Object.entries(topology.queues))
    report(await declareQueue(connection, name, q));
  for (const b of topology.bindings) report(await declareBinding(connection, b));
  return results;
}

const INEQUIVALENT =
  /inequivalent arg '([^']+)' for (?:queue|exchange) '[^']*' in vhost '[^']*': received (none|the value '([^']*)' of type '[^']*'|'([^']*)') but current is (none|the value '([^']*)' of type '[^']*'|'([^']*)')/;

/** The setting RabbitMQ named in a 406, with what was asked and what is there. */
export function parseInequivalent(
  text: string,
): { setting: string; requested: string; current: string } | undefined {
  const m = INEQUIVALENT.exec(text);
  if (!m) return undefined;
  return {
    setting: m[1]!,
    requested: m[2] === "none" ? "(none)" : (m[3] ?? m[4] ?? ""),
    current: m[5] === "none" ? "(none)" : (m[6] ?? m[7] ?? ""),
  };
}

function bindOperation(op: "bind" | "unbind", b: BindingConfig): Operation {
  return {
    op,
    source: b.source,
    destination: b.destination,
    destinationKind: b.destinationType === "exchange" ? "exchange" : "queue",
  };
}

function declareError(
  err: unknown,
  kind: "exchange" | "queue",
  name: string,
  settings: Record<string, unknown>,
  connection: Connection,
): EventlabError {
  const reply = replyOf(err);
  const diff =
    reply?.code === REPLY.PRECONDITION_FAILED ? parseInequivalent(reply.text) : undefined;
  // Only "inequivalent arg" means the object exists with other settings; any other 406
  // (an invalid argument, a queue type the broker lacks) is a refusal of what was asked.
  if (!reply || !diff) {
    const { exclusive } = settings;
    const flag = kind === "queue" ? { exclusive: exclusive === true } : {};
    return brokerError(err, { op: "declare", kind, name, ...flag }, connection);
  }
  const rows = [
    ["setting", "requested", "on the broker"],
    [diff.setting, diff.requested, diff.current],
  ];
  // RabbitMQ compares types too: 1000 (a number) and "1000" (a string) differ.
  const typeNote =
    diff.requested === diff.current
      ? "\n  (the same value with another type: a number on one side, a string on the other; on the command line '\"1000\"' is a string, 1000 a number)"
      : "";
  const shown = table(rows, { indent: "  ", gap: "   " }).join("\n");
  const asked = describeSettings(settings);
  return new EventlabError(
    "precondition",
    `${kind} "${name}" already exists with other settings\n${shown}${typeNote}${asked ? `\n  (requested: ${asked})` : ""}\n  (${reply.code} ${reply.text})`,
    {
      hint: `delete it first (eventlab delete ${kind} ${shellQuote(name)}), or change the settings to match what the broker has`,
      cause: err,
    },
  );
}

// -- diff: the config's topology against a live broker ---------------------------------------

export interface DiffDifference {
  setting: string;
  /** The config's value, as RabbitMQ printed it. */
  config: string;
  /** The broker's value, as RabbitMQ printed it. */
  broker: string;
}

export interface DiffEntry {
  kind: ObjectKind;
  name: string;
  /** unchecked: bindings whose ends exist; AMQP 0-9-1 cannot tell whether the binding does. */
  status: "same" | "missing" | "different" | "unchecked";
  differences?: DiffDifference[];
  note?: string;
}

/**
 * Compare one exchange or queue with the broker: a passive declare (own channel: a 404 closes
 * it), then, when it exists, a declare with the config's settings on a throwaway channel. The
 * same settings make that a no-op; other ones give a 406 naming the first setting that differs
 * (RabbitMQ stops at the first). Nothing is created: a missing object is never declared.
 */
async function diffObject(
  connection: Connection,
  kind: "exchange" | "queue",
  name: string,
  declare: (ch: Channel) => Promise<unknown>,
): Promise<DiffEntry> {
  let present: boolean;
  try {
    present = await exists(connection, kind, name);
  } catch (err) {
    if (err instanceof EventlabError && err.code === "resource-locked") {
      return {
        kind,
        name,
        status: "different",
        differences: [
          { setting: "exclusive", config: "false", broker: "exclusive to another connection" },
        ],
      };
    }
    throw err;
  }
  if (!present) return { kind, name, status: "missing" };
  try {
    await withChannel(connection, declare);
    return { kind, name, status: "same" };
  } catch (err) {
    const reply = replyOf(err);
    if (reply?.code === REPLY.RESOURCE_LOCKED) {
      return {
        kind,
        name,
        status: "different",
        differences: [{ setting: "exclusive", config: "true", broker: "not exclusive to us" }],
      };
    }
    if (reply?.code !== REPLY.PRECONDITION_FAILED)
      throw brokerError(err, { op: "declare", kind, name }, connection);
    const d = parseInequivalent(reply.text);
    return {
      kind,
      name,
      status: "different",
      differences: [
        d
          ? { setting: d.setting, config: d.requested, broker: d.current }
          : { setting: "?", config: "", broker: reply.text.replace(/^[A-Z_]+ - /, "") },
      ],
    };
  }
}

export function diffExchange(
  connection: Connection,
  name: string,
  e: Partial<ExchangeConfig>,
): Promise<DiffEntry> {
  return diffObject(connection, "exchange", name, (ch) =>
    ch.assertExchange(name, e.type ?? "direct", exchangeOptions(e)),
  );
}

export function diffQueue(
  connection: Connection,
  name: string,
  q: Partial<QueueConfig>,
): Promise<DiffEntry> {
  return diffObject(connection, "queue", name, (ch) => ch.assertQueue(name, queueOptions(q)));
}

/**
 * Every exchange and queue of the topology, then its bindings. AMQP 0-9-1 has no way to ask
 * whether a binding exists (unbinding a missing one succeeds, binding twice is harmless), so a
 * binding is "missing" only when its source or destination is, and "unchecked" otherwise.
 */
export async function diffTopology(
  connection: Connection,
  topology: Topology,
  onEntry: (e: DiffEntry) => void = () => {},
  /** The broker's bindings as the management API lists them, when it answers: then checked. */
  liveBindings?: readonly LiveBinding[],
): Promise<DiffEntry[]> {
  const entries: DiffEntry[] = [];
  const known = new Map<string, boolean>();
  const report = (e: DiffEntry) => {
    entries.push(e);
    if (e.kind !== "binding") known.set(`${e.kind}\u0000${e.name}`, e.status !== "missing");
    onEntry(e);
  };
  for (const [name, e] of Object.entries(topology.exchanges))
    report(await diffExchange(connection, name, e));
  for (const [name, q] of Object.entries(topology.queues))
    report(await diffQueue(connection, name, q));
  const present = async (kind: "exchange" | "queue", name: string) => {
    const key = `${kind}\u0000${name}`;
    let v = known.get(key);
    if (v === undefined) {
      try {
        v = await exists(connection, kind, name);
      } catch (err) {
        // Locked (exclusive to another connection) still means it is there.
        if (err instanceof EventlabError && err.code === "resource-locked") v = true;
        else throw err;
      }
      known.set(key, v);
    }
    return v;
  };
  for (const b of topology.bindings) {
    const destKind = b.destinationType === "exchange" ? "exchange" : "queue";
    const gone = [
      ...((await present("exchange", b.source)) ? [] : [`exchange ${b.source}`]),
      ...((await present(destKind, b.destination)) ? [] : [`${destKind} ${b.destination}`]),
    ];
    report(
      gone.length > 0
        ? {
            kind: "binding",
            name: bindingName(b),
            status: "missing",
            note: `${gone.join(" and ")} missing`,
          }
        : liveBindings
          ? bindingOnBroker(b, liveBindings)
          : {
              kind: "binding",
              name: bindingName(b),
              status: "unchecked",
              note: "both ends exist; AMQP cannot list bindings",
            },
    );
  }
  return entries;
}

/** A binding as the management API lists it. */
export interface LiveBinding {
  source: string;
  destination: string;
  destination_type: string;
  routing_key: string;
  arguments: Record<string, unknown>;
}

/** Whether the broker has this binding: same ends, key and arguments (x-match included). */
function bindingOnBroker(b: BindingConfig, live: readonly LiveBinding[]): DiffEntry {
  const args = JSON.stringify(sortedKeys(bindingArguments(b)));
  const found = live.some(
    (l) =>
      l.source === b.source &&
      l.destination === b.destination &&
      l.destination_type === (b.destinationType ?? "queue") &&
      l.routing_key === (b.routingKey ?? "") &&
      JSON.stringify(sortedKeys(l.arguments ?? {})) === args,
  );
  return found
    ? { kind: "binding", name: bindingName(b), status: "same" }
    : {
        kind: "binding",
        name: bindingName(b),
        status: "missing",
        note: "both ends exist, but the broker has no such binding (management API)",
      };
}

function sortedKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

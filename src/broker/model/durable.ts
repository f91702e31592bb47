/**
 * Which objects durable storage keeps, and the virtual host rebuilt from what it kept. As in
 * RabbitMQ: durable exchanges (not the predeclared ones, which always exist), durable queues
 * that are not exclusive, and bindings whose both ends are kept (or predeclared).
 */
import type { FieldTable } from "../codec/index.js";
import { ROUTE_EXCHANGE } from "../route-contract.js";
import { queueSettings } from "./arguments.js";
import { delayedQueueName } from "./delayed.js";
import type { DurableTopology, RecoveredEntry, StoredBinding } from "./journal.js";
import { Queue } from "./queue.js";
import type { Exchange, VHost } from "./vhost.js";

/** The exchanges every broker has: never written, never restored. */
export function isPredeclared(name: string): boolean {
  return name === "" || name.startsWith("amq.") || name === ROUTE_EXCHANGE;
}

export function isStoredExchange(x: Exchange): boolean {
  return x.durable && !isPredeclared(x.name);
}

export function isStoredQueue(q: Queue): boolean {
  return q.durable && q.owner === undefined;
}

/** A binding is kept when its source and destination are both kept (or predeclared). */
export function isStoredBinding(
  v: VHost,
  b: { source: string; destination: string; destinationType: "queue" | "exchange" },
): boolean {
  if (!v.exchanges.get(b.source)?.durable) return false;
  if (b.destinationType === "exchange") return v.exchanges.get(b.destination)?.durable === true;
  const q = v.queues.get(b.destination);
  return q !== undefined && isStoredQueue(q);
}

/** What is durable now, for the start of a new segment. */
export function durableTopology(v: VHost): DurableTopology {
  const exchanges = [...v.exchanges.values()].filter(isStoredExchange).map((x) => ({
    name: x.name,
    type: x.type,
    autoDelete: x.autoDelete,
    internal: x.internal,
    args: x.args,
  }));
  const queues = [...v.queues.values()].filter(isStoredQueue).map((q) => ({
    name: q.name,
    autoDelete: q.autoDelete,
    args: q.args,
  }));
  const bindings: StoredBinding[] = [];
  for (const source of v.exchanges.keys()) {
    for (const b of v.routing.bindingsOf(source)) {
      if (!isStoredBinding(v, b)) continue;
      bindings.push({
        source: b.source,
        destination: b.destination,
        destinationType: b.destinationType,
        routingKey: b.routingKey,
        args: (b.arguments ?? {}) as FieldTable,
      });
    }
  }
  return { exchanges, queues, bindings };
}

/**
 * Rebuild the durable objects and their messages without writing anything back. Objects
 * that storage kept but that no longer make sense (a binding whose end is gone) are skipped.
 */
export function restoreTopology(
  v: VHost,
  t: DurableTopology,
  entries: ReadonlyMap<string, Iterable<RecoveredEntry>>,
): void {
  for (const x of t.exchanges) {
    if (v.exchanges.has(x.name)) continue;
    v.addExchange({ ...x, durable: true });
  }
  for (const d of t.queues) {
    const q = new Queue(v.queueHost, {
      name: d.name,
      durable: true,
      autoDelete: d.autoDelete,
      owner: undefined,
      args: d.args,
      settings: queueSettings(d.name, d.args),
    });
    v.queues.set(d.name, q);
    q.restore(entries.get(d.name) ?? []);
  }
  // What delayed-message exchanges held waits again, until its due time (delayed.ts).
  for (const x of t.exchanges) {
    const held = delayedQueueName(x.name);
    const list = held === undefined ? undefined : entries.get(held);
    const pager = v.queueHost.pager;
    if (list && pager) v.delayed.restore(x.name, list, (id) => pager.read(id));
  }
  for (const b of t.bindings) {
    if (!v.exchanges.has(b.source)) continue;
    if (
      b.destinationType === "queue" ? !v.queues.has(b.destination) : !v.exchanges.has(b.destination)
    )
      continue;
    v.routing.bind({
      source: b.source,
      destination: b.destination,
      destinationType: b.destinationType,
      routingKey: b.routingKey,
      arguments: b.args,
    });
  }
}

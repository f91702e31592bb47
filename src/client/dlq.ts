/**
 * Dead-letter queues: read one without changing it, and move its messages back.
 *
 * Reading takes each message with basic.get and no ack, then closes the channel: the broker
 * puts every one back where it was (RabbitMQ marks them redelivered; nothing else changes).
 * The management API's get-with-requeue is not used: on RabbitMQ it reorders.
 *
 * Moving is at-least-once: publish (confirmed, mandatory), wait for the confirm, then ack the
 * dead-lettered copy. A message the broker returns, nacks, or that a filter leaves is never
 * acked: closing the channel puts it back in its place. An interruption between the confirm
 * and the ack leaves one message both moved and still in the dead-letter queue.
 */
import type { Channel, ConfirmChannel, GetMessage, Options } from "amqplib";
import { EventlabError } from "../errors.js";
import { within } from "./bounded.js";
import type { Connection } from "./connect.js";
import { replyOf } from "./errors.js";

/** One x-death entry, as plain data. */
export interface Death {
  queue: string;
  reason: string;
  exchange: string;
  routingKeys: string[];
  count: number;
  /** Milliseconds since the epoch, when the broker gave one. */
  time: number | undefined;
}

/** Where a message first died, from x-first-death-* and the oldest x-death entry. */
export interface Origin {
  queue: string;
  reason: string;
  exchange: string;
  routingKeys: string[];
}

const text = (v: unknown): string | undefined =>
  typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("utf8") : undefined;

function numberOf(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (v && typeof v === "object" && "value" in v) return numberOf((v as { value: unknown }).value);
  return undefined;
}

/** AMQP timestamps are whole seconds. */
function timeOf(v: unknown): number | undefined {
  if (v instanceof Date) return v.getTime();
  const n = numberOf(v);
  return n === undefined ? undefined : n * 1000;
}

/** The x-death entries of a message's headers, most recent first (as the broker keeps them). */
export function deathsOf(headers: Record<string, unknown> | undefined): Death[] {
  const raw = headers?.["x-death"];
  if (!Array.isArray(raw)) return [];
  const out: Death[] = [];
  for (const d of raw) {
    if (!d || typeof d !== "object" || Buffer.isBuffer(d)) continue;
    const t = d as Record<string, unknown>;
    const keys = t["routing-keys"];
    out.push({
      queue: text(t["queue"]) ?? "",
      reason: text(t["reason"]) ?? "",
      exchange: text(t["exchange"]) ?? "",
      routingKeys: Array.isArray(keys) ? keys.map((k) => text(k) ?? String(k)) : [],
      count: numberOf(t["count"]) ?? 1,
      time: timeOf(t["time"]),
    });
  }
  return out;
}

/**
 * Where the message first died: x-first-death-queue/-reason/-exchange, with the routing keys
 * of the matching x-death entry (the oldest entry when none matches). Undefined without x-death.
 */
export function originOf(headers: Record<string, unknown> | undefined): Origin | undefined {
  const deaths = deathsOf(headers);
  const oldest = deaths[deaths.length - 1];
  const queue = text(headers?.["x-first-death-queue"]) ?? oldest?.queue;
  if (queue === undefined) return undefined;
  const reason = text(headers?.["x-first-death-reason"]) ?? oldest?.reason ?? "";
  const exchange = text(headers?.["x-first-death-exchange"]) ?? oldest?.exchange ?? "";
  const entry =
    [...deaths].reverse().find((d) => d.queue === queue && d.reason === reason) ?? oldest;
  return { queue, reason, exchange, routingKeys: entry?.routingKeys ?? [] };
}

/** One group of `dlq list`: the messages that first died the same way. */
export interface DeathGroup {
  reason: string;
  queue: string;
  exchange: string;
  routingKeys: string[];
  /** Messages in the group. */
  messages: number;
  /** Deaths of those messages, all x-death counts added (a message may have died many times). */
  deaths: number;
  first: number | undefined;
  last: number | undefined;
}

/** Group messages by where they first died, largest group first. */
export function groupDeaths(messages: readonly { headers: Record<string, unknown> }[]) {
  const groups = new Map<string, DeathGroup>();
  for (const m of messages) {
    const origin = originOf(m.headers);
    const deaths = deathsOf(m.headers);
    const g: DeathGroup = {
      reason: origin?.reason ?? "(no x-death)",
      queue: origin?.queue ?? "",
      exchange: origin?.exchange ?? "",
      routingKeys: origin?.routingKeys ?? [],
      messages: 0,
      deaths: 0,
      first: undefined,
      last: undefined,
    };
    const id = JSON.stringify([g.reason, g.queue, g.exchange, g.routingKeys]);
    const group = groups.get(id) ?? g;
    groups.set(id, group);
    group.messages++;
    for (const d of deaths) {
      group.deaths += d.count;
      if (d.time !== undefined) {
        group.first = group.first === undefined ? d.time : Math.min(group.first, d.time);
        group.last = group.last === undefined ? d.time : Math.max(group.last, d.time);
      }
    }
  }
  return [...groups.values()].sort(
    (a, b) => b.messages - a.messages || a.reason.localeCompare(b.reason),
  );
}

function notFound(queue: string, err: unknown): EventlabError {
  return new EventlabError("not-found", `queue '${queue}' does not exist`, {
    hint: "check the name (and --vhost in the URL); `eventlab list queues` shows the queues there are",
    cause: err,
  });
}

/** The queue's ready-message count; a missing queue becomes a not-found error. */
async function depth(connection: Connection, queue: string): Promise<number> {
  const ch = await connection.model.createChannel();
  ch.on("error", () => {});
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } catch (err) {
    if (replyOf(err)?.code === 404) throw notFound(queue, err);
    throw err;
  } finally {
    await within(ch.close(), 2000);
  }
}

/** A missing exchange becomes a not-found error before anything moves. */
async function exchangeExists(connection: Connection, exchange: string): Promise<void> {
  if (exchange === "") return;
  const ch = await connection.model.createChannel();
  ch.on("error", () => {});
  try {
    await ch.checkExchange(exchange);
  } catch (err) {
    if (replyOf(err)?.code === 404) {
      throw new EventlabError("not-found", `exchange '${exchange}' does not exist`, {
        hint: "check the name; `eventlab list exchanges` shows them, `eventlab declare exchange` makes one",
        cause: err,
      });
    }
    throw err;
  } finally {
    await within(ch.close(), 2000);
  }
}

const GET_TIMEOUT_MS = 10_000;

async function getOne(ch: Channel, queue: string): Promise<GetMessage | false> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      ch.get(queue, { noAck: false }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new EventlabError("timeout", `the broker did not answer basic.get on '${queue}'`, {
                hint: "the broker may be blocked or overloaded; try again, or with a smaller --count",
              }),
            ),
          GET_TIMEOUT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Snapshot {
  messages: GetMessage[];
  /** Ready messages when reading began. */
  depth: number;
}

/**
 * Up to `count` messages from the head of `queue`, left in place: taken without ack, and all
 * put back by closing the channel, in their order.
 */
export async function readQueue(
  connection: Connection,
  queue: string,
  count: number,
  signal?: AbortSignal,
): Promise<Snapshot> {
  const ready = await depth(connection, queue);
  const ch = await connection.model.createChannel();
  ch.on("error", () => {});
  const messages: GetMessage[] = [];
  try {
    while (messages.length < Math.min(count, ready) && !signal?.aborted) {
      const m = await getOne(ch, queue);
      if (m === false) break;
      messages.push(m);
    }
  } finally {
    // Closing the channel returns every unacked message to the queue, in place.
    await within(ch.close(), 5000);
  }
  return { messages, depth: ready };
}

/** Where `dlq replay` sends a message. */
export type ReplayTarget =
  | { kind: "origin" }
  | { kind: "exchange"; exchange: string; routingKey: string | undefined };

export interface Returned {
  messageId: string | undefined;
  exchange: string;
  routingKey: string;
  replyCode: number;
  replyText: string;
}

export interface ReplaySummary {
  /** Messages looked at. */
  examined: number;
  /** Confirmed by the broker, then acked in the dead-letter queue. */
  moved: number;
  /** Left in the dead-letter queue: no filter match, or no origin to go back to. */
  kept: number;
  /** Unroutable (mandatory): returned by the broker, left in the dead-letter queue. */
  returned: number;
  /** Nacked by the broker: left in the dead-letter queue. */
  nacked: number;
  /** Published, but no confirm came (connection lost, timeout): maybe moved, still in the DLQ. */
  uncertain: number;
  interrupted: boolean;
  returns: Returned[];
  /** Why the run stopped early, when it did. */
  stoppedBy: string | undefined;
}

export interface ReplayRequest {
  queue: string;
  target: ReplayTarget;
  count: number;
  /** Which messages move; the others stay. */
  select?: ((m: GetMessage) => boolean) | undefined;
  signal?: AbortSignal | undefined;
  /** After each message (progress). */
  onStep?: ((s: ReplaySummary) => void) | undefined;
  /** How long to wait for a confirm. */
  confirmTimeoutMs?: number | undefined;
}

/** Basic properties to republish with: all that were set; CC/BCC dropped (already routed). */
export function publishOptions(m: GetMessage): Options.Publish {
  const p = m.properties as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { mandatory: true };
  for (const k of [
    "contentType",
    "contentEncoding",
    "deliveryMode",
    "priority",
    "correlationId",
    "replyTo",
    "expiration",
    "messageId",
    "timestamp",
    "type",
    "userId",
    "appId",
  ]) {
    const v = p[k];
    if (v !== undefined && v !== null) out[k] = v;
  }
  const headers = { ...((p["headers"] as Record<string, unknown> | undefined) ?? {}) };
  delete headers["CC"];
  delete headers["BCC"];
  out["headers"] = headers;
  return out as Options.Publish;
}

/** The exchange and routing key one message goes to, or undefined when it has no origin. */
export function destinationOf(
  m: GetMessage,
  target: ReplayTarget,
): { exchange: string; routingKey: string } | undefined {
  const headers = m.properties.headers as Record<string, unknown> | undefined;
  if (target.kind === "exchange") {
    const key = target.routingKey ?? originOf(headers)?.routingKeys[0] ?? m.fields.routingKey;
    return { exchange: target.exchange, routingKey: key };
  }
  const origin = originOf(headers);
  if (!origin || origin.queue === "") return undefined;
  // Straight into the queue it died in, through the default exchange: the original exchange
  // would hand a copy again to every other queue bound there (and to its CC keys).
  return { exchange: "", routingKey: origin.queue };
}

type Outcome = "confirmed" | "returned" | "nacked" | "uncertain";

/** A confirm channel that publishes one message at a time and says what became of it. */
class OneAtATime {
  private channelError: Error | undefined;
  private returnedNow: Returned | undefined;
  constructor(
    private readonly connection: Connection,
    private readonly pub: ConfirmChannel,
    private readonly confirmMs: number,
  ) {
    pub.on("error", (err: Error) => {
      this.channelError = err;
    });
    pub.on("return", (m: GetMessage & { fields: { replyCode: number; replyText: string } }) => {
      this.returnedNow = {
        messageId: m.properties.messageId as string | undefined,
        exchange: m.fields.exchange,
        routingKey: m.fields.routingKey,
        replyCode: m.fields.replyCode,
        replyText: m.fields.replyText,
      };
    });
  }

  get lastReturn(): Returned | undefined {
    return this.returnedNow;
  }

  /** Why no confirm came. */
  get trouble(): string {
    if (this.channelError) return this.channelError.message;
    if (this.connection.closed) return "the connection closed";
    return `no confirm within ${this.confirmMs} ms`;
  }

  send(to: { exchange: string; routingKey: string }, m: GetMessage): Promise<Outcome> {
    this.returnedNow = undefined;
    return new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => resolve("uncertain"), this.confirmMs);
      const done = (o: Outcome) => {
        clearTimeout(timer);
        resolve(o);
      };
      const confirmed = (err: unknown) => {
        // A return comes before its confirm.
        if (err) done(this.channelError ? "uncertain" : "nacked");
        else done(this.returnedNow ? "returned" : "confirmed");
      };
      try {
        this.pub.publish(to.exchange, to.routingKey, m.content, publishOptions(m), confirmed);
      } catch {
        done("uncertain");
      }
      // A connection that closes takes its pending confirms with it.
      this.connection.whenClosed.then(() => done("uncertain"));
    });
  }

  close(): Promise<unknown> {
    return within(this.pub.close(), 5000);
  }
}

/**
 * Move messages out of `queue`, one at a time: publish, wait for the confirm, ack. Messages
 * not moved stay, in their order. A lost connection or a missing confirm ends the run and is
 * counted, not thrown.
 */
export async function replay(connection: Connection, r: ReplayRequest): Promise<ReplaySummary> {
  const s: ReplaySummary = {
    examined: 0,
    moved: 0,
    kept: 0,
    returned: 0,
    nacked: 0,
    uncertain: 0,
    interrupted: false,
    returns: [],
    stoppedBy: undefined,
  };
  const ready = await depth(connection, r.queue);
  if (r.target.kind === "exchange") await exchangeExists(connection, r.target.exchange);
  // Only what is there now: a message that dies again on its way back is not taken twice.
  const limit = Math.min(r.count, ready);
  const source = await connection.model.createChannel();
  source.on("error", () => {});
  let out: OneAtATime;
  try {
    out = new OneAtATime(
      connection,
      await connection.model.createConfirmChannel(),
      r.confirmTimeoutMs ?? 30_000,
    );
  } catch (err) {
    await within(source.close(), 2000);
    throw err;
  }
  try {
    while (s.examined < limit) {
      if (r.signal?.aborted) {
        s.interrupted = true;
        break;
      }
      const m = await getOne(source, r.queue);
      if (m === false) break;
      s.examined++;
      const where = r.select && !r.select(m) ? undefined : destinationOf(m, r.target);
      // Not acked: back in place when the channel closes.
      const outcome = where ? await out.send(where, m) : "kept";
      if (outcome === "confirmed") {
        source.ack(m);
        s.moved++;
      } else if (outcome === "uncertain") {
        s.uncertain++;
        s.stoppedBy = out.trouble;
        break;
      } else tally(s, outcome, out.lastReturn);
      r.onStep?.(s);
    }
  } catch (err) {
    if (!connection.closed && !replyOf(err)) throw err;
    s.stoppedBy = err instanceof Error ? err.message : String(err);
  } finally {
    await out.close();
    // The acks went first on this channel; closing it puts the rest back, in order.
    await within(source.close(), 5000);
  }
  return s;
}

function tally(s: ReplaySummary, outcome: "kept" | "returned" | "nacked", ret?: Returned): void {
  if (outcome === "kept") s.kept++;
  else if (outcome === "nacked") s.nacked++;
  else {
    s.returned++;
    if (ret) s.returns.push(ret);
  }
}

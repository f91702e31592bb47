/**
 * What `eventlab why` does once its flags are parsed: find one message's events (in a record
 * file, or by asking a running embedded broker's ledger over AMQP), add why each routing hop
 * went where it did, and print the story as text, a mermaid sequence diagram, or NDJSON.
 */
import path from "node:path";
import type { ConsumeMessage } from "amqplib";
import {
  type MessageEvent,
  WHY_ROUTING_KEY,
  type WhyAnswer,
  withReasons,
} from "../../broker/model/events.js";
import type { Connection } from "../../client/connect.js";
import type { Context } from "../../context.js";
import { EventlabError } from "../../errors.js";
import { type RecordMeta, readRecord } from "../../lab/record.js";
import { routingTableOf } from "../../lab/routing.js";
import { elapsed, plural } from "../../ui/format.js";
import type { Theme } from "../../ui/theme.js";
import type { WhyOptions } from "../why.js";

/** How long a broker has to answer. */
const ANSWER_TIMEOUT_MS = 5000;

interface Found {
  /** This message's events, in order. */
  events: MessageEvent[];
  /** Messages the ledger or file holds. */
  messages: number;
  /** Where they came from, for messages. */
  source: string;
}

export async function runWhy(ctx: Context, o: WhyOptions): Promise<void> {
  const found = o.from === undefined ? await askBroker(ctx, o.id) : await fromFile(ctx, o, o.from);
  if (found.events.length === 0) {
    throw new EventlabError(
      "not-found",
      `no message with id '${o.id}' in ${found.source}: it holds ${plural(found.messages, "message")}`,
      {
        hint: "check the id (its message_id property, or the id play gave it: the report's checker lists some); only messages with an id are recorded, and a ledger keeps only its newest events (1,000,000 on a broker, 250,000 in play)",
      },
    );
  }
  const { io, theme } = ctx;
  if (o.json) io.out(found.events.map((e) => `${JSON.stringify(e)}\n`).join(""));
  else if (o.mermaid) io.out(whyMermaid(found.events));
  else io.out(whyText(o.id, found.events, theme, found.source));
}

async function fromFile(ctx: Context, o: WhyOptions, file: string): Promise<Found> {
  const record = await readRecord(path.resolve(ctx.cwd, file));
  const mine = record.events.filter((e) => e.id === o.id);
  return {
    events: explained(ctx, record.meta.topology, mine, file),
    messages: new Set(record.events.map((e) => e.id)).size,
    source: file,
  };
}

/** Routing reasons from the record's topology, when it has one that can be read. */
function explained(
  ctx: Context,
  topology: RecordMeta["topology"],
  events: MessageEvent[],
  file: string,
): MessageEvent[] {
  if (!topology || typeof topology !== "object") return events;
  try {
    return withReasons(routingTableOf(topology), events);
  } catch (err) {
    const { io, theme } = ctx;
    io.err(
      `${theme.warn(theme.symbols.warn)} ${file}: its topology cannot be read (${String((err as Error)?.message ?? err)}); routing reasons left out`,
    );
    return events;
  }
}

/** Ask the broker's ledger (model/events.ts): a question on the default exchange. */
async function askBroker(ctx: Context, id: string): Promise<Found> {
  const connection = await ctx.connect({ connectionName: "eventlab why" });
  try {
    const answer = await ask(connection, id);
    if ("error" in answer) {
      throw new EventlabError("broker", `${connection.address.display}: ${answer.error}`, {
        hint: "or record a run with `eventlab play --record FILE` and use --from FILE",
      });
    }
    return {
      events: answer.events,
      messages: answer.messages,
      source: `the ledger of ${connection.address.display}`,
    };
  } finally {
    await connection.close();
  }
}

function ask(connection: Connection, id: string): Promise<WhyAnswer> {
  const where = connection.address.display;
  return new Promise<WhyAnswer>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (f: () => void) => {
      clearTimeout(timer);
      f();
    };
    timer = setTimeout(
      () =>
        done(() =>
          reject(
            new EventlabError(
              "timeout",
              `no answer from ${where} in ${elapsed(ANSWER_TIMEOUT_MS)}`,
              {
                hint: "is it eventlab's embedded broker? Or record a run with `eventlab play --record FILE` and use --from",
              },
            ),
          ),
        ),
      ANSWER_TIMEOUT_MS,
    );
    const fail = (err: unknown) => done(() => reject(err));
    void (async () => {
      const ch = await connection.model.createChannel();
      ch.on("error", () => {});
      ch.on("return", () =>
        fail(
          new EventlabError("broker", `${where}: this broker keeps no event ledger (RabbitMQ?)`, {
            hint: "record a run with `eventlab play --record FILE` and use --from",
          }),
        ),
      );
      const onReply = (m: ConsumeMessage | null) => {
        if (m?.properties.correlationId !== "eventlab-why") return;
        try {
          const answer = JSON.parse(m.content.toString("utf8")) as WhyAnswer;
          done(() => resolve(answer));
        } catch (err) {
          fail(
            new EventlabError("broker", `${where} answered with something not JSON`, {
              cause: err,
            }),
          );
        }
      };
      await ch.consume("amq.rabbitmq.reply-to", onReply, { noAck: true });
      ch.publish("", WHY_ROUTING_KEY, Buffer.from(id), {
        replyTo: "amq.rabbitmq.reply-to",
        correlationId: "eventlab-why",
        mandatory: true,
      });
    })().catch(fail);
  });
}

// ------------------------------------------------------------ text

const ms = (e: MessageEvent, t0: number) => `+${elapsed(e.t - t0)}`;
const q = (s: string) => `'${s}'`;
const exchangeName = (x: string | undefined) =>
  x === undefined || x === "" ? "the default exchange" : `exchange ${q(x)}`;

/** One hop in words; `nth` counts publishes (a later one is a retry). */
function hop(e: MessageEvent, publishes: number, theme: Theme): string {
  const tag = e.deliveryTag === undefined ? "" : `delivery tag ${e.deliveryTag}`;
  const requeue = e.requeue ? "requeued" : "not requeued";
  switch (e.kind) {
    case "published": {
      const again = publishes > 1 ? theme.warn(` again (retry ${publishes - 1})`) : "";
      return `${theme.accent("published")}${again} to ${exchangeName(e.exchange)} with key ${q(e.routingKey ?? "")}`;
    }
    case "routed":
      return `${theme.accent("routed")} to ${(e.queues ?? []).join(", ")}`;
    case "unroutable":
      return `${theme.error("unroutable")}: no queue for key ${q(e.routingKey ?? "")} at ${exchangeName(e.exchange)} (returned if mandatory, else dropped)`;
    case "enqueued":
      return `enqueued in ${e.queue}`;
    case "delivered": {
      const how = e.consumerTag === undefined ? "fetched (basic.get)" : "delivered";
      const to = e.consumerTag === undefined ? "" : ` to consumer ${e.consumerTag}`;
      const extra = [tag, e.redelivered ? "redelivered" : "", e.noAck ? "no-ack" : ""];
      return `${how} from ${e.queue}${to} (${extra.filter(Boolean).join(", ")})`;
    }
    case "acked":
      return `${theme.ok("acked")} in ${e.queue} (${tag})`;
    case "nacked":
      if (e.reason !== undefined)
        return `${theme.warn("given back")} to ${e.queue}: ${e.reason} before it was acked (${tag})`;
      return `${theme.warn("nacked")} in ${e.queue}, ${requeue} (${tag})`;
    case "rejected":
      return `${theme.warn("rejected")} in ${e.queue}, ${requeue} (${tag})`;
    case "dead-lettered":
      return `${theme.error("dead-lettered")} from ${e.queue} (${e.reason}) to ${exchangeName(e.to)} with key ${q(e.routingKey ?? "")}${
        e.queues && e.queues.length > 0
          ? ` ${theme.symbols.arrow} ${e.queues.join(", ")}`
          : ", reaching no queue"
      }`;
    case "expired":
      return `${theme.error("expired")} in ${e.queue} (its TTL ran out)`;
    case "dropped":
      return `${theme.error("dropped")} from ${e.queue}: ${e.reason ?? "unknown"}`;
  }
}

/** The life story: one line per hop, with the routing reasons under the routing hops. */
export function whyText(
  id: string,
  events: readonly MessageEvent[],
  theme: Theme,
  source?: string,
): string {
  const t0 = events[0]?.t ?? 0;
  const span = (events.at(-1)?.t ?? t0) - t0;
  const from = source === undefined ? "" : theme.dim(` (from ${source})`);
  const lines = [
    `${theme.bold(`message ${q(id)}`)}: ${plural(events.length, "event")} over ${elapsed(span)}${from}`,
  ];
  const times = events.map((e) => ms(e, t0));
  const tw = Math.max(...times.map((t) => t.length));
  // Names that all start alike ("eventlab play producer:…", "eventlab play consumer:…") are
  // shown without what they share.
  const shared = sharedPrefix(events.map((e) => e.connection).filter((c) => c !== "broker"));
  const nameOf = (c: string) => (c.startsWith(shared) ? c.slice(shared.length) : c);
  const ww = Math.min(28, Math.max(...events.map((e) => nameOf(e.connection).length)));
  let publishes = 0;
  for (const [i, e] of events.entries()) {
    if (e.kind === "published") publishes += 1;
    // The end of a long name tells connections apart (eventlab play consumer:<name>).
    const name = nameOf(e.connection);
    const who = name.length > ww ? `…${name.slice(-(ww - 1))}` : name;
    const head = `  ${theme.dim((times[i] as string).padStart(tw))}  ${who.padEnd(ww)}  `;
    lines.push(`${head}${hop(e, publishes, theme)}`);
    const pad = " ".repeat(2 + tw + 2 + ww + 4);
    for (const [queue, reason] of Object.entries(e.reasons ?? {}))
      lines.push(`${pad}${theme.dim(`${queue}: ${reason}`)}`);
  }
  return `${lines.join("\n")}\n`;
}

// ------------------------------------------------------------ mermaid

/** Text mermaid takes as it is in a participant label or message. */
function mm(s: string): string {
  return s.replace(/[#;\r\n]/g, (c) => (c === "#" ? "#35;" : c === ";" ? "#59;" : " "));
}

/** The diagram's participants, by role: publishers, exchanges, queues, then consumers. */
class Participants {
  private readonly ids = new Map<string, string>();
  readonly order: Array<[alias: string, label: string]> = [];

  constructor(events: readonly MessageEvent[]) {
    for (const e of events) if (e.kind === "published") this.add("p", e.connection, e.connection);
    for (const e of events) {
      if (e.kind === "published" || e.kind === "routed" || e.kind === "unroutable")
        this.add("x", exName(e.exchange), `exchange ${exName(e.exchange)}`);
      if (e.kind === "dead-lettered") this.add("x", exName(e.to), `exchange ${exName(e.to)}`);
    }
    for (const e of events)
      for (const name of [e.queue, ...(e.queues ?? [])])
        if (name !== undefined) this.add("q", name, `queue ${name}`);
    for (const e of events) if (e.kind === "delivered") this.who(e.connection);
  }

  private add(kind: "p" | "x" | "q", name: string, label: string): string {
    const key = `${kind}:${name}`;
    let alias = this.ids.get(key);
    if (alias === undefined) {
      alias = `${kind}${this.ids.size + 1}`;
      this.ids.set(key, alias);
      this.order.push([alias, label]);
    }
    return alias;
  }

  /** A connection: a publisher's participant, or a consumer's (added when first seen). */
  who(connection: string): string {
    return this.add("p", connection, connection);
  }

  exchange(name: string | undefined): string {
    return this.add("x", exName(name), `exchange ${exName(name)}`);
  }

  queue(name: string | undefined): string {
    return this.add("q", name ?? "", `queue ${name ?? ""}`);
  }
}

const exName = (x: string | undefined) => (x === undefined || x === "" ? "(default exchange)" : x);

/** One hop as diagram lines (none for an enqueue: the routing arrow is it). */
function arrows(e: MessageEvent, p: Participants, at: string): string[] {
  const say = (from: string, arrow: string, to: string, text: string) =>
    `  ${from}${arrow}${to}: ${mm(`${at} ${text}`)}`;
  const note = (over: string, text: string) => `  Note over ${over}: ${mm(`${at} ${text}`)}`;
  const routes = (x: string | undefined) =>
    (e.queues ?? []).map((name) => {
      const why = e.reasons?.[name];
      return say(p.exchange(x), "->>", p.queue(name), why ? `route: ${why}` : "route");
    });
  const q = e.queue === undefined ? "" : p.queue(e.queue);
  switch (e.kind) {
    case "published":
      return [
        say(p.who(e.connection), "->>", p.exchange(e.exchange), `publish ${e.routingKey ?? ""}`),
      ];
    case "routed":
      return routes(e.exchange);
    case "unroutable":
      return [note(p.exchange(e.exchange), `unroutable: ${e.routingKey ?? ""}`)];
    case "delivered": {
      const verb = e.redelivered ? "redeliver" : "deliver";
      return [say(q, "->>", p.who(e.connection), `${verb} tag ${e.deliveryTag}`)];
    }
    case "acked":
      return [say(p.who(e.connection), "-->>", q, `ack tag ${e.deliveryTag}`)];
    case "nacked":
    case "rejected": {
      const verb = e.reason ?? (e.kind === "nacked" ? "nack" : "reject");
      return [say(p.who(e.connection), "-->>", q, `${verb}${e.requeue ? " (requeue)" : ""}`)];
    }
    case "dead-lettered": {
      const dl = `dead-letter (${e.reason}) key ${e.routingKey ?? ""}`;
      return [say(q, "->>", p.exchange(e.to), dl), ...routes(e.to)];
    }
    case "expired":
      return [note(q, "expired (TTL)")];
    case "dropped":
      return [note(q, `dropped: ${e.reason ?? ""}`)];
    case "enqueued":
      return [];
  }
}

/**
 * A mermaid sequenceDiagram: publishers, the exchanges, the queues, then consumers, in the
 * order they appear; one arrow per hop, with its time since the first.
 */
export function whyMermaid(events: readonly MessageEvent[]): string {
  const p = new Participants(events);
  const t0 = events[0]?.t ?? 0;
  const hops = events.flatMap((e) => arrows(e, p, ms(e, t0)));
  const heads = p.order.map(([alias, label]) => `  participant ${alias} as ${mm(label)}`);
  return `${["sequenceDiagram", ...heads, ...hops].join("\n")}\n`;
}

/** The words that every one of several different names starts with (up to a space), or "". */
function sharedPrefix(names: string[]): string {
  const distinct = [...new Set(names)];
  if (distinct.length < 2) return "";
  let prefix = distinct[0] as string;
  for (const n of distinct) while (!n.startsWith(prefix)) prefix = prefix.slice(0, -1);
  const space = prefix.lastIndexOf(" ");
  return space < 0 ? "" : prefix.slice(0, space + 1);
}

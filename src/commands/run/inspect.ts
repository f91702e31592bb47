/**
 * What `eventlab list`, `purge` and `peek` do once their flags are parsed: ask the management
 * API (client/management.ts) and print what it says, as a table or as JSON. Purge falls back to
 * AMQP when the API does not answer; list and peek say plainly that they need it.
 */
import { withChannel, withConnection } from "../../client/connect.js";
import { type ManagementClient, ManagementError, seg } from "../../client/management.js";
import type { Context } from "../../context.js";
import { EventlabError, UsageError } from "../../errors.js";
import { count } from "../../ui/format.js";
import { table } from "../../ui/table.js";
import type { ApiFlag, InspectOptions, ListKind } from "../inspect.js";

type Obj = Record<string, unknown>;

const client = (ctx: Context, o: ApiFlag): Promise<ManagementClient> => ctx.management(o.api);

export async function runInspect(ctx: Context, o: InspectOptions): Promise<void> {
  switch (o.command) {
    case "list":
      return list(ctx, o);
    case "purge":
      return purge(ctx, o);
    case "peek":
      return peek(ctx, o);
  }
}

const num = (v: unknown): number => (typeof v === "number" ? v : 0);
const at = (o: Obj, path: string): unknown =>
  path
    .split(".")
    .reduce<unknown>((x, k) => (x && typeof x === "object" ? (x as Obj)[k] : undefined), o);
const rateIn = (o: Obj) => num(at(o, "message_stats.publish_details.rate"));
const rateOut = (o: Obj) => num(at(o, "message_stats.deliver_get_details.rate"));
const nameOf = (kind: ListKind, o: Obj): string =>
  kind === "bindings"
    ? `${String(o["source"])} ${String(o["destination"])}`
    : kind === "consumers"
      ? String(at(o, "queue.name"))
      : String(o["name"]);

async function list(ctx: Context, o: Extract<InspectOptions, { command: "list" }>) {
  const api = await client(ctx, o);
  const scoped = o.kind === "connections" ? o.kind : `${o.kind}/${seg(o.vhost)}`;
  let items = await api.get<Obj[]>(scoped);
  if (o.name) {
    const re = o.name;
    items = items.filter((x) => re.test(nameOf(o.kind, x)));
  }
  const by = {
    name: (a: Obj, b: Obj) => nameOf(o.kind, a).localeCompare(nameOf(o.kind, b)),
    depth: (a: Obj, b: Obj) => num(b["messages"]) - num(a["messages"]),
    rate: (a: Obj, b: Obj) => rateIn(b) - rateIn(a),
  }[o.sort];
  items = [...items].sort(by);
  if (o.json) {
    ctx.io.out(`${JSON.stringify(items)}\n`);
    return;
  }
  const { theme } = ctx;
  if (items.length === 0) {
    ctx.io.err(`${theme.dim("•")} no ${o.kind}${o.name ? ` matching /${o.name.source}/` : ""}\n`);
    return;
  }
  const rows = listRows(o.kind, items);
  const lines = table(rows.map((r, i) => (i === 0 ? r.map((c) => theme.dim(c)) : r)));
  ctx.io.out(`${lines.join("\n")}\n`);
}

function listRows(kind: ListKind, items: Obj[]): string[][] {
  const rate = (v: number) => (v === 0 ? "0" : v.toFixed(1));
  switch (kind) {
    case "queues":
      return [
        ["queue", "type", "ready", "unacked", "consumers", "in/s", "out/s"],
        ...items.map((q) => [
          String(q["name"]),
          String(q["type"] ?? "classic"),
          count(num(q["messages_ready"])),
          count(num(q["messages_unacknowledged"])),
          String(num(q["consumers"])),
          rate(rateIn(q)),
          rate(rateOut(q)),
        ]),
      ];
    case "exchanges":
      return [
        ["exchange", "type", "durable", "in/s"],
        ...items.map((x) => [
          String(x["name"]) === "" ? "(default)" : String(x["name"]),
          String(x["type"]),
          x["durable"] ? "yes" : "no",
          rate(num(at(x, "message_stats.publish_in_details.rate"))),
        ]),
      ];
    case "bindings":
      return [
        ["source", "destination", "type", "key / arguments"],
        ...items.map((b) => {
          const args = (b["arguments"] ?? {}) as Obj;
          const key =
            Object.keys(args).length > 0 ? JSON.stringify(args) : String(b["routing_key"]);
          return [
            String(b["source"]) === "" ? "(default)" : String(b["source"]),
            String(b["destination"]),
            String(b["destination_type"]),
            key,
          ];
        }),
      ];
    case "connections":
      return [
        ["connection", "client name", "user", "channels", "state"],
        ...items.map((c) => [
          String(c["name"]),
          String(c["user_provided_name"] ?? at(c, "client_properties.connection_name") ?? ""),
          String(c["user"]),
          String(num(c["channels"])),
          String(c["state"] ?? ""),
        ]),
      ];
    case "consumers":
      return [
        ["queue", "consumer tag", "ack", "prefetch", "channel"],
        ...items.map((c) => [
          String(at(c, "queue.name")),
          String(c["consumer_tag"]),
          c["ack_required"] ? "manual" : "auto",
          String(num(c["prefetch_count"])),
          String(at(c, "channel_details.name") ?? ""),
        ]),
      ];
  }
}

async function purge(ctx: Context, o: Extract<InspectOptions, { command: "purge" }>) {
  const { io, theme } = ctx;
  if (!o.yes) {
    if (!io.stdinIsTTY) {
      throw new UsageError(
        `purge ${o.queue} deletes its ready messages: confirm with --yes`,
        "without a terminal there is no one to ask; add --yes",
      );
    }
    const prompter = await ctx.prompter();
    const sure = await prompter.confirm({
      id: "purge",
      message: `Remove every ready message from queue '${o.queue}'?`,
      default: false,
    });
    if (!sure) {
      io.err(`${theme.dim("•")} nothing purged\n`);
      return;
    }
  }
  const api = await client(ctx, o);
  const path = `queues/${seg(o.vhost)}/${seg(o.queue)}`;
  let purged: number;
  let via = "management API";
  try {
    const q = await api.get<Obj>(path);
    await api.delete(`${path}/contents`);
    purged = num(q["messages_ready"]);
  } catch (err) {
    if (err instanceof ManagementError && err.status === 404) {
      throw new EventlabError(
        "not-found",
        `queue '${o.queue}' does not exist in vhost '${o.vhost}'`,
        {
          hint: "eventlab list queues shows the queues there are",
        },
      );
    }
    if (!(err instanceof ManagementError) || err.status !== 0) throw err;
    // No API: AMQP can purge too (and says how many it removed).
    via = "AMQP (the management API did not answer)";
    const open = () => ctx.connect({ connectionName: "eventlab purge" });
    purged = await withConnection(open, async (connection) =>
      withChannel(connection, async (ch) => (await ch.purgeQueue(o.queue)).messageCount),
    );
  }
  if (o.json) io.out(`${JSON.stringify({ queue: o.queue, purged, via })}\n`);
  else {
    io.out(
      `${theme.ok("✓")} purged ${theme.bold(o.queue)}: ${count(purged)} ready message${purged === 1 ? "" : "s"} removed ${theme.dim(`(${via})`)}\n`,
    );
  }
}

interface GotMessage {
  payload: string;
  payload_encoding: string;
  payload_bytes: number;
  redelivered: boolean;
  exchange: string;
  routing_key: string;
  message_count: number;
  properties: Obj;
}

async function peek(ctx: Context, o: Extract<InspectOptions, { command: "peek" }>) {
  const { io, theme } = ctx;
  const api = await client(ctx, o);
  const overview = await api.get<Obj>("overview");
  const embedded = overview["product_name"] === "eventlab";
  let got: GotMessage[];
  try {
    got = await api.post<GotMessage[]>(`queues/${seg(o.vhost)}/${seg(o.queue)}/get`, {
      count: o.count,
      ackmode: "ack_requeue_true",
      encoding: "auto",
    });
  } catch (err) {
    if (err instanceof ManagementError && err.status === 404) {
      throw new EventlabError(
        "not-found",
        `queue '${o.queue}' does not exist in vhost '${o.vhost}'`,
        {
          hint: "eventlab list queues shows the queues there are",
        },
      );
    }
    throw err;
  }
  for (const [i, m] of got.entries()) {
    if (o.json) {
      io.out(`${JSON.stringify({ position: i + 1, ...m })}\n`);
      continue;
    }
    const flags = m.redelivered ? theme.warn(" redelivered") : "";
    io.out(
      `${theme.bold(`#${i + 1}`)} ${theme.dim("from")} ${m.exchange === "" ? "(default)" : m.exchange} ${theme.dim("key")} ${m.routing_key} ${theme.dim(`${m.payload_bytes} bytes`)}${flags}\n`,
    );
    if (Object.keys(m.properties).length > 0) {
      io.out(`  ${theme.dim(JSON.stringify(m.properties))}\n`);
    }
    const body = m.payload_encoding === "base64" ? theme.dim(`(base64) ${m.payload}`) : m.payload;
    io.out(`  ${body}\n`);
  }
  if (got.length === 0) io.err(`${theme.dim("•")} queue ${o.queue} has no ready messages\n`);
  else if (!embedded && !o.json) {
    io.err(
      theme.dim(
        `  RabbitMQ took ${got.length === 1 ? "this message" : `these ${got.length} messages`} and put ${got.length === 1 ? "it" : "them"} back in place, marked redelivered: a consumer will see redelivered=true\n`,
      ),
    );
  }
}

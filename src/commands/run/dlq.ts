/**
 * What `eventlab dlq list|show|replay` do once their flags are parsed.
 */
import type { ConsumeMessage } from "amqplib";
import { type Connection, withConnection } from "../../client/connect.js";
import { toPlain } from "../../client/consumer.js";
import { deathsOf, groupDeaths, readQueue, replay } from "../../client/dlq.js";
import { compileExpression, type Expression, factsOf } from "../../config/expression.js";
import type { Context } from "../../context.js";
import { ExitCode } from "../../errors.js";
import {
  deathLines,
  deathsJson,
  groupsJson,
  groupsTable,
  replaySummary,
} from "../../ui/dlq-view.js";
import { count, plural } from "../../ui/format.js";
import { ndjsonLine, prettyMessage } from "../../ui/message.js";
import type { DlqOptions } from "../dlq.js";

type Read = Extract<DlqOptions, { command: "list" | "show" }>;
type Replay = Extract<DlqOptions, { command: "replay" }>;

export async function runDlq(ctx: Context, o: DlqOptions): Promise<void> {
  // Compile first: a bad expression is a usage error before any connection.
  const filter =
    o.command === "replay" && o.filter ? compileExpression(o.filter, "--filter") : undefined;
  const open = () => ctx.connect({ connectionName: `eventlab dlq ${o.command}` });
  await withConnection(open, async (connection) => {
    if (o.command === "replay") await runReplay(ctx, connection, o, filter);
    else await runRead(ctx, connection, o);
  });
}

async function runRead(ctx: Context, connection: Connection, o: Read): Promise<void> {
  const { io, theme } = ctx;
  const snap = await readQueue(connection, o.queue, o.count, ctx.signal);
  const plain = snap.messages.map((m) => toPlain(m as unknown as ConsumeMessage));
  if (ctx.signal.aborted) ctx.setExitCode(ExitCode.interrupted);
  if (o.command === "list") {
    const groups = groupDeaths(plain);
    if (o.json) io.out(`${JSON.stringify(groupsJson(groups))}\n`);
    else if (groups.length > 0) io.out(groupsTable(groups, theme));
    const read = snap.messages.length;
    const of = snap.depth > read ? ` of ${count(snap.depth)} (raise --count to read more)` : "";
    io.err(
      theme.dim(
        `${read === 0 ? `• ${o.queue} is empty` : `${plural(read, "message")} read${of}`}; the queue is unchanged\n`,
      ),
    );
    return;
  }
  plain.forEach((m, i) => {
    const deaths = deathsOf(m.headers);
    if (o.json) {
      const line = ndjsonLine(i + 1, m);
      io.out(`${line.slice(0, -2)},"deaths":${JSON.stringify(deathsJson(deaths))}}\n`);
    } else {
      const block = prettyMessage(i + 1, m, theme);
      // The death history under the message's first line.
      const nl = block.indexOf("\n");
      io.out(`${block.slice(0, nl + 1)}${deathLines(deaths, theme)}${block.slice(nl + 1)}`);
    }
  });
  if (plain.length === 0) io.err(theme.dim(`• ${o.queue} is empty\n`));
}

async function runReplay(
  ctx: Context,
  connection: Connection,
  o: Replay,
  filter: Expression | undefined,
): Promise<void> {
  const { io, theme } = ctx;
  const summary = await replay(connection, {
    queue: o.queue,
    target: o.target,
    count: o.count,
    select: filter ? (m) => filter.test(factsOf(m)) : undefined,
    signal: ctx.signal,
  });
  if (o.json) io.out(`${JSON.stringify({ queue: o.queue, ...summary })}\n`);
  else io.out(replaySummary(o.queue, summary, theme));
  if (summary.interrupted) ctx.setExitCode(ExitCode.interrupted);
  else if (summary.returned + summary.nacked + summary.uncertain > 0)
    ctx.setExitCode(ExitCode.undelivered);
}

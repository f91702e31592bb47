/**
 * What `eventlab dlq` prints: the table of death groups, a message's death history, the replay
 * summary. Plain data in, text out; knows nothing of AMQP libraries.
 */
import { count, plural } from "./format.js";
import { table } from "./table.js";
import type { Theme } from "./theme.js";

export interface GroupRow {
  reason: string;
  queue: string;
  exchange: string;
  routingKeys: string[];
  messages: number;
  deaths: number;
  first: number | undefined;
  last: number | undefined;
}

export interface DeathRow {
  queue: string;
  reason: string;
  exchange: string;
  routingKeys: string[];
  count: number;
  time: number | undefined;
}

const when = (ms: number | undefined) =>
  ms === undefined ? "–" : new Date(ms).toISOString().replace(".000Z", "Z");
const exchangeName = (x: string) => (x === "" ? "(default)" : x);

export function groupsTable(groups: readonly GroupRow[], theme: Theme): string {
  const head = [
    "reason",
    "queue",
    "exchange",
    "routing keys",
    "messages",
    "deaths",
    "first",
    "last",
  ];
  const rows = groups.map((g) => [
    g.reason,
    g.queue,
    exchangeName(g.exchange),
    g.routingKeys.join(","),
    count(g.messages),
    count(g.deaths),
    when(g.first),
    when(g.last),
  ]);
  const lines = table([head.map((c) => theme.dim(c)), ...rows], {
    align: ["left", "left", "left", "left", "right", "right"],
  });
  return `${lines.join("\n")}\n`;
}

export function groupsJson(groups: readonly GroupRow[]): unknown[] {
  return groups.map((g) => ({
    reason: g.reason,
    queue: g.queue,
    exchange: g.exchange,
    routingKeys: g.routingKeys,
    messages: g.messages,
    deaths: g.deaths,
    first: g.first === undefined ? null : new Date(g.first).toISOString(),
    last: g.last === undefined ? null : new Date(g.last).toISOString(),
  }));
}

export function deathsJson(deaths: readonly DeathRow[]): unknown[] {
  return deaths.map((d) => ({
    ...d,
    time: d.time === undefined ? null : new Date(d.time).toISOString(),
  }));
}

/** A message's deaths, most recent first, a line each. */
export function deathLines(deaths: readonly DeathRow[], theme: Theme): string {
  if (deaths.length === 0) return `  ${theme.dim("deaths")}      none (no x-death header)\n`;
  return deaths
    .map(
      (d, i) =>
        `  ${theme.dim(i === 0 ? "deaths" : "      ")}      ${theme.warn(d.reason)} in ${theme.bold(d.queue)} ×${d.count}  ${theme.dim(`from ${exchangeName(d.exchange)} [${d.routingKeys.join(",")}] ${when(d.time)}`)}\n`,
    )
    .join("");
}

export interface SummaryData {
  examined: number;
  moved: number;
  kept: number;
  returned: number;
  nacked: number;
  uncertain: number;
  interrupted: boolean;
  stoppedBy: string | undefined;
  returns: readonly { messageId: string | undefined; routingKey: string; replyText: string }[];
}

export function replaySummary(queue: string, s: SummaryData, theme: Theme): string {
  const lines: string[] = [];
  const bad = s.returned + s.nacked + s.uncertain;
  const mark = bad > 0 || s.interrupted ? theme.warn("!") : theme.ok("✓");
  lines.push(
    `${mark} ${plural(s.moved, "message")} moved out of ${theme.bold(queue)} ${theme.dim(`(${count(s.examined)} looked at)`)}`,
  );
  const rows: string[][] = [
    ["kept", count(s.kept), theme.dim("not selected, or no origin: still in the queue, in order")],
    ["returned", count(s.returned), theme.dim("unroutable: still in the queue")],
  ];
  if (s.nacked > 0)
    rows.push(["nacked", count(s.nacked), theme.dim("refused by the broker: still in the queue")]);
  rows.push([
    "uncertain",
    count(s.uncertain),
    theme.dim("published, no confirm: maybe in both places"),
  ]);
  lines.push(...table(rows, { indent: "  ", align: ["left", "right"] }));
  for (const r of s.returns.slice(0, 5)) {
    lines.push(
      theme.dim(
        `  returned ${r.messageId ?? "(no message id)"} → ${r.routingKey || '""'}: ${r.replyText}`,
      ),
    );
  }
  if (s.returns.length > 5) lines.push(theme.dim(`  … and ${s.returns.length - 5} more returned`));
  if (s.stoppedBy) lines.push(`${theme.warn("stopped:")} ${s.stoppedBy}`);
  if (s.interrupted) lines.push(`${theme.warn("interrupted:")} the rest stay in ${queue}`);
  return `${lines.join("\n")}\n`;
}

/**
 * A routing explanation for people: each exchange reached, each binding tested with ✓ or ✗
 * and the reason, the hops to other exchanges, and the queues at the end.
 */
import type { Hop, RouteExplanation } from "../broker/routing/index.js";
import { table } from "./table.js";
import type { Theme } from "./theme.js";

export interface RouteInput {
  exchange: string;
  routingKey: string;
  headers: Record<string, unknown>;
}

function show(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

function bindingLabel(b: Hop["bindings"][number], type: Hop["type"]): string {
  if (type === "headers") {
    const pairs = Object.entries(b.arguments)
      .filter(([k]) => k !== "x-match")
      .map(([k, v]) => `${k}=${v === null ? "(present)" : show(v)}`);
    return [`x-match ${show(b.arguments["x-match"] ?? "all")}`, ...pairs].join(" ");
  }
  if (type === "fanout") return "";
  return b.routingKey === "" ? "''" : b.routingKey;
}

function viaText(hop: Hop, input: RouteInput): string {
  switch (hop.via.kind) {
    case "publish":
      return `published with key '${input.routingKey}'${
        Object.keys(input.headers).length > 0
          ? ` and headers ${Object.entries(input.headers)
              .map(([k, v]) => `${k}=${show(v)}`)
              .join(" ")}`
          : ""
      }`;
    case "binding":
      return `from ${hop.via.from}`;
    case "alternate":
      return `alternate exchange of ${hop.via.from}`;
  }
}

/** The conclusion: where the message ends up, or what happens to it when nowhere. */
export function routeVerdict(e: RouteExplanation, internalRefused: boolean): string {
  if (internalRefused) {
    return "refused: a publish to an internal exchange is closed with 403 ACCESS_REFUSED";
  }
  if (e.queues.length === 0) {
    return "no queue: a mandatory publish comes back (312 NO_ROUTE); otherwise the message is dropped";
  }
  return `${e.queues.length} queue${e.queues.length === 1 ? "" : "s"}: ${e.queues.join(", ")}`;
}

export function renderRoute(e: RouteExplanation, input: RouteInput, theme: Theme): string {
  const first = e.hops[0];
  const internalRefused = first?.internal === true && first.via.kind === "publish";
  const lines = e.hops.flatMap((hop) => hopLines(hop, input, theme));
  for (const c of e.cycles) {
    const from = c.via.kind === "publish" ? "" : ` (from ${c.via.from})`;
    lines.push(
      `${theme.dim(`↺ ${c.exchange}${from}: already visited, not routed again (a cycle ends here)`)}`,
    );
  }
  const verdict = routeVerdict(e, internalRefused);
  const arrow = theme.symbols.arrow;
  const ok = e.queues.length > 0 && !internalRefused;
  lines.push(`${ok ? theme.ok(arrow) : theme.warn(arrow)} ${verdict}`);
  return `${lines.join("\n")}\n`;
}

/** One exchange reached: its line, then each binding tested, then where the message goes on. */
function hopLines(hop: Hop, input: RouteInput, theme: Theme): string[] {
  const s = theme.symbols;
  const via = viaText(hop, input);
  if (hop.exchange === "") return defaultExchangeLines(hop, via, theme);
  if (hop.type === undefined)
    return [
      `${theme.error(s.fail)} ${theme.bold(hop.exchange)} ${theme.dim(`← ${via}`)}: no such exchange`,
    ];
  const kind = hop.delayed ? `x-delayed-message routing as ${hop.type}` : hop.type;
  const flags = [kind, ...(hop.internal ? ["internal"] : [])].join(", ");
  const lines = [`${theme.bold(hop.exchange)} ${theme.dim(`(${flags}) ← ${via}`)}`];
  if (hop.delayMs !== undefined) {
    lines.push(
      `  ${theme.dim(`delayed: held ${hop.delayMs} ms (x-delay), then routed by the bindings as they are then`)}`,
    );
  }
  if (hop.internal && hop.via.kind === "publish") return lines;
  if (hop.bindings.length === 0) lines.push(`  ${theme.dim("no bindings")}`);
  const rows = hop.bindings.map((b) => [
    `${b.matched ? theme.ok(s.ok) : theme.error(s.fail)} ${b.destinationType === "exchange" ? `${s.arrow} ${b.destination}` : b.destination}`,
    theme.accent(bindingLabel(b, hop.type)),
    theme.dim(b.reason),
  ]);
  lines.push(...table(rows, { indent: "  " }));
  if (hop.alternate)
    lines.push(`  ${theme.dim(`nothing matched: on to the alternate exchange ${hop.alternate}`)}`);
  if (hop.alternateMissing) {
    lines.push(
      `  ${theme.warn(s.warn)} ${theme.dim(`nothing matched, and the alternate exchange '${hop.alternateMissing}' does not exist`)}`,
    );
  }
  return lines;
}

/** The default exchange routes by queue name: the queue the key names, or none. */
function defaultExchangeLines(hop: Hop, via: string, theme: Theme): string[] {
  const s = theme.symbols;
  const lines = [`${theme.bold("(default exchange)")} ${theme.dim(`← ${via}`)}`];
  const d = hop.defaultQueue;
  if (d) {
    lines.push(
      d.exists
        ? `  ${theme.ok(s.ok)} ${d.name}  ${theme.dim("the default exchange routes to the queue the key names")}`
        : `  ${theme.error(s.fail)} ${theme.dim(`no queue named '${d.name}': the default exchange routes only to the queue the key names`)}`,
    );
  }
  return lines;
}

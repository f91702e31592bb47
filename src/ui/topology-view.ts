/**
 * A topology as a picture: a tree for the terminal, Mermaid and Graphviz dot for documents.
 * `topologyView` turns the config's topology (a plain record, no broker connection) into a
 * view of names, kinds, detail strings and labelled links; the renderers draw only that view.
 * Output is deterministic: the order of the view is the order of the output.
 */
import { durationText } from "../config/duration.js";
import type { BindingConfig, ExchangeConfig, QueueConfig, Topology } from "../config/schema.js";
import type { Theme } from "./theme.js";

export type NodeKind = "exchange" | "queue";

export interface ViewNode {
  kind: NodeKind;
  name: string;
  /** One-word kind shown first for exchanges (direct, topic, …); empty for queues. */
  type: string;
  /** Short flags shown after the name, e.g. "durable", "alternate-exchange → x". */
  details: string[];
  /** False: referenced (by a link) but not part of the topology shown. */
  declared: boolean;
}

export interface ViewLink {
  from: { kind: NodeKind; name: string };
  to: { kind: NodeKind; name: string };
  /** binding: a route; alternate / dead-letter: where messages go when something else fails. */
  kind: "binding" | "alternate" | "dead-letter";
  /** What routes along it ("key order.*", "match all: region=eu"); "" for none. */
  label: string;
}

export interface TopologyView {
  nodes: ViewNode[];
  links: ViewLink[];
}

const nodeKey = (n: { kind: NodeKind; name: string }) => `${n.kind}\u0000${n.name}`;

const value = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
const argList = (args: Record<string, unknown>) =>
  Object.entries(args).map(([k, v]) => `${k}=${value(v)}`);

/** The view the renderers draw: config order, then objects only referenced, in order of mention. */
export function topologyView(t: Topology): TopologyView {
  const nodes = new Map<string, ViewNode>();
  const add = (n: ViewNode) => {
    if (!nodes.has(nodeKey(n))) nodes.set(nodeKey(n), n);
  };
  for (const [name, e] of Object.entries(t.exchanges))
    add({ kind: "exchange", name, type: e.type, details: exchangeDetails(e), declared: true });
  for (const [name, q] of Object.entries(t.queues))
    add({ kind: "queue", name, type: "", details: queueDetails(q), declared: true });
  const links = [
    ...Object.entries(t.exchanges).flatMap(([name, e]) => alternateLink(name, e)),
    ...t.bindings.map((b) => bindingLink(b, t)),
    ...Object.entries(t.queues).flatMap(([name, q]) => deadLetterLink(name, q)),
  ];
  // Objects a link mentions but the topology does not declare are drawn too, as such.
  for (const end of links.flatMap((l) => [l.from, l.to]))
    add({ ...end, type: "", details: [], declared: false });
  return { nodes: [...nodes.values()], links };
}

function exchangeDetails(e: ExchangeConfig): string[] {
  return [
    e.durable ? "durable" : "transient",
    ...(e.autoDelete ? ["auto-delete"] : []),
    ...(e.internal ? ["internal"] : []),
    ...(e.alternateExchange !== undefined ? [`alternate-exchange → ${e.alternateExchange}`] : []),
    ...argList(e.arguments),
  ];
}

/** A queue's settings that differ from a plain durable classic queue, in config order. */
function queueDetails(q: QueueConfig): string[] {
  const d: string[] = [];
  if (q.queueType !== undefined) d.push(q.queueType);
  if (!q.durable) d.push("transient");
  if (q.exclusive) d.push("exclusive");
  if (q.autoDelete) d.push("auto-delete");
  if (q.messageTtl !== undefined) d.push(`message-ttl ${durationText(q.messageTtl)}`);
  if (q.expires !== undefined) d.push(`expires ${durationText(q.expires)}`);
  if (q.maxLength !== undefined) d.push(`max-length ${q.maxLength}`);
  if (q.maxLengthBytes !== undefined) d.push(`max-length-bytes ${q.maxLengthBytes}`);
  if (q.overflow !== undefined) d.push(`overflow ${q.overflow}`);
  if (q.maxPriority !== undefined) d.push(`max-priority ${q.maxPriority}`);
  if (q.deadLetterExchange !== undefined) d.push(deadLetterText(q));
  return [...d, ...argList(q.arguments)];
}

function deadLetterText(q: QueueConfig): string {
  const key =
    q.deadLetterRoutingKey !== undefined ? `, dead-letter-key ${q.deadLetterRoutingKey}` : "";
  return `dead-letter → ${q.deadLetterExchange || '""'}${key}`;
}

function alternateLink(name: string, e: ExchangeConfig): ViewLink[] {
  if (e.alternateExchange === undefined) return [];
  return [
    {
      from: { kind: "exchange", name },
      to: { kind: "exchange", name: e.alternateExchange },
      kind: "alternate",
      label: "",
    },
  ];
}

function bindingLink(b: BindingConfig, t: Topology): ViewLink {
  const key =
    b.headers !== undefined
      ? `match ${b.match ?? "all"}: ${argList(b.headers).join(", ")}`
      : b.routingKey === "" && t.exchanges[b.source]?.type !== "fanout"
        ? '""'
        : b.routingKey;
  return {
    from: { kind: "exchange", name: b.source },
    to: { kind: b.destinationType === "exchange" ? "exchange" : "queue", name: b.destination },
    kind: "binding",
    label: [key, ...argList(b.arguments)].filter((s) => s !== "").join(", "),
  };
}

function deadLetterLink(name: string, q: QueueConfig): ViewLink[] {
  // "" dead-letters through the default exchange: nothing to draw.
  if (q.deadLetterExchange === undefined || q.deadLetterExchange === "") return [];
  return [
    {
      from: { kind: "queue", name },
      to: { kind: "exchange", name: q.deadLetterExchange },
      kind: "dead-letter",
      label: q.deadLetterRoutingKey ?? "",
    },
  ];
}

const plain: Pick<Theme, "bold" | "dim" | "accent" | "key"> = {
  bold: (s) => s,
  dim: (s) => s,
  accent: (s) => s,
  key: (s) => s,
};

/**
 * The tree: every exchange with its bindings beneath, then the queues no binding reaches.
 * Colours come from the theme (none when it is off); text is otherwise identical.
 */
export function renderTree(
  view: TopologyView,
  theme: Pick<Theme, "bold" | "dim" | "accent" | "key"> = plain,
): string {
  const byKey = new Map(view.nodes.map((n) => [nodeKey(n), n]));
  const lines: string[] = [];
  const bound = new Set<string>();
  for (const l of view.links) if (l.kind === "binding") bound.add(nodeKey(l.to));

  const exchanges = view.nodes.filter((n) => n.kind === "exchange");
  for (const x of exchanges) {
    const out = view.links.filter(
      (l) => l.kind === "binding" && nodeKey(l.from) === nodeKey(x) && l.from.kind === "exchange",
    );
    if (!x.declared && out.length === 0) continue;
    const flags = [x.type, ...x.details].filter((s) => s !== "");
    const note = x.declared ? "" : theme.dim(" (not in the config)");
    lines.push(
      `${theme.bold(x.name)}${flags.length > 0 ? `  ${theme.dim(flags.join(", "))}` : ""}${note}`,
    );
    if (out.length === 0) lines.push(`${theme.dim("└─")} ${theme.dim("(no bindings)")}`);
    out.forEach((l, i) => {
      const branch = theme.dim(i === out.length - 1 ? "└─" : "├─");
      const dest = byKey.get(nodeKey(l.to));
      const destFlags = dest ? [dest.type, ...dest.details].filter((s) => s !== "") : [];
      const destNote =
        dest && !dest.declared
          ? " (not in the config)"
          : destFlags.length > 0 && l.to.kind === "queue"
            ? ` (${destFlags.join(", ")})`
            : "";
      lines.push(
        `${branch} → ${l.to.kind} ${theme.accent(l.to.name)}${l.label !== "" ? `  ${theme.key(l.label)}` : ""}${destNote ? theme.dim(destNote) : ""}`,
      );
    });
  }
  const lonely = view.nodes.filter(
    (n) => n.kind === "queue" && n.declared && !bound.has(nodeKey(n)),
  );
  if (lonely.length > 0) {
    if (lines.length > 0) lines.push("");
    lines.push(theme.dim("queues not bound anywhere:"));
    for (const q of lonely) {
      const flags = [q.type, ...q.details].filter((s) => s !== "");
      lines.push(
        `  ${theme.accent(q.name)}${flags.length > 0 ? `  ${theme.dim(flags.join(", "))}` : ""}`,
      );
    }
  }
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}

/** Stable ids (x0, q0, …) in view order: names may hold anything, and a queue may share an exchange's name. */
function ids(view: TopologyView): Map<string, string> {
  const m = new Map<string, string>();
  let x = 0;
  let q = 0;
  for (const n of view.nodes) m.set(nodeKey(n), n.kind === "exchange" ? `x${x++}` : `q${q++}`);
  return m;
}

/**
 * Text inside a quoted Mermaid label: characters Mermaid reads as syntax or entity starts
 * become entity codes (`#` → `#35;`, `"` → `#quot;`, …).
 */
export function mermaidText(s: string): string {
  return s.replace(/[#"<>&|\\`]/g, (c) => `#${c.codePointAt(0)};`).replace(/\n/g, " ");
}

export function renderMermaid(view: TopologyView): string {
  const id = ids(view);
  const lines = ["flowchart LR"];
  for (const n of view.nodes) {
    const label = [n.name, [n.type, ...n.details].filter((s) => s !== "").join(", ")]
      .filter((s) => s !== "")
      .map(mermaidText)
      .join("<br/>");
    const i = id.get(nodeKey(n))!;
    // Exchanges are hexagons, queues cylinders.
    lines.push(n.kind === "exchange" ? `  ${i}{{"${label}"}}` : `  ${i}[("${label}")]`);
  }
  for (const l of view.links) {
    const from = id.get(nodeKey(l.from));
    const to = id.get(nodeKey(l.to));
    if (from === undefined || to === undefined) continue;
    const text = l.kind === "binding" ? l.label : [l.kind, l.label].filter(Boolean).join(": ");
    const arrow = l.kind === "binding" ? "-->" : "-.->";
    lines.push(`  ${from} ${arrow}${text !== "" ? `|"${mermaidText(text)}"|` : ""} ${to}`);
  }
  const external = view.nodes.filter((n) => !n.declared).map((n) => id.get(nodeKey(n))!);
  if (external.length > 0) {
    lines.push("  classDef external stroke-dasharray: 4 4");
    lines.push(`  class ${external.join(",")} external`);
  }
  return `${lines.join("\n")}\n`;
}

/** A Graphviz double-quoted string. */
export function dotString(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

export function renderDot(view: TopologyView): string {
  const id = ids(view);
  const lines = [
    "digraph topology {",
    "  rankdir=LR;",
    '  node [fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=10];',
  ];
  for (const n of view.nodes) {
    const flags = [n.type, ...n.details].filter((s) => s !== "").join(", ");
    const label = flags !== "" ? `${n.name}\n${flags}` : n.name;
    const attrs = [
      `label=${dotString(label)}`,
      `shape=${n.kind === "exchange" ? "hexagon" : "cylinder"}`,
      ...(n.declared ? [] : ["style=dashed"]),
    ];
    lines.push(`  ${id.get(nodeKey(n))} [${attrs.join(", ")}];`);
  }
  for (const l of view.links) {
    const from = id.get(nodeKey(l.from));
    const to = id.get(nodeKey(l.to));
    if (from === undefined || to === undefined) continue;
    const text = l.kind === "binding" ? l.label : [l.kind, l.label].filter(Boolean).join(": ");
    const attrs = [
      ...(text !== "" ? [`label=${dotString(text)}`] : []),
      ...(l.kind === "binding" ? [] : ["style=dashed"]),
    ];
    lines.push(`  ${from} -> ${to}${attrs.length > 0 ? ` [${attrs.join(", ")}]` : ""};`);
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

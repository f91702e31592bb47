/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The web view's page: the topology as a graph laid out by dagre, dots along its edges, the
 * counters, a timeline, and the explanations asked of the server. Plain DOM and SVG; built by
 * tsup into dist/web/app.js (dagre bundled in: no CDN).
 */
import { Graph, layout } from "@dagrejs/dagre";
import type {
  DotOutcome,
  WebDot,
  WebEdge,
  WebExplanation,
  WebNode,
  WebSnapshot,
  WebStats,
  WebStoryEvent,
  WebTick,
  WebTimelineEntry,
  WebTopology,
} from "../types.js";

const SVG = "http://www.w3.org/2000/svg";
const COLORS: Record<DotOutcome, string> = {
  routed: "#60a5fa",
  processed: "#22c55e",
  failed: "#f97316",
  "dead-lettered": "#c084fc",
  lost: "#ef4444",
};
/** Dots on screen at most: the feed is sampled already, this bounds a burst. */
const MAX_DOTS = 400;
const SPEED = 420; // px per second

interface Point {
  x: number;
  y: number;
}
interface Laid {
  node: WebNode;
  x: number;
  y: number;
  w: number;
  h: number;
  el: SVGGElement;
  lines: SVGTextElement[];
  bar?: SVGRectElement;
}
interface Dot {
  el: SVGCircleElement;
  pts: Point[];
  lens: number[];
  total: number;
  start: number;
  ms: number;
  id: string;
  flash?: boolean;
}

const $ = <T extends Element>(id: string) => document.getElementById(id) as unknown as T;
const el = <K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
};
const h = (tag: string, text?: string, cls?: string) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
};

const nodes = new Map<string, Laid>();
const edgePts = new Map<string, Point[]>();
const edges = new Map<string, WebEdge>();
let stats: WebStats | undefined;
let stories = false;
let timeline: WebTimelineEntry[] = [];
const dots: Dot[] = [];
const recent: Array<{ id: string; outcome: DotOutcome }> = [];
let selected: string | undefined;

/** What the page measures: frames a second, and how old a tick is when drawn. */
const perf = {
  fps: 0,
  frames: 0,
  ticks: 0,
  latencyMs: 0,
  maxLatencyMs: 0,
  events: 0,
  dotsShown: 0,
};
(window as unknown as { __eventlab: typeof perf }).__eventlab = perf;

const SIZES: Record<WebNode["kind"], [number, number]> = {
  producer: [150, 40],
  exchange: [180, 46],
  queue: [200, 60],
  consumer: [190, 60],
};

function fmt(n: number | undefined): string {
  if (n === undefined) return "–";
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}
function rate(n: number): string {
  return n >= 100 ? fmt(n) : n.toFixed(n < 10 ? 1 : 0);
}
function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

// ------------------------------------------------------------ graph

type Layout = Graph;

function layOut(t: WebTopology): Layout {
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 22, ranksep: 90, edgesep: 12, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of t.nodes) {
    const [w, hh] = SIZES[n.kind];
    g.setNode(n.id, { width: w, height: hh });
  }
  for (const e of t.edges) {
    const label = e.label ? { width: labelWidth(e.label), height: 18, labelpos: "c" } : {};
    g.setEdge(e.from, e.to, label, e.id);
  }
  layout(g);
  return g;
}

const labelWidth = (label: string) => Math.min(8 + label.length * 6.8, 230);

function drawEdge(g: Layout, e: WebEdge): void {
  edges.set(e.id, e);
  const le = g.edge({ v: e.from, w: e.to, name: e.id }) as {
    points?: Point[];
    x?: number;
    y?: number;
  };
  const pts = le.points ?? [];
  edgePts.set(e.id, pts);
  const d = pts
    .map((p, i) => `${i === 0 ? "M" : "L"}${p.x.toFixed(1)},${p.y.toFixed(1)}`)
    .join(" ");
  const group = $<SVGGElement>("edges");
  group.append(
    el("path", { d, class: `edge ${e.kind}`, "data-edge": e.id, "marker-end": "url(#arrow)" }),
  );
  if (e.kind === "binding") {
    const hit = el("path", { d, class: "hit" });
    hit.addEventListener("click", () => selectBinding(e.id));
    group.append(hit);
  }
  if (!e.label || le.x === undefined || le.y === undefined) return;
  const w = labelWidth(e.label);
  const gl = el("g", {
    class: `blabel ${e.kind}`,
    "data-binding": e.id,
    transform: `translate(${le.x - w / 2},${le.y - 9})`,
  });
  gl.append(el("rect", { width: w, height: 18, rx: 3 }));
  const tx = el("text", { x: 5, y: 13 });
  tx.textContent = e.label.length > 33 ? `${e.label.slice(0, 32)}…` : e.label;
  const title = el("title");
  title.textContent = e.binding
    ? `binding ${e.binding.source} → ${e.binding.destination}: ${e.label}`
    : e.label;
  gl.append(tx, title);
  if (e.kind === "binding") gl.addEventListener("click", () => selectBinding(e.id));
  $<SVGGElement>("labels").append(gl);
}

function drawNode(g: Layout, n: WebNode): void {
  const ln = g.node(n.id) as { x: number; y: number; width: number; height: number };
  const gnode = el("g", {
    class: `node ${n.kind}`,
    "data-node": n.id,
    transform: `translate(${ln.x - ln.width / 2},${ln.y - ln.height / 2})`,
  });
  gnode.append(
    el("rect", {
      width: ln.width,
      height: ln.height,
      rx: n.kind === "exchange" ? 10 : 4,
      class: "box",
    }),
  );
  const laid: Laid = { node: n, x: ln.x, y: ln.y, w: ln.width, h: ln.height, el: gnode, lines: [] };
  if (n.kind === "queue") {
    const bar = el("rect", { x: 1, y: ln.height - 6, width: 0, height: 5, class: "bar" });
    gnode.append(bar);
    laid.bar = bar;
  }
  const title = el("text", { x: 8, y: 16 });
  title.textContent = n.label.length > 27 ? `…${n.label.slice(-26)}` : n.label;
  const full = el("title");
  full.textContent = n.label;
  gnode.append(title, full);
  const fixed =
    n.kind === "exchange" ? (n.sub ?? "") : n.kind === "producer" ? "producer" : undefined;
  for (let i = 0; i < (fixed === undefined ? 2 : 1); i++) {
    const line = el("text", { x: 8, y: 31 + i * 14, class: "sub" });
    if (fixed !== undefined) line.textContent = fixed;
    gnode.append(line);
    laid.lines.push(line);
  }
  $<SVGGElement>("nodes").append(gnode);
  nodes.set(n.id, laid);
}

function draw(t: WebTopology): void {
  const g = layOut(t);
  const svg = $<SVGSVGElement>("svg");
  for (const id of ["edges", "labels", "nodes"]) $<SVGGElement>(id).replaceChildren();
  nodes.clear();
  edgePts.clear();
  edges.clear();
  const graph = g.graph();
  svg.setAttribute(
    "viewBox",
    `0 0 ${Math.max(graph.width ?? 400, 400)} ${Math.max(graph.height ?? 300, 300)}`,
  );
  const defs = el("defs");
  const marker = el("marker", {
    id: "arrow",
    viewBox: "0 0 10 10",
    refX: 9,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: "auto-start-reverse",
  });
  marker.append(el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#3d4a59" }));
  defs.append(marker);
  $<SVGGElement>("edges").append(defs);
  for (const e of t.edges) drawEdge(g, e);
  for (const n of t.nodes) drawNode(g, n);
  if (stats) showStats(stats);
}

// ------------------------------------------------------------ counters

function showStats(s: WebStats): void {
  stats = s;
  $<HTMLElement>("title").textContent = s.title;
  const parts = [
    s.durationMs !== undefined
      ? `${secs(s.elapsedMs)} of ${secs(s.durationMs)}`
      : secs(s.elapsedMs),
    `published <b>${fmt(s.published)}</b>${s.planned ? `/${fmt(s.planned)}` : ""}`,
    ...(s.confirmed !== undefined ? [`confirmed <b>${fmt(s.confirmed)}</b>`] : []),
    `processed <b id="processed">${fmt(s.processed)}</b>`,
    `failed <b>${fmt(s.failed)}</b>`,
    `in <b>${rate(s.inRate)}</b>/s`,
    `out <b>${rate(s.outRate)}</b>/s`,
  ];
  $<HTMLElement>("counters").innerHTML = parts
    .map((p) => `<span class="stat">${p}</span>`)
    .join(" · ");
  $<HTMLElement>("faults").textContent = s.faultsNow.length ? `⚡ ${s.faultsNow.join(", ")}` : "";
  const maxDepth = Math.max(10, ...Object.values(s.queues).map((q) => q.depth ?? 0));
  for (const laid of nodes.values()) {
    if (laid.node.kind === "queue") showQueue(laid, s, maxDepth);
    else if (laid.node.kind === "consumer") showConsumer(laid, s);
  }
  showTimeline();
}

function showQueue(laid: Laid, s: WebStats, maxDepth: number): void {
  const [a, b] = laid.lines;
  const q = s.queues[laid.node.label];
  if (!q || !a || !b) return;
  a.textContent = `depth ${fmt(q.depth)} · unacked ${fmt(q.unacked)}`;
  b.textContent = `in ${rate(q.inRate)}/s · out ${rate(q.outRate)}/s`;
  laid.bar?.setAttribute("width", String(((laid.w - 2) * (q.depth ?? 0)) / maxDepth));
}

function showConsumer(laid: Laid, s: WebStats): void {
  const [a, b] = laid.lines;
  const c = s.consumers[laid.node.id];
  if (!a || !b) return;
  a.textContent = `✓ ${fmt(c?.processed ?? 0)} processed · ✗ ${fmt(c?.failed ?? 0)} failed`;
  const breaker = c?.breaker ?? "–";
  const state = c?.state ? ` · ${c.state}` : "";
  const instances = c?.instances ? ` · ×${c.instances}` : "";
  b.textContent = `breaker ${breaker === "open" ? "OPEN" : breaker}${state}${instances}`;
  b.setAttribute("class", breaker === "open" ? "sub open" : "sub");
}

function showTimeline(): void {
  const s = stats;
  if (!s) return;
  const axis = $<HTMLElement>("axis");
  const span = Math.max(s.durationMs ?? 0, s.elapsedMs, ...timeline.map((e) => e.atMs), 1000);
  const pct = (ms: number) => `${((ms / span) * 100).toFixed(2)}%`;
  const marks: HTMLElement[] = [];
  const step = span > 60_000 ? 10_000 : span > 20_000 ? 5000 : 1000;
  for (let t = 0; t <= span; t += step) {
    const tick = h("span", `${t / 1000}s`, "tick");
    tick.style.left = pct(t);
    marks.push(tick);
  }
  for (const e of timeline) {
    const m = h("span", undefined, `m ${e.kind}`);
    m.style.left = pct(e.atMs);
    m.title = `${secs(e.atMs)} ${e.text}`;
    marks.push(m);
  }
  const now = h("span", undefined, "now");
  now.style.left = pct(s.elapsedMs);
  marks.push(now);
  axis.replaceChildren(...marks);
  const log = $<HTMLElement>("log");
  log.replaceChildren(
    ...timeline.slice(-4).map((e) => {
      const line = h("div", `${secs(e.atMs)}  ${e.text}`, e.kind === "fault" ? "fault" : "");
      return line;
    }),
  );
}

// ------------------------------------------------------------ dots

function polyline(path: string[], node?: string): Point[] {
  const pts: Point[] = [];
  for (const id of path) {
    const p = edgePts.get(id);
    if (!p) continue;
    for (const q of p) pts.push(q);
  }
  if (pts.length === 0 && node) {
    const n = nodes.get(node);
    if (n) return [{ x: n.x, y: n.y }];
  }
  return pts;
}

function spawn(d: WebDot, now: number): void {
  const pts = polyline(d.path, d.node);
  if (pts.length === 0) return;
  if (dots.length >= MAX_DOTS) return;
  const lens = [0];
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1] as Point;
    const b = pts[i] as Point;
    lens.push((lens[i - 1] as number) + Math.hypot(b.x - a.x, b.y - a.y));
  }
  const total = lens[lens.length - 1] as number;
  const flash = total === 0;
  const c = el("circle", {
    r: flash ? 9 : 5,
    fill: COLORS[d.outcome],
    class: "dot",
    "data-id": d.id,
  });
  c.addEventListener("click", () => showStory(d.id));
  $<SVGGElement>("dots").append(c);
  dots.push({
    el: c,
    pts,
    lens,
    total,
    start: now,
    ms: flash ? 700 : Math.min(1800, Math.max(500, (total / SPEED) * 1000)),
    id: d.id,
    flash,
  });
  recent.push({ id: d.id, outcome: d.outcome });
  if (recent.length > 12) recent.shift();
}

function place(d: Dot, f: number): void {
  if (d.flash) {
    const p = d.pts[0] as Point;
    d.el.setAttribute("cx", p.x.toFixed(1));
    d.el.setAttribute("cy", p.y.toFixed(1));
    d.el.setAttribute("opacity", (1 - f).toFixed(2));
    return;
  }
  const at = f * d.total;
  let i = 1;
  while (i < d.lens.length - 1 && (d.lens[i] as number) < at) i++;
  const a = d.pts[i - 1] as Point;
  const b = d.pts[i] as Point;
  const seg = (d.lens[i] as number) - (d.lens[i - 1] as number);
  const k = seg === 0 ? 0 : (at - (d.lens[i - 1] as number)) / seg;
  d.el.setAttribute("cx", (a.x + (b.x - a.x) * k).toFixed(1));
  d.el.setAttribute("cy", (a.y + (b.y - a.y) * k).toFixed(1));
}

let fpsFrames = 0;
let fpsAt = performance.now();
function frame(now: number): void {
  perf.frames += 1;
  fpsFrames += 1;
  if (now - fpsAt >= 1000) {
    perf.fps = (fpsFrames * 1000) / (now - fpsAt);
    fpsFrames = 0;
    fpsAt = now;
    $<HTMLElement>("perf").textContent =
      `${perf.fps.toFixed(0)} fps · ${perf.latencyMs.toFixed(0)} ms`;
  }
  let kept = 0;
  for (const d of dots) {
    const f = (now - d.start) / d.ms;
    if (f >= 1) {
      d.el.remove();
      continue;
    }
    place(d, f);
    dots[kept++] = d;
  }
  dots.length = kept;
  perf.dotsShown = kept;
  requestAnimationFrame(frame);
}

function showRecent(): void {
  const box = $<HTMLElement>("recent");
  if (recent.length === 0) return;
  box.classList.remove("hint");
  box.replaceChildren(
    ...recent
      .slice()
      .reverse()
      .map((r) => {
        // Ids of a run share their start: the end tells them apart.
        const s = h("span", r.id.length > 16 ? `…${r.id.slice(-15)}` : r.id);
        s.style.background = COLORS[r.outcome];
        s.title = `${r.outcome}: ${r.id}`;
        s.dataset["id"] = r.id;
        s.addEventListener("click", () => showStory(r.id));
        return s;
      }),
  );
}

// ------------------------------------------------------------ details

function details(...children: Node[]): HTMLElement {
  const d = $<HTMLElement>("details");
  d.replaceChildren(...children);
  return d;
}

function selectBinding(id: string): void {
  const e = edges.get(id);
  if (!e?.binding) return;
  selected = id;
  for (const l of document.querySelectorAll(".blabel"))
    l.classList.toggle("selected", l.getAttribute("data-binding") === id);
  const b = e.binding;
  const last = stats?.lastSeen[b.source];
  const key = h("input") as HTMLInputElement;
  key.id = "try-key";
  key.value =
    last?.routingKey ??
    (b.type === "topic" || b.type === "direct" ? b.routingKey.replace(/[#*]/g, "x") : "");
  const headers = h("input") as HTMLInputElement;
  headers.id = "try-headers";
  headers.value = JSON.stringify(last?.headers ?? {});
  const go = h("button", "Explain");
  const out = h("div");
  out.id = "explain";
  const ask = () => explain(b.source, key.value, headers.value, id, out);
  go.addEventListener("click", ask);
  key.addEventListener("keydown", (ev) => (ev as KeyboardEvent).key === "Enter" && ask());
  details(
    h("h2", "Binding"),
    h("div", `${b.source} (${b.type}) → ${b.destinationType} ${b.destination}`, "mono"),
    h("div", `key ${e.label ?? ""}`, "mono"),
    h(
      "p",
      last
        ? "The last message seen on this exchange:"
        : "No message seen on this exchange yet; try one:",
      "hint",
    ),
    h("label", "routing key"),
    key,
    h("label", "headers (JSON)"),
    headers,
    go,
    out,
  );
  ask();
}

async function explain(
  exchange: string,
  key: string,
  headers: string,
  binding: string,
  out: HTMLElement,
): Promise<void> {
  const q = new URLSearchParams({ exchange, key, headers: headers.trim() || "{}" });
  const res = await fetch(`api/explain?${q}`);
  const body = (await res.json()) as WebExplanation & { error?: string };
  if (!res.ok) {
    out.replaceChildren(h("p", body.error ?? `error ${res.status}`, "verdict no"));
    return;
  }
  const e = edges.get(binding)?.binding;
  const rows: Node[] = [];
  for (const hop of body.hops) {
    rows.push(
      h(
        "div",
        `${hop.exchange || "(default)"} · ${hop.type ?? "missing"}${hop.via.kind !== "publish" ? ` (via ${hop.via.kind} from ${hop.via.from})` : ""}`,
        "mono",
      ),
    );
    for (const bs of hop.bindings) {
      const mine =
        e !== undefined &&
        hop.exchange === e.source &&
        bs.destination === e.destination &&
        bs.routingKey === e.routingKey &&
        JSON.stringify(bs.arguments) === JSON.stringify(e.arguments);
      const v = h("div", undefined, `verdict ${bs.matched ? "yes" : "no"}${mine ? " this" : ""}`);
      v.append(
        h("b", `${bs.matched ? "✓ matches" : "✗ no match"} → ${bs.destination}`),
        h("div", bs.reason),
      );
      if (mine) v.dataset["mine"] = "true";
      rows.push(v);
    }
  }
  rows.push(
    h("p", `queues: ${body.queues.length ? body.queues.join(", ") : "none (unroutable)"}`, "mono"),
  );
  out.replaceChildren(...rows);
}

async function showStory(id: string): Promise<void> {
  if (!stories) {
    details(
      h("h2", "Message"),
      h("p", id, "mono"),
      h(
        "p",
        "No ledger is kept here: the story of a message needs the embedded broker's ledger.",
        "hint",
      ),
    );
    return;
  }
  const res = await fetch(`api/why?id=${encodeURIComponent(id)}`);
  const body = (await res.json()) as { events: WebStoryEvent[] };
  const t0 = body.events[0]?.t ?? 0;
  const lines = body.events.map((e) => {
    const row = h("div");
    row.append(h("span", `+${e.t - t0}ms`, "t"), document.createTextNode(` ${storyLine(e)}`));
    for (const [q, why] of Object.entries(e.reasons ?? {}))
      row.append(h("div", `${q}: ${why}`, "r"));
    return row;
  });
  const story = h("div", undefined, "story");
  story.id = "story";
  story.append(...lines);
  details(
    h("h2", "Message story"),
    h("div", id, "mono"),
    h("p", `${body.events.length} events (eventlab why ${id})`, "hint"),
    story,
  );
}

function storyLine(e: WebStoryEvent): string {
  const who = e.connection.replace(/^eventlab play /, "");
  switch (e.kind) {
    case "published":
      return `${who} published to ${e.exchange || "(default)"} with key '${e.routingKey ?? ""}'`;
    case "routed":
      return `routed to ${(e.queues ?? []).join(", ")}`;
    case "unroutable":
      return `unroutable: no binding of ${e.exchange || "(default)"} took '${e.routingKey ?? ""}'`;
    case "delivered":
      return `delivered from ${e.queue} to ${who}${e.redelivered ? " (redelivered)" : ""}`;
    case "acked":
      return `acked by ${who}`;
    case "nacked":
    case "rejected":
      return `${e.kind} by ${who}${e.requeue ? ", requeued" : ""}${e.reason ? ` (${e.reason})` : ""}`;
    case "dead-lettered":
      return `dead-lettered from ${e.queue} (${e.reason}) to ${e.to || "(default)"} → ${(e.queues ?? []).join(", ") || "nowhere"}`;
    default:
      return `${e.kind}${e.queue ? ` in ${e.queue}` : ""}${e.reason ? `: ${e.reason}` : ""}`;
  }
}

// ------------------------------------------------------------ feed

const feed = new EventSource("events");
feed.addEventListener("snapshot", (m) => {
  const s = JSON.parse((m as MessageEvent<string>).data) as WebSnapshot;
  stories = s.stories;
  timeline = s.timeline;
  stats = s.stats;
  draw(s.topology);
  showStats(s.stats);
  document.body.dataset["ready"] = "true";
});
feed.addEventListener("tick", (m) => {
  const t = JSON.parse((m as MessageEvent<string>).data) as WebTick;
  if (t.topology) {
    draw(t.topology);
    if (selected && !edges.has(selected)) selected = undefined;
  }
  if (t.timeline.length) timeline = [...timeline, ...t.timeline].slice(-500);
  showStats(t.stats);
  const now = performance.now();
  for (const d of t.dots) spawn(d, now);
  if (t.dots.length) showRecent();
  perf.ticks += 1;
  perf.events += t.events;
  const lag = Date.now() - t.sentAt;
  perf.latencyMs = perf.latencyMs === 0 ? lag : perf.latencyMs * 0.8 + lag * 0.2;
  perf.maxLatencyMs = Math.max(perf.maxLatencyMs, lag);
});
feed.addEventListener("error", () => {
  // EventSource tries again by itself; say so while the process is away (a run that ended).
  $<HTMLElement>("faults").textContent = "feed lost: the process ended or restarted (retrying)";
});
requestAnimationFrame(frame);

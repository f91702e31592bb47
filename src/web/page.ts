/** The web view's HTML and style; its script is the bundle built from ./client/ (dist/web/app.js). */

const STYLE = `
:root { --bg:#0f1419; --panel:#161c23; --line:#2a3440; --text:#d8dee6; --dim:#8593a3;
  --exchange:#3b82f6; --queue:#14b8a6; --consumer:#a78bfa; --producer:#f59e0b;
  --routed:#60a5fa; --processed:#22c55e; --failed:#f97316; --dead:#c084fc; --lost:#ef4444; }
* { box-sizing: border-box; }
html, body { margin:0; height:100%; background:var(--bg); color:var(--text);
  font: 13px/1.35 ui-sans-serif, system-ui, -apple-system, "Segoe UI", sans-serif; }
body { display:grid; grid-template-rows:auto 1fr 120px; grid-template-columns:1fr 360px; height:100vh; }
header { grid-column:1 / 3; display:flex; gap:18px; align-items:center; padding:8px 14px;
  border-bottom:1px solid var(--line); background:var(--panel); flex-wrap:wrap; }
header h1 { font-size:15px; margin:0; font-weight:600; }
header .stat b { font-variant-numeric:tabular-nums; }
header .faults { color:var(--lost); font-weight:600; }
.legend { display:flex; gap:10px; margin-left:auto; color:var(--dim); }
.legend i { display:inline-block; width:9px; height:9px; border-radius:50%; margin-right:4px; vertical-align:-1px; }
#graph { grid-column:1; grid-row:2; overflow:hidden; position:relative; }
#graph svg { width:100%; height:100%; display:block; }
aside { grid-column:2; grid-row:2 / 4; border-left:1px solid var(--line); background:var(--panel);
  padding:12px; overflow:auto; }
aside h2 { font-size:13px; margin:0 0 8px; color:var(--dim); text-transform:uppercase; letter-spacing:.04em; }
aside .hint { color:var(--dim); }
aside input { width:100%; background:var(--bg); color:var(--text); border:1px solid var(--line);
  border-radius:4px; padding:5px 7px; font:12px ui-monospace, monospace; margin:3px 0 6px; }
aside button { background:var(--exchange); color:white; border:0; border-radius:4px; padding:5px 10px; cursor:pointer; }
.verdict { margin:6px 0; padding:6px 8px; border-radius:4px; background:var(--bg); border-left:3px solid var(--dim); }
.verdict.yes { border-color:var(--processed); } .verdict.no { border-color:var(--lost); }
.verdict.this { outline:1px solid var(--text); }
.mono { font-family: ui-monospace, monospace; font-size:12px; }
.story div { padding:3px 0; border-bottom:1px solid var(--line); }
.story .t { color:var(--dim); display:inline-block; min-width:56px; }
.story .r { color:var(--dim); padding-left:60px; }
#recent span { display:inline-block; margin:2px 4px 2px 0; padding:1px 6px; border-radius:8px; cursor:pointer;
  font:11px ui-monospace, monospace; color:#0f1419; }
footer { grid-column:1; grid-row:3; border-top:1px solid var(--line); position:relative; padding:6px 14px; overflow:hidden; }
#axis { position:relative; height:34px; border-bottom:1px solid var(--line); margin-bottom:4px; }
#axis .m { position:absolute; bottom:0; width:2px; height:16px; background:var(--dim); cursor:default; }
#axis .m.fault { background:var(--lost); height:26px; }
#axis .now { position:absolute; bottom:0; width:1px; height:34px; background:var(--text); }
#axis .tick { position:absolute; top:0; color:var(--dim); font-size:10px; }
#log { color:var(--dim); font-size:12px; white-space:nowrap; }
#log .fault { color:var(--lost); }
svg text { fill:var(--text); font-size:12px; }
svg .sub { fill:var(--dim); font-size:11px; }
svg .node rect { stroke-width:1.5; }
svg .exchange rect { fill:#13233d; stroke:var(--exchange); }
svg .queue rect.box { fill:#0f2a2a; stroke:var(--queue); }
svg .consumer rect { fill:#221a3a; stroke:var(--consumer); }
svg .producer rect { fill:#2e2210; stroke:var(--producer); }
svg .bar { fill:var(--queue); opacity:.35; }
svg .edge { fill:none; stroke:#3d4a59; stroke-width:1.5; }
svg .edge.dead-letter { stroke-dasharray:5 4; stroke:#6b4a86; }
svg .edge.publish { stroke:#6b5220; }
svg .hit { fill:none; stroke:transparent; stroke-width:12; cursor:pointer; }
svg .blabel rect { fill:#1b2530; stroke:#3d4a59; rx:3; }
svg .blabel { cursor:pointer; }
svg .blabel text { font:11px ui-monospace, monospace; fill:#c7d2de; }
svg .blabel.selected rect { stroke:var(--text); }
svg .dot { cursor:pointer; }
svg .open { fill:var(--lost); font-weight:600; }
`;

export function pageHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>eventlab web view</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body>
<header><h1 id="title">eventlab</h1><span id="counters"></span><span id="faults" class="faults"></span>
<span class="legend"><span><i style="background:var(--routed)"></i>routed</span><span><i style="background:var(--processed)"></i>processed</span><span><i style="background:var(--failed)"></i>failed / retried</span><span><i style="background:var(--dead)"></i>dead-lettered</span><span><i style="background:var(--lost)"></i>lost / unroutable</span></span>
<span id="perf" class="mono" style="color:var(--dim)"></span></header>
<div id="graph"><svg id="svg" xmlns="http://www.w3.org/2000/svg"><g id="edges"></g><g id="dots"></g><g id="labels"></g><g id="nodes"></g></svg></div>
<aside><div id="details"><h2>Details</h2><p class="hint">Click a binding (its key on an edge) to see why it matches the last message on its exchange, or a message dot to read its story.</p></div>
<h2 style="margin-top:14px">Recent messages</h2><div id="recent" class="hint">none yet</div></aside>
<footer><div id="axis"></div><div id="log"></div></footer>
<script src="app.js"></script>
</body></html>`;
}

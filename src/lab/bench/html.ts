/**
 * `--html FILE`: one self-contained page with throughput and latency over time and a
 * percentile plot, drawn with uPlot. The library's script and stylesheet are read from the
 * installed package and inlined, so the file needs no network.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { BenchReport } from "./report.js";

async function uplotAssets(): Promise<{ js: string; css: string }> {
  const req = createRequire(import.meta.url);
  const [js, css] = await Promise.all([
    readFile(req.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
    readFile(req.resolve("uplot/dist/uPlot.min.css"), "utf8"),
  ]);
  return { js, css };
}

/** Text safe inside <script> or <style>: no closing tag can end it early. */
const inScript = (text: string) => text.replace(/<\/(script|style)/gi, "<\\/$1");
const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string,
  );

export async function benchHtml(report: BenchReport): Promise<string> {
  const { js, css } = await uplotAssets();
  const s = report.settings;
  const t = report.totals;
  const title = `eventlab bench: ${s.producers} producer(s), ${s.consumers} consumer(s), ${s.queues.length} ${s.queueType} queue(s)`;
  const data = JSON.stringify(report).replace(/</g, "\\u003c");
  const fact = (k: string, v: string | number | null | undefined) =>
    `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v === null || v === undefined ? "–" : String(v))}</td></tr>`;
  const l = report.latencyMs;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${inScript(css)}</style>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; } th, td { text-align: left; padding: 2px 12px 2px 0; }
th { font-weight: 600; } .facts { display: flex; gap: 48px; flex-wrap: wrap; }
.chart { margin-top: 8px; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<div class="facts">
<table>
${fact("started", report.startedAt)}
${fact("broker", s.broker)}
${fact("body", s.template !== undefined ? `template ${s.template}` : `${s.size} B`)}
${fact("rate per producer", s.rate ?? "unlimited")}
${fact("confirm window", s.confirm > 0 ? s.confirm : "no confirms")}
${fact("duration", `${(report.elapsedMs / 1000).toFixed(1)} s`)}
</table>
<table>
${fact("sent", `${t.sent} (${report.rates.sentPerSecond} msg/s)`)}
${fact("confirmed", t.confirmed)}
${fact("received", `${t.received} (${report.rates.receivedPerSecond} msg/s)`)}
${fact("missing", t.missing)}
${fact("duplicated", t.duplicated)}
</table>
<table>
${fact("latency p50 ms", l?.p50)}
${fact("latency p99 ms", l?.p99)}
${fact("latency max ms", l?.max)}
${fact("confirm p99 ms", report.confirmLatencyMs?.p99)}
</table>
</div>
<h2>Throughput (msg/s)</h2>
<div id="throughput" class="chart"></div>
<h2>Latency over time (ms, publish → receive)</h2>
<div id="latency" class="chart"></div>
<h2>Latency by percentile (ms)</h2>
<div id="percentiles" class="chart"></div>
<script>${inScript(js)}</script>
<script id="report" type="application/json">${data}</script>
<script>
(function () {
  var report = JSON.parse(document.getElementById("report").textContent);
  var width = Math.max(480, Math.min(1200, document.body.clientWidth - 24));
  var secs = report.seconds;
  var x = secs.map(function (s) { return s.second; });
  var pick = function (f) { return secs.map(f); };
  var lat = function (k) { return pick(function (s) { return s.latency ? s.latency[k] : null; }); };
  new uPlot({
    width: width, height: 280,
    scales: { x: { time: false } },
    axes: [{ label: "seconds" }, { label: "msg/s", size: 70 }],
    series: [
      { label: "s" },
      { label: "sent", stroke: "#1f77b4" },
      { label: "received", stroke: "#2ca02c" },
      { label: "confirmed", stroke: "#ff7f0e" }
    ]
  }, [x, pick(function (s) { return s.sentPerSecond; }), pick(function (s) { return s.receivedPerSecond; }),
      pick(function (s) { return s.confirmedPerSecond; })], document.getElementById("throughput"));
  new uPlot({
    width: width, height: 280,
    scales: { x: { time: false } },
    axes: [{ label: "seconds" }, { label: "ms", size: 60 }],
    series: [
      { label: "s" },
      { label: "p50", stroke: "#2ca02c" },
      { label: "p95", stroke: "#ff7f0e" },
      { label: "p99", stroke: "#d62728" },
      { label: "max", stroke: "#7f7f7f" }
    ]
  }, [x, lat("p50"), lat("p95"), lat("p99"), lat("max")], document.getElementById("latency"));
  // Percentiles on a "nines" axis: x = -log10(1 - p/100), so 90, 99, 99.9 are evenly spaced.
  var curve = report.percentiles.latency.filter(function (p) { return p.percentile < 100; });
  var conf = report.percentiles.confirm;
  var nines = function (p) { return -Math.log10(1 - p / 100); };
  var byP = {};
  conf.forEach(function (p) { byP[p.percentile] = p.ms; });
  new uPlot({
    width: width, height: 280,
    scales: { x: { time: false } },
    axes: [
      {
        label: "percentile",
        splits: function (u) { var out = []; for (var i = 0; i <= Math.ceil(u.scales.x.max); i++) out.push(i); return out; },
        values: function (u, ticks) { return ticks.map(function (t) { return t === 0 ? "0" : String(+(100 - 100 * Math.pow(10, -t)).toFixed(t)); }); }
      },
      { label: "ms", size: 60 }
    ],
    series: [
      { label: "nines" },
      { label: "publish → receive", stroke: "#d62728", points: { show: true } },
      { label: "publish → confirm", stroke: "#ff7f0e", points: { show: true } }
    ]
  }, [curve.map(function (p) { return nines(p.percentile); }), curve.map(function (p) { return p.ms; }),
      curve.map(function (p) { return byP[p.percentile] === undefined ? null : byP[p.percentile]; })],
     document.getElementById("percentiles"));
})();
</script>
</body>
</html>
`;
}

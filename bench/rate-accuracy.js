#!/usr/bin/env node
// Rate accuracy of `eventlab bench`: a paced run of --duration at --rate per producer, with
// consumers keeping up, with one slow consumer (prefetch 1, acking each: it lags behind and
// the queue grows), and with no consumer at all. Prints achieved ÷ target for each (the
// producers' count over their active time; the goal is within 1%), and, as a second view,
// the mean of the per-second sent/s lines the coordinator measured by the wall clock.
// Runs the built CLI (npm run build first) against its embedded broker, or --url.
//
//   node bench/rate-accuracy.js                       # 30 s at 1000 msg/s, embedded broker
//   node bench/rate-accuracy.js --rate 5000 --duration 10s --url amqp://guest:guest@127.0.0.1:5672
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "./lib/proc.js";
import { parseArgsOrExit } from "./lib/stats.js";

const USAGE = `usage: node bench/rate-accuracy.js [--rate <msg/s>] [--duration <time>] [--producers <n>] [--url <amqp-url>] [--json]`;
const { values } = parseArgsOrExit(USAGE, {
  options: {
    rate: { type: "string", default: "1000" },
    duration: { type: "string", default: "30s" },
    producers: { type: "string", default: "1" },
    url: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const bin = resolve(fileURLToPath(new URL("..", import.meta.url)), "bin/eventlab.cjs");
const rate = Number(values.rate);
const producers = Number(values.producers);
const target = rate * producers;

/**
 * @param {string} name
 * @param {string[]} extra
 */
async function measure(name, extra) {
  const args = [
    bin,
    ...(values.url ? ["--url", values.url] : []),
    "bench",
    "--producers",
    String(producers),
    "--rate",
    String(rate),
    "--duration",
    values.duration,
    "--confirm",
    "100",
    "--json",
    ...extra,
  ];
  const r = await run(process.execPath, args, {
    timeoutMs: 10 * 60_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  if (r.code !== 0 && r.code !== 3) throw new Error(`${name}: exit ${r.code}\n${r.stderr}`);
  const report = JSON.parse(r.stdout);
  const achieved = report.rates.sentPerSecond;
  /** @type {Array<{ second: number; sentPerSecond: number }>} */
  const seconds = report.seconds;
  const whole = seconds.filter((x) => Number.isInteger(x.second));
  const perSecondMean =
    whole.reduce((sum, x) => sum + x.sentPerSecond, 0) / Math.max(1, whole.length);
  return {
    name,
    target,
    achieved,
    ratio: achieved / target,
    errorPct: (Math.abs(achieved - target) / target) * 100,
    sent: report.totals.sent,
    received: report.totals.received,
    latencyP99Ms: report.latencyMs?.p99 ?? null,
    perSecondMean,
  };
}

const results = [
  await measure("consumers keep up", ["--consumers", String(producers)]),
  await measure("slow consumer (prefetch 1)", ["--consumers", "1", "--prefetch", "1"]),
  await measure("no consumer (queue grows)", ["--consumers", "0"]),
];
if (values.json)
  process.stdout.write(
    `${JSON.stringify({ rate, producers, duration: values.duration, results })}\n`,
  );
else {
  process.stdout.write(
    `eventlab bench --rate ${rate} × ${producers} producer(s) for ${values.duration}: achieved ÷ target (goal: within 1%)\n`,
  );
  for (const r of results) {
    process.stdout.write(
      `  ${r.name.padEnd(28)} ${r.achieved.toFixed(1).padStart(10)} / ${target} msg/s = ${r.ratio.toFixed(5)}  (error ${r.errorPct.toFixed(3)}%; per-second lines: mean ${r.perSecondMean.toFixed(1)}/s; sent ${r.sent}, received ${r.received}, latency p99 ${r.latencyP99Ms ?? "–"} ms)\n`,
    );
  }
}

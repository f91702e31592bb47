#!/usr/bin/env node
// The embedded broker against RabbitMQ: the same amqplib publisher and consumer
// (raw/pubsub.js, lib/amqp-load.js) run against both brokers in one invocation, alternating
// A/B/A/B; medians of N. Throughput (with and without confirms), latency at a fixed rate, and
// memory per queued message (RSS of the broker process). The embedded broker runs in a process
// of its own (lib/embedded-broker.js) so that its RSS and CPU time are its own.
// A missed target is a measurement, not a failure: the exit code is 0 unless something could
// not be measured. See bench/README.md.
import { availableParallelism, cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, failures, publishAll, within } from "./lib/amqp-load.js";
import { payload } from "./lib/payload.js";
import { failure, lastJson, run, running, start } from "./lib/proc.js";
import { cpuMs, isLocal, memory, rabbitPid, rabbitQueueInfo } from "./lib/procstat.js";
import {
  group,
  maskUrl,
  median,
  paint,
  parseArgsOrExit,
  progress,
  usageError,
} from "./lib/stats.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..");
const PUBSUB = join(HERE, "raw", "pubsub.js");
const EMBEDDED = join(HERE, "lib", "embedded-broker.js");
const NODE = process.execPath;
const BENCHMARKS = ["throughput", "latency", "memory"];
const SIDES = ["embedded", "rabbitmq"];
const DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672";

const USAGE = `Usage: node bench/broker.js [options]

The embedded broker (built: npm run build) against RabbitMQ, same amqplib client on both.

Options:
  --only <list>          comma-separated subset of: ${BENCHMARKS.join(", ")}
  --runs <n>             measured runs per broker for throughput and latency (default 3)
  --memory-runs <n>      measured runs per broker for memory (default 1)
  --warmup <n>           unmeasured throughput rounds per broker first (default 1)
  --amount <n>           messages per throughput run (default 100000)
  --memory-amount <n>    messages queued for the memory figure (default 1000000)
  --size <bytes>         message body size (default 100)
  --rate <n>             latency: messages per second (default 1000)
  --duration <s>         latency: measured seconds, after 1 s of warm-up (default 10)
  --timeout <s>          bound on each run; memory runs get 2.5× (default 120)
  --url <amqp-url>       RabbitMQ (default $EVENTLAB_BENCH_URL or ${DEFAULT_URL})
  --json                 print one JSON object instead of the table
  -h, --help             show this help

Debugging the harness:
  --embedded-url <url>   use the broker at <url> as the "embedded" side instead of starting one
  --embedded-pid <pid>   its process, for RSS and CPU time (needed for memory with --embedded-url)
  --rabbitmq-pid <pid>   RabbitMQ's process (default: the local beam.smp, found with pgrep)
  --dist <path>          dist/index.js to take startBroker from (default: this checkout's)

Examples:
  $ npm run build && node bench/broker.js
  $ node bench/broker.js --only throughput --runs 5
  $ node bench/broker.js --embedded-url amqp://guest:guest@127.0.0.1:5672 --embedded-pid $(pgrep -f beam.smp)`;

// ---------------------------------------------------------------------------------------------
// Flags

function parseFlags(argv) {
  const { values } = parseArgsOrExit(USAGE, {
    args: argv,
    options: {
      only: { type: "string" },
      runs: { type: "string", default: "3" },
      "memory-runs": { type: "string", default: "1" },
      warmup: { type: "string", default: "1" },
      amount: { type: "string", default: "100000" },
      "memory-amount": { type: "string", default: "1000000" },
      size: { type: "string", default: "100" },
      rate: { type: "string", default: "1000" },
      duration: { type: "string", default: "10" },
      timeout: { type: "string", default: "120" },
      url: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
      "embedded-url": { type: "string" },
      "embedded-pid": { type: "string" },
      "rabbitmq-pid": { type: "string" },
      dist: { type: "string" },
    },
  });
  const int = (flag, min) => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < min) usage(`--${flag} expects a whole number ≥ ${min}`);
    return n;
  };
  const only = values.only ? values.only.split(",").map((s) => s.trim().toLowerCase()) : BENCHMARKS;
  for (const b of only) {
    if (!BENCHMARKS.includes(b)) usage(`--only: unknown benchmark "${b}"`);
  }
  const pid = (flag) => (values[flag] === undefined ? undefined : int(flag, 1));
  return {
    help: values.help,
    only,
    runs: int("runs", 1),
    memoryRuns: int("memory-runs", 1),
    warmup: int("warmup", 0),
    amount: int("amount", 1),
    memoryAmount: int("memory-amount", 1),
    size: int("size", 1),
    rate: int("rate", 1),
    durationS: int("duration", 1),
    timeoutMs: int("timeout", 1) * 1000,
    url: values.url ?? process.env.EVENTLAB_BENCH_URL ?? DEFAULT_URL,
    json: values.json,
    embeddedUrl: values["embedded-url"],
    embeddedPid: pid("embedded-pid"),
    rabbitPid: pid("rabbitmq-pid"),
    dist: values.dist ? resolve(values.dist) : undefined,
  };
}

function usage(message) {
  usageError(message, USAGE);
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

const fixed = (n, d) => (Number.isFinite(n) ? n.toFixed(d) : "—");
const fmt = (v, unit) => {
  if (!Number.isFinite(v)) return "—";
  if (unit === "ms") return `${v < 10 ? v.toFixed(3) : v.toFixed(1)} ms`;
  return `${group(v)} ${unit}`;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// The two brokers

let opts;
/** side id → { id, label, url, pid, version, process?, error? } */
const sides = {};

const childEnv = () => {
  const env = { ...process.env };
  for (const k of ["EVENTLAB_URL", "EVENTLAB_CONFIG", "NODE_OPTIONS", "FORCE_COLOR"]) delete env[k];
  return env;
};

/** Connect once: reachable? which product and version? */
async function probe(url) {
  const c = await connect(url, 5000);
  const p = c.connection.serverProperties ?? {};
  await c.close().catch(() => {});
  return `${p.product ?? "?"} ${p.version ?? "?"}`;
}

/** Start lib/embedded-broker.js and wait (15 s at most) for its {url, pid} line. */
async function startEmbedded() {
  const side = { id: "embedded", label: "embedded" };
  const proc = start(NODE, [EMBEDDED, ...(opts.dist ? ["--dist", opts.dist] : [])], {
    cwd: ROOT,
    env: childEnv(),
    timeoutMs: 24 * 3600_000,
    stdout: "capture",
  });
  try {
    const line = await proc.waitForLine((l) => l.trim().startsWith("{"), 15_000);
    const { url, pid } = JSON.parse(line);
    Object.assign(side, { url, pid, process: proc });
  } catch (err) {
    if (proc.child.exitCode === null) proc.child.kill("SIGKILL");
    const r = await proc.result;
    side.error = failure(r, "embedded broker") ?? `embedded broker did not start: ${err.message}`;
    return side;
  }
  try {
    side.version = await probe(side.url);
  } catch (err) {
    side.error = `embedded broker at ${maskUrl(side.url)} refused amqplib: ${err.code ?? err.message}`;
    await stopEmbedded(side);
  }
  return side;
}

/** SIGTERM, then SIGKILL if it has not exited within 10 s. */
async function stopEmbedded(side) {
  const proc = side.process;
  if (!proc) return;
  side.process = undefined;
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill("SIGTERM");
  const exited = await Promise.race([proc.result.then(() => true), sleep(10_000)]);
  if (!exited) {
    process.stderr.write("  embedded broker did not exit within 10 s of SIGTERM: killed\n");
    proc.child.kill("SIGKILL");
    await proc.result;
  } else {
    const r = await proc.result;
    if (r.code !== 0 && r.signal !== "SIGTERM")
      process.stderr.write(`  ${failure(r, "embedded broker close")}\n`);
  }
}

async function setupSides() {
  const rabbit = { id: "rabbitmq", label: "rabbitmq", url: opts.url, kind: "rabbitmq" };
  try {
    rabbit.version = await probe(opts.url);
    rabbit.pid = opts.rabbitPid ?? (isLocal(opts.url) ? await rabbitPid() : undefined);
  } catch (err) {
    rabbit.error = `cannot reach RabbitMQ at ${maskUrl(opts.url)} (${err.code ?? err.message}); start it, or set EVENTLAB_BENCH_URL / --url`;
  }
  sides.rabbitmq = rabbit;
  if (opts.embeddedUrl) {
    const e = { id: "embedded", label: "embedded", url: opts.embeddedUrl, pid: opts.embeddedPid };
    try {
      e.version = `${await probe(e.url)} (--embedded-url)`;
    } catch (err) {
      e.error = `cannot reach --embedded-url ${maskUrl(e.url)} (${err.code ?? err.message})`;
    }
    sides.embedded = e;
  } else {
    sides.embedded = await startEmbedded();
  }
}

/** A fresh embedded broker process (for memory: a clean heap, no earlier runs in it). */
async function restartEmbedded() {
  if (opts.embeddedUrl || sides.embedded.error) return;
  await stopEmbedded(sides.embedded);
  sides.embedded = await startEmbedded();
}

// ---------------------------------------------------------------------------------------------
// Alternating runs

/**
 * Rounds of A/B/A/B over the sides that work, `warmup` unmeasured rounds first. A side that
 * fails a run is dropped from the rest of this benchmark (its error is kept), the other goes on.
 * `variants` run inside each round, each side in turn. Returns variant → side → [measurements].
 */
async function alternate(name, variants, n, warmup, sample, show) {
  const out = {};
  const errors = {};
  for (const v of variants) out[v] = Object.fromEntries(SIDES.map((s) => [s, []]));
  for (let round = 0; round < warmup + n; round++) {
    const measured = round >= warmup;
    for (const v of variants) {
      for (const id of SIDES) {
        const side = sides[id];
        if (side.error || errors[id]) continue;
        const label = `${name}${v ? ` ${v}` : ""} ${measured ? `run ${round - warmup + 1}/${n}` : "warm-up"} ${id}`;
        try {
          const m = await sample(side, v);
          if (measured) out[v][id].push(m);
          progress(`${label}: ${show(m)}`);
        } catch (err) {
          errors[id] = err.message;
          progress(`${label}: failed: ${err.message}`);
        }
      }
    }
  }
  return { out, errors };
}

function row(fields) {
  const { embedded, rabbitmq, target, runs } = fields;
  const ratio = embedded / rabbitmq;
  // Runs i of both sides ran back to back: their ratio cancels slow drift on a busy machine.
  const pairs =
    runs.embedded.length === runs.rabbitmq.length
      ? runs.embedded.map((e, i) => e / runs.rabbitmq[i])
      : [];
  const pass = !Number.isFinite(ratio)
    ? undefined
    : target.op === ">="
      ? ratio >= target.value
      : ratio <= target.value;
  return { ...fields, ratio, pairedRatio: median(pairs), pass };
}

/** The error of each side that was not measured, for a row. */
function notMeasured(errors) {
  const out = {};
  for (const id of SIDES) {
    // A broker that was never available is reported once, under the table.
    if (errors[id] && !sides[id].error) out[id] = errors[id];
  }
  return Object.keys(out).length ? out : undefined;
}

const pubsubArgs = (side, extra) => [
  PUBSUB,
  "--url",
  side.url,
  "--size",
  String(opts.size),
  "--prefetch",
  "1000",
  "--ack-every",
  "100",
  "--timeout-ms",
  String(opts.timeoutMs),
  ...extra,
];

/**
 * Wait (10 s at most) until no broker burns CPU: a broker still deleting the previous run's
 * queue, or collecting its garbage, would otherwise slow down the next run, on either side.
 */
async function quiesce(maxMs = 10_000) {
  const pids = [...new Set(SIDES.map((id) => sides[id].pid).filter(Boolean))];
  const until = performance.now() + maxMs;
  while (performance.now() < until) {
    const before = pids.map(cpuMs);
    await sleep(250);
    const busy = pids.some((pid, i) => cpuMs(pid) - before[i] > 25); // > 10 % of a CPU
    if (!busy) return;
  }
}

/** Run the client once against `side`; its summary plus client and broker CPU time. */
async function runClient(side, extra, check) {
  await quiesce();
  const brokerCpu0 = cpuMs(side.pid);
  const r = await run(NODE, pubsubArgs(side, extra), {
    cwd: ROOT,
    env: childEnv(),
    timeoutMs: opts.timeoutMs + 15_000,
    stdout: "capture",
    cpu: true,
  });
  const brokerCpu1 = cpuMs(side.pid);
  const why = failure(r, "client");
  if (why) throw new Error(why);
  const s = lastJson(r.stdout);
  const bad = check(s);
  if (bad) throw new Error(`client: ${bad}: ${r.stdout.trim()}`);
  return {
    ...s,
    wallMs: r.ms,
    clientCpuMs: r.cpuMs,
    brokerCpuMs: brokerCpu0 === undefined ? undefined : brokerCpu1 - brokerCpu0,
  };
}

// ---------------------------------------------------------------------------------------------
// 1. Throughput

async function benchThroughput() {
  const amount = opts.amount;
  const variants = ["confirms", "no-confirms"];
  const sample = (side, variant) =>
    runClient(
      side,
      [
        "--mode",
        "throughput",
        "--amount",
        String(amount),
        "--window",
        "1000",
        ...(variant === "confirms" ? ["--confirm"] : []),
      ],
      (s) =>
        !s
          ? "no summary"
          : s.consumed !== amount
            ? `consumed ${s.consumed} of ${amount}`
            : s.redelivered
              ? `${s.redelivered} redelivered`
              : undefined,
    );
  const { out, errors } = await alternate(
    "throughput",
    variants,
    opts.runs,
    opts.warmup,
    sample,
    (m) => `publish ${group(m.publishRate)} msg/s, end-to-end ${group(m.e2eRate)} msg/s`,
  );
  const rows = [];
  const per100k = (m) => (m.brokerCpuMs === undefined ? undefined : (m.brokerCpuMs * 1e5) / amount);
  for (const v of variants) {
    const m = out[v];
    const label = v === "confirms" ? "confirms, window 1000" : "no confirms";
    const detail = {
      brokerCpuMsPer100k: {
        embedded: m.embedded.map(per100k),
        rabbitmq: m.rabbitmq.map(per100k),
      },
      clientCpuMs: {
        embedded: m.embedded.map((x) => x.clientCpuMs),
        rabbitmq: m.rabbitmq.map((x) => x.clientCpuMs),
      },
      wallMs: {
        embedded: m.embedded.map((x) => x.wallMs),
        rabbitmq: m.rabbitmq.map((x) => x.wallMs),
      },
    };
    for (const [key, what] of [
      ["publishRate", "publish"],
      ["e2eRate", "end-to-end"],
    ]) {
      const runs = {
        embedded: m.embedded.map((x) => x[key]),
        rabbitmq: m.rabbitmq.map((x) => x[key]),
      };
      rows.push(
        row({
          id: `throughput-${v}-${what === "publish" ? "publish" : "e2e"}`,
          name: `${what} ${group(amount)} × ${opts.size} B, ${label}`,
          unit: "msg/s",
          embedded: median(runs.embedded),
          rabbitmq: median(runs.rabbitmq),
          target: { op: ">=", value: 1.5 },
          // Without confirms the publisher only fills the socket: mostly the client's speed.
          info: v === "no-confirms" && what === "publish",
          runs,
          detail,
          notMeasured: notMeasured(errors),
        }),
      );
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// 2. Latency at a fixed rate

async function benchLatency() {
  const sample = (side) =>
    runClient(
      side,
      [
        "--mode",
        "latency",
        "--rate",
        String(opts.rate),
        "--duration-ms",
        String(opts.durationS * 1000),
        "--warmup-ms",
        "1000",
      ],
      (s) =>
        !s?.latencyMs
          ? "no summary"
          : s.outOfOrder
            ? `${s.outOfOrder} messages out of order`
            : undefined,
    );
  const { out, errors } = await alternate(
    "latency",
    [""],
    opts.runs,
    0,
    sample,
    (m) =>
      `p50 ${m.latencyMs.p50} ms, p99 ${m.latencyMs.p99} ms, max ${m.latencyMs.max} ms at ${m.achievedRate} msg/s`,
  );
  const m = out[""];
  const pick = (q) => ({
    embedded: m.embedded.map((x) => x.latencyMs[q]),
    rabbitmq: m.rabbitmq.map((x) => x.latencyMs[q]),
  });
  const detail = {
    latencyMs: {
      embedded: m.embedded.map((x) => x.latencyMs),
      rabbitmq: m.rabbitmq.map((x) => x.latencyMs),
    },
    achievedRate: {
      embedded: m.embedded.map((x) => x.achievedRate),
      rabbitmq: m.rabbitmq.map((x) => x.achievedRate),
    },
  };
  const name = (q) => `latency ${q} at ${group(opts.rate)} msg/s for ${opts.durationS} s`;
  const rows = [];
  for (const [q, info] of [
    ["p50", true],
    ["p99", false],
  ]) {
    const runs = pick(q);
    rows.push(
      row({
        id: `latency-${q}`,
        name: name(q),
        unit: "ms",
        embedded: median(runs.embedded),
        rabbitmq: median(runs.rabbitmq),
        target: { op: "<=", value: 1 },
        info,
        runs,
        detail,
        notMeasured: notMeasured(errors),
      }),
    );
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// 3. Memory per queued message

/**
 * The RSS (kB) once it stopped moving: sampled every 500 ms until the samples of the last
 * `windowMs` lie within 1 % of each other, or `maxMs` passed (then flagged unsettled). RabbitMQ
 * gives memory back to the system in steps over some 30 s after a queue is deleted or a
 * connection closes, so a "before" taken too early starts from a high-water mark and the
 * messages then fill memory it was about to release.
 */
async function settledRss(pid, windowMs, maxMs) {
  const started = performance.now();
  const need = Math.ceil(windowMs / 500) + 1;
  const xs = [];
  for (;;) {
    const m = memory(pid);
    if (!m) throw new Error(`cannot read /proc/${pid}/status`);
    xs.push(m.rssKb);
    const last = xs.slice(-need);
    const waitedMs = performance.now() - started;
    if (last.length === need && Math.max(...last) - Math.min(...last) <= Math.max(...last) * 0.01)
      return { rssKb: median(last), waitedMs, settled: true };
    if (waitedMs > maxMs) return { rssKb: median(last), waitedMs, settled: false };
    await sleep(500);
  }
}

let memorySeq = 0;

async function memorySample(side) {
  const pid = side.pid;
  if (!pid)
    throw new Error(
      side.id === "rabbitmq"
        ? "RabbitMQ's process is unknown (not local, or no beam.smp found): pass --rabbitmq-pid"
        : "the embedded broker's process is unknown: pass --embedded-pid with --embedded-url",
    );
  const amount = opts.memoryAmount;
  const deadline = performance.now() + opts.timeoutMs * 2.5;
  const queue = `eventlab-bench.broker-memory.${process.pid}.${Date.now().toString(36)}.${++memorySeq}`;
  // The queue is exclusive to the harness's connection: should the harness die, the broker
  // drops it with the connection.
  const owner = await within(connect(side.url), deadline, "memory: connect");
  const publisher = await within(connect(side.url), deadline, "memory: connect");
  try {
    const ch = await owner.createChannel();
    const confirmCh = await publisher.createConfirmChannel();
    const watch = failures([
      ["owner connection", owner],
      ["publisher connection", publisher],
      ["owner channel", ch],
      ["publisher channel", confirmCh],
    ]);
    const guard = (p, what) => within(Promise.race([p, watch.promise]), deadline, what);
    await guard(ch.assertQueue(queue, { exclusive: true, durable: false }), "memory: declare");
    await quiesce();
    const before = await settledRss(pid, 15_000, 120_000);
    const cpu0 = cpuMs(pid);
    const p = await guard(
      publishAll(confirmCh, {
        queue,
        amount,
        body: Buffer.from(payload(opts.size)),
        confirm: true,
        window: 1000,
      }),
      `memory: publish ${amount}`,
    );
    if (p.nacked) throw new Error(`memory: ${p.nacked} messages nacked`);
    let depth = 0;
    for (;;) {
      depth = (await guard(ch.checkQueue(queue), "memory: check queue")).messageCount;
      if (depth >= amount || performance.now() > deadline) break;
      await sleep(250);
    }
    if (depth !== amount) throw new Error(`memory: queue holds ${depth}, expected ${amount}`);
    const after = await settledRss(pid, 5000, 60_000);
    const cpu1 = cpuMs(pid);
    const hwmKb = memory(pid)?.hwmKb;
    const rabbit = side.kind === "rabbitmq" ? await rabbitQueueInfo(queue) : undefined;
    const purged = await guard(ch.purgeQueue(queue), "memory: purge");
    await guard(ch.deleteQueue(queue), "memory: delete");
    watch.settle();
    const bytesPerMessage = ((after.rssKb - before.rssKb) * 1024) / amount;
    if (bytesPerMessage < opts.size) {
      // Less than the bodies themselves: the broker filled memory it had kept from earlier work.
      throw new Error(
        `RSS grew by only ${fixed(bytesPerMessage, 1)} B/msg (${group(before.rssKb / 1024)} → ${group(after.rssKb / 1024)} MB), less than the ${opts.size} B bodies: the broker reused memory it kept from earlier runs${before.settled ? "" : ` (its RSS had not settled after ${group(before.waitedMs / 1000)} s)`}; run \`--only memory\` again when it is idle`,
      );
    }
    return {
      amount,
      publishRate: amount / (p.ms / 1000),
      beforeKb: before.rssKb,
      beforeSettledAfterMs: before.settled ? before.waitedMs : undefined,
      afterKb: after.rssKb,
      afterSettledAfterMs: after.settled ? after.waitedMs : undefined,
      hwmKb,
      bytesPerMessage,
      brokerCpuMs: cpu0 === undefined ? undefined : cpu1 - cpu0,
      purged: purged?.messageCount,
      rabbitmqctl: rabbit,
      rabbitQueueBytesPerMessage: rabbit?.memory === undefined ? undefined : rabbit.memory / amount,
    };
  } finally {
    await owner.close().catch(() => {});
    await publisher.close().catch(() => {});
  }
}

async function benchMemory() {
  await restartEmbedded();
  const { out, errors } = await alternate(
    "memory",
    [""],
    opts.memoryRuns,
    0,
    memorySample,
    (m) =>
      `${fixed(m.bytesPerMessage, 1)} B/msg (RSS ${group(m.beforeKb / 1024)} → ${group(m.afterKb / 1024)} MB)${m.rabbitmqctl ? (m.rabbitmqctl.error ? `; rabbitmqctl: ${m.rabbitmqctl.error}` : `; queue memory ${fixed(m.rabbitQueueBytesPerMessage, 1)} B/msg, ${group(m.rabbitmqctl.messagesRam)} of ${group(m.rabbitmqctl.messages)} messages in RAM`) : ""}`,
  );
  const m = out[""];
  const runs = {
    embedded: m.embedded.map((x) => x.bytesPerMessage),
    rabbitmq: m.rabbitmq.map((x) => x.bytesPerMessage),
  };
  return [
    row({
      id: "memory",
      name: `memory per queued message (${group(opts.memoryAmount)} × ${opts.size} B, RSS Δ)`,
      unit: "B/msg",
      embedded: median(runs.embedded),
      rabbitmq: median(runs.rabbitmq),
      target: { op: "<=", value: 1 },
      runs,
      detail: { embedded: m.embedded, rabbitmq: m.rabbitmq },
      notMeasured: notMeasured(errors),
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// Output

function printTable(rows, meta) {
  const header = ["benchmark", "embedded", "rabbitmq", "ratio", "target", "result"];
  const result = (r) => {
    if (r.pass === undefined) return "not measured";
    if (r.info) return r.pass ? "(info) ok" : "(info) miss";
    return r.pass ? "pass" : "MISS ✗";
  };
  const lines = rows.map((r) => [
    r.name,
    fmt(r.embedded, r.unit),
    fmt(r.rabbitmq, r.unit),
    Number.isFinite(r.ratio) ? `${r.ratio.toFixed(3)}×` : "—",
    `${r.target.op === ">=" ? "≥" : "≤"} ${r.target.value}`,
    result(r),
  ]);
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((l) => l[i].length)));
  const line = (l) =>
    l
      .map((c, i) => (i === 0 || i === l.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  const out = [];
  const who = (s) =>
    s.error
      ? "not available"
      : `${s.version}${s.pid ? ` (pid ${s.pid})` : ""} at ${maskUrl(s.url)}`;
  out.push(`broker benchmarks · node ${meta.node} · ${meta.cpus} CPU · ${meta.runsNote}`);
  out.push(`embedded: ${who(sides.embedded)}`);
  out.push(`rabbitmq: ${who(sides.rabbitmq)}`);
  const busy = meta.loadAverage.start > meta.cpus * 0.5;
  out.push(
    `load average ${meta.loadAverage.start.toFixed(2)} at start, ${meta.loadAverage.end.toFixed(2)} at the end${busy ? paint("33", " — the machine was busy: figures are noisy") : ""}`,
  );
  out.push("");
  out.push(paint("1", line(header)));
  out.push(widths.map((w) => "─".repeat(w)).join("  "));
  lines.forEach((l, i) => {
    const r = rows[i];
    const text = line(l);
    out.push(
      r.pass === undefined || (!r.pass && !r.info)
        ? paint("31", text)
        : r.info
          ? paint("2", text)
          : text,
    );
  });
  out.push("");
  const dim = (s) => out.push(paint("2", `  ${s}`));
  const list = (xs, unit) =>
    xs
      .map((x) => (unit === "ms" ? fixed(x, 3) : unit === "B/msg" ? fixed(x, 1) : group(x)))
      .join(" ");
  const shown = new Set();
  for (const r of rows) {
    dim(
      `${r.id} runs (${r.unit}): embedded [${list(r.runs.embedded, r.unit)}] vs rabbitmq [${list(r.runs.rabbitmq, r.unit)}]${Number.isFinite(r.pairedRatio) ? `; paired ratio ${r.pairedRatio.toFixed(3)}` : ""}`,
    );
    const d = r.detail;
    if (d?.brokerCpuMsPer100k && !shown.has(d)) {
      shown.add(d);
      const variant = r.id.replace(/-(publish|e2e)$/, "");
      const e = median(d.brokerCpuMsPer100k.embedded);
      const b = median(d.brokerCpuMsPer100k.rabbitmq);
      dim(
        `${variant} broker CPU per 100,000 messages (ms, medians): embedded ${group(e)} vs rabbitmq ${group(b)} (×${fixed(e / b, 2)}); client CPU (ms): embedded ${group(median(d.clientCpuMs.embedded))} vs rabbitmq ${group(median(d.clientCpuMs.rabbitmq))}; client wall (ms): embedded ${group(median(d.wallMs.embedded))} vs rabbitmq ${group(median(d.wallMs.rabbitmq))}`,
      );
    }
    if (r.id === "latency-p99") {
      const tail = (id) => {
        const xs = d.latencyMs[id];
        return xs.length
          ? `p90 ${fixed(median(xs.map((x) => x.p90)), 3)}, p99.9 ${fixed(median(xs.map((x) => x.p999)), 3)}, max ${fixed(median(xs.map((x) => x.max)), 3)}, at ${fixed(median(d.achievedRate[id]), 1)} msg/s`
          : "—";
      };
      dim(`latency (ms, medians): embedded ${tail("embedded")}; rabbitmq ${tail("rabbitmq")}`);
    }
    if (r.id === "memory") {
      for (const id of SIDES) {
        const xs = d[id];
        if (!xs.length) continue;
        const x = xs[xs.length >> 1];
        const extra = x.rabbitmqctl
          ? x.rabbitmqctl.error
            ? `; rabbitmqctl: ${x.rabbitmqctl.error}`
            : `; rabbitmqctl queue memory ${fixed(x.rabbitQueueBytesPerMessage, 1)} B/msg, ${group(x.rabbitmqctl.messagesRam)} of ${group(x.rabbitmqctl.messages)} messages in RAM${x.rabbitmqctl.messagesRam < x.rabbitmqctl.messages ? paint("33", " (paged to disk: RSS understates)") : ""}`
          : "";
        dim(
          `memory ${id}: RSS ${group(x.beforeKb / 1024)} → ${group(x.afterKb / 1024)} MB (peak ${group(x.hwmKb / 1024)} MB), filled at ${group(x.publishRate)} msg/s${extra}`,
        );
      }
    }
    if (r.notMeasured) {
      for (const [id, e] of Object.entries(r.notMeasured))
        out.push(paint("31", `  ${r.id}: ${id} not measured: ${e}`));
    }
  }
  for (const id of SIDES) {
    if (sides[id].error) out.push(paint("31", `${id} not available: ${sides[id].error}`));
  }
  const counted = rows.filter((r) => !r.info);
  const met = counted.filter((r) => r.pass === true).length;
  const missing = rows.filter((r) => r.pass === undefined);
  out.push("");
  out.push(
    met === counted.length
      ? paint("32", `all ${counted.length} targets met`)
      : paint(
          "31",
          `${met} of ${counted.length} targets met${missing.length ? `; not measured: ${missing.map((r) => r.id).join(", ")}` : ""}`,
        ),
  );
  process.stdout.write(`${out.join("\n")}\n`);
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  opts = parseFlags(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism?.() ?? cpus().length,
    cpuModel: cpus()[0]?.model,
    runs: opts.runs,
    memoryRuns: opts.memoryRuns,
    warmup: opts.warmup,
    amount: opts.amount,
    memoryAmount: opts.memoryAmount,
    size: opts.size,
    rate: opts.rate,
    durationS: opts.durationS,
    loadAverage: { start: loadavg()[0] },
    runsNote: `medians of ${opts.runs} runs (throughput, latency), ${opts.memoryRuns} (memory)`,
  };

  let interrupted = false;
  const stop = async () => {
    interrupted = true;
    process.stderr.write("interrupted: stopping the runs and the embedded broker\n");
    for (const child of running)
      if (child !== sides.embedded?.process?.child) child.kill("SIGKILL");
    if (sides.embedded) await stopEmbedded(sides.embedded).catch(() => {});
    process.exit(130);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);

  const rows = [];
  try {
    await setupSides();
    for (const id of SIDES) {
      if (sides[id].error) process.stderr.write(`error: ${id}: ${sides[id].error}\n`);
    }
    const table = { throughput: benchThroughput, latency: benchLatency, memory: benchMemory };
    for (const id of BENCHMARKS) {
      if (!opts.only.includes(id)) continue;
      process.stderr.write(`${id}…\n`);
      rows.push(...(await table[id]()));
    }
  } finally {
    if (!interrupted && sides.embedded) await stopEmbedded(sides.embedded);
  }
  if (interrupted) return new Promise(() => {});

  meta.loadAverage.end = loadavg()[0];
  const brokers = Object.fromEntries(
    SIDES.map((id) => {
      const { process: _p, ...s } = sides[id];
      return [id, { ...s, url: maskUrl(s.url) }];
    }),
  );
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ meta, brokers, results: rows }, null, 2)}\n`);
  } else {
    printTable(rows, meta);
  }
  return rows.some((r) => r.pass === undefined) || SIDES.some((id) => sides[id].error) ? 1 : 0;
}

process.exitCode = await main();

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

/** @import { Started } from "./lib/proc.js" */
/** @import { RabbitQueueInfo } from "./lib/procstat.js" */
/** @typedef {"throughput" | "latency" | "memory"} BenchId */
/** @typedef {"embedded" | "rabbitmq"} SideId */
/**
 * @template T
 * @typedef {{ embedded: T[]; rabbitmq: T[] }} BySide
 */
/**
 * One broker under test. `error` says why it is not available; `process` is the embedded
 * broker's own process, when this harness started it.
 * @typedef {object} Side
 * @property {SideId} id
 * @property {string} label
 * @property {string | undefined} [url]
 * @property {number | undefined} [pid]
 * @property {string | undefined} [version]
 * @property {Started | undefined} [process]
 * @property {string | undefined} [error]
 * @property {"rabbitmq"} [kind]
 */
/**
 * A promise raced against the connections' failures and the run's deadline.
 * @typedef {<T>(promise: Promise<T>, what: string) => Promise<T>} Guard
 */
/**
 * One memory run on one broker.
 * @typedef {object} MemorySample
 * @property {number} amount
 * @property {number} publishRate
 * @property {number} beforeKb
 * @property {number | undefined} beforeSettledAfterMs
 * @property {number} afterKb
 * @property {number | undefined} afterSettledAfterMs
 * @property {number | undefined} hwmKb
 * @property {number} bytesPerMessage
 * @property {number | undefined} brokerCpuMs
 * @property {number | undefined} purged
 * @property {RabbitQueueInfo | undefined} rabbitmqctl
 * @property {number | undefined} rabbitQueueBytesPerMessage
 */
/**
 * @typedef {object} ThroughputDetail
 * @property {BySide<number | undefined>} brokerCpuMsPer100k
 * @property {BySide<number | undefined>} clientCpuMs
 * @property {BySide<number>} wallMs
 */
/**
 * @typedef {object} LatencyDetail
 * @property {BySide<{ p50: number; p90: number; p99: number; p999: number; max: number }>} latencyMs
 * @property {BySide<number>} achievedRate
 */
/**
 * One benchmark's line: the medians of both brokers and the target their ratio must meet.
 * @typedef {object} RowFields
 * @property {string} id
 * @property {string} name
 * @property {string} unit
 * @property {number} embedded
 * @property {number} rabbitmq
 * @property {{ op: ">=" | "<="; value: number }} target
 * @property {boolean} [info] shown for information, not counted as a target
 * @property {BySide<number>} runs
 * @property {ThroughputDetail | LatencyDetail | BySide<MemorySample>} detail
 * @property {Partial<Record<SideId, string>> | undefined} notMeasured
 */
/** @typedef {RowFields & { ratio: number; pairedRatio: number; pass: boolean | undefined }} Row */
/**
 * @typedef {object} Meta
 * @property {string} date
 * @property {string} node
 * @property {number} cpus
 * @property {string | undefined} cpuModel
 * @property {number} runs
 * @property {number} memoryRuns
 * @property {number} warmup
 * @property {number} amount
 * @property {number} memoryAmount
 * @property {number} size
 * @property {number} rate
 * @property {number} durationS
 * @property {{ start: number; end?: number }} loadAverage
 * @property {string} runsNote
 */

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..");
const PUBSUB = join(HERE, "raw", "pubsub.js");
const EMBEDDED = join(HERE, "lib", "embedded-broker.js");
const NODE = process.execPath;
/** @type {readonly BenchId[]} */
const BENCHMARKS = ["throughput", "latency", "memory"];
/** @type {readonly SideId[]} */
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

/** @param {string[]} argv */
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
  /**
   * @param {"runs" | "memory-runs" | "warmup" | "amount" | "memory-amount" | "size" | "rate" | "duration" | "timeout" | "embedded-pid" | "rabbitmq-pid"} flag
   * @param {number} min
   */
  const int = (flag, min) => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < min) usage(`--${flag} expects a whole number ≥ ${min}`);
    return n;
  };
  const only = values.only ? values.only.split(",").map((s) => s.trim().toLowerCase()) : BENCHMARKS;
  for (const b of only) {
    if (!(/** @type {readonly string[]} */ (BENCHMARKS).includes(b)))
      usage(`--only: unknown benchmark "${b}"`);
  }
  /** @param {"embedded-pid" | "rabbitmq-pid"} flag */
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
    url: values.url ?? process.env["EVENTLAB_BENCH_URL"] ?? DEFAULT_URL,
    json: values.json,
    embeddedUrl: values["embedded-url"],
    embeddedPid: pid("embedded-pid"),
    rabbitPid: pid("rabbitmq-pid"),
    dist: values.dist ? resolve(values.dist) : undefined,
  };
}

/**
 * @param {string} message
 * @returns {never}
 */
function usage(message) {
  usageError(message, USAGE);
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

/**
 * @param {number | undefined} n
 * @param {number} d decimals
 */
const fixed = (n, d) => (n !== undefined && Number.isFinite(n) ? n.toFixed(d) : "—");
/**
 * @param {number} v
 * @param {string} unit
 */
const fmt = (v, unit) => {
  if (!Number.isFinite(v)) return "—";
  if (unit === "ms") return `${v < 10 ? v.toFixed(3) : v.toFixed(1)} ms`;
  return `${group(v)} ${unit}`;
};
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// The two brokers

/** @type {ReturnType<typeof parseFlags>} */
let opts;
/** side id → { id, label, url, pid, version, process?, error? }; filled by setupSides(). */
const sides = /** @type {Record<SideId, Side>} */ ({});

const childEnv = () => {
  const env = { ...process.env };
  for (const k of ["EVENTLAB_URL", "EVENTLAB_CONFIG", "NODE_OPTIONS", "FORCE_COLOR"]) delete env[k];
  return env;
};

/**
 * Connect once: reachable? which product and version?
 * @param {string} url
 */
async function probe(url) {
  const c = await connect(url, 5000);
  const p = c.connection.serverProperties ?? {};
  await c.close().catch(() => {});
  return `${p.product ?? "?"} ${p.version ?? "?"}`;
}

/**
 * Start lib/embedded-broker.js and wait (15 s at most) for its {url, pid} line.
 * @returns {Promise<Side>}
 */
async function startEmbedded() {
  /** @type {Side} */
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
    side.error =
      failure(r, "embedded broker") ??
      `embedded broker did not start: ${/** @type {Error} */ (err).message}`;
    return side;
  }
  try {
    side.version = await probe(/** @type {string} */ (side.url));
  } catch (err) {
    const e = /** @type {NodeJS.ErrnoException} */ (err);
    side.error = `embedded broker at ${maskUrl(side.url)} refused amqplib: ${e.code ?? e.message}`;
    await stopEmbedded(side);
  }
  return side;
}

/**
 * SIGTERM, then SIGKILL if it has not exited within 10 s.
 * @param {Side} side
 */
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
  /** @type {Side} */
  const rabbit = { id: "rabbitmq", label: "rabbitmq", url: opts.url, kind: "rabbitmq" };
  try {
    rabbit.version = await probe(opts.url);
    rabbit.pid = opts.rabbitPid ?? (isLocal(opts.url) ? await rabbitPid() : undefined);
  } catch (err) {
    const e = /** @type {NodeJS.ErrnoException} */ (err);
    rabbit.error = `cannot reach RabbitMQ at ${maskUrl(opts.url)} (${e.code ?? e.message}); start it, or set EVENTLAB_BENCH_URL / --url`;
  }
  sides.rabbitmq = rabbit;
  if (opts.embeddedUrl) {
    const url = opts.embeddedUrl;
    /** @type {Side} */
    const e = { id: "embedded", label: "embedded", url, pid: opts.embeddedPid };
    try {
      e.version = `${await probe(url)} (--embedded-url)`;
    } catch (err) {
      const { code, message } = /** @type {NodeJS.ErrnoException} */ (err);
      e.error = `cannot reach --embedded-url ${maskUrl(url)} (${code ?? message})`;
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
 * @template {string} V
 * @template M
 * @param {string} name
 * @param {readonly V[]} variants
 * @param {number} n
 * @param {number} warmup
 * @param {(side: Side, variant: V) => Promise<M>} sample
 * @param {(m: M) => string} show
 * @returns {Promise<{ out: Record<V, BySide<M>>; errors: Partial<Record<SideId, string>> }>}
 */
async function alternate(name, variants, n, warmup, sample, show) {
  const out = /** @type {Record<V, BySide<M>>} */ ({});
  /** @type {Partial<Record<SideId, string>>} */
  const errors = {};
  for (const v of variants) {
    const perSide = /** @type {BySide<M>} */ ({});
    for (const s of SIDES) perSide[s] = [];
    out[v] = perSide;
  }
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
          const { message } = /** @type {Error} */ (err);
          errors[id] = message;
          progress(`${label}: failed: ${message}`);
        }
      }
    }
  }
  return { out, errors };
}

/**
 * @param {RowFields} fields
 * @returns {Row}
 */
function row(fields) {
  const { embedded, rabbitmq, target, runs } = fields;
  const ratio = embedded / rabbitmq;
  // Runs i of both sides ran back to back: their ratio cancels slow drift on a busy machine.
  const pairs =
    runs.embedded.length === runs.rabbitmq.length
      ? runs.embedded.map((e, i) => e / /** @type {number} */ (runs.rabbitmq[i]))
      : [];
  const pass = !Number.isFinite(ratio)
    ? undefined
    : target.op === ">="
      ? ratio >= target.value
      : ratio <= target.value;
  return { ...fields, ratio, pairedRatio: median(pairs), pass };
}

/**
 * The error of each side that was not measured, for a row.
 * @param {Partial<Record<SideId, string>>} errors
 */
function notMeasured(errors) {
  /** @type {Partial<Record<SideId, string>>} */
  const out = {};
  for (const id of SIDES) {
    // A broker that was never available is reported once, under the table.
    if (errors[id] && !sides[id].error) out[id] = errors[id];
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * @param {Side} side an available one: it has a URL
 * @param {string[]} extra
 */
const pubsubArgs = (side, extra) => [
  PUBSUB,
  "--url",
  /** @type {string} */ (side.url),
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
 * A pid whose CPU time cannot be read counts as idle.
 */
async function quiesce(maxMs = 10_000) {
  const pids = [...new Set(SIDES.map((id) => sides[id].pid).filter(Boolean))];
  const until = performance.now() + maxMs;
  while (performance.now() < until) {
    const before = pids.map(cpuMs);
    await sleep(250);
    const busy = pids.some(
      (pid, i) => /** @type {number} */ (cpuMs(pid)) - /** @type {number} */ (before[i]) > 25,
    ); // > 10 % of a CPU
    if (!busy) return;
  }
}

/**
 * Run the client once against `side`; its summary plus client and broker CPU time.
 * @param {Side} side
 * @param {string[]} extra
 * @param {(summary: any) => string | undefined} check what is wrong with the summary, if anything
 * @returns {Promise<any>} the summary pubsub.js printed, and the times
 */
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
    brokerCpuMs:
      brokerCpu0 === undefined ? undefined : /** @type {number} */ (brokerCpu1) - brokerCpu0,
  };
}

// ---------------------------------------------------------------------------------------------
// 1. Throughput

async function benchThroughput() {
  const amount = opts.amount;
  const variants = /** @type {const} */ (["confirms", "no-confirms"]);
  /**
   * @param {Side} side
   * @param {(typeof variants)[number]} variant
   */
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
  /** @type {Row[]} */
  const rows = [];
  /** @param {{ brokerCpuMs: number | undefined }} m */
  const per100k = (m) => (m.brokerCpuMs === undefined ? undefined : (m.brokerCpuMs * 1e5) / amount);
  for (const v of variants) {
    const m = out[v];
    const label = v === "confirms" ? "confirms, window 1000" : "no confirms";
    /** @type {ThroughputDetail} */
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
    for (const [key, what] of /** @type {const} */ ([
      ["publishRate", "publish"],
      ["e2eRate", "end-to-end"],
    ])) {
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
  /** @param {Side} side */
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
  /** @param {"p50" | "p99"} q */
  const pick = (q) => ({
    embedded: m.embedded.map((x) => x.latencyMs[q]),
    rabbitmq: m.rabbitmq.map((x) => x.latencyMs[q]),
  });
  /** @type {LatencyDetail} */
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
  const name = (/** @type {string} */ q) =>
    `latency ${q} at ${group(opts.rate)} msg/s for ${opts.durationS} s`;
  /** @type {Row[]} */
  const rows = [];
  for (const [q, info] of /** @type {const} */ ([
    ["p50", true],
    ["p99", false],
  ])) {
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
 * @param {number} pid
 * @param {number} windowMs
 * @param {number} maxMs
 */
async function settledRss(pid, windowMs, maxMs) {
  const started = performance.now();
  const need = Math.ceil(windowMs / 500) + 1;
  /** @type {number[]} */
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

/**
 * @param {Side} side
 * @returns {Promise<MemorySample>}
 */
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
  const url = /** @type {string} */ (side.url);
  const owner = await within(connect(url), deadline, "memory: connect");
  const publisher = await within(connect(url), deadline, "memory: connect");
  try {
    const ch = await owner.createChannel();
    const confirmCh = await publisher.createConfirmChannel();
    const watch = failures([
      ["owner connection", owner],
      ["publisher connection", publisher],
      ["owner channel", ch],
      ["publisher channel", confirmCh],
    ]);
    /** @type {Guard} */
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
      brokerCpuMs: cpu0 === undefined ? undefined : /** @type {number} */ (cpu1) - cpu0,
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

/** @param {Row} r */
function resultCell(r) {
  if (r.pass === undefined) return "not measured";
  if (r.info) return r.pass ? "(info) ok" : "(info) miss";
  return r.pass ? "pass" : "MISS ✗";
}

/**
 * One row of the table, a cell for each column of the header.
 * @param {Row} r
 * @returns {string[]}
 */
function rowCells(r) {
  return [
    r.name,
    fmt(r.embedded, r.unit),
    fmt(r.rabbitmq, r.unit),
    Number.isFinite(r.ratio) ? `${r.ratio.toFixed(3)}×` : "—",
    `${r.target.op === ">=" ? "≥" : "≤"} ${r.target.value}`,
    resultCell(r),
  ];
}

/**
 * A row's colour: red when it was not measured or missed a target, dim when for information.
 * @param {Row} r
 * @param {string} text
 */
function paintRow(r, text) {
  if (r.pass === undefined || (!r.pass && !r.info)) return paint("31", text);
  return r.info ? paint("2", text) : text;
}

/** @param {Side} s */
function who(s) {
  return s.error
    ? "not available"
    : `${s.version}${s.pid ? ` (pid ${s.pid})` : ""} at ${maskUrl(s.url)}`;
}

/**
 * The lines above the table: what ran where, and how loaded the machine was.
 * @param {Meta} meta
 */
function metaLines(meta) {
  const busy = meta.loadAverage.start > meta.cpus * 0.5;
  return [
    `broker benchmarks · node ${meta.node} · ${meta.cpus} CPU · ${meta.runsNote}`,
    `embedded: ${who(sides.embedded)}`,
    `rabbitmq: ${who(sides.rabbitmq)}`,
    `load average ${meta.loadAverage.start.toFixed(2)} at start, ${/** @type {number} */ (meta.loadAverage.end).toFixed(2)} at the end${busy ? paint("33", " — the machine was busy: figures are noisy") : ""}`,
  ];
}

/**
 * The table itself: the header, a rule under it, and a line for each row.
 * @param {Row[]} rows
 */
function tableLines(rows) {
  const header = ["benchmark", "embedded", "rabbitmq", "ratio", "target", "result"];
  const lines = rows.map(rowCells);
  const all = [header, ...lines];
  // Every line has a cell for each column of the header.
  const cell = (/** @type {string[]} */ l, /** @type {number} */ i) => /** @type {string} */ (l[i]);
  const widths = header.map((_, i) => Math.max(...all.map((l) => cell(l, i).length)));
  const width = (/** @type {number} */ i) => /** @type {number} */ (widths[i]);
  /** @param {string[]} l */
  const line = (l) =>
    l
      .map((c, i) => (i === 0 || i === l.length - 1 ? c.padEnd(width(i)) : c.padStart(width(i))))
      .join("  ")
      .trimEnd();
  return [
    paint("1", line(header)),
    widths.map((w) => "─".repeat(w)).join("  "),
    ...lines.map((l, i) => paintRow(/** @type {Row} */ (rows[i]), line(l))),
  ];
}

/**
 * @param {number[]} xs
 * @param {string} unit
 */
function runList(xs, unit) {
  return xs
    .map((x) => (unit === "ms" ? fixed(x, 3) : unit === "B/msg" ? fixed(x, 1) : group(x)))
    .join(" ");
}

/** @param {Row} r */
function runsNote(r) {
  return `${r.id} runs (${r.unit}): embedded [${runList(r.runs.embedded, r.unit)}] vs rabbitmq [${runList(r.runs.rabbitmq, r.unit)}]${Number.isFinite(r.pairedRatio) ? `; paired ratio ${/** @type {number} */ (r.pairedRatio).toFixed(3)}` : ""}`;
}

/**
 * The CPU times of a throughput variant; its publish and e2e rows share one detail.
 * @param {Row} r
 * @param {ThroughputDetail} d
 */
function throughputNote(r, d) {
  const variant = r.id.replace(/-(publish|e2e)$/, "");
  const e = median(d.brokerCpuMsPer100k.embedded);
  const b = median(d.brokerCpuMsPer100k.rabbitmq);
  return `${variant} broker CPU per 100,000 messages (ms, medians): embedded ${group(e)} vs rabbitmq ${group(b)} (×${fixed(e / b, 2)}); client CPU (ms): embedded ${group(median(d.clientCpuMs.embedded))} vs rabbitmq ${group(median(d.clientCpuMs.rabbitmq))}; client wall (ms): embedded ${group(median(d.wallMs.embedded))} vs rabbitmq ${group(median(d.wallMs.rabbitmq))}`;
}

/** @param {LatencyDetail} d */
function latencyNote(d) {
  const { latencyMs, achievedRate } = d;
  /** @param {SideId} id */
  const tail = (id) => {
    const xs = latencyMs[id];
    return xs.length
      ? `p90 ${fixed(median(xs.map((x) => x.p90)), 3)}, p99.9 ${fixed(median(xs.map((x) => x.p999)), 3)}, max ${fixed(median(xs.map((x) => x.max)), 3)}, at ${fixed(median(achievedRate[id]), 1)} msg/s`
      : "—";
  };
  return `latency (ms, medians): embedded ${tail("embedded")}; rabbitmq ${tail("rabbitmq")}`;
}

/** @param {MemorySample} x */
function rabbitmqctlNote(x) {
  if (!x.rabbitmqctl) return "";
  if (x.rabbitmqctl.error) return `; rabbitmqctl: ${x.rabbitmqctl.error}`;
  return `; rabbitmqctl queue memory ${fixed(x.rabbitQueueBytesPerMessage, 1)} B/msg, ${group(x.rabbitmqctl.messagesRam)} of ${group(x.rabbitmqctl.messages)} messages in RAM${/** @type {number} */ (x.rabbitmqctl.messagesRam) < /** @type {number} */ (x.rabbitmqctl.messages) ? paint("33", " (paged to disk: RSS understates)") : ""}`;
}

/**
 * A line for each broker with memory samples: its median run.
 * @param {BySide<MemorySample>} samples
 */
function memoryNotes(samples) {
  /** @type {string[]} */
  const notes = [];
  for (const id of SIDES) {
    const xs = samples[id];
    if (!xs.length) continue;
    const x = /** @type {MemorySample} */ (xs[xs.length >> 1]);
    notes.push(
      `memory ${id}: RSS ${group(x.beforeKb / 1024)} → ${group(x.afterKb / 1024)} MB (peak ${group(/** @type {number} */ (x.hwmKb) / 1024)} MB), filled at ${group(x.publishRate)} msg/s${rabbitmqctlNote(x)}`,
    );
  }
  return notes;
}

/**
 * The notes under one row, dim, then what was not measured, in red.
 * @param {Row} r
 * @param {Set<object>} shown the throughput details already noted
 */
function rowNotes(r, shown) {
  const notes = [runsNote(r)];
  const d = r.detail;
  if ("brokerCpuMsPer100k" in d && !shown.has(d)) {
    shown.add(d);
    notes.push(throughputNote(r, d));
  }
  if (r.id === "latency-p99") notes.push(latencyNote(/** @type {LatencyDetail} */ (d)));
  if (r.id === "memory") notes.push(...memoryNotes(/** @type {BySide<MemorySample>} */ (d)));
  const out = notes.map((s) => paint("2", `  ${s}`));
  for (const [id, e] of Object.entries(r.notMeasured ?? {}))
    out.push(paint("31", `  ${r.id}: ${id} not measured: ${e}`));
  return out;
}

/**
 * The lines under the table: the notes of each row, then the brokers not available.
 * @param {Row[]} rows
 */
function notesLines(rows) {
  /** @type {Set<object>} */
  const shown = new Set();
  const out = rows.flatMap((r) => rowNotes(r, shown));
  for (const id of SIDES) {
    if (sides[id].error) out.push(paint("31", `${id} not available: ${sides[id].error}`));
  }
  return out;
}

/**
 * The last line: how many targets were met.
 * @param {Row[]} rows
 */
function summaryLine(rows) {
  const counted = rows.filter((r) => !r.info);
  const met = counted.filter((r) => r.pass === true).length;
  const missing = rows.filter((r) => r.pass === undefined);
  return met === counted.length
    ? paint("32", `all ${counted.length} targets met`)
    : paint(
        "31",
        `${met} of ${counted.length} targets met${missing.length ? `; not measured: ${missing.map((r) => r.id).join(", ")}` : ""}`,
      );
}

/**
 * @param {Row[]} rows
 * @param {Meta} meta
 */
function printTable(rows, meta) {
  const out = [
    ...metaLines(meta),
    "",
    ...tableLines(rows),
    "",
    ...notesLines(rows),
    "",
    summaryLine(rows),
  ];
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
  /** @type {Meta} */
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
    // loadavg() always has three figures.
    loadAverage: { start: /** @type {number} */ (loadavg()[0]) },
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

  /** @type {Row[]} */
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

  meta.loadAverage.end = /** @type {number} */ (loadavg()[0]);
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

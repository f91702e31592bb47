#!/usr/bin/env node
// Side-by-side benchmarks: eventlab (the built CLI, spawned) against plain amqplib scripts and
// plain node, in one invocation, against one broker. Runs alternate A/B/A/B; medians of N.
// A missed target is a measurement, not a failure: the exit code is 0 unless a benchmark
// could not be measured at all. See bench/README.md.
import { existsSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Broker } from "./lib/broker.js";
import { payload } from "./lib/payload.js";
import { failure, lastJson, run, running, start } from "./lib/proc.js";
import {
  group,
  maskUrl,
  median,
  paint,
  parseArgsOrExit,
  progress,
  usageError,
} from "./lib/stats.js";

/** @typedef {"produce" | "consume" | "oneshot" | "help" | "rate" | "bench"} BenchId */
/**
 * @template T
 * @typedef {{ eventlab: T[]; baseline: T[] }} PerSide
 */
/**
 * What a throughput benchmark keeps of its runs, besides the figure itself.
 * @typedef {object} Detail
 * @property {PerSide<number>} wallMs
 * @property {PerSide<number | undefined>} cpuMs
 * @property {PerSide<number>} [publishToLastConfirmMs]
 */
/**
 * One --rate run, as the sender's summary and the receiver saw it.
 * @typedef {object} RateSample
 * @property {number} wallMs
 * @property {number} elapsedMs
 * @property {number} summaryRatePerSecond
 * @property {{ spanMs: number; ratePerSecond: number; gapMs: { p50: number; p99: number; max: number } }} arrival
 */
/**
 * One benchmark's line: the medians of both sides and the target their ratio must meet.
 * @typedef {object} RowFields
 * @property {string} id
 * @property {string} name
 * @property {"throughput" | "time" | "error-pct"} kind
 * @property {"msg/s" | "ms"} unit
 * @property {number} eventlab
 * @property {number} baseline
 * @property {string} baselineLabel
 * @property {boolean} [info] shown for information, not counted as a target
 * @property {{ op: ">=" | "<="; value: number }} target
 * @property {{ eventlab: number[]; baseline?: number[] }} runs
 * @property {Detail | RateSample[]} [detail]
 */
/**
 * @typedef {RowFields & { ratio: number; pairedRatio: number | undefined; pass: boolean | undefined }} Row
 */
/** @typedef {{ id: string; error: string }} Failure */
/**
 * @typedef {object} Meta
 * @property {string} date
 * @property {string} node
 * @property {number} cpus
 * @property {string | undefined} cpuModel
 * @property {string} url
 * @property {string} bin
 * @property {Date | undefined} builtAt
 * @property {string} broker
 * @property {number} runs
 * @property {number} quickRuns
 * @property {number} rateRuns
 * @property {number} warmup
 * @property {{ start: number; end?: number }} loadAverage
 * @property {string} runsNote
 */

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..");
let BIN = join(ROOT, "bin", "eventlab.cjs");
const RAW = (/** @type {string} */ name) => join(HERE, "raw", `${name}.js`);
const NODE = process.execPath;
/** @type {readonly BenchId[]} */
const BENCHMARKS = ["produce", "consume", "oneshot", "help", "rate", "bench"];
const DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672";

const USAGE = `Usage: node bench/run.js [options]    (npm run bench -- [options])

Side-by-side benchmarks of the built CLI (npm run build first) against plain amqplib and node.

Options:
  --only <list>        comma-separated subset of: ${BENCHMARKS.join(", ")}
  --runs <n>           measured runs per side for produce and consume (default 5)
  --quick-runs <n>     measured runs per side for oneshot and help (default 20)
  --rate-runs <n>      runs of the 10-second --rate benchmark (default 2)
  --warmup <n>         unmeasured runs per side before measuring (default 1)
  --amount <n>         messages for produce and consume (default 100000)
  --bench-duration <s> seconds each eventlab bench run publishes (default 20)
  --bench-rate <n>     the paced eventlab bench runs' msg/s, for latency (default 5000; 0: skip)
  --no-pretty          skip the consume run with pretty output
  --url <amqp-url>     broker (default $EVENTLAB_BENCH_URL or ${DEFAULT_URL})
  --bin <path>         eventlab entry to measure (default bin/eventlab.cjs), e.g. another build
  --json               print one JSON object instead of the table
  --save               also write the JSON to bench/results/<time>.json
  -h, --help           show this help

Examples:
  $ npm run bench
  $ node bench/run.js --only produce,help --runs 3
  $ node bench/run.js --json > results.json`;

// ---------------------------------------------------------------------------------------------
// Flags

/** @param {string[]} argv */
function parseFlags(argv) {
  const { values } = parseArgsOrExit(USAGE, {
    args: argv,
    options: {
      only: { type: "string" },
      runs: { type: "string", default: "5" },
      "quick-runs": { type: "string", default: "20" },
      "rate-runs": { type: "string", default: "2" },
      warmup: { type: "string", default: "1" },
      amount: { type: "string", default: "100000" },
      "bench-duration": { type: "string", default: "20" },
      "bench-rate": { type: "string", default: "5000" },
      "no-pretty": { type: "boolean", default: false },
      url: { type: "string" },
      bin: { type: "string" },
      json: { type: "boolean", default: false },
      save: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  /**
   * @param {"runs" | "quick-runs" | "rate-runs" | "warmup" | "amount" | "bench-duration" | "bench-rate"} flag
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
  return {
    help: values.help,
    only,
    runs: int("runs", 1),
    quickRuns: int("quick-runs", 1),
    rateRuns: int("rate-runs", 1),
    warmup: int("warmup", 0),
    amount: int("amount", 1),
    benchDurationS: int("bench-duration", 1),
    benchRate: int("bench-rate", 0),
    pretty: !values["no-pretty"],
    url: values.url ?? process.env["EVENTLAB_BENCH_URL"] ?? DEFAULT_URL,
    bin: values.bin ? resolve(values.bin) : undefined,
    json: values.json,
    save: values.save,
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

const fmtMs = (/** @type {number} */ ms) => (ms < 100 ? `${ms.toFixed(1)} ms` : `${group(ms)} ms`);
/**
 * @param {number} r
 * @param {number} [digits]
 */
const fmtRate = (r, digits = 0) =>
  `${digits ? r.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : group(r)} msg/s`;
/**
 * @param {number} v
 * @param {"msg/s" | "ms"} unit
 * @param {number} [digits]
 */
const fmtUnit = (v, unit, digits) => (unit === "ms" ? fmtMs(v) : fmtRate(v, digits));

// ---------------------------------------------------------------------------------------------
// Harness state

/** @type {ReturnType<typeof parseFlags>} */
let opts;
/**
 * Connected before any benchmark but `help` runs (those are skipped without it).
 * @type {Broker}
 */
let broker;
/** @type {string} */
let workdir;
let queueSeq = 0;
const body = payload(100);

const childEnv = () => {
  // The children get a neutral environment: no config file, no URL, no profiling flags.
  const env = { ...process.env };
  for (const k of ["EVENTLAB_URL", "EVENTLAB_CONFIG", "NODE_OPTIONS", "FORCE_COLOR"]) delete env[k];
  return env;
};
/**
 * @param {number} timeoutMs
 * @param {"capture" | "ignore"} [stdout]
 * @param {boolean} [cpu]
 * @returns {import("./lib/proc.js").StartOptions}
 */
const spawnOpts = (timeoutMs, stdout = "capture", cpu = false) => ({
  cwd: workdir,
  env: childEnv(),
  timeoutMs,
  stdout,
  cpu,
});
const queueName = (/** @type {string} */ bench) =>
  `eventlab-bench.${bench}.${process.pid}.${Date.now().toString(36)}.${++queueSeq}`;

/**
 * Run `sides` alternately (A/B/A/B…), `warmup` unmeasured rounds first, then `n` measured
 * ones. `sample(side)` returns a measurement object; the result maps side → measurements.
 * @template {string} S
 * @template M
 * @param {string} name
 * @param {readonly S[]} sides
 * @param {number} n
 * @param {number} warmup
 * @param {(side: S) => Promise<M>} sample
 * @param {(m: M) => string} show
 * @returns {Promise<Record<S, M[]>>}
 */
async function alternate(name, sides, n, warmup, sample, show) {
  const out = /** @type {Record<S, M[]>} */ ({});
  for (const s of sides) out[s] = [];
  for (let round = 0; round < warmup + n; round++) {
    const measured = round >= warmup;
    for (const side of sides) {
      const m = await sample(side);
      if (measured) out[side].push(m);
      const label = measured ? `run ${round - warmup + 1}/${n}` : "warm-up";
      progress(`${name} ${label} ${side}: ${show(m)}`);
    }
  }
  return out;
}

/**
 * @param {RowFields} fields
 * @returns {Row}
 */
function row(fields) {
  const { kind, eventlab, baseline, target, runs } = fields;
  const runsBaseline = runs.baseline;
  let ratio;
  if (kind === "error-pct") ratio = (Math.abs(eventlab - baseline) / baseline) * 100;
  else ratio = eventlab / baseline;
  // Runs i of both sides ran back to back: their ratio cancels slow drift on a busy machine.
  const pairedRatio =
    runsBaseline && kind !== "error-pct"
      ? median(runs.eventlab.map((e, i) => e / /** @type {number} */ (runsBaseline[i])))
      : undefined;
  const pass =
    target === undefined
      ? undefined
      : target.op === ">="
        ? ratio >= target.value
        : ratio <= target.value;
  return { ...fields, ratio, pairedRatio, pass };
}

// ---------------------------------------------------------------------------------------------
// 1. produce N × 100 B with confirms

async function benchProduce() {
  const amount = opts.amount;
  /** @param {"eventlab" | "raw"} side */
  const sample = async (side) => {
    const q = queueName("produce");
    await broker.declare(q);
    try {
      const r =
        side === "eventlab"
          ? await run(
              NODE,
              [
                BIN,
                "produce",
                "--url",
                opts.url,
                "--exchange",
                "",
                "--key",
                q,
                "--body",
                body,
                "--amount",
                String(amount),
                "--json",
              ],
              spawnOpts(180_000, "capture", true),
            )
          : await run(
              NODE,
              [
                RAW("produce"),
                "--url",
                opts.url,
                "--queue",
                q,
                "--amount",
                String(amount),
                "--size",
                "100",
                "--window",
                "1000",
              ],
              spawnOpts(180_000, "capture", true),
            );
      const why = failure(r, side);
      if (why) throw new Error(why);
      const s = lastJson(r.stdout);
      if (!s || s.confirmed !== amount)
        throw new Error(`${side}: expected ${amount} confirmed, got ${JSON.stringify(s)}`);
      const depth = await broker.depth(q);
      if (depth !== amount) throw new Error(`${side}: queue holds ${depth}, expected ${amount}`);
      return { wallMs: r.ms, rate: amount / (r.ms / 1000), innerMs: s.elapsedMs, cpuMs: r.cpuMs };
    } finally {
      await broker.delete(q);
    }
  };
  const m = await alternate(
    "produce",
    ["eventlab", "raw"],
    opts.runs,
    opts.warmup,
    sample,
    (x) => `${fmtMs(x.wallMs)} (${fmtRate(x.rate)})`,
  );
  const e = m.eventlab.map((x) => x.rate);
  const b = m.raw.map((x) => x.rate);
  return [
    row({
      id: "produce",
      name: `produce ${group(amount)} × 100 B, confirms`,
      kind: "throughput",
      unit: "msg/s",
      eventlab: median(e),
      baseline: median(b),
      baselineLabel: "amqplib",
      target: { op: ">=", value: 1 },
      runs: { eventlab: e, baseline: b },
      detail: {
        wallMs: { eventlab: m.eventlab.map((x) => x.wallMs), baseline: m.raw.map((x) => x.wallMs) },
        publishToLastConfirmMs: {
          eventlab: m.eventlab.map((x) => x.innerMs),
          baseline: m.raw.map((x) => x.innerMs),
        },
        cpuMs: { eventlab: m.eventlab.map((x) => x.cpuMs), baseline: m.raw.map((x) => x.cpuMs) },
      },
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// 2. consume N with prefetch 1000, ack each

async function benchConsume() {
  const amount = opts.amount;
  const content = Buffer.from(body);
  /** @typedef {"eventlab" | "raw" | "eventlab-pretty"} Side */
  /** @type {Side[]} */
  const sides = [
    "eventlab",
    "raw",
    ...(opts.pretty ? /** @type {const} */ (["eventlab-pretty"]) : []),
  ];
  /** @param {Side} side */
  const sample = async (side) => {
    const q = queueName("consume");
    await broker.declare(q);
    try {
      await broker.fill(q, amount, content);
      const common = ["--url", opts.url, "--count", String(amount), "--prefetch", "1000"];
      const r =
        side === "raw"
          ? await run(
              NODE,
              [
                RAW("consume"),
                "--url",
                opts.url,
                "--queue",
                q,
                "--count",
                String(amount),
                "--prefetch",
                "1000",
              ],
              spawnOpts(180_000, "ignore", true),
            )
          : await run(
              NODE,
              [BIN, "consume", q, ...common, ...(side === "eventlab" ? ["--json"] : [])],
              spawnOpts(180_000, "ignore", true),
            );
      const why = failure(r, side);
      if (why) throw new Error(why);
      const depth = await broker.depth(q);
      if (depth !== 0) throw new Error(`${side}: ${depth} messages left on the queue`);
      return { wallMs: r.ms, rate: amount / (r.ms / 1000), cpuMs: r.cpuMs };
    } finally {
      await broker.delete(q);
    }
  };
  const m = await alternate(
    "consume",
    sides,
    opts.runs,
    opts.warmup,
    sample,
    (x) => `${fmtMs(x.wallMs)} (${fmtRate(x.rate)})`,
  );
  const b = m.raw.map((x) => x.rate);
  const rows = [
    row({
      id: "consume",
      name: `consume ${group(amount)}, prefetch 1000, ack, --json`,
      kind: "throughput",
      unit: "msg/s",
      eventlab: median(m.eventlab.map((x) => x.rate)),
      baseline: median(b),
      baselineLabel: "amqplib",
      target: { op: ">=", value: 1 },
      runs: { eventlab: m.eventlab.map((x) => x.rate), baseline: b },
      detail: {
        wallMs: { eventlab: m.eventlab.map((x) => x.wallMs), baseline: m.raw.map((x) => x.wallMs) },
        cpuMs: { eventlab: m.eventlab.map((x) => x.cpuMs), baseline: m.raw.map((x) => x.cpuMs) },
      },
    }),
  ];
  if (opts.pretty) {
    rows.push(
      row({
        id: "consume-pretty",
        name: `consume ${group(amount)}, pretty output, not a TTY`,
        kind: "throughput",
        unit: "msg/s",
        eventlab: median(m["eventlab-pretty"].map((x) => x.rate)),
        baseline: median(b),
        baselineLabel: "amqplib",
        info: true,
        target: { op: ">=", value: 0.9 },
        runs: { eventlab: m["eventlab-pretty"].map((x) => x.rate), baseline: b },
        detail: {
          wallMs: {
            eventlab: m["eventlab-pretty"].map((x) => x.wallMs),
            baseline: m.raw.map((x) => x.wallMs),
          },
          cpuMs: {
            eventlab: m["eventlab-pretty"].map((x) => x.cpuMs),
            baseline: m.raw.map((x) => x.cpuMs),
          },
        },
      }),
    );
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// 3. one-shot publish

async function benchOneshot() {
  const q = queueName("oneshot");
  await broker.declare(q);
  let sent = 0;
  try {
    /** @param {"eventlab" | "raw"} side */
    const sample = async (side) => {
      const r =
        side === "eventlab"
          ? await run(
              NODE,
              [
                BIN,
                "produce",
                "--url",
                opts.url,
                "--exchange",
                "",
                "--key",
                q,
                "--body",
                body,
                "--amount",
                "1",
                "--json",
              ],
              spawnOpts(30_000),
            )
          : await run(
              NODE,
              [RAW("oneshot"), "--url", opts.url, "--queue", q, "--size", "100"],
              spawnOpts(30_000),
            );
      const why = failure(r, side);
      if (why) throw new Error(why);
      if (side === "eventlab" && lastJson(r.stdout)?.confirmed !== 1)
        throw new Error(`eventlab: not confirmed: ${r.stdout.trim()}`);
      sent += 1;
      return { wallMs: r.ms };
    };
    const m = await alternate(
      "oneshot",
      ["eventlab", "raw"],
      opts.quickRuns,
      opts.warmup,
      sample,
      (x) => fmtMs(x.wallMs),
    );
    const depth = await broker.depth(q);
    if (depth !== sent) throw new Error(`oneshot: queue holds ${depth}, expected ${sent}`);
    const e = m.eventlab.map((x) => x.wallMs);
    const b = m.raw.map((x) => x.wallMs);
    return [
      row({
        id: "oneshot",
        name: "one-shot publish (1 message, confirm)",
        kind: "time",
        unit: "ms",
        eventlab: median(e),
        baseline: median(b),
        baselineLabel: "amqplib",
        target: { op: "<=", value: 1.3 },
        runs: { eventlab: e, baseline: b },
      }),
    ];
  } finally {
    await broker.delete(q);
  }
}

// ---------------------------------------------------------------------------------------------
// 4. eventlab --help vs node -e 0

async function benchHelp() {
  /** @param {"eventlab" | "node"} side */
  const sample = async (side) => {
    const args = side === "eventlab" ? [BIN, "--help"] : ["-e", "0"];
    const r = await run(NODE, args, spawnOpts(30_000, "ignore"));
    const why = failure(r, side);
    if (why) throw new Error(why);
    return { wallMs: r.ms };
  };
  const m = await alternate(
    "help",
    ["eventlab", "node"],
    opts.quickRuns,
    opts.warmup,
    sample,
    (x) => fmtMs(x.wallMs),
  );
  const e = m.eventlab.map((x) => x.wallMs);
  const b = m.node.map((x) => x.wallMs);
  return [
    row({
      id: "help",
      name: "eventlab --help (startup)",
      kind: "time",
      unit: "ms",
      eventlab: median(e),
      baseline: median(b),
      baselineLabel: "node -e 0",
      target: { op: "<=", value: 1.8 },
      runs: { eventlab: e, baseline: b },
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// 5. --rate 1000 for 10 s

async function benchRate() {
  const asked = 1000;
  const amount = 10_000;
  /** @type {number[]} */
  const sender = [];
  /** @type {number[]} */
  const receiver = [];
  /** @type {RateSample[]} */
  const samples = [];
  for (let i = 0; i < opts.rateRuns; i++) {
    const q = queueName("rate");
    await broker.declare(q);
    try {
      // The receiving side first, so every arrival is seen as it happens.
      const consumer = start(
        NODE,
        [
          RAW("consume"),
          "--url",
          opts.url,
          "--queue",
          q,
          "--count",
          String(amount),
          "--prefetch",
          "1000",
          "--timings",
          "--timeout-ms",
          "60000",
        ],
        spawnOpts(90_000),
      );
      try {
        await consumer.waitForLine((l) => l.includes('"ready"'), 15_000);
      } catch (err) {
        consumer.child.kill("SIGKILL");
        const r = await consumer.result;
        const why = failure(r, "consumer") ?? /** @type {Error} */ (err).message;
        throw new Error(`rate: consumer did not start (${why})`);
      }
      const r = await run(
        NODE,
        [
          BIN,
          "produce",
          "--url",
          opts.url,
          "--exchange",
          "",
          "--key",
          q,
          "--body",
          body,
          "--amount",
          String(amount),
          "--rate",
          String(asked),
          "--json",
        ],
        spawnOpts(60_000),
      );
      const c = await consumer.result;
      const why = failure(r, "eventlab") ?? failure(c, "consumer");
      if (why) throw new Error(why);
      const s = lastJson(r.stdout);
      const a = lastJson(c.stdout);
      if (!s || s.confirmed !== amount)
        throw new Error(`rate: eventlab summary ${r.stdout.trim()}`);
      if (!a?.arrival || a.consumed !== amount)
        throw new Error(`rate: consumer ${c.stdout.trim()}`);
      const achieved = s.published / (s.elapsedMs / 1000);
      sender.push(achieved);
      receiver.push(a.arrival.ratePerSecond);
      samples.push({
        wallMs: r.ms,
        elapsedMs: s.elapsedMs,
        summaryRatePerSecond: s.ratePerSecond,
        arrival: a.arrival,
      });
      progress(
        `rate run ${i + 1}/${opts.rateRuns}: sent ${achieved.toFixed(1)} msg/s (summary ratePerSecond ${s.ratePerSecond}), received ${a.arrival.ratePerSecond} msg/s, gaps p50 ${a.arrival.gapMs.p50} ms p99 ${a.arrival.gapMs.p99} ms max ${a.arrival.gapMs.max} ms`,
      );
    } finally {
      await broker.delete(q);
    }
  }
  return [
    row({
      id: "rate",
      name: `produce --rate ${asked} (${group(amount)} msgs), sender`,
      kind: "error-pct",
      unit: "msg/s",
      eventlab: median(sender),
      baseline: asked,
      baselineLabel: "asked",
      target: { op: "<=", value: 1 },
      runs: { eventlab: sender },
      detail: samples,
    }),
    row({
      id: "rate-arrivals",
      name: `produce --rate ${asked}, consumer arrivals`,
      kind: "error-pct",
      unit: "msg/s",
      eventlab: median(receiver),
      baseline: asked,
      baselineLabel: "asked",
      info: true,
      target: { op: "<=", value: 1 },
      runs: { eventlab: receiver },
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// 6. eventlab bench -x 1 -y 1 --size 100 against a plain amqplib producer and consumer pair

/**
 * One run of either side, from its JSON summary (the same fields on both).
 * @typedef {object} PairSample
 * @property {number} wallMs
 * @property {number} sentPerSecond
 * @property {number} receivedPerSecond
 * @property {{ p50: number; p95: number; p99: number; max: number }} latencyMs
 * @property {number | undefined} cpuMs
 */

/**
 * Unlimited runs (throughput) and, with --bench-rate, paced ones (latency). Both sides publish
 * for the same time to a classic queue and read it with no prefetch limit, acking each
 * message; a run in which a message is missing or duplicated is not measured.
 * @returns {Promise<Row[]>}
 */
async function benchPair() {
  const durationS = opts.benchDurationS;
  // Without a rate the producer outruns its consumer: the backlog must drain in full.
  const drainS = 120;
  /**
   * @param {number} rate 0: as fast as possible
   * @returns {(side: "eventlab" | "raw") => Promise<PairSample>}
   */
  const sampleAt = (rate) => async (side) => {
    const limits = spawnOpts((durationS + drainS + 60) * 1000, "capture", true);
    const common = [
      "--url",
      opts.url,
      "--size",
      "100",
      ...(rate > 0 ? ["--rate", String(rate)] : []),
    ];
    if (side === "eventlab") {
      const r = await run(
        NODE,
        [BIN, "bench", ...common, "-x", "1", "-y", "1", "--duration", `${durationS}s`].concat([
          "--drain-timeout",
          `${drainS}s`,
          "--json",
        ]),
        limits,
      );
      return pairSample(r, side);
    }
    const q = queueName("pair");
    await broker.declare(q);
    try {
      const r = await run(
        NODE,
        [RAW("perfpair"), ...common, "--queue", q, "--duration-ms", String(durationS * 1000)]
          .concat(["--drain-timeout-ms", String(drainS * 1000)])
          .concat(["--timeout-ms", String((durationS + drainS + 30) * 1000)]),
        limits,
      );
      return pairSample(r, side);
    } finally {
      await broker.delete(q);
    }
  };
  const show = (/** @type {PairSample} */ x) =>
    `sent ${fmtRate(x.sentPerSecond)}, received ${fmtRate(x.receivedPerSecond)}, latency p50 ${fmtMs(x.latencyMs.p50)} p99 ${fmtMs(x.latencyMs.p99)}`;
  /** @type {Row[]} */
  const rows = [];
  /**
   * @param {string} label
   * @param {number} rate
   * @param {boolean} latencyCounts whether the latency rows are targets (paced) or shown only
   */
  const variant = async (label, rate, latencyCounts) => {
    const m = await alternate(
      `bench ${label}`,
      ["eventlab", "raw"],
      opts.runs,
      opts.warmup,
      sampleAt(rate),
      show,
    );
    const name = `bench -x1 -y1 100 B ${durationS} s, ${label}`;
    const times = {
      wallMs: { eventlab: m.eventlab.map((x) => x.wallMs), baseline: m.raw.map((x) => x.wallMs) },
      cpuMs: { eventlab: m.eventlab.map((x) => x.cpuMs), baseline: m.raw.map((x) => x.cpuMs) },
    };
    let withTimes = true;
    /**
     * @param {string} id
     * @param {string} what
     * @param {(x: PairSample) => number} pick
     * @param {Pick<RowFields, "kind" | "unit" | "target"> & { info: boolean }} how
     */
    const add = (id, what, pick, how) => {
      const e = m.eventlab.map(pick);
      const b = m.raw.map(pick);
      rows.push(
        row({
          id,
          name: `${name}: ${what}`,
          ...how,
          eventlab: median(e),
          baseline: median(b),
          baselineLabel: "amqplib",
          runs: { eventlab: e, baseline: b },
          // The runs' wall and CPU times, on the first row of their set only.
          ...(withTimes ? { detail: times } : {}),
        }),
      );
      withTimes = false;
    };
    const prefix = rate > 0 ? "bench-paced" : "bench";
    if (rate === 0) {
      add("bench", "received/s", (x) => x.receivedPerSecond, {
        kind: "throughput",
        unit: "msg/s",
        target: { op: ">=", value: 0.95 },
        info: false,
      });
    }
    for (const p of /** @type {const} */ (["p50", "p95", "p99"])) {
      add(`${prefix}-${p}`, `latency ${p}`, (x) => x.latencyMs[p], {
        kind: "time",
        unit: "ms",
        target: { op: "<=", value: 1 },
        info: !latencyCounts,
      });
    }
  };
  // Unlimited, latency is the backlog's age: whichever side publishes faster waits longer.
  await variant("unlimited", 0, false);
  if (opts.benchRate > 0) await variant(`${group(opts.benchRate)} msg/s`, opts.benchRate, true);
  return rows;
}

/**
 * A run's summary, checked: everything sent was received, once.
 * @param {Awaited<ReturnType<typeof run>>} r
 * @param {"eventlab" | "raw"} side
 * @returns {PairSample}
 */
function pairSample(r, side) {
  const why = failure(r, side);
  if (why) throw new Error(why);
  const s = lastJson(r.stdout);
  const t = s?.totals;
  if (
    !t ||
    !s.rates ||
    !s.latencyMs ||
    t.missing !== 0 ||
    t.duplicated !== 0 ||
    t.received !== t.sent
  )
    throw new Error(`${side}: not every message arrived once: ${r.stdout.trim().slice(0, 400)}`);
  return {
    wallMs: r.ms,
    sentPerSecond: s.rates.sentPerSecond,
    receivedPerSecond: s.rates.receivedPerSecond,
    latencyMs: s.latencyMs,
    cpuMs: r.cpuMs,
  };
}

// ---------------------------------------------------------------------------------------------
// Output

/**
 * @param {Row[]} rows
 * @param {Failure[]} failures
 * @param {Meta} meta
 */
function printTable(rows, failures, meta) {
  const header = ["benchmark", "eventlab", "baseline", "ratio", "target", "result"];
  const lines = rows.map((r) => {
    const ratio = r.kind === "error-pct" ? `${r.ratio.toFixed(2)} % off` : `${r.ratio.toFixed(3)}×`;
    const target =
      r.kind === "error-pct"
        ? `≤ ${r.target.value} %`
        : `${r.target.op === ">=" ? "≥" : "≤"} ${r.target.value}`;
    const result = r.info ? (r.pass ? "(info) ok" : "(info) miss") : r.pass ? "pass" : "MISS ✗";
    return [
      r.name,
      fmtUnit(r.eventlab, r.unit, r.kind === "error-pct" ? 2 : 0),
      `${fmtUnit(r.baseline, r.unit)} ${r.baselineLabel}`,
      ratio,
      target,
      result,
    ];
  });
  const all = [header, ...lines];
  // Every line has a cell for each column of the header.
  const cell = (/** @type {string[]} */ l, /** @type {number} */ i) => /** @type {string} */ (l[i]);
  const widths = header.map((_, i) => Math.max(...all.map((l) => cell(l, i).length)));
  const width = (/** @type {number} */ i) => /** @type {number} */ (widths[i]);
  /** @param {string[]} l */
  const fmt = (l) =>
    l
      .map((c, i) => (i === 0 || i === l.length - 1 ? c.padEnd(width(i)) : c.padStart(width(i))))
      .join("  ")
      .trimEnd();
  const out = [];
  out.push(
    `eventlab benchmarks · ${meta.broker} at ${meta.url} · node ${meta.node} · ${meta.cpus} CPU · medians of ${meta.runsNote}`,
  );
  // The benchmarks load the machine themselves; only the figure at the start says whether
  // something else was running.
  const busy = meta.loadAverage.start > meta.cpus * 0.5;
  out.push(
    `load average ${meta.loadAverage.start.toFixed(2)} at start, ${/** @type {number} */ (meta.loadAverage.end).toFixed(2)} at the end${busy ? paint("33", " — the machine was busy: wall-time figures are noisy, prefer the paired ratios and CPU times") : ""}`,
  );
  out.push("");
  out.push(paint("1", fmt(header)));
  out.push(widths.map((w) => "─".repeat(w)).join("  "));
  lines.forEach((l, i) => {
    const r = /** @type {Row} */ (rows[i]);
    const text = fmt(l);
    out.push(r.info ? paint("2", text) : r.pass ? text : paint("31", text));
  });
  for (const f of failures) out.push(paint("31", `${f.id}: not measured: ${f.error}`));
  out.push("");
  for (const r of rows) {
    /** @param {number[]} xs */
    const list = (xs) =>
      xs
        .map((x) =>
          r.kind === "error-pct" ? x.toFixed(2) : r.unit === "ms" ? x.toFixed(1) : group(x),
        )
        .join(" ");
    const spread = r.runs.baseline
      ? `eventlab [${list(r.runs.eventlab)}] vs ${r.baselineLabel} [${list(r.runs.baseline)}]; paired ratio ${/** @type {number} */ (r.pairedRatio).toFixed(3)}`
      : `[${list(r.runs.eventlab)}]`;
    out.push(paint("2", `  ${r.id} runs (${r.unit}): ${spread}`));
    // The --rate row's detail is its list of samples: no CPU or inner times there.
    const detail = Array.isArray(r.detail) ? undefined : r.detail;
    const cpu = detail?.cpuMs;
    if (cpu?.eventlab.every((x) => x !== undefined)) {
      // CPU time hardly depends on what else the machine does: each side's own cost.
      const e = median(cpu.eventlab);
      const b = median(cpu.baseline);
      out.push(
        paint(
          "2",
          `  ${r.id} CPU time (user+sys, ms, medians): eventlab ${group(e)} vs ${r.baselineLabel} ${group(b)} (×${(e / b).toFixed(2)})`,
        ),
      );
    }
    const inner = detail?.publishToLastConfirmMs;
    if (detail && inner) {
      /**
       * @param {number[]} wall
       * @param {number[]} within
       */
      const rest = (wall, within) => wall.map((w, i) => w - /** @type {number} */ (within[i]));
      // Wall time minus this is the fixed cost: startup, connecting, closing.
      out.push(
        paint(
          "2",
          `  ${r.id} first publish → last confirm (ms, medians): eventlab ${group(median(inner.eventlab))} vs ${r.baselineLabel} ${group(median(inner.baseline))}; wall − that: eventlab ${group(median(rest(detail.wallMs.eventlab, inner.eventlab)))} vs ${r.baselineLabel} ${group(median(rest(detail.wallMs.baseline, inner.baseline)))}`,
        ),
      );
    }
  }
  const counted = rows.filter((r) => !r.info);
  const missed = counted.filter((r) => !r.pass);
  out.push("");
  out.push(
    missed.length === 0 && failures.length === 0
      ? paint("32", `all ${counted.length} targets met`)
      : paint(
          "31",
          `${counted.length - missed.length} of ${counted.length} targets met${missed.length ? `; missed: ${missed.map((r) => r.id).join(", ")}` : ""}${failures.length ? `; not measured: ${failures.map((f) => f.id).join(", ")}` : ""}`,
        ),
  );
  process.stdout.write(`${out.join("\n")}\n`);
}

// ---------------------------------------------------------------------------------------------
// Main

/** Set by Ctrl-C or SIGTERM: stop() then deletes the queues and exits. */
let interrupted = false;

/**
 * Picks the eventlab to measure: `--bin`, or this checkout's build.
 * @returns {boolean} false when this checkout is not built
 */
function chooseBin() {
  if (opts.bin) {
    if (!existsSync(opts.bin)) usage(`--bin: no such file ${opts.bin}`);
    BIN = opts.bin;
    return true;
  }
  if (!existsSync(join(ROOT, "dist", "cli.cjs"))) {
    process.stderr.write("error: eventlab is not built\nhint: run `npm run build` first\n");
    return false;
  }
  return true;
}

/**
 * What the report records about this invocation, as far as it is known before the runs.
 * @param {boolean} needsBroker
 * @returns {Meta}
 */
function startMeta(needsBroker) {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism?.() ?? cpus().length,
    cpuModel: cpus()[0]?.model,
    url: maskUrl(opts.url),
    bin: BIN,
    // A stale build measures old code: compare with the sources' time.
    builtAt: statSync(join(dirname(BIN), "..", "dist", "cli.cjs"), { throwIfNoEntry: false })
      ?.mtime,
    broker: needsBroker ? "broker" : "(no broker needed)",
    runs: opts.runs,
    quickRuns: opts.quickRuns,
    rateRuns: opts.rateRuns,
    warmup: opts.warmup,
    // loadavg() always has three figures.
    loadAverage: { start: /** @type {number} */ (loadavg()[0]) },
    runsNote: `${opts.runs} (produce, consume, bench), ${opts.quickRuns} (oneshot, help), ${opts.rateRuns} (rate)`,
  };
}

/** On Ctrl-C or SIGTERM: kill the runs, delete the queues and the work directory, exit 130. */
function stopOnSignals() {
  const stop = async () => {
    interrupted = true;
    process.stderr.write("interrupted: stopping the runs and deleting the queues\n");
    for (const child of running) child.kill("SIGKILL");
    await broker?.close().catch(() => {});
    await rm(workdir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

/**
 * Connects the harness to the broker; when it cannot, every benchmark that needs it is
 * not measured.
 * @param {Meta} meta
 * @param {Failure[]} failures
 */
async function connectBroker(meta, failures) {
  try {
    broker = await Broker.connect(opts.url);
    meta.broker = broker.version;
  } catch (err) {
    const e = /** @type {NodeJS.ErrnoException} */ (err);
    meta.broker = "broker unreachable";
    process.stderr.write(
      `error: cannot reach ${maskUrl(opts.url)} (${e.code ?? e.message})\nhint: start RabbitMQ, or set EVENTLAB_BENCH_URL / --url\n`,
    );
    for (const b of opts.only)
      if (b !== "help") failures.push({ id: b, error: "broker unreachable" });
  }
}

/**
 * Runs the chosen benchmarks in order; one that throws is reported and not measured.
 * @param {Row[]} rows
 * @param {Failure[]} failures
 */
async function runBenchmarks(rows, failures) {
  const table = {
    produce: benchProduce,
    consume: benchConsume,
    oneshot: benchOneshot,
    help: benchHelp,
    rate: benchRate,
    bench: benchPair,
  };
  for (const id of BENCHMARKS) {
    if (!opts.only.includes(id)) continue;
    if (id !== "help" && !broker) continue;
    process.stderr.write(`${id}…\n`);
    try {
      rows.push(...(await table[id]()));
    } catch (err) {
      if (interrupted) break;
      const { message } = /** @type {Error} */ (err);
      process.stderr.write(`  ${id}: ${message}\n`);
      failures.push({ id, error: message });
    }
  }
}

/**
 * The table (or the JSON) on stdout, and with --save the JSON in bench/results/.
 * @param {Row[]} rows
 * @param {Failure[]} failures
 * @param {Meta} meta
 */
async function report(rows, failures, meta) {
  meta.loadAverage.end = /** @type {number} */ (loadavg()[0]);
  const report = { meta, results: rows, failures };
  if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printTable(rows, failures, meta);
  if (opts.save) {
    const dir = join(HERE, "results");
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${meta.date.replace(/[:.]/g, "-")}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    process.stderr.write(`saved ${file}\n`);
  }
}

async function main() {
  opts = parseFlags(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!chooseBin()) return 1;
  workdir = await mkdtemp(join(tmpdir(), "eventlab-bench-"));
  const needsBroker = opts.only.some((b) => b !== "help");
  /** @type {Failure[]} */
  const failures = [];
  /** @type {Row[]} */
  const rows = [];
  const meta = startMeta(needsBroker);
  stopOnSignals();

  try {
    if (needsBroker) await connectBroker(meta, failures);
    await runBenchmarks(rows, failures);
  } finally {
    // After Ctrl-C, stop() cleans up and exits.
    if (!interrupted) {
      await broker?.close();
      await rm(workdir, { recursive: true, force: true });
    }
  }

  // Interrupted: stop() deletes the queues and exits; print nothing half-measured.
  if (interrupted) return new Promise(() => {});
  await report(rows, failures, meta);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = await main();

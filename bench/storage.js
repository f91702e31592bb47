#!/usr/bin/env node
// Durable storage of the embedded broker, measured side by side with RabbitMQ in one run:
//   persist   the same amqplib publisher sends persistent messages with confirms to a durable
//             queue on each broker (embedded with a data directory), alternating A/B; medians.
//   recover   time for the embedded broker to start on a data directory holding N queued
//             persistent messages, after a clean stop and after SIGKILL, and its RSS then.
//   rss       RSS of the embedded broker holding a queue of N persistent messages.
// A missed target is a measurement, not a failure. See bench/README.md.
//
//   node bench/storage.js [--only persist,recover,rss] [--runs 5] [--amount 100000]
//                         [--size 1024] [--recover 1000000] [--rss 5000000] [--url URL]
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "./lib/amqp-load.js";
import { running, start } from "./lib/proc.js";
import { memory } from "./lib/procstat.js";
import { group, maskUrl, median, paint, parseArgsOrExit, progress } from "./lib/stats.js";

/** @import { ConfirmChannel } from "amqplib" */
/** @import { Started } from "./lib/proc.js" */

const here = dirname(fileURLToPath(import.meta.url));
const USAGE = `usage: node bench/storage.js [--only persist,recover,rss] [--runs N] [--amount N]
       [--size BYTES] [--recover N] [--rss N] [--url AMQP_URL] [--json]`;
const { values } = parseArgsOrExit(USAGE, {
  options: {
    only: { type: "string", default: "persist,recover,rss" },
    runs: { type: "string", default: "5" },
    amount: { type: "string", default: "100000" },
    size: { type: "string", default: "1024" },
    recover: { type: "string", default: "1000000" },
    rss: { type: "string", default: "5000000" },
    url: {
      type: "string",
      default: process.env["EVENTLAB_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672",
    },
    json: { type: "boolean", default: false },
  },
});
const only = new Set(String(values.only).split(","));
const runs = Number(values.runs);
const amount = Number(values.amount);
const size = Number(values.size);
const body = Buffer.alloc(size, "x");
const WINDOW = 1000;

/** @type {Record<string, unknown>} */
const report = {};

/**
 * The embedded broker in a process of its own, on `dir`.
 * @param {string} dir
 * @returns {Promise<{ started: Started; url: string; pid: number; recovery: unknown; startMs: number }>}
 */
async function embedded(dir) {
  const t = performance.now();
  const started = start(
    process.execPath,
    [join(here, "lib", "embedded-broker.js"), "--data-dir", dir],
    { timeoutMs: 60 * 60_000 },
  );
  const line = await started.waitForLine((l) => l.startsWith("{"), 10 * 60_000);
  const startMs = performance.now() - t;
  const info = /** @type {{ url: string; pid: number; recovery: unknown }} */ (JSON.parse(line));
  return { started, url: info.url, pid: info.pid, recovery: info.recovery, startMs };
}

/**
 * @param {Started} started
 * @param {"SIGTERM" | "SIGKILL"} signal
 */
async function stop(started, signal) {
  started.child.kill(signal);
  await started.result;
}

/**
 * Publish `n` persistent messages with confirms, at most WINDOW outstanding; returns msg/s.
 * @param {string} url
 * @param {string} queue
 * @param {number} n
 */
async function publishPersistent(url, queue, n) {
  const c = await connect(url);
  /** @type {ConfirmChannel} */
  const ch = await c.createConfirmChannel();
  await ch.assertQueue(queue, { durable: true });
  const t = performance.now();
  let outstanding = 0;
  /** @type {(() => void) | undefined} */
  let wake;
  /** @type {Error | undefined} */
  let failed;
  for (let i = 0; i < n; i++) {
    outstanding += 1;
    ch.sendToQueue(queue, body, { persistent: true }, (err) => {
      outstanding -= 1;
      if (err) failed = new Error(`a publish was nacked on ${maskUrl(url)}`);
      if (outstanding <= WINDOW / 2) wake?.();
    });
    if (outstanding >= WINDOW) {
      await new Promise((r) => {
        wake = () => r(undefined);
      });
      wake = undefined;
    }
  }
  await ch.waitForConfirms();
  const ms = performance.now() - t;
  if (failed) throw failed;
  await c.close();
  return (n / ms) * 1000;
}

/** @param {string} url @param {string} queue */
async function dropQueue(url, queue) {
  const c = await connect(url);
  const ch = await c.createChannel();
  await ch.deleteQueue(queue);
  await c.close();
}

async function persist() {
  const dir = await mkdtemp(join(tmpdir(), "eventlab-bench-persist-"));
  const broker = await embedded(dir);
  /** @type {{ embedded: number[]; rabbitmq: number[] }} */
  const rates = { embedded: [], rabbitmq: [] };
  try {
    for (let r = 0; r < runs; r++) {
      const order = r % 2 === 0 ? ["embedded", "rabbitmq"] : ["rabbitmq", "embedded"];
      for (const side of order) {
        const url = side === "embedded" ? broker.url : String(values.url);
        const queue = `bench-persist-${process.pid}-${r}`;
        const rate = await publishPersistent(url, queue, amount);
        await dropQueue(url, queue);
        rates[/** @type {"embedded" | "rabbitmq"} */ (side)].push(rate);
        progress(`persist run ${r + 1}/${runs} ${side}: ${group(Math.round(rate))} msg/s`);
      }
    }
  } finally {
    await stop(broker.started, "SIGTERM");
    await rm(dir, { recursive: true, force: true });
  }
  const e = median(rates.embedded);
  const q = median(rates.rabbitmq);
  report["persist"] = {
    amount,
    size,
    runs,
    rates,
    embedded: e,
    rabbitmq: q,
    ratio: e / q,
    target: 2,
  };
  const line = `persistent with confirms, ${group(amount)} × ${size} B: embedded ${group(Math.round(e))} msg/s, RabbitMQ ${group(Math.round(q))} msg/s, ${(e / q).toFixed(2)}× (target ≥ 2×)`;
  console.log(e / q >= 2 ? paint(32, line) : paint(33, line));
}

/**
 * Fill a queue on a fresh directory, then measure restarts.
 * @param {number} n
 * @param {"recover" | "rss"} id
 */
async function fill(n, id) {
  const dir = await mkdtemp(join(tmpdir(), `eventlab-bench-${id}-`));
  const broker = await embedded(dir);
  const chunk = 100_000;
  for (let done = 0; done < n; done += chunk) {
    await publishPersistent(broker.url, "bench-long", Math.min(chunk, n - done));
    if (done % 1_000_000 === 0) progress(`${id}: ${group(done + chunk)} of ${group(n)} queued`);
  }
  return { dir, broker };
}

async function recover() {
  const n = Number(values.recover);
  const { dir, broker } = await fill(n, "recover");
  const filled = memory(broker.pid);
  /** @type {Record<string, unknown>} */
  const out = { messages: n, size, rssFilledKb: filled?.rssKb };
  try {
    await stop(broker.started, "SIGTERM");
    for (const how of /** @type {const} */ (["clean", "sigkill"])) {
      const again = await embedded(dir);
      const mem = memory(again.pid);
      out[how] = {
        startMs: Math.round(again.startMs),
        recovery: again.recovery,
        rssKb: mem?.rssKb,
      };
      progress(`recover (${how} stop before): ready in ${Math.round(again.startMs)} ms`);
      await stop(again.started, how === "clean" ? "SIGKILL" : "SIGTERM");
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  report["recover"] = out;
  const c = /** @type {{ startMs: number; rssKb: number }} */ (out["clean"]);
  const k = /** @type {{ startMs: number; rssKb: number }} */ (out["sigkill"]);
  console.log(
    `recovery of ${group(n)} × ${size} B queued: ${group(c.startMs)} ms after a clean stop, ${group(k.startMs)} ms after SIGKILL (RSS then ${Math.round(c.rssKb / 1024)} MiB)`,
  );
}

async function rss() {
  const n = Number(values.rss);
  const { dir, broker } = await fill(n, "rss");
  const mem = memory(broker.pid);
  try {
    await stop(broker.started, "SIGTERM");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const rssMiB = (mem?.rssKb ?? 0) / 1024;
  const hwmMiB = (mem?.hwmKb ?? 0) / 1024;
  report["rss"] = { messages: n, size, rssMiB, hwmMiB, target: "< 1024 MiB" };
  const line = `RSS with ${group(n)} × ${size} B queued: ${Math.round(rssMiB)} MiB (peak ${Math.round(hwmMiB)} MiB; target < 1024 MiB)`;
  console.log(hwmMiB < 1024 ? paint(32, line) : paint(33, line));
}

try {
  if (only.has("persist")) await persist();
  if (only.has("recover")) await recover();
  if (only.has("rss")) await rss();
  if (values.json) console.log(JSON.stringify(report));
} catch (err) {
  console.error(`storage bench: ${/** @type {Error} */ (err).message}`);
  for (const child of running) child.kill("SIGKILL");
  process.exitCode = 2;
}

// Baseline consumer: plain amqplib, no eventlab code. Prefetch, ack each message, exit
// after --count messages. Prints one JSON line at the end: {consumed, elapsedMs}.
//
// With --timings it also records when each message arrived and reports the arrival rate
// and the gaps between arrivals (used to check `produce --rate` from the receiving side);
// it then prints {"ready":true} once the consumer is registered, so the producer can start.
//
//   node bench/raw/consume.js --url URL --queue Q --count N [--prefetch 1000] [--timings]
//                             [--timeout-ms 120000]
import { parseArgs } from "node:util";
import amqp from "amqplib";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    queue: { type: "string" },
    count: { type: "string", default: "1" },
    prefetch: { type: "string", default: "1000" },
    timings: { type: "boolean", default: false },
    "timeout-ms": { type: "string", default: "120000" },
  },
});
// --url and --queue are required: the harness always passes them.
const url = /** @type {string} */ (values.url);
const queue = /** @type {string} */ (values.queue);
const count = Number(values.count);
const arrivals = values.timings ? new Float64Array(count) : undefined;

// The socket options eventlab uses (Nagle off), so neither side waits on delayed ACKs.
const connection = await amqp.connect(url, { noDelay: true });
const channel = await connection.createChannel();
await channel.prefetch(Number(values.prefetch));

let consumed = 0;
/** @typedef {"count" | "cancelled" | "timeout"} StoppedBy */
/** @type {(why: StoppedBy) => void} */
let finish = () => {};
/** @type {Promise<StoppedBy>} */
const done = new Promise((resolve) => (finish = resolve));
const started = performance.now();
await channel.consume(
  queue,
  (msg) => {
    if (msg === null) return finish("cancelled");
    if (arrivals) arrivals[consumed] = performance.now();
    consumed += 1;
    channel.ack(msg);
    if (consumed === count) finish("count");
  },
  { noAck: false },
);
if (values.timings) process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

// Never wait forever: a missing message ends the run with what arrived.
const timer = setTimeout(() => finish("timeout"), Number(values["timeout-ms"]));
const stoppedBy = await done;
clearTimeout(timer);
const elapsedMs = performance.now() - started;
await channel.close();
await connection.close();

/**
 * @type {{
 *   consumed: number;
 *   stoppedBy: StoppedBy;
 *   elapsedMs: number;
 *   arrival?: { spanMs: number; ratePerSecond: number; gapMs: { p50: number; p99: number; max: number } };
 * }}
 */
const summary = { consumed, stoppedBy, elapsedMs: Math.round(elapsedMs) };
if (arrivals && consumed > 1) {
  // Indexes below `consumed` (≥ 2) are within both arrays.
  const first = /** @type {number} */ (arrivals[0]);
  const last = /** @type {number} */ (arrivals[consumed - 1]);
  const gaps = new Float64Array(consumed - 1);
  for (let i = 1; i < consumed; i++)
    gaps[i - 1] = /** @type {number} */ (arrivals[i]) - /** @type {number} */ (arrivals[i - 1]);
  gaps.sort();
  /** @param {number} q */
  const pick = (q) =>
    /** @type {number} */ (gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))]);
  summary.arrival = {
    spanMs: Math.round((last - first) * 10) / 10,
    // n messages span n - 1 intervals.
    ratePerSecond: Math.round(((consumed - 1) / ((last - first) / 1000)) * 100) / 100,
    gapMs: {
      p50: Math.round(pick(0.5) * 100) / 100,
      p99: Math.round(pick(0.99) * 100) / 100,
      max: Math.round(/** @type {number} */ (gaps[gaps.length - 1]) * 100) / 100,
    },
  };
}
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exitCode = stoppedBy === "count" ? 0 : 1;

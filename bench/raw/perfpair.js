// Baseline for `eventlab bench -x 1 -y 1`: a plain amqplib producer and consumer doing the same
// work, each on its own connection in its own worker thread, this (main) thread coordinating.
// No eventlab code. The queue is the harness's (a classic, non-durable queue it declared).
//
// The same work as eventlab's bench, message for message:
// - the producer publishes to the default exchange as fast as it can for --duration-ms, no
//   confirms, each body a fresh buffer of --size bytes whose first 20 carry the stamp eventlab
//   uses (float64 send time in epoch ms, uint32 run tag, producer, sequence; big-endian), the
//   rest "x", content type application/octet-stream; it waits for 'drain' when amqplib says
//   so, and yields to the event loop every 128 messages; with --rate, message k is due at
//   start + k/rate (an absolute schedule: timers that fire late do not slow it down);
// - the consumer has no prefetch limit and acks each message; it records publish-to-receive
//   latency in microseconds in an HDR histogram and finds missing and duplicated messages;
// - this thread polls every 100 ms; once the producer stops, it waits until everything sent
//   was received, at most --drain-timeout-ms.
// Figures are defined as eventlab's: sent/s over the producer's active time, received/s over
// the whole run (start to drained).
//
//   node bench/raw/perfpair.js --url URL --queue Q [--duration-ms 20000] [--size 100]
//                              [--rate MSG_PER_S] [--drain-timeout-ms 10000] [--timeout-ms 120000]
// Prints one JSON line; exits 1 (message on stderr) when the run could not finish.
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import amqp from "amqplib";
import hdr from "hdr-histogram-js";

/**
 * @typedef {object} Settings
 * @property {string} url
 * @property {string} queue
 * @property {number} size
 * @property {number} durationMs
 * @property {number} rate messages per second; 0: as fast as possible
 * @property {number} runTag
 */
/**
 * Main → worker: start, how many received so far, finish. Worker → main: ready, progress,
 * the producer's end, the consumer's final figures, or an error.
 * @typedef {{ type: "start" } | { type: "poll" } | { type: "finish" }} ToWorker
 * @typedef {{ type: "ready" } | { type: "received"; received: number } |
 *   { type: "produced"; sent: number; activeMs: number } |
 *   { type: "final"; received: number; distinct: number; duplicated: number; latencyMs: Record<string, number> | null } |
 *   { type: "error"; message: string }} FromWorker
 */

const STAMP_BYTES = 20;
const POLL_MS = 100;

if (isMainThread) await coordinate();
else await work(/** @type {{ role: "producer" | "consumer"; settings: Settings }} */ (workerData));

// ---------------------------------------------------------------------------------------------
// Coordinator

async function coordinate() {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      queue: { type: "string" },
      size: { type: "string", default: "100" },
      rate: { type: "string", default: "0" },
      "duration-ms": { type: "string", default: "20000" },
      "drain-timeout-ms": { type: "string", default: "10000" },
      "timeout-ms": { type: "string", default: "120000" },
    },
  });
  // --url and --queue are required: the harness always passes them.
  /** @type {Settings} */
  const settings = {
    url: /** @type {string} */ (values.url),
    queue: /** @type {string} */ (values.queue),
    size: Math.max(STAMP_BYTES, Number(values.size)),
    durationMs: Number(values["duration-ms"]),
    rate: Number(values.rate),
    runTag: (Math.random() * 0x1_0000_0000) >>> 0,
  };
  const deadline = performance.now() + Number(values["timeout-ms"]);
  const producer = spawnWorker("producer", settings);
  const consumer = spawnWorker("consumer", settings);
  try {
    await Promise.all([producer.next("ready", deadline), consumer.next("ready", deadline)]);
    const start = performance.now();
    producer.post({ type: "start" });
    consumer.post({ type: "start" });
    const produced = producer.next("produced", deadline);
    let done = /** @type {{ sent: number; activeMs: number } | undefined} */ (undefined);
    /** @type {Error | undefined} */
    let producerFailed;
    produced.then(
      (m) => {
        done = m;
      },
      (err) => {
        producerFailed = err;
      },
    );
    let producingMs = 0;
    let drainUntil = Number.POSITIVE_INFINITY;
    for (;;) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      consumer.post({ type: "poll" });
      const { received } = await consumer.next("received", deadline);
      const now = performance.now();
      if (producerFailed) throw producerFailed;
      if (done === undefined) continue;
      if (drainUntil === Number.POSITIVE_INFINITY) {
        producingMs = now - start;
        drainUntil = now + Number(values["drain-timeout-ms"]);
      }
      if (received >= /** @type {{ sent: number }} */ (done).sent || now >= drainUntil) break;
    }
    const elapsedMs = performance.now() - start;
    consumer.post({ type: "finish" });
    producer.post({ type: "finish" });
    const final = await consumer.next("final", deadline);
    const { sent, activeMs } = /** @type {{ sent: number; activeMs: number }} */ (done);
    const round = (/** @type {number} */ x) => Math.round(x * 10) / 10;
    process.stdout.write(
      `${JSON.stringify({
        elapsedMs: Math.round(elapsedMs),
        producingMs: Math.round(producingMs),
        totals: {
          sent,
          received: final.received,
          missing: Math.max(0, sent - final.distinct),
          duplicated: final.duplicated,
        },
        rates: {
          sentPerSecond: round((sent / activeMs) * 1000),
          receivedPerSecond: round((final.received / elapsedMs) * 1000),
        },
        latencyMs: final.latencyMs,
      })}\n`,
    );
    await Promise.all([producer.exited, consumer.exited]);
  } catch (err) {
    process.stderr.write(`perfpair: ${/** @type {Error} */ (err).message}\n`);
    await Promise.all([producer.worker.terminate(), consumer.worker.terminate()]);
    process.exitCode = 1;
  }
}

/**
 * @param {"producer" | "consumer"} role
 * @param {Settings} settings
 */
function spawnWorker(role, settings) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { role, settings } });
  /** @type {FromWorker[]} */
  const inbox = [];
  /** @type {(() => void) | undefined} */
  let wake;
  /** @type {Error | undefined} */
  let failed;
  worker.on("message", (/** @type {FromWorker} */ m) => {
    if (m.type === "error") failed ??= new Error(`${role}: ${m.message}`);
    else inbox.push(m);
    wake?.();
  });
  worker.on("error", (err) => {
    failed ??= new Error(`${role}: ${err.message}`);
    wake?.();
  });
  const exited = new Promise((r) => worker.once("exit", r));
  return {
    worker,
    exited,
    post: (/** @type {ToWorker} */ m) => worker.postMessage(m),
    /**
     * The next message of this type from the worker, bounded by the run's deadline.
     * @template {FromWorker["type"]} T
     * @param {T} type
     * @param {number} deadline
     * @returns {Promise<Extract<FromWorker, { type: T }>>}
     */
    async next(type, deadline) {
      for (;;) {
        if (failed) throw failed;
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return /** @type {any} */ (inbox.splice(i, 1)[0]);
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`${role}: no "${type}" before the run's time limit`);
        await new Promise((/** @type {(v?: unknown) => void} */ r) => {
          const t = setTimeout(r, left);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
        wake = undefined;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Workers

/** @param {{ role: "producer" | "consumer"; settings: Settings }} data */
async function work({ role, settings }) {
  const port = /** @type {import("node:worker_threads").MessagePort} */ (parentPort);
  const post = (/** @type {FromWorker} */ m) => port.postMessage(m);
  try {
    // Nagle off, as eventlab's connections.
    const connection = await amqp.connect(settings.url, { noDelay: true });
    connection.on("error", () => {});
    /** @type {() => void} */
    let finish = () => {};
    const finished = new Promise((/** @type {(v?: unknown) => void} */ r) => {
      finish = r;
    });
    /** @type {() => void} */
    let begin = () => {};
    const started = new Promise((/** @type {(v?: unknown) => void} */ r) => {
      begin = r;
    });
    const side =
      role === "producer"
        ? await producer(connection, settings, started, post)
        : await consumer(connection, settings, post);
    port.on("message", (/** @type {ToWorker} */ m) => {
      if (m.type === "start") begin();
      else if (m.type === "poll") side.poll();
      else if (m.type === "finish") finish();
    });
    post({ type: "ready" });
    await finished;
    await side.finish();
    await connection.close();
    port.close();
  } catch (err) {
    post({ type: "error", message: /** @type {Error} */ (err)?.message ?? String(err) });
    port.close();
  }
}

/**
 * @param {import("amqplib").ChannelModel} connection
 * @param {Settings} s
 * @param {Promise<unknown>} started
 * @param {(m: FromWorker) => void} post
 */
async function producer(connection, s, started, post) {
  const ch = await connection.createChannel();
  const filler = Buffer.alloc(s.size, 0x78);
  const options = { contentType: "application/octet-stream" };
  let stop = false;
  void started.then(async () => {
    const startedAt = performance.now();
    const endAt = startedAt + s.durationMs;
    const intervalMs = s.rate > 0 ? 1000 / s.rate : 0;
    let seq = 0;
    while (!stop && performance.now() < endAt) {
      if (intervalMs > 0) {
        // Timers may fire a little early: wait again until less than a millisecond is left.
        let wait = startedAt + seq * intervalMs - performance.now();
        while (wait >= 1 && !stop) {
          await new Promise((r) => setTimeout(r, Math.min(wait, endAt - performance.now())));
          wait = startedAt + seq * intervalMs - performance.now();
        }
        if (stop || performance.now() >= endAt) break;
      }
      const sentAt = performance.timeOrigin + performance.now();
      const body = Buffer.allocUnsafe(s.size);
      filler.copy(body, STAMP_BYTES, STAMP_BYTES);
      body.writeDoubleBE(sentAt, 0);
      body.writeUInt32BE(s.runTag, 8);
      body.writeUInt32BE(0, 12);
      body.writeUInt32BE(seq, 16);
      const ok = ch.publish("", s.queue, body, options);
      seq++;
      if (!ok) await new Promise((r) => ch.once("drain", r));
      else if ((seq & 127) === 0) await new Promise((r) => setImmediate(r));
    }
    post({ type: "produced", sent: seq, activeMs: Math.min(performance.now(), endAt) - startedAt });
  });
  return {
    poll() {},
    async finish() {
      stop = true;
    },
  };
}

/**
 * @param {import("amqplib").ChannelModel} connection
 * @param {Settings} s
 * @param {(m: FromWorker) => void} post
 */
async function consumer(connection, s, post) {
  const ch = await connection.createChannel();
  const latency = hdr.build({
    bitBucketSize: 32,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
  let seen = new Uint8Array(1024);
  let received = 0;
  let distinct = 0;
  let duplicated = 0;
  const { consumerTag } = await ch.consume(
    s.queue,
    (msg) => {
      if (msg === null) return;
      const now = performance.timeOrigin + performance.now();
      const b = msg.content;
      if (b.length >= STAMP_BYTES && b.readUInt32BE(8) === s.runTag) {
        latency.recordValue(Math.max(0, Math.round((now - b.readDoubleBE(0)) * 1000)));
        const seq = b.readUInt32BE(16);
        const byte = seq >>> 3;
        if (byte >= seen.length) {
          const grown = new Uint8Array(Math.max(seen.length * 2, byte + 1));
          grown.set(seen);
          seen = grown;
        }
        const mask = 1 << (seq & 7);
        if (/** @type {number} */ (seen[byte]) & mask) duplicated++;
        else {
          seen[byte] = /** @type {number} */ (seen[byte]) | mask;
          distinct++;
        }
        received++;
      }
      ch.ack(msg);
    },
    { noAck: false },
  );
  const ms = (/** @type {number} */ us) => Math.round(us) / 1000;
  return {
    poll() {
      post({ type: "received", received });
    },
    async finish() {
      await ch.cancel(consumerTag).catch(() => {});
      post({
        type: "final",
        received,
        distinct,
        duplicated,
        latencyMs:
          latency.totalCount === 0
            ? null
            : {
                p50: ms(latency.getValueAtPercentile(50)),
                p75: ms(latency.getValueAtPercentile(75)),
                p95: ms(latency.getValueAtPercentile(95)),
                p99: ms(latency.getValueAtPercentile(99)),
                max: ms(latency.maxValue),
              },
      });
    },
  };
}

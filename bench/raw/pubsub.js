// The client of bench/broker.js: one process, a publisher and a consumer on separate
// connections, running at the same time against one broker. Plain amqplib (lib/amqp-load.js);
// the harness runs this same script against RabbitMQ and against the embedded broker.
//
// The consumer's connection declares a fresh exclusive server-named queue (gone when the
// process ends); the publisher sends to it via the default exchange, transient messages.
// Prints one JSON line at the end; exits 1 (message on stderr) when the run could not finish.
//
//   throughput: node bench/raw/pubsub.js --url URL --mode throughput --amount N --size BYTES
//                 [--confirm] [--window 1000] [--prefetch 1000] [--ack-every 100]
//   latency:    node bench/raw/pubsub.js --url URL --mode latency --rate 1000 --duration-ms 10000
//                 [--warmup-ms 1000] --size BYTES [--prefetch 1000] [--ack-every 100]
//   common:     [--timeout-ms 120000]
import { parseArgs } from "node:util";
import {
  connect,
  consumeCount,
  failures,
  PUBLISH_OPTIONS,
  percentile,
  publishAll,
  within,
} from "../lib/amqp-load.js";
import { payload } from "../lib/payload.js";

/** @import { Channel, ConfirmChannel } from "amqplib" */
/**
 * A promise raced against the connections' failures and the run's deadline.
 * @typedef {<T>(promise: Promise<T>, what: string) => Promise<T>} Guard
 */

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    mode: { type: "string", default: "throughput" },
    amount: { type: "string", default: "100000" },
    size: { type: "string", default: "100" },
    confirm: { type: "boolean", default: false },
    window: { type: "string", default: "1000" },
    prefetch: { type: "string", default: "1000" },
    "ack-every": { type: "string", default: "100" },
    rate: { type: "string", default: "1000" },
    "duration-ms": { type: "string", default: "10000" },
    "warmup-ms": { type: "string", default: "1000" },
    "timeout-ms": { type: "string", default: "120000" },
  },
});
/** @param {keyof typeof values} k */
const num = (k) => Number(values[k]);
const deadline = performance.now() + num("timeout-ms");
/**
 * @param {number} x
 * @param {number} [d] decimals
 */
const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
// --url is required: the harness always passes it.
const url = /** @type {string} */ (values.url);

async function main() {
  const consumerConnection = await within(connect(url), deadline, "consumer connect");
  const publisherConnection = await within(connect(url), deadline, "publisher connect");
  const consumerChannel = await consumerConnection.createChannel();
  const publisherChannel = values.confirm
    ? await publisherConnection.createConfirmChannel()
    : await publisherConnection.createChannel();
  const watch = failures([
    ["consumer connection", consumerConnection],
    ["publisher connection", publisherConnection],
    ["consumer channel", consumerChannel],
    ["publisher channel", publisherChannel],
  ]);
  /** @type {Guard} */
  const guard = (promise, what) => within(Promise.race([promise, watch.promise]), deadline, what);

  await guard(consumerChannel.prefetch(num("prefetch")), "prefetch");
  const { queue } = await guard(
    consumerChannel.assertQueue("", { exclusive: true, durable: false, autoDelete: true }),
    "declare queue",
  );
  const server = consumerConnection.connection.serverProperties ?? {};
  const common = { server: `${server.product ?? "?"} ${server.version ?? "?"}`, queue };

  const summary =
    values.mode === "latency"
      ? { ...common, ...(await latency(queue, consumerChannel, publisherChannel, guard)) }
      : { ...common, ...(await throughput(queue, consumerChannel, publisherChannel, guard)) };

  watch.settle();
  await consumerConnection.close().catch(() => {});
  await publisherConnection.close().catch(() => {});
  return summary;
}

/**
 * N messages as fast as possible; publish rate and end-to-end rate.
 * @param {string} queue
 * @param {Channel} consumerChannel
 * @param {Channel | ConfirmChannel} publisherChannel a ConfirmChannel with --confirm
 * @param {Guard} guard
 */
async function throughput(queue, consumerChannel, publisherChannel, guard) {
  const amount = num("amount");
  const size = num("size");
  const body = Buffer.from(payload(size));
  let badSize = 0;
  const consumer = await guard(
    consumeCount(consumerChannel, {
      queue,
      amount,
      ackEvery: num("ack-every"),
      onMessage: (msg) => {
        if (msg.content.length !== size) badSize += 1;
      },
    }),
    "consume",
  );
  const started = performance.now();
  const p = await guard(
    publishAll(publisherChannel, {
      queue,
      amount,
      body,
      confirm: values.confirm,
      window: num("window"),
    }),
    `publish (${amount} messages)`,
  );
  let c;
  try {
    c = await guard(consumer.done, "consume");
  } catch (err) {
    throw new Error(
      `${/** @type {Error} */ (err).message} (consumed ${consumer.progress()} of ${amount})`,
    );
  }
  if (p.nacked > 0) throw new Error(`${p.nacked} messages nacked by the broker`);
  if (badSize > 0)
    throw new Error(`${badSize} messages arrived with a body size other than ${size}`);
  const e2eMs = c.at - started;
  return {
    mode: "throughput",
    confirm: values.confirm,
    amount,
    size,
    published: p.published,
    confirmed: values.confirm ? p.confirmed : undefined,
    consumed: c.consumed,
    redelivered: c.redelivered,
    publishMs: round(p.ms),
    e2eMs: round(e2eMs),
    publishRate: round(amount / (p.ms / 1000), 1),
    e2eRate: round(amount / (e2eMs / 1000), 1),
  };
}

/**
 * A steady `rate` msg/s for warm-up + duration. Each body starts with the send time
 * (process.hrtime, ns, 8 bytes) and the message index (4 bytes); the consumer, in the same
 * process and so on the same clock, records arrival − send. The warm-up messages are not counted.
 * @param {string} queue
 * @param {Channel} consumerChannel
 * @param {Channel} publisherChannel
 * @param {Guard} guard
 */
async function latency(queue, consumerChannel, publisherChannel, guard) {
  const rate = num("rate");
  const size = Math.max(16, num("size"));
  const warmup = Math.round((num("warmup-ms") * rate) / 1000);
  const total = warmup + Math.round((num("duration-ms") * rate) / 1000);
  const template = Buffer.from(payload(size));
  const latencies = new Float64Array(total - warmup);
  let outOfOrder = 0;
  let expected = 0;
  const consumer = await guard(
    consumeCount(consumerChannel, {
      queue,
      amount: total,
      ackEvery: num("ack-every"),
      onMessage: (msg) => {
        const now = process.hrtime.bigint();
        const sent = msg.content.readBigUInt64LE(0);
        const index = msg.content.readUInt32LE(8);
        if (index !== expected) outOfOrder += 1;
        expected = index + 1;
        if (index >= warmup && index < total) latencies[index - warmup] = Number(now - sent) / 1e6;
      },
    }),
    "consume",
  );

  // Message i is due at started + i / rate; each timer tick sends whatever is due (node's
  // timers fire about every millisecond, so at 1000 msg/s that is one or two per tick).
  const started = performance.now();
  let sent = 0;
  /** @type {Promise<number>} */
  const paced = new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
      for (; sent < due; sent++) {
        const body = Buffer.allocUnsafe(size);
        template.copy(body);
        body.writeUInt32LE(sent, 8);
        body.writeBigUInt64LE(process.hrtime.bigint(), 0);
        publisherChannel.publish("", queue, body, PUBLISH_OPTIONS);
      }
      if (sent >= total) resolve(performance.now() - started);
      else setTimeout(tick, 1);
    };
    tick();
  });
  const sendMs = await guard(paced, "paced publish");
  try {
    await guard(consumer.done, "consume");
  } catch (err) {
    throw new Error(
      `${/** @type {Error} */ (err).message} (consumed ${consumer.progress()} of ${total})`,
    );
  }
  const sorted = latencies.slice().sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  return {
    mode: "latency",
    rate,
    size,
    sent: total,
    measured: sorted.length,
    outOfOrder,
    achievedRate: round((total - 1) / (sendMs / 1000), 1),
    latencyMs: {
      p50: round(percentile(sorted, 0.5)),
      p90: round(percentile(sorted, 0.9)),
      p99: round(percentile(sorted, 0.99)),
      p999: round(percentile(sorted, 0.999)),
      // NaN when nothing was measured, like the percentiles.
      max: round(/** @type {number} */ (sorted[sorted.length - 1])),
      mean: round(sum / sorted.length),
    },
  };
}

try {
  const summary = await main();
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(0);
} catch (err) {
  process.stderr.write(`pubsub: ${/** @type {Error} */ (err).message}\n`);
  process.exit(1);
}

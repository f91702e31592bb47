// The amqplib load bench/broker.js puts on each broker. Both sides (RabbitMQ and the embedded
// broker) run exactly this code: the same publisher, the same consumer, the same options.
// Nothing here knows which broker it talks to.
import amqp from "amqplib";

/** Transient messages (deliveryMode 1) via the default exchange, no other properties. */
export const PUBLISH_OPTIONS = Object.freeze({ deliveryMode: 1 });

/** Connect with Nagle off (as the other benchmarks do), bounded by `timeoutMs`. */
export async function connect(url, timeoutMs = 10_000) {
  const connection = await amqp.connect(url, { noDelay: true, timeout: timeoutMs });
  // An 'error' event without a listener would crash the process; failures() reports it.
  connection.on("error", () => {});
  return connection;
}

/**
 * A promise that rejects when any of `emitters` (connections, channels) closes or fails
 * before `settle()` is called; race it against the work so a broker that drops the connection
 * ends the run at once with its reason, instead of at the timeout.
 */
export function failures(emitters) {
  let settled = false;
  let fail;
  const promise = new Promise((_, reject) => (fail = reject));
  promise.catch(() => {});
  for (const [what, emitter] of emitters) {
    emitter.on("error", (err) => {
      if (!settled) fail(new Error(`${what}: ${err.message}`));
    });
    emitter.on("close", (err) => {
      if (!settled) fail(new Error(`${what} closed${err ? `: ${err.message}` : ""}`));
    });
  }
  return {
    promise,
    settle() {
      settled = true;
    },
  };
}

/** `promise`, or a rejection naming `what` once `deadline` (a performance.now() time) passes. */
export function within(promise, deadline, what) {
  let timer;
  const left = Math.max(0, deadline - performance.now());
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: timed out after ${Math.round(left / 1000)} s`)),
        left,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Publish `amount` copies of `body` to `queue` via the default exchange as fast as the broker
 * takes them. With a confirm channel (`confirm`), at most `window` messages are unconfirmed at
 * any time and the promise resolves when the last is confirmed; without, it resolves when the
 * last message is written to the socket (backpressure through 'drain'). Resolves with
 * { published, confirmed, nacked, ms } where ms runs from the first publish to that point.
 */
export async function publishAll(channel, { queue, amount, body, confirm, window = 1000 }) {
  const started = performance.now();
  let outstanding = 0;
  let confirmed = 0;
  let nacked = 0;
  let wake;
  const onConfirm = (err) => {
    outstanding -= 1;
    if (err) nacked += 1;
    else confirmed += 1;
    if (wake && outstanding < window) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  const drained = () => new Promise((resolve) => channel.once("drain", resolve));
  for (let i = 0; i < amount; i++) {
    if (confirm) {
      if (outstanding >= window) await new Promise((resolve) => (wake = resolve));
      outstanding += 1;
      if (!channel.publish("", queue, body, PUBLISH_OPTIONS, onConfirm)) await drained();
    } else if (!channel.publish("", queue, body, PUBLISH_OPTIONS)) {
      await drained();
    }
  }
  if (confirm) await channel.waitForConfirms();
  return { published: amount, confirmed, nacked, ms: performance.now() - started };
}

/**
 * Consume from `queue` until `amount` messages arrived, acking every `ackEvery` messages
 * (multiple) and the last one. `onMessage(msg, index)` sees each message before its ack.
 * Resolves `done` with { consumed, redelivered, at } (at: performance.now() of the last one).
 */
export async function consumeCount(channel, { queue, amount, ackEvery = 100, onMessage }) {
  let consumed = 0;
  let redelivered = 0;
  let finish;
  const done = new Promise((resolve) => (finish = resolve));
  await channel.consume(
    queue,
    (msg) => {
      if (msg === null) return; // cancelled by the broker: the run ends at its timeout
      if (consumed >= amount) return;
      if (msg.fields.redelivered) redelivered += 1;
      onMessage?.(msg, consumed);
      consumed += 1;
      if (consumed % ackEvery === 0 || consumed === amount) channel.ack(msg, true);
      if (consumed === amount) finish({ consumed, redelivered, at: performance.now() });
    },
    { noAck: false },
  );
  return { done, progress: () => consumed };
}

/** Nearest-rank percentile of a sorted Float64Array. */
export function percentile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

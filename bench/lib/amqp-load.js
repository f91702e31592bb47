// The amqplib load bench/broker.js puts on each broker. Both sides (RabbitMQ and the embedded
// broker) run exactly this code: the same publisher, the same consumer, the same options.
// Nothing here knows which broker it talks to.
import amqp from "amqplib";

/** @import { EventEmitter } from "node:events" */
/** @import { Channel, ConfirmChannel, ConsumeMessage } from "amqplib" */

/**
 * @typedef {{ consumed: number; redelivered: number; at: number }} ConsumeCounts
 */

/** Transient messages (deliveryMode 1) via the default exchange, no other properties. */
export const PUBLISH_OPTIONS = Object.freeze({ deliveryMode: 1 });

/**
 * Connect with Nagle off (as the other benchmarks do), bounded by `timeoutMs`.
 * @param {string} url
 * @param {number} [timeoutMs]
 */
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
 * @param {Array<[what: string, emitter: EventEmitter]>} emitters
 * @returns {{ promise: Promise<never>; settle(): void }}
 */
export function failures(emitters) {
  let settled = false;
  /** @type {(error: Error) => void} */
  let fail = () => {};
  /** @type {Promise<never>} */
  const promise = new Promise((_, reject) => (fail = reject));
  promise.catch(() => {});
  for (const [what, emitter] of emitters) {
    emitter.on("error", (/** @type {Error} */ err) => {
      if (!settled) fail(new Error(`${what}: ${err.message}`));
    });
    emitter.on("close", (/** @type {Error | undefined} */ err) => {
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

/**
 * `promise`, or a rejection naming `what` once `deadline` (a performance.now() time) passes.
 * @template T
 * @param {Promise<T>} promise
 * @param {number} deadline
 * @param {string} what
 * @returns {Promise<T>}
 */
export function within(promise, deadline, what) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const left = Math.max(0, deadline - performance.now());
  return Promise.race([
    promise,
    /** @type {Promise<never>} */ (
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what}: timed out after ${Math.round(left / 1000)} s`)),
          left,
        );
      })
    ),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Publish `amount` copies of `body` to `queue` via the default exchange as fast as the broker
 * takes them. With a confirm channel (`confirm`), at most `window` messages are unconfirmed at
 * any time and the promise resolves when the last is confirmed; without, it resolves when the
 * last message is written to the socket (backpressure through 'drain'). Resolves with
 * { published, confirmed, nacked, ms } where ms runs from the first publish to that point.
 * @param {Channel | ConfirmChannel} channel a ConfirmChannel when `confirm`
 * @param {{ queue: string; amount: number; body: Buffer; confirm: boolean; window?: number }} options
 * @returns {Promise<{ published: number; confirmed: number; nacked: number; ms: number }>}
 */
export async function publishAll(channel, { queue, amount, body, confirm, window = 1000 }) {
  const started = performance.now();
  let outstanding = 0;
  let confirmed = 0;
  let nacked = 0;
  /** @type {(() => void) | undefined} */
  let wake;
  /** @param {unknown} err */
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
  /** @returns {Promise<void>} */
  const drained = () => new Promise((resolve) => channel.once("drain", resolve));
  // Confirm callbacks and waitForConfirms() exist on a confirm channel, the one used with `confirm`.
  const confirmChannel = /** @type {ConfirmChannel} */ (channel);
  for (let i = 0; i < amount; i++) {
    if (confirm) {
      if (outstanding >= window)
        await /** @type {Promise<void>} */ (new Promise((resolve) => (wake = resolve)));
      outstanding += 1;
      if (!confirmChannel.publish("", queue, body, PUBLISH_OPTIONS, onConfirm)) await drained();
    } else if (!channel.publish("", queue, body, PUBLISH_OPTIONS)) {
      await drained();
    }
  }
  if (confirm) await confirmChannel.waitForConfirms();
  return { published: amount, confirmed, nacked, ms: performance.now() - started };
}

/**
 * Consume from `queue` until `amount` messages arrived, acking every `ackEvery` messages
 * (multiple) and the last one. `onMessage(msg, index)` sees each message before its ack.
 * Resolves `done` with { consumed, redelivered, at } (at: performance.now() of the last one).
 * @param {Channel} channel
 * @param {{ queue: string; amount: number; ackEvery?: number; onMessage?: (msg: ConsumeMessage, index: number) => void }} options
 * @returns {Promise<{ done: Promise<ConsumeCounts>; progress: () => number }>}
 */
export async function consumeCount(channel, { queue, amount, ackEvery = 100, onMessage }) {
  let consumed = 0;
  let redelivered = 0;
  /** @type {(counts: ConsumeCounts) => void} */
  let finish = () => {};
  /** @type {Promise<ConsumeCounts>} */
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

/**
 * Nearest-rank percentile of a sorted Float64Array.
 * @param {Float64Array} sorted
 * @param {number} q between 0 and 1
 * @returns {number}
 */
export function percentile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  // The index is within 0 … length - 1.
  return /** @type {number} */ (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
  );
}

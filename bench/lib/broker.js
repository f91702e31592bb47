// The harness's own broker connection: declares and deletes the per-run queues and fills
// them before consume runs. Nothing here is timed.
import amqp from "amqplib";

/** @import { Channel, ChannelModel } from "amqplib" */

export class Broker {
  /** @param {ChannelModel} model */
  constructor(model) {
    this.model = model;
    /** @type {Channel | undefined} */
    this.channel = undefined;
    /** @type {Set<string>} */
    this.created = new Set();
  }

  /**
   * @param {string} url
   * @param {number} [timeoutMs]
   */
  static async connect(url, timeoutMs = 5000) {
    const model = await amqp.connect(url, { timeout: timeoutMs });
    model.on("error", () => {});
    return new Broker(model);
  }

  get version() {
    const p = this.model.connection.serverProperties ?? {};
    return `${p.product ?? "?"} ${p.version ?? "?"}`;
  }

  /** A working channel; a 404 from a check closes a channel, so reopen when needed. */
  async ch() {
    if (!this.channel) {
      const c = await this.model.createChannel();
      c.on("error", () => {});
      c.on("close", () => {
        if (this.channel === c) this.channel = undefined;
      });
      this.channel = c;
    }
    return this.channel;
  }

  /** @param {string} queue */
  async declare(queue) {
    this.created.add(queue);
    await (await this.ch()).assertQueue(queue, { durable: false, autoDelete: false });
  }

  /** @param {string} queue */
  async depth(queue) {
    return (await (await this.ch()).checkQueue(queue)).messageCount;
  }

  /** @param {string} queue */
  async delete(queue) {
    this.created.delete(queue);
    try {
      await (await this.ch()).deleteQueue(queue);
    } catch {
      // already gone
    }
  }

  /** Delete every queue this harness declared and has not deleted yet. */
  async cleanup() {
    for (const q of [...this.created]) await this.delete(q);
  }

  /**
   * Put `amount` messages on `queue` as fast as possible (confirmed), then check the depth.
   * Bounded by `timeoutMs`.
   * @param {string} queue
   * @param {number} amount
   * @param {Buffer} body
   * @param {number} [timeoutMs]
   */
  async fill(queue, amount, body, timeoutMs = 120_000) {
    const deadline = Date.now() + timeoutMs;
    const channel = await this.model.createConfirmChannel();
    channel.on("error", () => {});
    const options = { contentType: "text/plain", headers: {} };
    try {
      const batch = 5000;
      for (let sent = 0; sent < amount; ) {
        const end = Math.min(amount, sent + batch);
        for (; sent < end; sent++) {
          if (!channel.publish("", queue, body, options)) {
            await withDeadline(
              new Promise((resolve) => channel.once("drain", resolve)),
              deadline,
              "fill: drain",
            );
          }
        }
        await withDeadline(channel.waitForConfirms(), deadline, "fill: confirms");
      }
    } finally {
      await channel.close().catch(() => {});
    }
    const depth = await this.depth(queue);
    if (depth !== amount)
      throw new Error(`fill: queue ${queue} holds ${depth}, expected ${amount}`);
  }

  async close() {
    await this.cleanup();
    await this.model.close().catch(() => {});
  }
}

/**
 * @template T
 * @param {Promise<T>} promise
 * @param {number} deadline a Date.now() time
 * @param {string} what
 * @returns {Promise<T>}
 */
function withDeadline(promise, deadline, what) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const left = Math.max(0, deadline - Date.now());
  return Promise.race([
    promise,
    /** @type {Promise<never>} */ (
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: timed out`)), left);
      })
    ),
  ]).finally(() => clearTimeout(timer));
}

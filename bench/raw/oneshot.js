// Baseline one-shot publish: connect, confirm channel, publish one message, wait for its
// confirm, close. Plain amqplib, no eventlab code.
//
//   node bench/raw/oneshot.js --url URL --queue Q --size BYTES
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import amqp from "amqplib";
import { payload } from "../lib/payload.js";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    queue: { type: "string" },
    size: { type: "string", default: "100" },
  },
});

// --url and --queue are required: the harness always passes them.
const url = /** @type {string} */ (values.url);
const queue = /** @type {string} */ (values.queue);

// The socket options eventlab uses (Nagle off), so neither side waits on delayed ACKs.
const connection = await amqp.connect(url, { noDelay: true });
const channel = await connection.createConfirmChannel();
channel.publish("", queue, Buffer.from(payload(Number(values.size))), {
  mandatory: true,
  contentType: "text/plain",
  headers: {},
  // eventlab gives every message an id, `<run>-<n>`
  messageId: `${randomBytes(4).toString("hex")}-1`,
});
await channel.waitForConfirms();
await channel.close();
await connection.close();

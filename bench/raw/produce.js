// Baseline publisher: plain amqplib, no eventlab code.
// connect → confirm channel → publish loop (confirm window + drain) → wait for all confirms → close.
// Prints one JSON line: {published, confirmed, nacked, elapsedMs}.
//
//   node bench/raw/produce.js --url URL --queue Q --amount N --size BYTES [--window 1000]
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import amqp from "amqplib";
import { payload } from "../lib/payload.js";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    queue: { type: "string" },
    amount: { type: "string", default: "1" },
    size: { type: "string", default: "100" },
    window: { type: "string", default: "1000" },
  },
});
// --url and --queue are required: the harness always passes them.
const url = /** @type {string} */ (values.url);
const queue = /** @type {string} */ (values.queue);
const amount = Number(values.amount);
const windowSize = Number(values.window);
const body = Buffer.from(payload(Number(values.size)));
// The same properties eventlab sends for a text body, so both sides put the same bytes on the
// wire: eventlab gives every message a message id, `<run>-<n>` (8 hex digits for the run).
const run = randomBytes(4).toString("hex");
const headers = {};

// The socket options eventlab uses (Nagle off), so neither side waits on delayed ACKs.
const connection = await amqp.connect(url, { noDelay: true });
const channel = await connection.createConfirmChannel();
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
  if (wake && outstanding < windowSize) {
    const w = wake;
    wake = undefined;
    w();
  }
};

for (let i = 0; i < amount; i++) {
  if (outstanding >= windowSize)
    await /** @type {Promise<void>} */ (new Promise((resolve) => (wake = resolve)));
  outstanding += 1;
  const options = {
    mandatory: true,
    contentType: "text/plain",
    headers,
    messageId: `${run}-${i + 1}`,
  };
  const writable = channel.publish("", queue, body, options, onConfirm);
  if (!writable) await new Promise((resolve) => channel.once("drain", resolve));
}
await channel.waitForConfirms();
const elapsedMs = performance.now() - started;
await channel.close();
await connection.close();
process.stdout.write(
  `${JSON.stringify({ published: amount, confirmed, nacked, elapsedMs: Math.round(elapsedMs) })}\n`,
);

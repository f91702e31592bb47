#!/usr/bin/env node
// Does the publish record (`record`, on in the `eventlab/broker` entry) cost the embedded
// broker publish throughput? Side by side in one invocation, alternating A/B/A/B: an amqplib
// publisher on a confirm channel sends `--amount` messages to a queue of a broker started with
// `record: false` and one with `record: true`; median messages/s of `--runs` each. `--dist <dir>`
// adds another build's dist/index.js as a third side (e.g. a checkout without the fixture).
//
//   npm run build
//   node bench/fixture-publish.mjs --amount 50000 --runs 5
//   node bench/fixture-publish.mjs --dist ../other-checkout/dist
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import amqp from "amqplib";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    amount: { type: "string", default: "50000" },
    runs: { type: "string", default: "5" },
    size: { type: "string", default: "256" },
    dist: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const amount = Number(values.amount);
const runs = Number(values.runs);
const size = Number(values.size);
for (const [flag, n] of [
  ["--amount", amount],
  ["--runs", runs],
  ["--size", size],
]) {
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`error: ${flag} must be a whole number ≥ 1\n`);
    process.exit(1);
  }
}

const load = async (dir) => (await import(pathToFileURL(join(dir, "index.js")).href)).startBroker;
const current = await load(join(root, "dist"));
const sides = [
  { id: "record off", start: () => current({ port: 0, record: false }) },
  { id: "record on", start: () => current({ port: 0, record: true }) },
];
if (values.dist) {
  const other = await load(resolve(values.dist));
  sides.unshift({ id: `other build (${values.dist})`, start: () => other({ port: 0 }) });
}

const body = Buffer.alloc(size, "x");

/** Messages/s from the first publish to the last confirm, and the queue's count checked. */
async function once(side) {
  const broker = await side.start();
  const conn = await amqp.connect(broker.url);
  try {
    const ch = await conn.createConfirmChannel();
    const { queue } = await ch.assertQueue("", { exclusive: true });
    const t0 = performance.now();
    for (let i = 0; i < amount; i++) {
      if (!ch.publish("", queue, body)) await new Promise((r) => ch.once("drain", r));
    }
    await ch.waitForConfirms();
    const ms = performance.now() - t0;
    const { messageCount } = await ch.checkQueue(queue);
    if (messageCount !== amount) throw new Error(`${side.id}: ${messageCount} of ${amount} queued`);
    return (amount / ms) * 1000;
  } finally {
    await conn.close();
    await broker.close();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const rates = new Map(sides.map((s) => [s.id, []]));
for (const s of sides) await once(s); // warm-up, not counted
for (let r = 0; r < runs; r++) {
  // Every other round in reverse order, so that no side always goes first.
  for (const s of r % 2 ? [...sides].reverse() : sides) rates.get(s.id)?.push(await once(s));
  process.stderr.write(`run ${r + 1}/${runs}\n`);
}
const base = median(rates.get("record off") ?? []);
const results = sides.map((s) => {
  const m = median(rates.get(s.id) ?? []);
  return { side: s.id, medianPerSecond: Math.round(m), ratioToRecordOff: m / base };
});
if (values.json) {
  process.stdout.write(`${JSON.stringify({ amount, runs, size, results }, null, 2)}\n`);
} else {
  process.stdout.write(`publish ${amount} × ${size} B with confirms, median of ${runs}\n`);
  for (const r of results) {
    process.stdout.write(
      `${r.side.padEnd(28)} ${String(r.medianPerSecond).padStart(8)} msg/s  ×${r.ratioToRecordOff.toFixed(3)}\n`,
    );
  }
}

#!/usr/bin/env node
// Failover time on a real local RabbitMQ cluster (`eventlab cluster up`): eventlab produces
// persistent messages to a quorum queue with every node's URL, and the node it is connected to
// (the queue's leader) is stopped at 40%. Per run: the time from the stop to the first
// confirm on another node, split into the node's shutdown (stop → connection lost), the
// reconnect, and the wait for a confirm; RabbitMQ's own share is measured by a probe client
// on a surviving node, publishing to a second quorum queue led by the same node: the longest
// it waited for a confirm. Each run also checks, by message id, that nothing confirmed is
// missing. See bench/README.md.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import amqp from "amqplib";
import { median, parseArgsOrExit } from "./lib/stats.js";

const USAGE = `Usage: node bench/failover.js [options]

Starts a 3-node RabbitMQ cluster of its own (free ports, a temporary directory), measures
failover N times, and takes the cluster down. Needs rabbitmq-server installed.

  --runs <n>      failovers to measure (default 5)
  --amount <n>    messages per run (default 100000)
  --rate <n>      messages per second (default 4000)
  --bin <path>    eventlab entry (default bin/eventlab.cjs)
  --json          one JSON object on stdout instead of the table
  -h, --help      show this help`;

const { values } = parseArgsOrExit(USAGE, {
  options: {
    runs: { type: "string", default: "5" },
    amount: { type: "string", default: "100000" },
    rate: { type: "string", default: "4000" },
    bin: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const RUNS = Number(values.runs);
const AMOUNT = Number(values.amount);
const RATE = Number(values.rate);
const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const BIN = resolve(values.bin ?? join(root, "bin/eventlab.cjs"));
const log = (/** @type {string} */ line) => process.stderr.write(`${line}\n`);

/**
 * `eventlab <args>`, bounded; its stdout.
 * @param {string[]} args
 * @param {number} timeoutMs
 */
function eventlab(args, timeoutMs) {
  return new Promise((resolveRun, reject) => {
    execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`eventlab ${args.join(" ")}: ${stderr || err.message}`));
      else resolveRun(stdout);
    });
  });
}

/**
 * `eventlab <args>` in the background (bounded): its stderr lines as they come, and its end.
 * @param {string[]} args
 */
function spawnEventlab(args) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const timer = setTimeout(() => child.kill("SIGKILL"), 600_000);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (/** @type {string} */ c) => {
    stdout += c;
  });
  child.stderr.setEncoding("utf8").on("data", (/** @type {string} */ c) => {
    stderr += c;
  });
  /** @type {Promise<{ code: number | null; stdout: string; stderr: string }>} */
  const result = new Promise((resolveExit) => {
    child.on("close", (code) => {
      clearTimeout(timer);
      resolveExit({ code, stdout, stderr });
    });
  });
  return {
    result,
    /**
     * The first stderr line that matches, within 60 s.
     * @param {RegExp} pattern
     * @returns {Promise<string>}
     */
    async line(pattern) {
      const until = Date.now() + 60_000;
      for (;;) {
        const found = stderr.split("\n").find((l) => pattern.test(l));
        if (found) return found;
        if (Date.now() > until || child.exitCode !== null)
          throw new Error(`no line ${pattern}: ${stderr}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

/**
 * A client on a surviving node publishing one message every 5 ms with confirms: the longest
 * any message waited for its confirm is how long the queue could not take messages.
 * @param {string} url
 * @param {string} queue
 */
async function probe(url, queue) {
  const connection = await amqp.connect(url);
  connection.on("error", () => {});
  const ch = await connection.createConfirmChannel();
  ch.on("error", () => {});
  let longest = 0;
  let on = true;
  const loop = (async () => {
    while (on) {
      const sent = performance.now();
      ch.sendToQueue(queue, Buffer.from("p"), { persistent: true }, (err) => {
        if (!err) longest = Math.max(longest, performance.now() - sent);
      });
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    reset() {
      longest = 0;
    },
    async stop() {
      on = false;
      await loop;
      await Promise.race([
        ch.waitForConfirms().catch(() => {}),
        new Promise((r) => setTimeout(r, 30_000)),
      ]);
      await connection.close().catch(() => {});
      return Math.round(longest);
    },
  };
}

/**
 * Every message id of `queue`, taken with no-ack (bounded).
 * @param {import("amqplib").Channel} ch
 * @param {string} queue
 * @returns {Promise<string[]>}
 */
async function drain(ch, queue) {
  const { messageCount } = await ch.checkQueue(queue);
  /** @type {string[]} */
  const ids = [];
  await new Promise((resolveDrain, reject) => {
    const t = setTimeout(
      () => reject(new Error(`drained ${ids.length} of ${messageCount}`)),
      120_000,
    );
    if (messageCount === 0) resolveDrain(undefined);
    void ch.consume(
      queue,
      (m) => {
        if (!m) return;
        ids.push(String(m.properties.messageId));
        if (ids.length >= messageCount) {
          clearTimeout(t);
          resolveDrain(undefined);
        }
      },
      { noAck: true },
    );
  });
  return ids;
}

/**
 * One failover: produce, stop node 1 at 40%, check every id.
 * @param {string} dir
 * @param {string[]} urls
 * @param {number} n
 */
async function once(dir, urls, n) {
  const queue = `failover-bench.${process.pid}.${n}`;
  const setup = await amqp.connect(/** @type {string} */ (urls[0]));
  const sch = await setup.createChannel();
  for (const q of [queue, `${queue}.probe`])
    await sch.assertQueue(q, { durable: true, arguments: { "x-queue-type": "quorum" } });
  await setup.close();
  const produce = spawnEventlab([
    ...urls.flatMap((u) => ["--url", u]),
    ...["produce", "--exchange", "", "--key", queue, "--body", "x", "--persistent"],
    // Paced, so that the stop lands while it publishes however fast the machine is.
    ...["--amount", String(AMOUNT), "--rate", String(RATE), "--json", "--reconnect-timeout", "90s"],
  ]);
  // Stop the node it is connected to: it says which.
  const port = Number(
    /connected to amqps?:\/\/[^\s]*:(\d+) /.exec(await produce.line(/connected to /))?.[1],
  );
  const victim = urls.findIndex((u) => new URL(u).port === String(port)) + 1;
  if (victim === 0)
    throw new Error(`produce is connected to port ${port}, not a node of the cluster`);
  // The queues' leader is node 1 (declared there); watch and probe from the other nodes.
  const [watchUrl, probeUrl] = urls.filter((_, i) => i + 1 !== victim);
  const watcher = await amqp.connect(/** @type {string} */ (watchUrl));
  watcher.on("error", () => {});
  const watch = await watcher.createChannel();
  const prober = await probe(/** @type {string} */ (probeUrl), `${queue}.probe`);
  const deadline = Date.now() + 300_000;
  while ((await watch.checkQueue(queue)).messageCount < AMOUNT * 0.4) {
    if (Date.now() > deadline) throw new Error("40% never reached");
    await new Promise((r) => setTimeout(r, 20));
  }
  prober.reset();
  const stoppedAt = Date.now();
  await eventlab(["cluster", "stop-node", String(victim), "--dir", dir], 120_000);
  const result = await produce.result;
  const rabbitMs = await prober.stop();
  // 3: some messages were nacked or returned; counted below, not a failure of the bench.
  if (result.code !== 0 && result.code !== 3)
    throw new Error(`produce exited ${result.code}: ${result.stdout}\n${result.stderr}`);
  const s = JSON.parse(result.stdout);
  const r = s.reconnects[0];
  if (!r) throw new Error(`produce never lost its connection: ${result.stdout}\n${result.stderr}`);
  const lostAt = Date.parse(r.at);
  const ids = await drain(watch, queue);
  const distinct = new Set(ids);
  const prefix = ids[0]?.replace(/-\d+$/, "");
  // Ids not on the queue; at most the nacked, returned and unconfirmed ones may be among them.
  let absent = 0;
  for (let i = 1; i <= AMOUNT; i++) if (!distinct.has(`${prefix}-${i}`)) absent += 1;
  const missing = Math.max(0, absent - s.nacked - s.returned - s.unconfirmed);
  await watch.deleteQueue(queue);
  await watch.deleteQueue(`${queue}.probe`);
  await watcher.close();
  await eventlab(["cluster", "start-node", String(victim), "--dir", dir], 180_000);
  return {
    /** The node stopped: the one produce was connected to (node 1 leads the queues). */
    node: victim,
    confirmed: s.confirmed,
    nacked: s.nacked,
    returned: s.returned,
    absent,
    republished: s.republished,
    unconfirmed: s.unconfirmed,
    duplicates: ids.length - distinct.size,
    missing,
    /** Stop → first confirm on another node. */
    failoverMs: lostAt + (r.firstConfirmMs ?? Number.NaN) - stoppedAt,
    /** Stop → the connection was lost (the node's own shutdown). */
    shutdownMs: lostAt - stoppedAt,
    reconnectMs: r.downMs,
    /** Lost → first confirm on the new connection. */
    resumeMs: r.firstConfirmMs,
    /** The longest a client on a surviving node waited for a confirm (leader election). */
    rabbitMs,
  };
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "eventlab-failover-bench-"));
  /** @type {Awaited<ReturnType<typeof once>>[]} */
  const runs = [];
  try {
    log("starting a 3-node cluster…");
    const up = JSON.parse(
      await eventlab(
        [
          "cluster",
          "up",
          "--base-port",
          "0",
          "--dir",
          dir,
          "--name-prefix",
          `elbench${process.pid}`,
          "--json",
        ],
        300_000,
      ),
    );
    /** @type {string[]} */
    const urls = up.nodes.map((/** @type {{ urls: { amqp: string } }} */ node) => node.urls.amqp);
    for (let n = 1; n <= RUNS; n++) {
      const r = await once(dir, urls, n);
      runs.push(r);
      log(
        `run ${n}/${RUNS}: node ${r.node} stopped → first confirm ${r.failoverMs} ms (shutdown ${r.shutdownMs}, reconnect ${r.reconnectMs}, then ${r.resumeMs - r.reconnectMs} to a confirm); RabbitMQ's longest confirm wait ${r.rabbitMs} ms; confirmed ${r.confirmed}, nacked ${r.nacked}, returned ${r.returned}, republished ${r.republished}, duplicates ${r.duplicates}, absent ${r.absent}, missing ${r.missing}`,
      );
    }
  } finally {
    await eventlab(["cluster", "down", "--dir", dir], 120_000).catch((err) => log(String(err)));
    await rm(dir, { recursive: true, force: true });
  }
  const med = (/** @type {(r: (typeof runs)[number]) => number} */ f) => median(runs.map(f));
  const summary = {
    runs,
    median: {
      failoverMs: med((r) => r.failoverMs),
      shutdownMs: med((r) => r.shutdownMs),
      reconnectMs: med((r) => r.reconnectMs),
      rabbitMs: med((r) => r.rabbitMs),
    },
    missing: runs.reduce((n, r) => n + r.missing, 0),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    const m = summary.median;
    process.stdout.write(
      `failover, median of ${runs.length}: stop → first confirm on another node ${m.failoverMs} ms; of it the node's shutdown ${m.shutdownMs} ms, eventlab's reconnect ${m.reconnectMs} ms; RabbitMQ's longest confirm wait on a surviving node ${m.rabbitMs} ms (${Math.round((m.rabbitMs / m.failoverMs) * 100)}%). Missing confirmed messages: ${summary.missing}.\n`,
    );
  }
  process.exitCode = summary.missing === 0 ? 0 : 1;
}

await main();

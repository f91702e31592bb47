/**
 * Crash safety of the data directory: a broker in its own process takes persistent messages
 * from several publishers (one through a fanout to two queues) while a consumer acks some of
 * them, and is killed with SIGKILL at a random moment. The next start, on the same directory,
 * must hold every confirmed message that was not acked; acked ones may come back only as
 * RabbitMQ allows (an ack not yet on disk), and nothing may appear that was never published.
 * One broker start per iteration: it checks the previous iteration, then runs the next.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import amqp, { type ChannelModel, type ConfirmChannel } from "amqplib";
import { afterAll, expect, test } from "vitest";
import { mulberry32 } from "../../src/config/random.js";
import { within } from "../helpers/wait.js";

const ITERATIONS = Number(process.env["EVENTLAB_CRASH_ITERATIONS"] ?? 50);
const PUBLISHERS = 3;
const WINDOW = 100;
const CHILD = join(import.meta.dirname, "broker-child.ts");
const QUEUES = ["crash-a", "crash-b"] as const;
type QueueName = (typeof QUEUES)[number];

const dir = mkdtempSync(join(tmpdir(), "eventlab-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function startChild(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir, String(256 * 1024)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await within(
    new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", resolve);
      child.once("exit", (code) => reject(new Error(`broker exited with ${code}`)));
    }),
    "the broker process to start",
    20_000,
  );
  return { child, url: (JSON.parse(line) as { url: string }).url };
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

interface Expected {
  confirmed: Map<QueueName, Set<string>>;
  published: Set<string>;
  acked: Set<string>;
}

interface Tally {
  confirmed: number;
  present: number;
  lost: number;
  ackedBack: number;
  unconfirmedKept: number;
  unexpected: number;
  duplicates: number;
}

const tally: Tally = {
  confirmed: 0,
  present: 0,
  lost: 0,
  ackedBack: 0,
  unconfirmedKept: 0,
  unexpected: 0,
  duplicates: 0,
};

/** Take everything the queues hold (no-ack), then make sure those removals are on disk. */
async function drain(c: ChannelModel): Promise<Map<QueueName, string[]>> {
  const ch = await c.createConfirmChannel();
  const found = new Map<QueueName, string[]>();
  for (const q of QUEUES) {
    const { messageCount } = await ch.checkQueue(q);
    const ids: string[] = [];
    if (messageCount > 0) {
      await within(
        new Promise<void>((resolve) => {
          void ch.consume(
            q,
            (m) => {
              if (!m) return;
              ids.push(String(m.properties.messageId));
              if (ids.length === messageCount) resolve();
            },
            { noAck: true },
          );
        }),
        `draining ${messageCount} messages from ${q}`,
        20_000,
      );
    }
    found.set(q, ids);
  }
  // A confirmed marker is written after those removals: once it is on disk, so are they.
  await ch.assertQueue("crash-marker", { durable: true });
  ch.sendToQueue("crash-marker", Buffer.from("m"), { persistent: true });
  await within(ch.waitForConfirms(), "the marker's confirm", 10_000);
  await ch.purgeQueue("crash-marker");
  await ch.close();
  return found;
}

function check(expected: Expected, found: Map<QueueName, string[]>): void {
  for (const q of QUEUES) {
    const ids = found.get(q) ?? [];
    const present = new Set(ids);
    tally.duplicates += ids.length - present.size;
    const confirmed = expected.confirmed.get(q) ?? new Set();
    for (const id of confirmed) {
      tally.confirmed += 1;
      if (present.has(id)) tally.present += 1;
      else if (!(q === "crash-a" && expected.acked.has(id))) tally.lost += 1;
    }
    for (const id of present) {
      if (!expected.published.has(id)) tally.unexpected += 1;
      else if (q === "crash-a" && expected.acked.has(id)) tally.ackedBack += 1;
      else if (!confirmed.has(id)) tally.unconfirmedKept += 1;
    }
  }
}

async function topology(c: ChannelModel): Promise<void> {
  const ch = await c.createChannel();
  await ch.assertExchange("crash-x", "fanout", { durable: true });
  for (const q of QUEUES) {
    await ch.assertQueue(q, { durable: true });
    await ch.bindQueue(q, "crash-x", "");
  }
  await ch.close();
}

/** Publish until the connection dies, recording what was confirmed where. */
async function publisher(
  c: ChannelModel,
  iteration: number,
  n: number,
  expected: Expected,
): Promise<void> {
  const ch: ConfirmChannel = await c.createConfirmChannel();
  ch.on("error", () => {});
  const fanout = n === PUBLISHERS - 1;
  const targets: QueueName[] = fanout ? ["crash-a", "crash-b"] : ["crash-a"];
  let outstanding = 0;
  let closed = false;
  c.once("close", () => {
    closed = true;
  });
  for (let i = 0; i < 1_000_000; i++) {
    const id = `${iteration}-${n}-${i}`;
    expected.published.add(id);
    const done = (err: unknown) => {
      outstanding -= 1;
      if (err) return;
      for (const q of targets) expected.confirmed.get(q)?.add(id);
    };
    const body = Buffer.alloc(64 + (i % 7) * 100, i % 251);
    const options = { persistent: true, messageId: id };
    outstanding += 1;
    try {
      if (fanout) ch.publish("crash-x", "", body, options, done);
      else ch.sendToQueue("crash-a", body, options, done);
    } catch {
      return;
    }
    if (outstanding >= WINDOW) {
      // Until half the window is confirmed, the connection dies, or 10 s pass.
      for (let waited = 0; outstanding >= WINDOW / 2 && !closed && waited < 10_000; waited++) {
        await new Promise((r) => setTimeout(r, 1));
      }
      if (outstanding >= WINDOW / 2) return;
    }
  }
}

/** Ack every even message of crash-a as it arrives; odd ones stay unacknowledged. */
async function consumer(c: ChannelModel, expected: Expected): Promise<void> {
  const ch = await c.createChannel();
  ch.on("error", () => {});
  await ch.prefetch(200);
  await ch.consume("crash-a", (m) => {
    if (!m) return;
    const id = String(m.properties.messageId);
    if (Number(id.split("-")[2]) % 2 === 0) {
      ch.ack(m);
      expected.acked.add(id);
    }
  });
}

test(`every confirmed persistent message survives SIGKILL (${ITERATIONS} iterations)`, async () => {
  // Deterministic, so a failing iteration can be run again.
  const rand = mulberry32(20261202);
  let expected: Expected | undefined;
  for (let iteration = 0; iteration <= ITERATIONS; iteration++) {
    const { child, url } = await startChild();
    try {
      const admin = await amqp.connect(url);
      admin.on("error", () => {});
      await topology(admin);
      const found = await drain(admin);
      if (expected) check(expected, found);
      await admin.close();
      if (iteration === ITERATIONS) break;
      expected = {
        confirmed: new Map(QUEUES.map((q) => [q, new Set<string>()])),
        published: new Set(),
        acked: new Set(),
      };
      const connections = await Promise.all(
        Array.from({ length: PUBLISHERS + 1 }, () => amqp.connect(url)),
      );
      for (const c of connections) c.on("error", () => {});
      await consumer(connections[PUBLISHERS] as ChannelModel, expected);
      const running = connections
        .slice(0, PUBLISHERS)
        .map((c, n) => publisher(c, iteration, n, expected as Expected));
      await new Promise((r) => setTimeout(r, 50 + Math.floor(rand() * 600)));
      await killed(child);
      await within(Promise.allSettled(running), "publishers to notice the kill", 10_000);
    } finally {
      await killed(child);
    }
  }
  console.log(`crash test over ${ITERATIONS} kills: ${JSON.stringify(tally)}`);
  expect(tally.confirmed).toBeGreaterThan(ITERATIONS * 100);
  expect({ lost: tally.lost, unexpected: tally.unexpected, duplicates: tally.duplicates }).toEqual({
    lost: 0,
    unexpected: 0,
    duplicates: 0,
  });
}, 600_000);

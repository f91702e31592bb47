/**
 * Larger than memory: a long durable queue keeps only its head in memory and the bodies of
 * the rest on disk, in order, transient messages behind them included; a restart brings the
 * head back and leaves the tail on disk. (The 5,000,000-message RSS figure is a bench:
 * bench/storage.js.)
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { afterAll, expect, test } from "vitest";
import { startBroker } from "../../src/broker/index.js";
import { PAGE_AFTER_MESSAGES } from "../../src/broker/model/ready.js";
import { within } from "../helpers/wait.js";

const root = mkdtempSync(join(tmpdir(), "eventlab-paging-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const COUNT = PAGE_AFTER_MESSAGES + 12_000;
const body = (i: number) => Buffer.from(`message ${i} `.repeat(1 + (i % 5)));

/** Consume everything, checking order and bodies; returns how many came. */
async function consumeAll(url: string, expected: number[]): Promise<void> {
  const c = await amqp.connect(url);
  const ch = await c.createChannel();
  await ch.prefetch(500);
  let at = 0;
  const mismatches: string[] = [];
  await within(
    new Promise<void>((resolve) => {
      void ch.consume("long", (m) => {
        if (!m) return;
        const want = expected[at++] as number;
        const id = Number(m.properties.messageId);
        if (id !== want || !m.content.equals(body(want))) mismatches.push(`${at - 1}: got ${id}`);
        ch.ack(m);
        if (at === expected.length) resolve();
      });
    }),
    `${expected.length} deliveries`,
    60_000,
  );
  expect(mismatches.slice(0, 5)).toEqual([]);
  expect((await ch.checkQueue("long")).messageCount).toBe(0);
  await c.close();
}

/** Fill the queue "long" with COUNT messages; every 1000th is transient. */
async function fill(url: string): Promise<void> {
  const c = await amqp.connect(url);
  const ch = await c.createConfirmChannel();
  await ch.assertQueue("long", { durable: true });
  for (let i = 0; i < COUNT; i++) {
    // A transient one waits whole behind the paged ones, in its place.
    ch.sendToQueue("long", body(i), { persistent: i % 1000 !== 999, messageId: String(i) });
    if (i % 5000 === 4999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await c.close();
}

test("a long queue pages its tail to disk and delivers it in order, across a restart too", async () => {
  const dir = join(root, "long");
  let b = await startBroker({ port: 0, dataDir: dir });
  await fill(b.url);
  const q = b.vhost.queues.get("long");
  expect(q?.messageCount).toBe(COUNT);
  expect(q?.pagedCount).toBeGreaterThan(COUNT - PAGE_AFTER_MESSAGES - 100);
  // Bodies on disk are not counted against the memory watermark.
  const inMemory = b.stats().storedBytes;
  let all = 0;
  for (let i = 0; i < COUNT; i++) all += body(i).length;
  expect(inMemory).toBeLessThan(all * 0.7);
  await b.close();

  b = await startBroker({ port: 0, dataDir: dir });
  const persistent = Array.from({ length: COUNT }, (_, i) => i).filter((i) => i % 1000 !== 999);
  expect(b.store?.recovery.messages).toBe(persistent.length);
  expect(b.vhost.queues.get("long")?.pagedCount).toBe(persistent.length - PAGE_AFTER_MESSAGES);
  await consumeAll(b.url, persistent);
  await b.close();
}, 120_000);

test("without a restart the same queue drains in order, transient messages in their place", async () => {
  const dir = join(root, "live");
  const b = await startBroker({ port: 0, dataDir: dir });
  await fill(b.url);
  await consumeAll(
    b.url,
    Array.from({ length: COUNT }, (_, i) => i),
  );
  await b.close();
}, 120_000);

test("compaction moves paged rows too: their bodies are found at their new place, in order", async () => {
  const dir = join(root, "moved");
  const X = PAGE_AFTER_MESSAGES + 1000;
  let b = await startBroker({ port: 0, dataDir: dir, segmentSize: 64 * 1024 });
  const c = await amqp.connect(b.url);
  const ch = await c.createConfirmChannel();
  await ch.assertQueue("long", { durable: true });
  await ch.assertQueue("flow", { durable: true });
  // One message for "long" among five for "flow": once "flow" is drained, an old segment
  // holds a sixth of what it held, all of it "long", whose tail is paged.
  for (let i = 0; i < X; i++) {
    ch.sendToQueue("long", body(i), { persistent: true, messageId: String(i) });
    for (let k = 0; k < 5; k++) ch.sendToQueue("flow", Buffer.alloc(16), { persistent: true });
    if (i % 2000 === 1999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  const paged = b.vhost.queues.get("long")?.pagedCount ?? 0;
  expect(paged).toBeGreaterThan(500);
  const full = b.store?.diskBytes ?? 0;
  await ch.purgeQueue("flow");
  // A confirmed message after the purge carries its removals to disk; from then on each commit
  // moves the oldest sparse segment on, until about what "long" holds is left (a quarter).
  ch.sendToQueue("flow", Buffer.alloc(16), { persistent: true });
  await ch.waitForConfirms();
  const disk = () => b.store?.diskBytes ?? 0;
  for (let waited = 0; disk() >= full * 0.3 && waited < 200; waited++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(disk()).toBeLessThan(full * 0.3);
  expect(readdirSync(dir).filter((f) => f.endsWith(".seg")).length).toBeGreaterThan(1);
  await c.close();
  await b.close();
  b = await startBroker({ port: 0, dataDir: dir, segmentSize: 64 * 1024 });
  expect(b.store?.recovery.damage).toEqual([]);
  await consumeAll(
    b.url,
    Array.from({ length: X }, (_, i) => i),
  );
  await b.close();
}, 120_000);

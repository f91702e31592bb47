/**
 * A torn last write: the last segment cut at random byte offsets (and, separately, its tail
 * overwritten with zeros, as a file system may leave it). Recovery must keep exactly the
 * messages whose records are whole, in order, report the damage, cut the file there, and go
 * on appending after it.
 */
import {
  closeSync,
  cpSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startBroker } from "../../src/broker/index.js";
import { within } from "../helpers/wait.js";

const COUNT = 400;
const root = mkdtempSync(join(tmpdir(), "eventlab-torn-"));
const original = join(root, "original");
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function publish(url: string, from: number, count: number): Promise<void> {
  const c = await amqp.connect(url);
  const ch = await c.createConfirmChannel();
  await ch.assertQueue("torn", { durable: true });
  for (let i = from; i < from + count; i++) {
    ch.sendToQueue("torn", Buffer.alloc(100 + (i % 13) * 37, i % 256), {
      persistent: true,
      messageId: String(i),
    });
  }
  await within(ch.waitForConfirms(), "confirms", 10_000);
  await c.close();
}

/** The ids the queue holds, in order, without taking them. */
async function contents(url: string): Promise<number[]> {
  const c = await amqp.connect(url);
  const ch = await c.createChannel();
  const { messageCount } = await ch.checkQueue("torn");
  const ids: number[] = [];
  for (let i = 0; i < messageCount; i++) {
    const m = await ch.get("torn", { noAck: false });
    if (!m) break;
    expect(m.content).toEqual(
      Buffer.alloc(
        100 + (Number(m.properties.messageId) % 13) * 37,
        Number(m.properties.messageId) % 256,
      ),
    );
    ids.push(Number(m.properties.messageId));
  }
  await c.close(); // unacked: they go back, in order
  return ids;
}

const lastSegment = (dir: string) => {
  const name = readdirSync(dir)
    .filter((f) => f.endsWith(".seg"))
    .sort()
    .at(-1) as string;
  return join(dir, name);
};

beforeAll(async () => {
  const b = await startBroker({ port: 0, dataDir: original, segmentSize: 16 * 1024 });
  await publish(b.url, 0, COUNT);
  await b.close();
});

function rng(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

test.each(Array.from({ length: 12 }, (_, i) => [i]))(
  "cut %i: a prefix survives and appending resumes",
  async (i) => {
    const dir = join(root, `cut-${i}`);
    cpSync(original, dir, { recursive: true });
    rmSync(join(dir, "LOCK"), { force: true });
    const file = lastSegment(dir);
    const size = statSync(file).size;
    const r = rng(1000 + i);
    const at = 8 + Math.floor(r() * (size - 8));
    if (i % 2 === 0) truncateSync(file, at);
    else {
      // The same length, but the tail never reached the disk: zeros.
      const fd = openSync(file, "r+");
      writeSync(fd, Buffer.alloc(size - at), 0, size - at, at);
      closeSync(fd);
    }
    const b = await startBroker({ port: 0, dataDir: dir, segmentSize: 16 * 1024 });
    const ids = await contents(b.url);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, k) => k));
    expect(ids.length).toBeLessThan(COUNT);
    expect(b.store?.recovery.damage.length).toBe(1);
    await publish(b.url, 10_000, 3);
    await b.close();
    const again = await startBroker({ port: 0, dataDir: dir, segmentSize: 16 * 1024 });
    expect(again.store?.recovery.damage).toEqual([]);
    expect(await contents(again.url)).toEqual([...ids, 10_000, 10_001, 10_002]);
    await again.close();
  },
);

test("an untouched directory recovers everything, with no damage", async () => {
  const dir = join(root, "whole");
  cpSync(original, dir, { recursive: true });
  rmSync(join(dir, "LOCK"), { force: true });
  const b = await startBroker({ port: 0, dataDir: dir });
  expect(await contents(b.url)).toEqual(Array.from({ length: COUNT }, (_, k) => k));
  expect(b.store?.recovery).toMatchObject({ queues: 1, messages: COUNT, damage: [] });
  await b.close();
});

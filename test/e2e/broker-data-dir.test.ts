/**
 * `eventlab broker --data-dir` as a user runs it (bin/eventlab.cjs, so `npm run build` first):
 * persistent messages in a durable queue survive a Ctrl-C and a SIGKILL; the start says what it
 * recovered, the stop what it kept and what it dropped; a directory that cannot be used gets
 * a clear error that names it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp from "amqplib";
import { afterAll, afterEach, expect, it } from "vitest";
import { refusedBroker, startBrokerProcess, stopAll } from "../helpers/broker-process.js";

const scratch = mkdtempSync(path.join(tmpdir(), "eventlab-data-dir-"));
const dir = path.join(scratch, "data");
afterEach(stopAll);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

it("keeps persistent messages across Ctrl-C and SIGKILL, and says so", async () => {
  let b = await startBrokerProcess(["--data-dir", dir]);
  expect(b.stderr()).toContain(`(data in ${dir}; Ctrl-C stops it)`);
  expect(b.stderr()).toContain("recovered 0 exchanges, 0 queues, 0 bindings, 0 messages");
  const c = await amqp.connect(b.first);
  const ch = await c.createConfirmChannel();
  await ch.assertQueue("orders", { durable: true });
  for (let i = 0; i < 300; i++)
    ch.sendToQueue("orders", Buffer.from(`o${i}`), { persistent: true });
  for (let i = 0; i < 7; i++) ch.sendToQueue("orders", Buffer.from("t"), { persistent: false });
  await ch.waitForConfirms();
  await c.close();
  expect(await b.stop("SIGINT")).toBe(0);
  expect(b.stderr()).toContain(`300 kept in ${dir}, 7 messages dropped with it`);

  b = await startBrokerProcess(["--data-dir", dir]);
  expect(b.stderr()).toContain("recovered 0 exchanges, 1 queue, 0 bindings, 300 messages");
  const c2 = await amqp.connect(b.first);
  const ch2 = await c2.createConfirmChannel();
  for (let i = 0; i < 5; i++) ch2.sendToQueue("orders", Buffer.from("late"), { persistent: true });
  await ch2.waitForConfirms();
  await c2.close();
  await b.stop("SIGKILL");

  b = await startBrokerProcess(["--data-dir", dir]);
  expect(b.stderr()).toContain("305 messages");
  const c3 = await amqp.connect(b.first);
  const ch3 = await c3.createChannel();
  const first = await ch3.get("orders", { noAck: true });
  expect(first === false ? "(empty)" : first.content.toString()).toBe("o0");
  await c3.close();
  await b.stop("SIGINT");
});

it("refuses a directory that is a file, or in use, by name", async () => {
  const file = path.join(scratch, "a-file");
  writeFileSync(file, "x");
  const asFile = await refusedBroker(["--data-dir", file]);
  expect(asFile.code).not.toBe(0);
  expect(asFile.stderr).toContain(
    `error: cannot use --data-dir: cannot use data directory ${file}: it is a file, not a directory`,
  );
  expect(asFile.stderr).not.toMatch(/\n\s+at /);

  const first = await startBrokerProcess(["--data-dir", dir]);
  const second = await refusedBroker(["--data-dir", dir]);
  expect(second.code).not.toBe(0);
  expect(second.stderr).toMatch(new RegExp(`data directory ${dir} is in use by process \\d+`));
  await first.stop("SIGINT");
});

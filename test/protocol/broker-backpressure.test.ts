/**
 * A client that does not read its socket, over real TCP (the kernel's buffers are part of
 * the story): the broker stops reading it once its output backs up, so what waits in the
 * broker stays small, the memory alarm counts what does wait, and when the client reads
 * again everything arrives. A client the broker is not reading (blocked by the alarm, or its
 * output backed up) is not dropped for missed heartbeats, as on RabbitMQ. Every wait is
 * bounded; the heartbeat tests measure time by the heartbeats a reading client receives.
 */
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  encodeBodyFrame,
  encodeHeaderFrame,
  encodeMethodFrameByName,
  FRAME_HEARTBEAT,
  HEARTBEAT_FRAME,
} from "../../src/broker/codec/index.js";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { BrokerHarness, TestClient, waitFor } from "./broker-helpers.js";

const MiB = 1024 * 1024;
/** Unroutable mandatory publishes, each answered with a basic.return carrying the body. */
const N = 1600;
const BODY = 16 * 1024;

let broker: RunningBroker | undefined;
let harness: BrokerHarness | undefined;
const sockets: Socket[] = [];
const timers: NodeJS.Timeout[] = [];

afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  for (const s of sockets.splice(0)) s.destroy();
  await broker?.close();
  broker = undefined;
  await harness?.teardown();
  harness = undefined;
});

async function tcpClient(port: number): Promise<{ client: TestClient; socket: Socket }> {
  const socket = connect(port, "127.0.0.1");
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return { client: new TestClient(socket), socket };
}

/** N mandatory publishes to the default exchange with a key no queue has, bodies numbered. */
function unroutable(): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < N; i++) {
    const body = Buffer.alloc(BODY, 0x61);
    body.writeUInt32BE(i, 0);
    frames.push(
      encodeMethodFrameByName(1, "basic.publish", {
        exchange: "",
        routingKey: "no-such-queue",
        mandatory: true,
      }),
      encodeHeaderFrame(1, body.length, {}),
      encodeBodyFrame(1, body),
    );
  }
  return Buffer.concat(frames);
}

const returns = (c: TestClient) => c.frames.filter((f) => f.method?.name === "basic.return");

/** Every return arrived, in order, each with the body that was published. */
async function expectAllReturned(c: TestClient): Promise<void> {
  await waitFor(() => returns(c).length >= N, `${N} basic.return`, 30_000);
  const bodies = c.frames.filter((f) => f.type === 3);
  expect(returns(c)).toHaveLength(N);
  expect(bodies.map((f) => f.payload.readUInt32BE(0))).toEqual([...Array(N).keys()]);
  expect(bodies.every((f) => f.payload.length === BODY)).toBe(true);
}

describe("a client that does not read", () => {
  it("is no longer read once its output backs up; little waits in the broker, nothing is lost", async () => {
    const b = await startBroker({ port: 0 });
    broker = b;
    const { client, socket } = await tcpClient(b.port);
    await client.handshake();
    await client.openChannel(1);
    socket.pause();
    socket.write(unroutable());

    // The broker stops reading: the client's own writes then back up on its side.
    let most = 0;
    await waitFor(
      () => {
        const s = b.stats();
        most = Math.max(most, s.outputBytes);
        return s.published === N || (s.readPaused === 1 && socket.writableLength > 0);
      },
      "the broker to stop reading the client (or to read everything)",
      20_000,
    );
    const held = b.stats();
    expect(held.published, "publishes read while the client reads nothing").toBeLessThan(N);
    expect(most, "bytes the broker held for the client").toBeLessThan(MiB);

    socket.resume();
    await expectAllReturned(client);
    expect(b.stats()).toMatchObject({ published: N, outputBytes: 0, readPaused: 0 });
    await client.close();
  }, 60_000);

  it("counts in the memory alarm what it has not taken, and unblocks once it reads", async () => {
    // Nothing is ever queued here: only the returns the client leaves unread can block.
    const b = await startBroker({ port: 0, memoryHighWatermark: "16KiB" });
    broker = b;
    expect(b.stats().memory.highWatermark).toBe(16 * 1024);
    const { client, socket } = await tcpClient(b.port);
    await client.handshake();
    await client.openChannel(1);
    socket.pause();
    socket.write(unroutable());
    await waitFor(() => b.stats().blocked, "the memory alarm", 20_000);
    expect(b.stats().storedBytes).toBe(0);

    socket.resume();
    await expectAllReturned(client);
    await waitFor(() => !b.stats().blocked, "the alarm to clear", 5000);
    const notices = client.frames.flatMap((f) =>
      f.channel === 0 && f.method ? [f.method.name] : [],
    );
    expect(notices).toEqual(["connection.blocked", "connection.unblocked"]);
    await client.close();
  }, 60_000);
});

/** Count the heartbeat frames `c` receives from now on. */
function heartbeatsFrom(c: TestClient): () => number {
  const start = c.frames.length;
  return () => c.frames.slice(start).filter((f) => f.type === FRAME_HEARTBEAT).length;
}

/** Send a heartbeat every half second, as a client with heartbeat 1 does. */
function beat(c: TestClient): void {
  timers.push(setInterval(() => c.send(HEARTBEAT_FRAME), 500));
}

describe("missed heartbeats from a client the broker does not read", () => {
  it("a publisher blocked by the memory alarm is not dropped; it is read again on unblock", async () => {
    const h = new BrokerHarness({ heartbeat: 1, memoryHighWatermark: 1000 });
    harness = h;
    const publisher = await h.open({ heartbeat: 1 });
    const admin = await h.open({ heartbeat: 1 });
    beat(publisher);
    beat(admin);
    await publisher.openChannel(1);
    await admin.openChannel(1);
    admin.sendMethod(1, "queue.declare", { queue: "heavy" });
    await admin.expect("queue.declare-ok", 1);

    publisher.publish(1, "", "heavy", Buffer.alloc(2000, 7));
    await publisher.expect("connection.blocked", 0);
    // Three seconds by the broker's own heartbeats (two a second): more than the two
    // intervals after which an unread client would have been dropped.
    const beats = heartbeatsFrom(publisher);
    await waitFor(() => beats() >= 6, "six heartbeats to the blocked publisher", 10_000);
    expect(publisher.closed).toBe(false);
    expect(h.broker.stats()).toMatchObject({ connections: 2, readPaused: 1 });

    // Heartbeats come between replies here: wait for each reply past them.
    admin.sendMethod(1, "queue.purge", { queue: "heavy" });
    await admin.until("queue.purge-ok");
    await publisher.until("connection.unblocked");
    publisher.sendMethod(2, "channel.open");
    await publisher.until("channel.open-ok");
    await publisher.close();
    await admin.close();
  }, 20_000);

  it("a client whose output backed up is not dropped while the broker is not reading it", async () => {
    const b = await startBroker({ port: 0, heartbeat: 1 });
    broker = b;
    const { client, socket } = await tcpClient(b.port);
    await client.handshake({ heartbeat: 1 });
    await client.openChannel(1);
    const clock = (await tcpClient(b.port)).client;
    await clock.handshake({ heartbeat: 1 });
    beat(clock);
    socket.pause();
    socket.write(unroutable());
    timers.push(setInterval(() => socket.write(HEARTBEAT_FRAME), 500));
    await waitFor(() => b.stats().readPaused === 1, "the broker to stop reading", 20_000);

    const beats = heartbeatsFrom(clock);
    await waitFor(() => beats() >= 6, "three seconds of heartbeats", 10_000);
    expect(b.stats().connections).toBe(2);
    expect(client.closed).toBe(false);

    socket.resume();
    await expectAllReturned(client);
    await client.close();
    await clock.close();
  }, 60_000);
});

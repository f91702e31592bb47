/**
 * Connection.corkTurn: what one turn sends leaves in one socket write, the same frames in the
 * same order. amqplib alone writes each message on its own (a system call each).
 */
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { type Connection, connect } from "../../src/client/connect.js";

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker({ port: 0, host: "127.0.0.1" });
});
afterAll(async () => {
  await broker.close();
});

/** Counts the socket's writes (one per _write, one per _writev). */
function countWrites(c: Connection): { writes: number } {
  const socket = (c.model as unknown as { connection: { stream: Socket } }).connection.stream;
  const counter = { writes: 0 };
  const s = socket as unknown as Record<"_write" | "_writev", (...a: unknown[]) => unknown>;
  for (const k of ["_write", "_writev"] as const) {
    const original = s[k].bind(socket);
    s[k] = (...a: unknown[]) => {
      counter.writes++;
      return original(...a);
    };
  }
  return counter;
}

const turn = () => new Promise<void>((r) => setImmediate(() => setImmediate(r)));

/** Publish `n` messages in one turn, corking after each when `cork`; the writes they took. */
async function publishTurn(cork: boolean, n: number, queue: string): Promise<number> {
  const c = await connect([broker.url]);
  try {
    const ch = await c.model.createChannel();
    await ch.assertQueue(queue, { durable: false });
    await turn();
    const counter = countWrites(c);
    for (let i = 0; i < n; i++) {
      ch.publish("", queue, Buffer.from(`m${i}`));
      if (cork) c.corkTurn();
    }
    // Bounded: a few turns, then the count is final.
    for (let i = 0; i < 5; i++) await turn();
    return counter.writes;
  } finally {
    await c.close();
  }
}

/** The bodies in `queue`, in order, at most `max`. */
async function bodies(queue: string, max: number): Promise<string[]> {
  const c = await connect([broker.url]);
  try {
    const ch = await c.model.createChannel();
    const out: string[] = [];
    for (let i = 0; i < max; i++) {
      const m = await ch.get(queue, { noAck: true });
      if (m === false) break;
      out.push(m.content.toString());
    }
    return out;
  } finally {
    await c.close();
  }
}

describe("Connection.corkTurn", () => {
  it("sends one turn's 100 messages in one write, in order, where amqplib alone takes 100", async () => {
    const plain = await publishTurn(false, 100, "cork.plain");
    const corked = await publishTurn(true, 100, "cork.corked");
    expect(plain).toBeGreaterThanOrEqual(100);
    expect(corked).toBe(1);
    const expected = Array.from({ length: 100 }, (_, i) => `m${i}`);
    expect(await bodies("cork.plain", 200)).toEqual(expected);
    expect(await bodies("cork.corked", 200)).toEqual(expected);
  });

  it("sends a backlog that waited for the socket to drain in a few writes, not one per frame", async () => {
    // 2,000 messages in one turn pass the socket's high-water mark: amqplib's multiplexer stops
    // and writes the rest when the socket drains, a frame at a time unless corked.
    const n = 2000;
    const writes = await publishTurn(true, n, "cork.backlog");
    expect(writes).toBeLessThanOrEqual(10);
    const expected = Array.from({ length: n }, (_, i) => `m${i}`);
    expect(await bodies("cork.backlog", n + 100)).toEqual(expected);
  });

  it("does nothing on a closed connection", async () => {
    const c = await connect([broker.url]);
    await c.close();
    expect(() => c.corkTurn()).not.toThrow();
  });
});

/**
 * How `eventlab consume` acknowledges, seen on the wire: a frame-counting proxy between it and
 * the embedded broker reads every basic.ack the client sends. With the default ack policy the
 * acks of one turn leave as one basic.ack (multiple), and every message is acked exactly once
 * (the queue is empty, nothing is left unacknowledged). With --filter, which holds skipped
 * messages back to give them back later, the acks stay one per message, so a multiple ack can
 * never take a skipped one with it.
 */
import net from "node:net";
import amqp, { type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { runCli } from "../helpers/cli.js";
import { queueWith as fill, depth as queueDepth } from "../helpers/queues.js";

interface Ack {
  tag: bigint;
  multiple: boolean;
}

/** A TCP proxy that passes bytes through and decodes the basic.ack frames going upstream. */
async function ackSniffer(target: { host: string; port: number }) {
  const acks: Ack[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    let handshake = true;
    client.on("data", (chunk: Buffer) => {
      upstream.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      if (handshake && pending.length >= 8) {
        pending = pending.subarray(8); // "AMQP" 0 0 9 1
        handshake = false;
      }
      // A frame: type (1), channel (2), size (4), payload, 0xCE.
      while (!handshake && pending.length >= 7) {
        const size = pending.readUInt32BE(3);
        if (pending.length < 8 + size) break;
        const payload = pending.subarray(7, 7 + size);
        if (pending[0] === 1 && payload.readUInt16BE(0) === 60 && payload.readUInt16BE(2) === 80)
          acks.push({
            tag: payload.readBigUInt64BE(4),
            multiple: ((payload[12] as number) & 1) === 1,
          });
        pending = pending.subarray(8 + size);
      }
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    acks,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe("consume acknowledgements on the wire", () => {
  let broker: RunningBroker;
  let conn: ChannelModel;

  beforeAll(async () => {
    broker = await startBroker({ port: 0 });
    conn = await amqp.connect(broker.url);
  });
  afterAll(async () => {
    await conn?.close();
    await broker?.close();
  });

  const queueWith = (bodies: string[]) => fill(conn, "acks", bodies);
  const depth = (q: string) => queueDepth(conn, q);

  it("acks a turn's messages in one multiple ack, each message exactly once", async () => {
    const n = 3000;
    const q = await queueWith(Array.from({ length: n }, (_, i) => JSON.stringify({ i })));
    const sniffer = await ackSniffer({ host: "127.0.0.1", port: broker.port });
    try {
      const r = await runCli(["-u", sniffer.url, "consume", q, "--count", String(n), "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split("\n");
      expect(lines).toHaveLength(n);
      expect(lines.map((l) => JSON.parse(l).body.i)).toEqual(
        Array.from({ length: n }, (_, i) => i),
      );
      expect(r.stderr).toContain(`acked ${n.toLocaleString("en-US")}`);
      // Every delivery tag up to n is covered, each by exactly one ack frame, in order.
      const tags = sniffer.acks.map((a) => Number(a.tag));
      expect(tags.at(-1)).toBe(n);
      expect([...tags].sort((a, b) => a - b)).toEqual(tags);
      expect(new Set(tags).size).toBe(tags.length);
      expect(sniffer.acks.every((a) => a.multiple)).toBe(true);
      // Batched: far fewer frames than messages.
      expect(sniffer.acks.length).toBeLessThan(n / 4);
    } finally {
      await sniffer.close();
    }
    expect(await depth(q)).toBe(0);
  });

  it("with --filter, acks one by one and the skipped messages stay in the queue", async () => {
    const bodies = Array.from({ length: 400 }, (_, i) => JSON.stringify({ i, even: i % 2 === 0 }));
    const q = await queueWith(bodies);
    const sniffer = await ackSniffer({ host: "127.0.0.1", port: broker.port });
    try {
      const r = await runCli([
        "-u",
        sniffer.url,
        "consume",
        q,
        "--filter",
        "body.even == true",
        // Skipped messages are held until the end: room for all of them.
        "--prefetch",
        "1000",
        "--idle-timeout",
        "500ms",
        "--json",
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split("\n")).toHaveLength(200);
      expect(sniffer.acks.length).toBe(200);
      expect(sniffer.acks.some((a) => a.multiple)).toBe(false);
    } finally {
      await sniffer.close();
    }
    expect(await depth(q)).toBe(200);
  });
});

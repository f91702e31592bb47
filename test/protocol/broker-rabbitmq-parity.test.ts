/**
 * Scripted frames over TCP, the same script against the embedded broker and, when
 * EVENTLAB_TEST_AMQP_URL is set, against RabbitMQ 3.10 (the ground truth), for limits a client
 * library would never let a test reach: headers nested thousands of levels deep, tune-ok's
 * "no limit" zeros, and body sizes past 2^53 (embedded only: RabbitMQ answers those only once
 * the whole body has arrived).
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeBodyFrame, encodeFrame, FRAME_HEADER } from "../../src/broker/codec/index.js";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { RABBITMQ_URL } from "../helpers/cli.js";
import { TestClient, waitFor } from "./broker-helpers.js";

interface Target {
  host: string;
  port: number;
  username: string;
  password: string;
}

function targetOf(url: string): Target {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5672),
    username: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
}

let embedded: RunningBroker | undefined;
const sockets: Socket[] = [];

beforeAll(async () => {
  embedded = await startBroker({ port: 0 });
});

afterAll(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await embedded?.close();
});

async function client(t: Target): Promise<TestClient> {
  const socket = connect(t.port, t.host);
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return new TestClient(socket);
}

async function open(t: Target): Promise<TestClient> {
  const c = await client(t);
  await c.handshake({ username: t.username, password: t.password });
  await c.openChannel(1);
  return c;
}

/** connection.close and its close-ok; then the client closes the socket, as RabbitMQ expects. */
async function bye(c: TestClient): Promise<void> {
  c.sendMethod(0, "connection.close", {
    replyCode: 200,
    replyText: "bye",
    classId: 0,
    methodId: 0,
  });
  await c.until("connection.close-ok");
  c.destroy();
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** A headers table {a: {a: … }} with `n` tables below it, or {a: [[…]]} with `n` arrays. */
function deepHeaders(n: number, kind: "table" | "array"): Buffer {
  const step = kind === "table" ? 7 : 5;
  const tag = kind === "table" ? 0x46 : 0x41;
  const body = Buffer.alloc(7 + step * (n - 1));
  body.set([1, 0x61, tag]);
  body.writeUInt32BE(step * (n - 1), 3);
  for (let level = 1, at = 7; level < n; level++, at += step) {
    if (kind === "table") body.set([1, 0x61], at);
    body[at + step - 5] = tag;
    body.writeUInt32BE(step * (n - 1 - level), at + step - 4);
  }
  return Buffer.concat([u32(body.length), body]);
}

/** A basic content header payload: class 60, the body size, only the headers flag. */
function headerPayload(bodySize: bigint, headers?: Buffer): Buffer {
  const h = Buffer.alloc(14);
  h.writeUInt16BE(60, 0);
  h.writeBigUInt64BE(bodySize, 4);
  h.writeUInt16BE(headers ? 0x2000 : 0, 12);
  return headers ? Buffer.concat([h, headers]) : h;
}

/** Publish one byte with a raw content header to the default exchange. */
function publishRaw(c: TestClient, routingKey: string, header: Buffer): void {
  c.sendMethod(1, "basic.publish", { exchange: "", routingKey });
  c.send(encodeFrame(FRAME_HEADER, 1, header), encodeBodyFrame(1, Buffer.from("x")));
}

/** basic.get until a message comes (bounded); returns its content header's bytes. */
async function getHeader(c: TestClient, queue: string): Promise<Buffer> {
  const until = Date.now() + 5000;
  for (;;) {
    c.sendMethod(1, "basic.get", { queue, noAck: true });
    const f = await c.next(5000);
    if (f.method?.name === "basic.get-ok") {
      const header = await c.next();
      await c.next(); // the body
      return header.payload;
    }
    expect(f.method?.name).toBe("basic.get-empty");
    if (Date.now() > until) throw new Error(`nothing arrived in ${queue}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function exclusiveQueue(c: TestClient, args: Record<string, unknown> = {}): Promise<string> {
  c.sendMethod(1, "queue.declare", { queue: "", exclusive: true, arguments: args as never });
  return (await c.expect("queue.declare-ok", 1)).args.queue;
}

const TARGETS: [string, () => Target | undefined][] = [
  ["the embedded broker", () => (embedded ? targetOf(embedded.url) : undefined)],
  ["RabbitMQ", () => (RABBITMQ_URL ? targetOf(RABBITMQ_URL) : undefined)],
];

describe.each(TARGETS)("on %s", (name, target) => {
  const skip = name === "RabbitMQ" && !RABBITMQ_URL;

  it.skipIf(skip).each([
    ["tables", "table"],
    ["arrays", "array"],
  ] as const)("headers nested 10,000 %s deep come back byte for byte", async (_, kind) => {
    const c = await open(target() as Target);
    const queue = await exclusiveQueue(c);
    const header = headerPayload(1n, deepHeaders(10_000, kind));
    publishRaw(c, queue, header);
    expect(await getHeader(c, queue)).toEqual(header);
    await bye(c);
  });

  it.skipIf(skip)(
    "a header nested 10,000 deep is dead-lettered with it, x-death added",
    async () => {
      const c = await open(target() as Target);
      const dead = await exclusiveQueue(c);
      const queue = await exclusiveQueue(c, {
        "x-message-ttl": 0,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": dead,
      });
      const deep = deepHeaders(10_000, "table");
      publishRaw(c, queue, headerPayload(1n, deep));
      const got = await getHeader(c, dead);
      expect(got.includes(deep.subarray(4))).toBe(true);
      expect(got.includes(Buffer.from("x-death"))).toBe(true);
      await bye(c);
    },
  );

  it.skipIf(skip).each([
    ["channel_max", { channelMax: 0, frameMax: 131_072 }],
    ["frame_max", { channelMax: 2047, frameMax: 0 }],
  ] as const)(
    "tune-ok %s = 0 (no limit) is refused: the connection never opens",
    async (field, tuneOk) => {
      const t = target() as Target;
      const c = await client(t);
      await c.toTune({ username: t.username, password: t.password });
      c.sendMethod(0, "connection.tune-ok", { ...tuneOk, heartbeat: 0 });
      c.sendMethod(0, "connection.open", { virtualHost: "/" });
      // RabbitMQ 3.10 closes the socket 3 s later without a close frame (and logs the text);
      // the embedded broker sends connection.close with that text and closes.
      await c.waitClosed(10_000);
      const methods = c.frames.flatMap((f) => (f.method ? [f.method] : []));
      expect(methods.map((m) => m.name)).not.toContain("connection.open-ok");
      const close = methods.find((m) => m.name === "connection.close");
      if (name === "RabbitMQ") expect(close).toBeUndefined();
      else {
        const detail = field === "channel_max" ? " (no limit)" : "";
        const max = field === "channel_max" ? 2047 : 131_072;
        expect(close?.args).toMatchObject({
          replyCode: 530,
          replyText: `NOT_ALLOWED - negotiated ${field} = 0${detail} is higher than the maximum allowed value (${max})`,
        });
      }
    },
    15_000,
  );
});

describe("on the embedded broker: a body size RabbitMQ would wait for", () => {
  it.each(["134217729", "9007199254740993", "4611686018427387905", "18446744073709551615"])(
    "%s bytes: 406 with the size exactly as declared",
    async (size) => {
      const c = await open(targetOf((embedded as RunningBroker).url));
      c.sendMethod(1, "basic.publish", { exchange: "", routingKey: "anywhere" });
      c.send(encodeFrame(FRAME_HEADER, 1, headerPayload(BigInt(size))));
      const closed = await c.expectChannelClose(1, 406);
      expect(closed).toMatchObject({
        replyText: `PRECONDITION_FAILED - message size ${size} is larger than configured max size 134217728`,
        classId: 60,
        methodId: 40,
      });
      await waitFor(() => c.frames.length === 0, "nothing else");
      await bye(c);
    },
  );
});

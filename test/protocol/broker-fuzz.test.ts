/**
 * Robustness: over ten thousand valid, mutated and random frames sent over many in-memory
 * connections (most after a valid handshake, some before it). The process must stay up, every
 * connection must end closed or still answer, no input may cause a 541 INTERNAL_ERROR, the
 * broker must serve a fresh client afterwards, and memory must stay bounded.
 * Seeded PRNG, so a failure replays: set BROKER_FUZZ_SEED to the seed in the failure message.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ArgsParam,
  encodeBodyFrame,
  encodeFrame,
  encodeHeaderFrame,
  encodeMethodFrameByName,
  FRAME_METHOD,
  HEARTBEAT_FRAME,
  METHODS,
  type MethodInput,
  type MethodName,
  PROTOCOL_HEADER,
} from "../../src/broker/codec/index.js";
import { BrokerHarness, type TestClient, waitFor } from "./broker-helpers.js";

const { BROKER_FUZZ_SEED } = process.env;
const SEED = Number(BROKER_FUZZ_SEED ?? 0x5eed1234);
const CONNECTIONS = 220;
const FRAMES_PER_CONNECTION = 50;
const PRE_HANDSHAKE = 40;
const PARALLEL = 40;
const FRAME_MAX = 4096;
const PROBE_CHANNEL = 2047;

/** mulberry32: small, seedable, good enough for fuzzing. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick<T>(xs: readonly T[]): T {
      return xs[int(xs.length)] as T;
    },
    bytes(n: number): Buffer {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
  };
}
type Rng = ReturnType<typeof prng>;

const m = <K extends MethodName>(ch: number, name: K, ...args: ArgsParam<MethodInput<K>>): Buffer =>
  encodeMethodFrameByName(ch, name, ...args);

/** Sequences of real frames a client might send on an open connection. */
function corpus(rng: Rng): Buffer[][] {
  const ch = () => 1 + rng.int(3);
  const q = () => rng.pick(["fz-a", "fz-b", "fz-c", ""]);
  const x = () => rng.pick(["", "amq.direct", "amq.topic", "amq.fanout", "fz-x", "missing-x"]);
  const body = () => rng.bytes(rng.pick([0, 1, 10, 200, 3000]));
  const seqs: Array<() => Buffer[]> = [
    // Channels 1-3 are opened first; a reopen keeps them open (and clears a soft error).
    () => {
      const c = ch();
      return [
        m(c, "channel.close", { replyCode: 200, replyText: "", classId: 0, methodId: 0 }),
        m(c, "channel.open"),
      ];
    },
    () => [m(ch(), "channel.close-ok")],
    () => [m(ch(), "channel.flow", { active: rng.next() < 0.5 })],
    () => [
      m(ch(), "queue.declare", {
        queue: q(),
        autoDelete: rng.next() < 0.3,
        exclusive: rng.next() < 0.2,
      }),
    ],
    () => [m(ch(), "queue.declare", { queue: q(), passive: true })],
    () => [
      m(ch(), "queue.declare", {
        queue: q(),
        arguments: rng.pick([
          { "x-max-length": 2 },
          { "x-message-ttl": 0 },
          { "x-dead-letter-exchange": "fz-x" },
          { "x-overflow": "reject-publish", "x-max-length": 1 },
          { "x-queue-type": "bogus" },
        ]),
      }),
    ],
    () => [
      m(ch(), "exchange.declare", {
        exchange: "fz-x",
        type: rng.pick(["topic", "direct", "fanout", "headers", "nope"]),
      }),
    ],
    () => [m(ch(), "exchange.delete", { exchange: x() })],
    () => [
      m(ch(), "queue.bind", {
        queue: q(),
        exchange: x(),
        routingKey: rng.pick(["#", "a.*", "k", ""]),
      }),
    ],
    () => [m(ch(), "queue.unbind", { queue: q(), exchange: x(), routingKey: "k" })],
    () => [m(ch(), "exchange.bind", { destination: "fz-x", source: x(), routingKey: "#" })],
    () => [m(ch(), "queue.purge", { queue: q() })],
    () => [m(ch(), "queue.delete", { queue: q() })],
    () => [m(ch(), "basic.qos", { prefetchCount: rng.int(5), global: rng.next() < 0.3 })],
    () => [
      m(ch(), "basic.consume", {
        queue: q(),
        consumerTag: rng.pick(["", "t1", "t2"]),
        noAck: rng.next() < 0.5,
      }),
    ],
    () => [m(ch(), "basic.cancel", { consumerTag: rng.pick(["t1", "t2", "none"]) })],
    () => [m(ch(), "basic.get", { queue: q(), noAck: rng.next() < 0.5 })],
    () => [m(ch(), "basic.ack", { deliveryTag: rng.int(5), multiple: rng.next() < 0.5 })],
    () => [
      m(ch(), "basic.nack", {
        deliveryTag: rng.int(5),
        multiple: rng.next() < 0.5,
        requeue: rng.next() < 0.5,
      }),
    ],
    () => [m(ch(), "basic.reject", { deliveryTag: rng.int(5), requeue: rng.next() < 0.5 })],
    () => [m(ch(), "basic.recover", { requeue: true })],
    () => [m(ch(), "confirm.select")],
    () => [m(ch(), "tx.select")],
    () => [m(ch(), "tx.commit")],
    () => [m(ch(), "tx.rollback")],
    () => {
      const c = ch();
      const b = body();
      const frames = [
        m(c, "basic.publish", {
          exchange: x(),
          routingKey: rng.pick(["fz-a", "fz-b", "a.b", "k"]),
          mandatory: rng.next() < 0.5,
        }),
        encodeHeaderFrame(
          c,
          b.length,
          rng.pick([
            {},
            { deliveryMode: 2, headers: { h: 1 } },
            { expiration: "0" },
            { priority: 3, messageId: "id" },
          ]),
        ),
      ];
      for (let at = 0; at < b.length; at += 1000)
        frames.push(encodeBodyFrame(c, b.subarray(at, at + 1000)));
      return frames;
    },
    () => [HEARTBEAT_FRAME],
    () => [m(0, "connection.update-secret", { newSecret: Buffer.from("s"), reason: "r" })],
  ];
  // A client's own connection.close now and then (it ends that connection).
  const close = m(0, "connection.close", {
    replyCode: 200,
    replyText: "bye",
    classId: 0,
    methodId: 0,
  });
  // Weight the publish sequence and channel.open up: they unlock the most states.
  const out: Buffer[][] = [];
  for (let i = 0; i < 400; i++) {
    const r = rng.next();
    const publish = seqs.find((g) => g.toString().includes("basic.publish")) as () => Buffer[];
    const gen = r < 0.25 ? publish : rng.pick(seqs);
    out.push(gen());
  }
  out.push([close]);
  return out;
}

/** One frame mutated, or random bytes. */
function mutate(rng: Rng, f: Buffer): Buffer {
  const b = Buffer.from(f);
  switch (rng.int(10)) {
    case 0:
    case 1: {
      // Flip 1..3 bytes, avoiding the frame header half the time.
      const n = 1 + rng.int(3);
      for (let i = 0; i < n; i++) {
        const at = rng.next() < 0.5 && b.length > 8 ? 7 + rng.int(b.length - 8) : rng.int(b.length);
        b[at] = (b[at] as number) ^ (1 << rng.int(8));
      }
      return b;
    }
    case 2:
      // Truncated.
      return b.subarray(0, rng.int(b.length));
    case 3: {
      // Wrong size field: small drift or anything.
      const size = b.readUInt32BE(3);
      const v = rng.next() < 0.6 ? Math.max(0, size + rng.int(9) - 4) : rng.int(2 ** 32);
      b.writeUInt32BE(v >>> 0, 3);
      return b;
    }
    case 4:
      b[0] = rng.next() < 0.5 ? rng.pick([1, 2, 3, 8]) : rng.int(256);
      return b;
    case 5: {
      let ch = rng.next() < 0.7 ? rng.int(20) : rng.int(0x10000);
      if (ch === PROBE_CHANNEL) ch = 0;
      b.writeUInt16BE(ch, 1);
      return b;
    }
    case 6:
      return rng.bytes(1 + rng.int(64));
    case 7: {
      // A known method id with random argument bytes.
      const spec = rng.pick(METHODS);
      const payload = Buffer.concat([Buffer.alloc(4), rng.bytes(rng.int(40))]);
      payload.writeUInt16BE(spec.classId, 0);
      payload.writeUInt16BE(spec.methodId, 2);
      return encodeFrame(FRAME_METHOD, rng.int(4), payload);
    }
    case 8: {
      // The payload cut short with the size fixed up, so only the method decoder sees it.
      const payload = b.subarray(7, b.length - 1);
      return encodeFrame(
        b[0] === 8 ? 8 : (b[0] as 1 | 2 | 3),
        b.readUInt16BE(1),
        payload.subarray(0, rng.int(payload.length + 1)),
      );
    }
    default: {
      // Trailing garbage inside the payload, size fixed up.
      const payload = Buffer.concat([b.subarray(7, b.length - 1), rng.bytes(1 + rng.int(16))]);
      return encodeFrame(b[0] === 8 ? 8 : (b[0] as 1 | 2 | 3), b.readUInt16BE(1), payload);
    }
  }
}

/** One connection's input: usually its channels opened, then corpus units, some mutated. */
function fuzzInput(r: Rng, units: Buffer[][]): { frames: number; bytes: Buffer } {
  const chunks: Buffer[] = [];
  // Usually open the corpus's channels first, so the fuzz reaches channel states.
  if (r.next() < 0.9) chunks.push(m(1, "channel.open"), m(2, "channel.open"), m(3, "channel.open"));
  // Some connections get few or no mutations, so valid sequences reach deeper states.
  const rate = r.pick([0, 0.02, 0.1, 0.35, 0.35]);
  let n = 0;
  while (n < FRAMES_PER_CONNECTION) {
    const unit = r.pick(units);
    const mutateOne = r.next() < rate ? r.int(unit.length) : -1;
    for (let k = 0; k < unit.length && n < FRAMES_PER_CONNECTION; k++, n++) {
      chunks.push(k === mutateOne ? mutate(r, unit[k] as Buffer) : (unit[k] as Buffer));
    }
  }
  return { frames: n, bytes: Buffer.concat(chunks) };
}

/** Random write boundaries: whole frames, coalesced, or split mid-frame. */
function sendInPieces(r: Rng, c: TestClient, all: Buffer): void {
  let at = 0;
  while (at < all.length) {
    const len = r.next() < 0.5 ? all.length - at : 1 + r.int(600);
    c.send(all.subarray(at, at + len));
    at += len;
  }
}

interface Outcome {
  responsive: boolean;
  closeCodes: number[];
}

/** After the fuzz: probe, force any half-read frame to end, answer close, wait for the end. */
async function finish(c: TestClient): Promise<Outcome> {
  c.send(m(PROBE_CHANNEL, "channel.open"));
  // Enough 0xCE bytes to complete any partial frame (< frame_max); the rest is an unknown
  // frame type, so every connection ends with a close after answering the probe (or not).
  c.send(Buffer.alloc(FRAME_MAX + 16, 0xce));
  const outcome: Outcome = { responsive: false, closeCodes: [] };
  const until = Date.now() + 4000;
  for (;;) {
    const f = c.frames.shift();
    if (f) {
      if (f.channel === PROBE_CHANNEL && f.method?.name === "channel.open-ok")
        outcome.responsive = true;
      if (f.channel === 0 && f.method?.name === "connection.close") {
        outcome.closeCodes.push(f.method.args.replyCode);
        c.sendMethod(0, "connection.close-ok");
      }
      continue;
    }
    if (c.closed) return outcome;
    if (c.readError) throw c.readError;
    if (Date.now() > until) throw new Error("connection neither closed nor answered within 4 s");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("broker fuzz", () => {
  let uncaught = 0;
  const onUncaught = () => {
    uncaught += 1;
  };
  beforeAll(() => {
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onUncaught);
  });
  afterAll(() => {
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUncaught);
  });

  it(`survives ${CONNECTIONS * FRAMES_PER_CONNECTION}+ random and mutated frames (seed ${SEED})`, async () => {
    const h = new BrokerHarness({ handshakeTimeout: 1000, frameMax: FRAME_MAX });
    const rng = prng(SEED);
    const units = corpus(rng);
    const heapBefore = process.memoryUsage().heapUsed;
    const started = Date.now();
    let framesSent = 0;
    const codes = new Map<number, number>();
    let responsive = 0;

    const handshaken = async (i: number): Promise<void> => {
      const r = prng(SEED + i + 1);
      const c = h.connect();
      await c.handshake({ frameMax: FRAME_MAX, heartbeat: 0 });
      const input = fuzzInput(r, units);
      framesSent += input.frames;
      sendInPieces(r, c, input.bytes);
      const out = await finish(c);
      if (out.responsive) responsive += 1;
      for (const code of out.closeCodes) codes.set(code, (codes.get(code) ?? 0) + 1);
    };

    const beforeHandshake = async (i: number): Promise<void> => {
      const r = prng(SEED + 100_000 + i);
      const c = h.connect();
      const kind = r.int(4);
      if (kind === 0) c.send(r.bytes(1 + r.int(100)));
      else {
        c.send(PROTOCOL_HEADER);
        if (kind >= 2) await c.expect("connection.start", 0);
        if (kind === 3) c.startOk();
        for (let k = 0; k < 25; k++) {
          const unit = r.pick(units);
          c.send(mutate(r, unit[0] as Buffer));
          framesSent += 1;
        }
      }
      const until = Date.now() + 4000;
      while (!c.closed) {
        const f = c.frames.shift();
        if (f?.method?.name === "connection.close") {
          const code = f.method.args.replyCode;
          codes.set(code, (codes.get(code) ?? 0) + 1);
          c.sendMethod(0, "connection.close-ok");
        }
        if (Date.now() > until)
          throw new Error(`pre-handshake connection ${i} still open after 4 s`);
        if (!f) await new Promise((res) => setTimeout(res, 5));
      }
    };

    const jobs: Array<() => Promise<void>> = [];
    for (let i = 0; i < CONNECTIONS; i++) jobs.push(() => handshaken(i));
    for (let i = 0; i < PRE_HANDSHAKE; i++) jobs.push(() => beforeHandshake(i));
    for (let at = 0; at < jobs.length; at += PARALLEL) {
      await Promise.all(jobs.slice(at, at + PARALLEL).map((j) => j()));
    }

    const elapsed = Date.now() - started;
    expect(framesSent).toBeGreaterThanOrEqual(10_000);
    expect(elapsed).toBeLessThan(25_000);
    expect(uncaught).toBe(0);
    // Every connection has ended; the broker forgot them all.
    await waitFor(() => h.broker.stats().connections === 0, "all fuzzed connections gone", 3000);
    // A 541 means some input reached an unexpected code path.
    expect(Object.fromEntries(codes), "close codes seen").not.toHaveProperty("541");
    expect(responsive).toBeGreaterThan(0);

    // The broker still serves a fresh client correctly.
    const c = await h.open();
    await c.openChannel(1);
    c.sendMethod(1, "queue.declare", { queue: "after-fuzz", exclusive: true });
    await c.expect("queue.declare-ok", 1);
    c.publish(1, "", "after-fuzz", "still here", { contentType: "text/plain" });
    c.sendMethod(1, "basic.get", { queue: "after-fuzz", noAck: true });
    const got = await c.expectContent("basic.get-ok");
    expect(got.body.toString()).toBe("still here");
    expect(got.header.properties.contentType).toBe("text/plain");
    await c.close();

    (globalThis as { gc?: () => void }).gc?.();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    expect(growth).toBeLessThan(200 * 1024 * 1024);
    await h.teardown();
    console.log(
      `fuzz seed ${SEED}: ${framesSent} frames, ${CONNECTIONS + PRE_HANDSHAKE} connections, ${responsive} answered the probe, close codes ${JSON.stringify(Object.fromEntries([...codes].sort((a, b) => a[0] - b[0])))}, ${elapsed} ms, heap +${Math.round(growth / 1e6)} MB`,
    );
  }, 40_000);
});

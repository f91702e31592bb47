/**
 * Record and replay: `consume --save` then `produce --replay` gives back the very messages
 * that were published: bodies byte for byte, every basic property, and headers with their
 * AMQP field types. One suite, run against the embedded broker (test/e2e/replay.test.ts) and
 * RabbitMQ (test/rabbitmq/replay.test.ts).
 *
 * The replayed messages are checked on the wire, independently of the code under test and of
 * amqplib: a small client (the protocol tests' TestClient over a TCP socket, built on the
 * project's frame codec) takes them with basic.get and keeps each content header frame's raw
 * bytes; a walker below reads the header table's type tags from those bytes.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from "amqplib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FRAME_HEADER } from "../../src/broker/codec/index.js";
import { captureHeaderTypes, typedHeadersOf } from "../../src/client/typed-headers.js";
import { TestClient } from "../protocol/broker-helpers.js";
import { runCli, startCli, uniqueName } from "./cli.js";
import { within } from "./wait.js";

const WAIT_MS = 15_000;

/** A message as it was on the wire: its content header frame's payload and its body. */
interface WireMessage {
  exchange: string;
  routingKey: string;
  /** class-id, weight, body size, property flags and properties, as the broker sent them. */
  header: Buffer;
  body: Buffer;
}

/** Take up to `n` messages from `queue` with basic.get (no-ack), keeping the raw bytes. */
async function wireGet(url: string, queue: string, n: number): Promise<WireMessage[]> {
  const u = new URL(url);
  const socket = netConnect({ host: "127.0.0.1", port: Number(u.port || 5672) });
  await within(
    new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    }),
    "the raw client's connection",
    WAIT_MS,
  );
  const c = new TestClient(socket);
  try {
    await c.handshake({
      username: decodeURIComponent(u.username || "guest"),
      password: decodeURIComponent(u.password || "guest"),
      heartbeat: 0,
    });
    await c.openChannel(1);
    const out: WireMessage[] = [];
    for (let i = 0; i < n; i++) {
      c.sendMethod(1, "basic.get", { queue, noAck: true });
      const f = await c.next(WAIT_MS);
      if (f.method?.name === "basic.get-empty") break;
      if (f.method?.name !== "basic.get-ok")
        throw new Error(`expected basic.get-ok, got ${f.method?.name ?? `frame ${f.type}`}`);
      const { exchange, routingKey } = f.method.args;
      const h = await c.next(WAIT_MS);
      if (h.type !== FRAME_HEADER) throw new Error("expected a content header frame");
      const size = Number(h.payload.readBigUInt64BE(4));
      const parts: Buffer[] = [];
      let got = 0;
      while (got < size) {
        const b = await c.next(WAIT_MS);
        parts.push(b.payload);
        got += b.payload.length;
      }
      out.push({ exchange, routingKey, header: h.payload, body: Buffer.concat(parts) });
    }
    c.sendMethod(0, "connection.close", {
      replyCode: 200,
      replyText: "bye",
      classId: 0,
      methodId: 0,
    });
    await c.until("connection.close-ok", WAIT_MS);
    return out;
  } finally {
    socket.destroy();
  }
}

/**
 * The type tag of every header value, by path (`retries` → "s", `nested.deep` → "B",
 * `list[1]` → "d"), read from a content header frame's payload. Its own small walker: it
 * shares nothing with the code under test.
 */
export function headerTags(payload: Buffer): Record<string, string> {
  const flags = payload.readUInt16BE(12);
  let at = 14;
  if (flags & 0x8000) at += 1 + (payload[at] as number);
  if (flags & 0x4000) at += 1 + (payload[at] as number);
  const tags: Record<string, string> = {};
  if ((flags & 0x2000) === 0) return tags;
  const end = at + 4 + payload.readUInt32BE(at);
  const FIXED: Record<string, number> = {
    t: 1,
    b: 1,
    B: 1,
    s: 2,
    u: 2,
    I: 4,
    i: 4,
    l: 8,
    f: 4,
    d: 8,
    D: 5,
    T: 8,
    V: 0,
  };
  const value = (pos: number, name: string): number => {
    const tag = String.fromCharCode(payload[pos] as number);
    tags[name] = tag;
    pos += 1;
    const fixed = FIXED[tag];
    if (fixed !== undefined) return pos + fixed;
    const len = payload.readUInt32BE(pos);
    pos += 4;
    if (tag === "F") table(pos, pos + len, `${name}.`);
    if (tag === "A") {
      let p = pos;
      for (let i = 0; p < pos + len; i++) p = value(p, `${name}[${i}]`);
    }
    return pos + len;
  };
  const table = (pos: number, stop: number, prefix: string): void => {
    while (pos < stop) {
      const klen = payload[pos] as number;
      const key = payload.toString("utf8", pos + 1, pos + 1 + klen);
      pos = value(pos + 1 + klen, `${prefix}${key}`);
    }
  };
  table(at + 4, end, "");
  return tags;
}

/** Every tag the typed headers below put on the wire, by path. */
const EXPECTED_TAGS = {
  i8: "b",
  i16: "s",
  i32: "I",
  i64: "l",
  f32: "f",
  f64: "d",
  dec: "D",
  ts: "T",
  flag: "t",
  raw: "x",
  nested: "F",
  "nested.u8": "B",
  "nested.u16": "u",
  "nested.u32": "i",
  "nested.deeper": "F",
  "nested.deeper.small": "b",
  list: "A",
  "list[0]": "s",
  "list[1]": "d",
  "list[2]": "S",
  "list[3]": "V",
  nothing: "V",
  text: "S",
} as const;

/** Headers of every field type RabbitMQ uses, in amqplib's typed notation. */
function typedHeaders(): Record<string, unknown> {
  return {
    i8: { "!": "int8", value: -7 },
    i16: { "!": "int16", value: 5 },
    i32: { "!": "int32", value: 1 },
    i64: { "!": "int64", value: 2n ** 62n + 1n },
    f32: { "!": "float", value: 1.5 },
    f64: { "!": "double", value: 2 },
    dec: { "!": "decimal", value: { places: 2, digits: 12345 } },
    ts: { "!": "timestamp", value: 1_700_000_000 },
    flag: true,
    raw: Buffer.from([0, 255, 0xc3, 0x28]),
    nested: {
      u8: { "!": "uint8", value: 200 },
      u16: { "!": "uint16", value: 60_000 },
      u32: { "!": "uint32", value: 4_000_000_000 },
      deeper: { small: { "!": "int8", value: 1 } },
    },
    list: [{ "!": "int16", value: -300 }, 0.25, "x", null],
    nothing: null,
    text: `long ${"é∑ ".repeat(2000)}`,
  };
}

/** Every basic property amqplib can send (all but the deprecated cluster-id). */
function allProperties(n: number, user: string) {
  return {
    contentType: "application/octet-stream",
    contentEncoding: "identity",
    headers: typedHeaders(),
    deliveryMode: 2,
    priority: 3,
    correlationId: `corr-${n}`,
    replyTo: "amq.rabbitmq.reply-to.nobody",
    expiration: "3600000",
    messageId: `msg-${n}`,
    timestamp: 1_700_000_000 + n,
    type: "order.created",
    userId: user,
    appId: "replay-suite",
  };
}

export function replaySuite(brokerUrl: () => string): void {
  let conn: ChannelModel;
  let ch: Channel;
  let dir: string;
  const queues: string[] = [];

  beforeAll(async () => {
    conn = await amqp.connect(brokerUrl());
    ch = await conn.createChannel();
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-replay-"));
  });
  afterAll(async () => {
    for (const q of queues) {
      const c = await conn.createChannel();
      c.on("error", () => {});
      await c.deleteQueue(q).catch(() => {});
      await c.close().catch(() => {});
    }
    await conn.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function queue(prefix: string): Promise<string> {
    const q = uniqueName(prefix);
    await ch.assertQueue(q, { durable: false });
    queues.push(q);
    return q;
  }

  const cli = (args: string[]) => runCli(["--url", brokerUrl(), ...args]);
  const user = () => decodeURIComponent(new URL(brokerUrl()).username || "guest");

  /** Publish to each queue the same message (one publish each), confirmed. */
  async function publishTo(
    targets: string[],
    body: Buffer,
    options: Record<string, unknown>,
  ): Promise<void> {
    const cc = await conn.createConfirmChannel();
    for (const q of targets) cc.publish("", q, body, options);
    await cc.waitForConfirms();
    await cc.close();
  }

  /** Wait until `q` holds `n` messages (bounded). */
  async function holds(q: string, n: number): Promise<void> {
    const until = Date.now() + WAIT_MS;
    for (;;) {
      const { messageCount } = await ch.checkQueue(q);
      if (messageCount === n) return;
      if (Date.now() > until) throw new Error(`${q} holds ${messageCount}, expected ${n}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it("header types are captured from the frame (fails when an amqplib upgrade changes the internals relied on)", async () => {
    const q = await queue("capture");
    const c = await amqp.connect(brokerUrl());
    try {
      captureHeaderTypes(c);
      const sub = await c.createChannel();
      await publishTo([q], Buffer.from("x"), { headers: typedHeaders() });
      const got = await within(
        new Promise<ConsumeMessage>((resolve) => {
          void sub.consume(q, (m) => m && resolve(m), { noAck: true });
        }),
        "the delivery",
        WAIT_MS,
      );
      const typed = typedHeadersOf(got);
      expect(typed, "amqplib 2.3.x internals (Connection#recvFrame, #rest) changed").toBeDefined();
      expect(typed?.["i16"]).toEqual({ type: "int16", value: 5 });
      expect(typed?.["i64"]).toEqual({ type: "int64", value: (2n ** 62n + 1n).toString() });
      expect(typed?.["f32"]).toEqual({ type: "float", value: 1.5 });
      expect(typed?.["ts"]).toEqual({ type: "timestamp", value: 1_700_000_000 });
      expect(typed?.["nested"]).toMatchObject({
        type: "table",
        value: { u8: { type: "uint8", value: 200 } },
      });
    } finally {
      await c.close();
    }
  });

  it("consume --save then produce --replay: bodies, every property and header types come back exact", async () => {
    const [source, reference, target] = [
      await queue("src"),
      await queue("ref"),
      await queue("dst"),
    ];
    const invalidUtf8 = Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3, 0x28]), randomBytes(500)]);
    const bodies = [
      invalidUtf8,
      Buffer.alloc(0),
      randomBytes(1024 * 1024),
      Buffer.from('{ "id": 12345678901234567890, "n": 1.0 }'),
      Buffer.from("two\nlines of text ✓"),
    ];
    for (const [i, body] of bodies.entries())
      await publishTo([source, reference], body, allProperties(i, user()));
    await holds(source, bodies.length);

    const file = path.join(dir, "all.ndjson");
    const saved = await cli(["consume", source, "--count", String(bodies.length), "--save", file]);
    expect(saved.code, saved.stderr).toBe(0);
    expect(saved.stderr).toContain(`saved ${bodies.length} messages to ${file}`);
    const lines = (await readFile(file, "utf8")).trimEnd().split("\n");
    expect(lines).toHaveLength(bodies.length);
    const first = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(first).toMatchObject({
      exchange: "",
      routingKey: source,
      headerTypes: "wire",
      bodyEncoding: "base64",
      headers: { i16: { type: "int16", value: 5 } },
    });
    expect(Date.parse(first["receivedAt"] as string)).toBeGreaterThan(Date.now() - 60_000);
    expect(JSON.parse(lines[3] as string)).toMatchObject({ bodyEncoding: "json" });

    const replayed = await cli([
      "produce",
      "--replay",
      file,
      "--exchange",
      "",
      "--key",
      target,
      "--speed",
      "max",
    ]);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.stdout).toMatch(/^✓ published 5 · confirmed 5 · returned 0 in /);

    await holds(target, bodies.length);
    const original = await wireGet(brokerUrl(), reference, bodies.length);
    const copies = await wireGet(brokerUrl(), target, bodies.length);
    expect(copies).toHaveLength(bodies.length);
    for (const [i, copy] of copies.entries()) {
      const o = original[i] as WireMessage;
      expect(copy.body.equals(bodies[i] as Buffer), `body ${i}`).toBe(true);
      expect(copy.body.equals(o.body), `body ${i} as published`).toBe(true);
      expect(headerTags(copy.header), `header types of message ${i}`).toEqual(EXPECTED_TAGS);
      // Class, body size, property flags and every property, headers included: the same bytes.
      expect(copy.header.equals(o.header), `content header of message ${i}`).toBe(true);
    }
  }, 60_000);

  it("--speed keeps the recorded spacing, scaled; max does not wait", async () => {
    const q = await queue("speed");
    const file = path.join(dir, "spaced.ndjson");
    const t0 = Date.parse("2026-05-01T09:30:00.000Z");
    const gaps = [0, 400, 800];
    const line = (i: number) =>
      `${JSON.stringify({
        n: i + 1,
        receivedAt: new Date(t0 + (gaps[i] as number)).toISOString(),
        exchange: "",
        routingKey: q,
        redelivered: false,
        properties: {},
        headerTypes: "wire",
        headers: {},
        size: 1,
        bodyEncoding: "utf8",
        body: String(i),
      })}\n`;
    await writeFile(file, [0, 1, 2].map(line).join(""));

    const arrivals = async (speed: string): Promise<number[]> => {
      const sub = await conn.createChannel();
      const times: number[] = [];
      await sub.consume(q, (m) => m && times.push(performance.now()), { noAck: true });
      const r = await cli(["produce", "--replay", file, "--speed", speed]);
      expect(r.code, r.stderr).toBe(0);
      const until = Date.now() + WAIT_MS;
      while (times.length < 3 && Date.now() < until)
        await new Promise((res) => setTimeout(res, 10));
      await sub.close();
      expect(times).toHaveLength(3);
      return [
        (times[1] as number) - (times[0] as number),
        (times[2] as number) - (times[0] as number),
      ];
    };
    const [a1, b1] = await arrivals("1x");
    expect(a1).toBeGreaterThanOrEqual(360);
    expect(a1).toBeLessThan(400 + 250);
    expect(b1).toBeGreaterThanOrEqual(760);
    expect(b1).toBeLessThan(800 + 250);
    const [a2, b2] = await arrivals("2x");
    expect(a2).toBeGreaterThanOrEqual(170);
    expect(a2).toBeLessThan(200 + 200);
    expect(b2).toBeGreaterThanOrEqual(370);
    expect(b2).toBeLessThan(400 + 200);
    const [, bMax] = await arrivals("max");
    expect(bMax).toBeLessThan(200);
  }, 30_000);

  it("--exchange and --key send the recorded messages elsewhere", async () => {
    const source = await queue("ovsrc");
    const bound = await queue("ovdst");
    const key = uniqueName("replay-key");
    await ch.bindQueue(bound, "amq.topic", key);
    await publishTo([source], Buffer.from("hello"), { headers: { n: { "!": "int16", value: 2 } } });
    const file = path.join(dir, "override.ndjson");
    expect((await cli(["consume", source, "--count", "1", "--save", file])).code).toBe(0);
    const r = await cli(["produce", "--replay", file, "--exchange", "amq.topic", "--key", key]);
    expect(r.code, r.stderr).toBe(0);
    await holds(bound, 1);
    const [m] = await wireGet(brokerUrl(), bound, 1);
    expect(m).toMatchObject({ exchange: "amq.topic", routingKey: key });
    expect(m?.body.toString()).toBe("hello");
    expect(headerTags((m as WireMessage).header)).toEqual({ n: "s" });
    // Without overrides, a recording goes where it came from: the default exchange, its queue.
    const back = await cli(["produce", "--replay", file]);
    expect(back.code, back.stderr).toBe(0);
    await holds(source, 1);
  });

  it("replays consume --json output: bodies exact, header types inferred", async () => {
    const source = await queue("jsrc");
    const target = await queue("jdst");
    const bytes = Buffer.concat([Buffer.from([0x80, 0xff]), randomBytes(100)]);
    await publishTo([source], bytes, {
      messageId: "m-1",
      priority: 1,
      headers: { small: { "!": "int32", value: 5 }, wide: { "!": "int8", value: 3 }, big: 300 },
    });
    await publishTo([source], Buffer.from('{"a":  1.0}'), { contentType: "application/json" });
    const json = await cli(["consume", source, "--count", "2", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const file = path.join(dir, "from-json.ndjson");
    await writeFile(file, json.stdout);
    const r = await cli(["produce", "--replay", file, "--exchange", "", "--key", target]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      "2 lines without header types (consume --json): their header types are inferred",
    );
    await holds(target, 2);
    const [m1, m2] = await wireGet(brokerUrl(), target, 2);
    expect(m1?.body.equals(bytes)).toBe(true);
    expect(m2?.body.toString()).toBe('{"a":  1.0}');
    // Inferred as amqplib infers: the smallest signed width that holds the number.
    expect(headerTags((m1 as WireMessage).header)).toEqual({ small: "b", wide: "b", big: "s" });
  });

  it("a bad line: FILE:line and what is wrong, and nothing is published", async () => {
    const target = await queue("bad");
    const file = path.join(dir, "bad.ndjson");
    const good = JSON.stringify({
      exchange: "",
      routingKey: target,
      properties: {},
      headers: {},
      bodyEncoding: "utf8",
      body: "ok",
    });
    await writeFile(
      file,
      `${good}\n\n${JSON.stringify({ exchange: 5, routingKey: target, headers: {} })}\n{not json\n${JSON.stringify({ exchange: "", routingKey: target, headerTypes: "wire", headers: { h: { type: "int8", value: 300 } }, bodyEncoding: "utf8", body: "x" })}\n`,
    );
    const r = await cli(["produce", "--replay", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: 3 bad lines in ${file}:`);
    expect(r.stderr).toContain(`${file}:3: exchange: expected text`);
    expect(r.stderr).toContain(`${file}:4: not valid JSON`);
    expect(r.stderr).toContain(`${file}:5: headers.h: int8 needs a whole number from -128 to 127`);
    expect(r.stderr).toContain("hint: nothing was published");
    const { messageCount } = await ch.checkQueue(target);
    expect(messageCount).toBe(0);
  });

  it("Ctrl-C during a replay: the summary, and which lines were not published, exit 2", async () => {
    const q = await queue("stop");
    const file = path.join(dir, "slow.ndjson");
    const line = (n: number, at: string) =>
      JSON.stringify({
        n,
        receivedAt: at,
        exchange: "",
        routingKey: q,
        headerTypes: "wire",
        headers: {},
        bodyEncoding: "utf8",
        body: String(n),
      });
    await writeFile(
      file,
      `${line(1, "2026-05-01T09:30:00Z")}\n${line(2, "2026-05-01T10:30:00Z")}\n`,
    );
    const run = startCli(["--url", brokerUrl(), "produce", "--replay", file]);
    await holds(q, 1);
    run.stop();
    const code = await within(run.exited, "the replay to stop", WAIT_MS);
    expect(code).toBe(2);
    expect(run.stdout.text()).toMatch(
      /^! published 1 · confirmed 1 · returned 0 in .* — interrupted/,
    );
    expect(run.stderr.text()).toContain(
      `! 1 of 2 messages in ${file} were not published: those from line 2 on`,
    );
  });

  it.skipIf(!existsSync("/dev/full"))(
    "a --save file that cannot be written: an error, and the messages stay in the queue",
    async () => {
      const q = await queue("full");
      await publishTo([q], Buffer.from("a"), {});
      await publishTo([q], Buffer.from("b"), {});
      await holds(q, 2);
      const r = await cli(["consume", q, "--count", "2", "--save", "/dev/full"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        "error: cannot write to --save /dev/full (ENOSPC); 0 messages were saved",
      );
      await holds(q, 2);
    },
  );

  it("a missing file: a clear error and a hint, exit 1", async () => {
    const file = path.join(dir, "no-such.ndjson");
    const r = await cli(["produce", "--replay", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: cannot read --replay ${file} (ENOENT)`);
    expect(r.stderr).toContain("hint: check the path");
    expect(r.stdout).toBe("");
  });
}

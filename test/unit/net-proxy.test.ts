/**
 * The network-fault proxy, against a tiny echo server (and a sink) on port 0 and once through
 * the embedded broker with amqplib. Every wait is bounded: events are awaited with a timeout,
 * and where the point is that nothing happens (blackhole, backpressure) the window is fixed and
 * anything arriving in it fails the test at once.
 */
import { readFile } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import amqp from "amqplib";
import { afterEach, describe, expect, it } from "vitest";
import { startBroker } from "../../src/broker/index.js";
import { type FaultProxy, type ProxyOptions, startProxy } from "../../src/net/proxy.js";

const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** Rejects after `ms` unless `promise` settles first; the timer never outlives the wait. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The next `name` event, bounded; unlike events.once, an "error" event does not reject it. */
const event = (emitter: NodeJS.EventEmitter, name: string, ms = 5000): Promise<unknown[]> =>
  within(
    new Promise((resolve) => emitter.once(name, (...args: unknown[]) => resolve(args))),
    ms,
    `"${name}" event`,
  );

/** Resolves after `ms` if `name` is not emitted meanwhile; rejects at once if it is. */
const quiet = (emitter: NodeJS.EventEmitter, name: string, ms: number): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const fired = (): void => {
      clearTimeout(timer);
      reject(new Error(`"${name}" was emitted`));
    };
    const timer = setTimeout(() => {
      emitter.off(name, fired);
      resolve();
    }, ms);
    emitter.once(name, fired);
  });

/** Polls a condition that has no event of its own, every 5 ms, bounded. */
async function eventually(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Target {
  port: number;
  /** Sockets accepted so far, in order. */
  sockets: Socket[];
  /** Resolves when every socket accepted so far has emitted "close". */
  allClosed: () => Promise<unknown>;
  /** The n-th socket accepted (from 0), once it is. */
  socket: (n: number) => Promise<Socket>;
  /** Bytes received, over all sockets. */
  received: () => number;
  close: () => Promise<unknown>;
}

/** An echo server (or, with `sink`, one that reads and discards) on 127.0.0.1 and port 0. */
async function target(sink = false): Promise<Target> {
  const sockets: Socket[] = [];
  const closes: Promise<unknown>[] = [];
  let received = 0;
  const server: Server = createServer((s) => {
    sockets.push(s);
    closes.push(new Promise((resolve) => s.once("close", resolve)));
    s.on("error", () => {});
    s.on("data", (d: Buffer) => {
      received += d.length;
    });
    if (!sink) s.pipe(s);
  });
  server.listen(0, "127.0.0.1");
  await event(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const close = async (): Promise<unknown> => {
    const closed = new Promise((resolve) => server.close(resolve));
    for (const s of sockets) s.destroy();
    return within(closed, 5000, "target close");
  };
  cleanups.push(close);
  const socket = async (n: number): Promise<Socket> => {
    await eventually(() => sockets.length > n, `target connection ${n}`);
    return sockets[n] as Socket;
  };
  const allClosed = (): Promise<unknown> =>
    within(Promise.all(closes), 5000, "target sockets close");
  return { port, sockets, allClosed, socket, received: () => received, close };
}

async function proxyTo(port: number, extra: Partial<ProxyOptions> = {}): Promise<FaultProxy> {
  const proxy = await startProxy({ target: { host: "127.0.0.1", port }, ...extra });
  cleanups.push(() => proxy.close());
  return proxy;
}

interface Client {
  socket: Socket;
  text: () => string;
  error: () => NodeJS.ErrnoException | undefined;
  /** Resolves with everything received once it holds at least n bytes. */
  until: (n: number, ms?: number) => Promise<Buffer>;
  /** Resolves after `ms` if nothing arrives meanwhile; rejects at once if anything does. */
  silence: (ms: number) => Promise<void>;
  /** Resolves with hadError when the socket closes. */
  closed: Promise<boolean>;
}

async function dial(port: number, waitConnect = true): Promise<Client> {
  const socket = connect({ host: "127.0.0.1", port });
  const chunks: Buffer[] = [];
  let error: NodeJS.ErrnoException | undefined;
  socket.on("error", (e) => {
    error = e;
  });
  socket.on("data", (d: Buffer) => chunks.push(d));
  const closed = new Promise<boolean>((resolve) => socket.once("close", resolve));
  cleanups.push(() => {
    socket.destroy();
    return within(closed, 5000, "client close");
  });
  const bytes = (): Buffer => Buffer.concat(chunks);
  const until = (n: number, ms = 5000): Promise<Buffer> =>
    new Promise<Buffer>((resolve, reject) => {
      const check = (): void => {
        if (bytes().length < n) return;
        off();
        resolve(bytes());
      };
      const gone = (): void => {
        off();
        reject(new Error(`closed after ${bytes().length} of ${n} bytes`));
      };
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out after ${ms} ms with ${bytes().length} of ${n} bytes`));
      }, ms);
      const off = (): void => {
        clearTimeout(timer);
        socket.off("data", check);
        socket.off("close", gone);
      };
      socket.on("data", check);
      socket.on("close", gone);
      check();
    });
  const silence = (ms: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const before = bytes().length;
      const spoke = (): void => {
        clearTimeout(timer);
        reject(new Error(`${bytes().length - before} bytes arrived during the silence`));
      };
      const timer = setTimeout(() => {
        socket.off("data", spoke);
        resolve();
      }, ms);
      socket.once("data", spoke);
    });
  if (waitConnect) await event(socket, "connect");
  return { socket, text: () => bytes().toString(), error: () => error, until, silence, closed };
}

/** A round trip through proxy and echo server, bounded. */
async function roundTrip(c: Client, text: string, ms = 5000): Promise<void> {
  const start = c.text().length;
  c.socket.write(text);
  const all = await c.until(start + Buffer.byteLength(text), ms);
  expect(all.subarray(start).toString()).toBe(text);
}

describe("fault proxy over TCP", () => {
  it("forwards bytes both ways, per connection, and counts them", async () => {
    const echo = await target();
    const proxy = await proxyTo(echo.port);
    const a = await dial(proxy.port);
    const b = await dial(proxy.port);
    await roundTrip(a, "hello from a");
    await roundTrip(b, "and b");
    expect(a.text()).toBe("hello from a");
    expect(echo.sockets).toHaveLength(2);
    expect(proxy.connections).toBe(2);
    expect(proxy.stats).toMatchObject({ accepted: 2, bytesUp: 17, bytesDown: 17, held: 0 });
  });

  it("cut() closes both ends with a FIN; new connections still pass", async () => {
    const echo = await target();
    const proxy = await proxyTo(echo.port);
    const a = await dial(proxy.port);
    await roundTrip(a, "before");
    const ended = event(a.socket, "end");
    const upstreamClosed = event(await echo.socket(0), "close");
    proxy.cut();
    expect(proxy.connections).toBe(0);
    await ended;
    expect(await within(a.closed, 5000, "client close")).toBe(false);
    expect(a.error()).toBeUndefined();
    await upstreamClosed;
    expect(proxy.stats.cut).toBe(1);
    const b = await dial(proxy.port);
    await roundTrip(b, "after");
  });

  it("reset() sends an RST: the client sees ECONNRESET and the target loses its socket", async () => {
    const echo = await target();
    const proxy = await proxyTo(echo.port);
    const a = await dial(proxy.port);
    await roundTrip(a, "x");
    const upstreamClosed = event(await echo.socket(0), "close");
    proxy.reset();
    expect(await within(a.closed, 5000, "client close")).toBe(true);
    expect(a.error()?.code).toBe("ECONNRESET");
    await upstreamClosed;
    expect(proxy.stats.reset).toBe(1);
    expect(proxy.connections).toBe(0);
  });

  it("blackhole holds bytes both ways, keeps connections open, and delivers them in order on heal", async () => {
    const echo = await target();
    const proxy = await proxyTo(echo.port);
    const a = await dial(proxy.port);
    await roundTrip(a, "open;");
    proxy.blackhole(true);
    a.socket.write("held-1;");
    a.socket.write("held-2;");
    const b = await dial(proxy.port);
    b.socket.write("new connection");
    await Promise.all([a.silence(400), b.silence(400)]);
    expect(echo.received()).toBe(5);
    expect(a.socket.destroyed || b.socket.destroyed).toBe(false);
    expect(proxy.connections).toBe(2);
    proxy.blackhole(false);
    expect((await a.until(19)).toString()).toBe("open;held-1;held-2;");
    expect((await b.until(14)).toString()).toBe("new connection");
  });

  it("blackhole in one direction: bytes reach the target, nothing comes back until heal", async () => {
    const echo = await target();
    const proxy = await proxyTo(echo.port);
    const a = await dial(proxy.port);
    proxy.blackhole(true, { direction: "downstream" });
    a.socket.write("ping");
    await eventually(() => echo.received() === 4, "bytes at the target");
    await a.silence(300);
    expect(proxy.stats).toMatchObject({ bytesUp: 4, bytesDown: 0 });
    proxy.heal();
    expect((await a.until(4)).toString()).toBe("ping");
  });

  it("a reset during a blackhole reaches the other end only when it heals", async () => {
    const echo = await target();
    const proxy = await proxyTo(echo.port);
    const a = await dial(proxy.port);
    await roundTrip(a, "x");
    const upstream = await echo.socket(0);
    proxy.blackhole(true);
    a.socket.resetAndDestroy();
    await within(a.closed, 5000, "client close");
    await quiet(upstream, "close", 300);
    expect(upstream.destroyed).toBe(false);
    const closed = event(upstream, "close");
    proxy.heal();
    await closed;
    expect(upstream.destroyed).toBe(true);
  });

  it("refuse() resets new connections without reaching the target; open ones carry on", async () => {
    const echo = await target();
    const proxy = await proxyTo(echo.port);
    const open = await dial(proxy.port);
    proxy.refuse(true);
    const refused = await dial(proxy.port, false);
    expect(await within(refused.closed, 5000, "refused close")).toBe(true);
    expect(refused.error()?.code).toBe("ECONNRESET");
    expect(echo.sockets).toHaveLength(1);
    expect(proxy.stats).toMatchObject({ accepted: 1, refused: 1 });
    await roundTrip(open, "still here");
    proxy.refuse(false);
    await roundTrip(await dial(proxy.port), "accepted again");
    expect(echo.sockets).toHaveLength(2);
  });

  it("a target that cannot be reached: the client is reset, and counted as failed", async () => {
    const gone = await target();
    await gone.close();
    const proxy = await proxyTo(gone.port);
    const a = await dial(proxy.port);
    expect(await within(a.closed, 5000, "client close")).toBe(true);
    expect(a.error()?.code).toBe("ECONNRESET");
    expect(proxy.stats).toMatchObject({ accepted: 1, failed: 1 });
    expect(proxy.connections).toBe(0);
  });

  it("latency delays each chunk by at least delayMs, in both directions or in one", async () => {
    const echo = await target();
    const proxy = await proxyTo(echo.port);
    const a = await dial(proxy.port);
    const upstream = await echo.socket(0);
    proxy.shape({ delayMs: 150 });
    const start = performance.now();
    await roundTrip(a, "slow");
    expect(performance.now() - start).toBeGreaterThanOrEqual(300);

    proxy.heal();
    proxy.shape({ delayMs: 300 }, { direction: "upstream" });
    const sent = performance.now();
    const arrived = event(upstream, "data").then(() => performance.now());
    await roundTrip(a, "one way");
    const back = performance.now();
    expect((await arrived) - sent).toBeGreaterThanOrEqual(300);
    // The way back is not delayed (what it takes is event-loop time, far under 300 ms).
    expect(back - (await arrived)).toBeLessThan(300);
  });

  it("jitter never reorders: many chunks arrive whole and in order", async () => {
    const echo = await target();
    const proxy = await proxyTo(echo.port);
    const a = await dial(proxy.port);
    proxy.shape({ delayMs: 10, jitterMs: 10 });
    let sent = "";
    for (let i = 0; i < 300; i++) {
      const chunk = `<${i}>`;
      sent += chunk;
      a.socket.write(chunk);
      // Each write on its own turn of the event loop, so the proxy sees many chunks.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect((await a.until(sent.length, 10_000)).toString()).toBe(sent);
  });

  it("bandwidth: throughput stays under bytesPerSecond", async () => {
    const echo = await target();
    const proxy = await proxyTo(echo.port);
    const a = await dial(proxy.port);
    const rate = 100_000;
    const size = 150_000;
    proxy.shape({ bytesPerSecond: rate });
    const start = performance.now();
    a.socket.write(Buffer.alloc(size, 7));
    await a.until(size, 20_000);
    const seconds = (performance.now() - start) / 1000;
    // One direction alone needs (size - one 50 ms burst) / rate = 1.45 s; allow 10% slack.
    expect(size / seconds).toBeLessThan(rate * 1.1);
    expect(proxy.stats).toMatchObject({ bytesUp: size, bytesDown: size });
  });

  it("backpressure: a throttled link stops reading the source instead of buffering", async () => {
    const sink = await target(true);
    const proxy = await proxyTo(sink.port);
    const a = await dial(proxy.port);
    proxy.shape({ bytesPerSecond: 50_000 }, { direction: "upstream" });
    const chunk = Buffer.alloc(64 * 1024, 1);
    const deadline = performance.now() + 1000;
    let pushed = 0;
    // Push as fast as the socket accepts for one second (at most 256 MiB if nothing pushes back).
    while (performance.now() < deadline && pushed < 256 * 1024 * 1024) {
      pushed += chunk.length;
      if (!a.socket.write(chunk)) {
        const left = Math.max(1, deadline - performance.now());
        // Either the socket drains or the second is over: both end this wait.
        await event(a.socket, "drain", left).catch(() => undefined);
      }
    }
    // What the kernel buffers took (a few MiB) plus the proxy's 1 MiB: far from 256 MiB.
    expect(pushed).toBeLessThan(48 * 1024 * 1024);
    expect(proxy.stats.held).toBeLessThanOrEqual(1024 * 1024 + chunk.length);
    expect(sink.received()).toBeLessThan(200_000);
  });

  it("faults can target one tag's connections; global faults reach every connection", async () => {
    const echo = await target();
    const proxy = await proxyTo(echo.port, { tags: ["producer", "consumer"] });
    expect(new Set([proxy.port, proxy.portFor("producer"), proxy.portFor("consumer")]).size).toBe(
      3,
    );
    const producer = await dial(proxy.portFor("producer"));
    const consumer = await dial(proxy.portFor("consumer"));
    const plain = await dial(proxy.port);
    proxy.blackhole(true, { tag: "producer" });
    producer.socket.write("p");
    await roundTrip(consumer, "c");
    await roundTrip(plain, "u");
    await producer.silence(200);
    proxy.cut({ tag: "consumer" });
    await within(consumer.closed, 5000, "consumer close");
    expect(proxy.connections).toBe(2);
    proxy.heal({ tag: "producer" });
    expect((await producer.until(1)).toString()).toBe("p");
    proxy.refuse(true, { tag: "producer" });
    const again = await dial(proxy.portFor("producer"), false);
    expect(await within(again.closed, 5000, "refused close")).toBe(true);
    await roundTrip(await dial(proxy.port), "untagged still accepted");
    proxy.reset();
    await within(Promise.all([producer.closed, plain.closed]), 5000, "all closed");
    expect(() => proxy.cut({ tag: "nobody" })).toThrow(RangeError);
    expect(() => proxy.shape({ bytesPerSecond: 0 })).toThrow(RangeError);
    expect(() => proxy.shape({ delayMs: -1 })).toThrow(RangeError);
  });

  it("close() stops listening, closes every connection, and leaves no sockets or timers", async () => {
    const count = (): Record<string, number> => {
      const counts: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
      return { tcp: counts["TCPSocketWrap"] ?? 0, timers: counts["Timeout"] ?? 0 };
    };
    const echo = await target();
    const before = count();
    const proxy = await startProxy({ target: { host: "127.0.0.1", port: echo.port } });
    const a = await dial(proxy.port);
    const b = await dial(proxy.port);
    await roundTrip(a, "a");
    await roundTrip(b, "b");
    proxy.shape({ delayMs: 60_000 });
    a.socket.write("in flight");
    await eventually(() => proxy.stats.held === 9, "bytes held in the proxy");
    proxy.cut(); // leaves grace timers behind, until the ends answer
    await within(proxy.close(), 5000, "proxy close");
    await within(Promise.all([a.closed, b.closed]), 5000, "clients close");
    await echo.allClosed();
    expect(count()).toEqual(before);
    const late = await dial(proxy.port, false);
    await within(late.closed, 5000, "late close");
    expect(late.error()?.code).toBe("ECONNREFUSED");
  });

  it("imports nothing but node: modules (it sits below commands, ui, broker and client)", async () => {
    const source = await readFile(new URL("../../src/net/proxy.ts", import.meta.url), "utf8");
    const specifiers = [...source.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"/gm)];
    expect(specifiers.map((m) => m[1])).toEqual(["node:net"]);
    expect(source).not.toMatch(/\bimport\(|\brequire\(/);
  });

  it("urlFor() swaps in the proxy's host and port, and keeps credentials, vhost and query", async () => {
    const proxy = await proxyTo(1, { tags: ["p1"] });
    const url = "amqp://us%40r:p%3Ass@rabbit.example:5672/%2F?heartbeat=5&frame_max=8192";
    expect(proxy.urlFor(url)).toBe(
      `amqp://us%40r:p%3Ass@127.0.0.1:${proxy.port}/%2F?heartbeat=5&frame_max=8192`,
    );
    expect(proxy.urlFor("amqps://guest:guest@rabbit/prod", "p1")).toBe(
      `amqps://guest:guest@127.0.0.1:${proxy.portFor("p1")}/prod`,
    );
    expect(proxy.urlFor("amqp://localhost")).toBe(`amqp://127.0.0.1:${proxy.port}`);
    expect(() => proxy.urlFor("not a url")).toThrow(TypeError);
    expect(() => proxy.urlFor(url, "p2")).toThrow(RangeError);
  });
});

describe("fault proxy in front of the embedded broker", () => {
  async function setup(): Promise<{ proxy: FaultProxy; url: string }> {
    const broker = await startBroker({ port: 0 });
    cleanups.push(() => broker.close());
    const proxy = await proxyTo(broker.port);
    return { proxy, url: proxy.urlFor(broker.url) };
  }

  it("amqplib talks through the proxy, and cut() makes its connection emit close", async () => {
    const { proxy, url } = await setup();
    const conn = await within(amqp.connect(url), 5000, "connect");
    const errors: Error[] = [];
    conn.on("error", (e: Error) => errors.push(e));
    const ch = await conn.createChannel();
    const q = await ch.assertQueue("", { exclusive: true });
    const got = new Promise<string>((resolve) => {
      void ch.consume(q.queue, (m) => m && resolve(m.content.toString()), { noAck: true });
    });
    ch.sendToQueue(q.queue, Buffer.from("through the proxy"));
    expect(await within(got, 5000, "message")).toBe("through the proxy");
    expect(proxy.connections).toBe(1);
    const closed = event(conn, "close");
    proxy.cut();
    await closed;
    expect(proxy.stats.cut).toBe(1);
    const again = await within(amqp.connect(url), 5000, "reconnect");
    await again.close();
  });

  it("a blackhole makes amqplib give up on missed heartbeats", async () => {
    const { proxy, url } = await setup();
    const conn = await within(amqp.connect(`${url}?heartbeat=1`), 5000, "connect");
    const errors: Error[] = [];
    conn.on("error", (e: Error) => errors.push(e));
    const closed = event(conn, "close", 10_000);
    proxy.blackhole(true);
    await closed;
    expect(errors.map((e) => e.message)).toContain("Heartbeat timeout");
    proxy.heal();
    const again = await within(amqp.connect(url), 5000, "reconnect");
    await again.close();
  });
});

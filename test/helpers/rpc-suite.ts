/**
 * `eventlab request` and `eventlab reply` as a person runs them, against one broker: the same
 * suite for the embedded broker and for RabbitMQ. Outcomes are checked on the broker and in
 * what each side prints: exact body bytes, the correlation id on both sides, the round trip,
 * failing commands, timeouts, unroutable requests and --count.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import amqp, { type ChannelModel } from "amqplib";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { runCli, startCli, uniqueName } from "./cli.js";
import { within } from "./wait.js";

const ENV = { NO_COLOR: "1", EVENTLAB_URL: "", EVENTLAB_CONFIG: "" };
const READY = { timeout: 10_000, interval: 20 } as const;

interface JsonReply {
  rttMs: number;
  properties: { correlationId?: string; contentType?: string };
  headers: Record<string, unknown>;
  bodyEncoding: "json" | "utf8" | "base64";
  body: unknown;
}

export function rpcTests(url: () => string, prefix: string): void {
  let conn: ChannelModel;
  const queues: string[] = [];
  let dir: string;

  beforeAll(async () => {
    conn = await amqp.connect(url());
    dir = await mkdtemp(join(tmpdir(), "eventlab-rpc-"));
  });
  afterAll(async () => {
    if (conn) {
      const ch = await conn.createChannel();
      for (const q of queues) await ch.deleteQueue(q).catch(() => {});
      await conn.close();
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function queue(name: string): Promise<string> {
    const q = uniqueName(`${prefix}.rpc.${name}`);
    queues.push(q);
    const ch = await conn.createChannel();
    await ch.assertQueue(q, { durable: false });
    await ch.close();
    return q;
  }

  async function depth(q: string): Promise<{ messages: number; consumers: number }> {
    const ch = await conn.createChannel();
    const r = await ch.checkQueue(q);
    await ch.close();
    return { messages: r.messageCount, consumers: r.consumerCount };
  }

  /** `eventlab reply …` in-process, returned once it consumes. */
  async function replier(...args: string[]) {
    const run = startCli(["--url", url(), "reply", ...args], ENV);
    await vi.waitFor(() => {
      expect(run.stderr.text()).toContain("answering requests from queue");
    }, READY);
    return run;
  }

  const request = (...args: string[]) => runCli(["--url", url(), "request", ...args], { env: ENV });

  it("request + reply --echo: the body's exact bytes, its correlation id, the round trip", async () => {
    const q = await queue("echo");
    const r = await replier(q, "--echo", "--count", "2");
    // Text on stdout as it came, with no newline added on a pipe.
    const text = 'héllo {"a": 1}  \t';
    const plain = await request("", q, "--body", text, "--timeout", "10s");
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toBe(text);
    const rtt = /← reply in ([\d.]+) ms · (\d+) bytes · correlation id ([0-9a-f-]{36})/.exec(
      plain.stderr,
    );
    expect(rtt, plain.stderr).not.toBeNull();
    expect(Number(rtt?.[2])).toBe(Buffer.byteLength(text));

    // Bytes that are not text, from a file, in --json: base64 of exactly those bytes.
    const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 13, 0x80, 0x7f]);
    const file = join(dir, `${prefix}-bytes.bin`);
    await writeFile(file, bytes);
    const json = await request("", q, "--body-file", file, "--json", "--timeout", "10s");
    expect(json.code, json.stderr).toBe(0);
    const lines = json.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const reply = JSON.parse(lines[0] as string) as JsonReply;
    expect(reply.bodyEncoding).toBe("base64");
    expect(Buffer.from(reply.body as string, "base64").equals(bytes)).toBe(true);
    expect(reply.properties.contentType).toBe("application/octet-stream");
    expect(reply.rttMs).toBeGreaterThan(0);
    expect(reply.rttMs).toBeLessThan(10_000);
    // The correlation id of the reply is the request's: the one both sides print.
    const id = reply.properties.correlationId;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(json.stderr).toContain(`correlation id ${id}`);

    const code = await within(r.exited, "reply --count 2 to exit", 10_000);
    expect(code, r.stderr.text()).toBe(0);
    const log = r.stderr.text();
    expect(log).toContain(`correlation id ${rtt?.[3]}`);
    expect(log).toContain(`correlation id ${id}`);
    expect(log).toMatch(/✓ replied 2 in /);
    expect(r.stdout.text()).toBe("");
    expect(await depth(q)).toEqual({ messages: 0, consumers: 0 });
  });

  it("reply --command: its output on exit 0; x-error and x-exit-code when it fails", async () => {
    const q = await queue("command");
    const r = await replier(
      q,
      "--command",
      'if [ "$EVENTLAB_ROUTING_KEY" = "" ]; then exit 9; fi; input=$(cat); case "$input" in fail*) printf partial; echo "it broke: $input" >&2; exit 3;; *) printf %s "$input" | tr a-z A-Z;; esac',
      "--count",
      "2",
    );
    const ok = await request("", q, "--body", "hello rpc", "--timeout", "10s");
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe("HELLO RPC");
    expect(ok.stderr).not.toContain("error");

    const bad = await request("", q, "--body", "fail now", "--json", "--timeout", "10s");
    expect(bad.code).toBe(1);
    const reply = JSON.parse(bad.stdout.trim()) as JsonReply;
    expect(reply.body).toBe("partial");
    expect(reply.headers).toMatchObject({ "x-error": "it broke: fail now", "x-exit-code": 3 });
    expect(bad.stderr).toContain("the replier reported an error (exit code 3): it broke: fail now");
    expect(bad.stderr).toMatch(/error: the reply carried an error \(x-error\)/);

    const code = await within(r.exited, "reply --count 2 to exit", 10_000);
    expect(code, r.stderr.text()).toBe(0);
    expect(r.stderr.text()).toContain("✗ 2 replied with x-error");
    expect(r.stderr.text()).toMatch(/! replied 2 · with x-error 1 in /);
    // Both requests were acked: a failed command is answered, not redelivered.
    expect(await depth(q)).toEqual({ messages: 0, consumers: 0 });
  });

  it("a --command that runs past --command-timeout is stopped, and the reply says so", async () => {
    const q = await queue("slow");
    const r = await replier(q, "--command", "sleep 20", "--command-timeout", "300ms", "-n", "1");
    const t0 = performance.now();
    const res = await request("", q, "--body", "x", "--json", "--timeout", "10s");
    expect(performance.now() - t0).toBeLessThan(8000);
    expect(res.code).toBe(1);
    const reply = JSON.parse(res.stdout.trim()) as JsonReply;
    expect(String(reply.headers["x-error"])).toContain(
      "the command was stopped: timed out after 300 ms",
    );
    expect(await within(r.exited, "reply -n 1 to exit", 10_000)).toBe(0);
  });

  it("a request no one answers times out within its bound, says what to check, and expires", async () => {
    const q = await queue("silent");
    const t0 = performance.now();
    const r = await request("", q, "--body", "anyone?", "--timeout", "400ms");
    const ms = performance.now() - t0;
    expect(r.code).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(400);
    expect(ms).toBeLessThan(4000);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("error: no reply within 400 ms to request 1");
    expect(r.stderr).toContain(`queue "${q}"`);
    expect(r.stderr).toContain("hint: is a replier consuming from the queue it routes to?");
    // Its expiration is the timeout: a replier that comes later does not answer it.
    await vi.waitFor(
      async () => {
        expect((await depth(q)).messages).toBe(0);
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  it("an unroutable request fails at once (returned), not after --timeout", async () => {
    const missing = uniqueName(`${prefix}.rpc.missing`);
    const t0 = performance.now();
    const r = await request("", missing, "--body", "x", "--timeout", "30s");
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: the request was returned unroutable (312 NO_ROUTE): there is no queue named "${missing}"`,
    );
    expect(r.stderr).toContain(`hint: declare the queue (eventlab declare queue ${missing})`);

    const bound = await request("amq.direct", missing, "--body", "x", "--timeout", "30s");
    expect(bound.code).toBe(1);
    expect(bound.stderr).toContain(
      `no queue is bound to exchange "amq.direct", routing key "${missing}"`,
    );
  });

  it("reply --count 3 answers three requests, acks them, and leaves the rest queued", async () => {
    const q = await queue("count");
    const replies = await queue("replies");
    // Requests with a classic reply queue, published before the replier starts.
    const ch = await conn.createConfirmChannel();
    for (let i = 1; i <= 5; i++) {
      ch.sendToQueue(q, Buffer.from(`request ${i}`), {
        replyTo: replies,
        correlationId: `c${i}`,
        contentType: "text/plain",
      });
    }
    await ch.waitForConfirms();
    const r = startCli(["--url", url(), "reply", q, "--echo", "--count", "3"], ENV);
    const code = await within(r.exited, "reply --count 3 to exit", 15_000);
    expect(code, r.stderr.text()).toBe(0);
    expect(r.stderr.text()).toMatch(/✓ replied 3 in /);
    const got: Array<{ id: unknown; body: string }> = [];
    for (let i = 0; i < 3; i++) {
      const m = await ch.get(replies, { noAck: true });
      if (m) got.push({ id: m.properties.correlationId, body: m.content.toString() });
    }
    expect(got).toEqual([
      { id: "c1", body: "request 1" },
      { id: "c2", body: "request 2" },
      { id: "c3", body: "request 3" },
    ]);
    expect(await ch.get(replies, { noAck: true })).toBe(false);
    await ch.close();
    // The two it did not answer are still there, for another replier.
    await vi.waitFor(
      async () => {
        expect(await depth(q)).toEqual({ messages: 2, consumers: 0 });
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  it("reply stops on Ctrl-C with its summary (exit 2); a missing queue is an error with a hint", async () => {
    const q = await queue("ctrl-c");
    const r = await replier(q, "--echo");
    r.stop();
    expect(await within(r.exited, "reply to stop on Ctrl-C", 10_000)).toBe(2);
    expect(r.stderr.text()).toMatch(/✓ replied 0 in .* — interrupted/);
    expect((await depth(q)).consumers).toBe(0);

    const missing = uniqueName(`${prefix}.rpc.none`);
    const none = await runCli(["--url", url(), "reply", missing, "--echo"], { env: ENV });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`error: queue "${missing}" does not exist`);
    expect(none.stderr).toContain("or add --declare");
  });
}

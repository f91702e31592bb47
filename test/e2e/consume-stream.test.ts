/**
 * `eventlab consume` on a stream queue of the embedded broker: --offset says where it starts,
 * reading leaves every message in the stream, a wider prefetch (for a pipe) and a lost
 * connection carry on from the right offset, without gaps or repeats.
 */
import amqp, { type ChannelModel, type ConfirmChannel, type ConsumeMessage } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { type Connection, connect } from "../../src/client/connect.js";
import { ConsumeSession } from "../../src/client/consume-session.js";
import { QueueConsumer } from "../../src/client/consumer.js";
import { runCli, uniqueName } from "../helpers/cli.js";

let broker: RunningBroker;
let conn: ChannelModel;
let pub: ConfirmChannel;

beforeAll(async () => {
  broker = await startBroker({ port: 0 });
  conn = await amqp.connect(broker.url);
  pub = await conn.createConfirmChannel();
});
afterAll(async () => {
  await conn?.close();
  await broker?.close();
});

async function stream(bodies: string[]): Promise<string> {
  const q = uniqueName("stream");
  await pub.assertQueue(q, { durable: true, arguments: { "x-queue-type": "stream" } });
  await append(q, bodies);
  return q;
}

async function append(q: string, bodies: string[]): Promise<void> {
  for (const b of bodies) pub.sendToQueue(q, Buffer.from(b));
  await pub.waitForConfirms();
}

const cli = (argv: string[]) => runCli(argv, { env: { EVENTLAB_URL: broker.url, NO_COLOR: "1" } });

/** `body@offset` of each NDJSON line. */
function read(stdout: string): string[] {
  return stdout
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const m = JSON.parse(l) as { body: unknown; headers: Record<string, unknown> };
      return `${m.body}@${m.headers["x-stream-offset"]}`;
    });
}

/** Wait (bounded, 5 s) until `probe` holds. */
async function until(probe: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("consume --offset", () => {
  it("first, an offset, last: each reads the stream from there, and the stream keeps it all", async () => {
    const q = await stream(["a", "b", "c"]);
    const first = await cli(["consume", q, "--offset", "first", "--count", "3", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(read(first.stdout)).toEqual(["a@0", "b@1", "c@2"]);
    const fromOne = await cli(["consume", q, "--offset", "1", "--count", "2", "--json"]);
    expect(read(fromOne.stdout)).toEqual(["b@1", "c@2"]);
    const last = await cli(["consume", q, "--offset", "last", "--count", "1", "--json"]);
    expect(read(last.stdout)).toEqual(["c@2"]);
    const pretty = await cli(["consume", q, "--offset", "last", "--count", "1"]);
    expect(pretty.stderr).toContain(`consuming from queue ${q}, prefetch 1, from last`);
    const ago = await cli(["consume", q, "--offset", "1h", "--count", "3", "--json"]);
    expect(read(ago.stdout)).toEqual(["a@0", "b@1", "c@2"]);
    expect(broker.vhost.streams.get(q)?.messageCount).toBe(3);
  });

  it("next (also without --offset) waits for what comes", async () => {
    const q = await stream(["old"]);
    const running = cli(["consume", q, "--count", "1", "--json"]);
    await until(() => (broker.vhost.streams.get(q)?.consumers.length ?? 0) > 0, "the consumer");
    await append(q, ["new"]);
    const r = await running;
    expect(read(r.stdout)).toEqual(["new@1"]);
  });

  it("--no-ack does not go with it; on a stream without --offset the broker's refusal says why", async () => {
    const q = await stream(["a"]);
    const flag = await cli(["consume", q, "--offset", "first", "--no-ack"]);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toContain("a stream needs acknowledgements: leave out --no-ack");
    // --no-ack sets no prefetch, and RabbitMQ asks for the prefetch first.
    const refused = await cli(["consume", q, "--no-ack", "--count", "1"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("consumer prefetch count is not set for 'queue ");
    expect(refused.stderr).toContain(
      "hint: stream queues need acknowledgements and a prefetch: leave out --no-ack and pass --prefetch 100",
    );
  });
});

describe("a stream consumer carries on from the right offset", () => {
  let client: Connection;
  beforeAll(async () => {
    client = await connect([broker.url]);
  });
  afterAll(async () => {
    await client?.close();
  });

  it("a wider prefetch starts a new consumer after the last delivery, and nothing comes twice", async () => {
    const q = await stream(["0", "1", "2", "3", "4", "5"]);
    const got: ConsumeMessage[] = [];
    const c = await QueueConsumer.start(
      client,
      { queue: q, prefetch: 2, noAck: false, offset: "first" },
      (m) => got.push(m),
      () => {},
    );
    await until(() => got.length === 2, "two deliveries");
    // Credit for the old consumer too: it delivers 2 and 3 while the new one starts at 2.
    for (const m of got) c.settle(m, "ack");
    c.widen(10);
    await until(() => got.length >= 6, "the rest");
    for (const m of got.slice(2)) c.settle(m, "ack");
    await append(q, ["6"]);
    await until(() => got.length >= 7, "a new message");
    // A round trip on the channel: a copy from the replaced consumer would have come by now.
    await c.channel.checkQueue(q);
    expect(got.map((m) => m.content.toString())).toEqual(["0", "1", "2", "3", "4", "5", "6"]);
    await c.close();
  });

  it("after a lost connection the session resumes where it was, not at the end", async () => {
    const q = await stream(["0", "1", "2"]);
    const lines: string[] = [];
    let first: Connection | undefined = await connect([broker.url]);
    const session = new ConsumeSession({
      spec: { queue: q, prefetch: 10, noAck: false, offset: "first" },
      policy: "ack",
      count: 6,
      format: (_n, m) => `${m.content.toString()}\n`,
      output: {
        write: (text, done) => {
          lines.push(...text.trim().split("\n"));
          done();
        },
        lagBytes: 0,
      },
      signal: new AbortController().signal,
      recover: async () => {
        first = undefined;
        return connect([broker.url]);
      },
    });
    await session.start(first);
    await until(() => lines.length === 3, "the first three");
    // Lose the socket: the channel closes without a reply of its own, as on a network fault.
    (
      first.model as unknown as { connection: { stream: { destroy(e: Error): void } } }
    ).connection.stream.destroy(new Error("cut"));
    await until(() => first === undefined, "the reconnect");
    await append(q, ["3", "4", "5"]);
    const result = await session.finish();
    expect(lines).toEqual(["0", "1", "2", "3", "4", "5"]);
    expect([result.stoppedBy, result.consumed, result.resumed]).toEqual(["count", 6, 1]);
  });
});

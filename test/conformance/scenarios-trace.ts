/**
 * Conformance scenarios for the firehose: amq.rabbitmq.trace after `rabbitmqctl trace_on`.
 *
 * Tracing is a server-wide switch and the RabbitMQ that records everything else must keep its
 * settings, so against RabbitMQ these scenarios run on the node of
 * EVENTLAB_TEST_CONSUMER_TIMEOUT_URL (test/helpers/timeout-node.ts turns trace_on there; for a
 * manual recording, add `rabbitmqctl -n <node> trace_on -p /` to the steps in
 * scenarios-consumer-timeout.ts). On the embedded broker a scenario starts a broker of its own
 * with `trace: true` on a free port, as the ones the conformance run starts have tracing off.
 *
 * A scenario binds a queue to amq.rabbitmq.trace with `#` and, when it is done, takes what the
 * queue holds with basic.get (deliveries from a trace queue are not traced), keeping only
 * trace messages about this scenario's objects. Fields that differ by nature are normalized
 * here: the node name (`rabbit@host`) and the connection's ports.
 */
import type { Message } from "amqplib";
import { startBroker } from "../../src/broker/index.js";
import { Ctx, METHOD, type Outcome, plain, rpc, type Scenario } from "./harness.js";

const TRACE = "amq.rabbitmq.trace";

/**
 * Run `body` on a broker with tracing on: RabbitMQ's trace node when the run is against the
 * RabbitMQ of EVENTLAB_TEST_AMQP_URL, else an embedded broker started with `trace: true`.
 */
async function withTrace(outer: Ctx, body: (c: Ctx) => Promise<Outcome>): Promise<Outcome> {
  if (outer.url === process.env["EVENTLAB_TEST_AMQP_URL"]) {
    const url = process.env["EVENTLAB_TEST_CONSUMER_TIMEOUT_URL"];
    if (!url) {
      throw new Error(
        "this scenario needs a RabbitMQ with trace_on: set EVENTLAB_TEST_CONSUMER_TIMEOUT_URL (see test/conformance/scenarios-trace.ts)",
      );
    }
    return inside(url, body);
  }
  const broker = await startBroker({ port: 0, trace: true });
  try {
    return await inside(broker.url, body);
  } finally {
    await broker.close();
  }
}

async function inside(url: string, body: (c: Ctx) => Promise<Outcome>): Promise<Outcome> {
  const inner = new Ctx(url);
  try {
    return inner.normalize(await body(inner));
  } finally {
    await inner.cleanup();
  }
}

/** A queue bound to amq.rabbitmq.trace with `#`, declared on its own connection. */
async function traceQueue(ctx: Ctx): Promise<{ take(n: number): Promise<Outcome[]> }> {
  const s = await ctx.connect();
  const ch = (await s.channel()).ch;
  const q = ctx.q("trace");
  await ch.assertQueue(q, { durable: false });
  await ch.bindQueue(q, TRACE, "#");
  const ours = (m: Message) =>
    m.fields.routingKey.includes(ctx.prefix) ||
    JSON.stringify(plain(m.properties.headers)).includes(ctx.prefix);
  return {
    // Waits (bounded, 3 s) for `n` messages, then takes all there are, in order.
    async take(n) {
      await ctx.poll(
        async () => (await ch.checkQueue(q)).messageCount,
        (c) => c >= n,
      );
      const out: Outcome[] = [];
      for (let m = await ch.get(q, { noAck: true }); m; m = await ch.get(q, { noAck: true })) {
        if (ours(m)) out.push(describe(m));
      }
      return out;
    },
  };
}

/** What a trace consumer sees: keys in wire order, value types, normalized values. */
function describe(m: Message): Outcome {
  const headers = (m.properties.headers ?? {}) as Record<string, unknown>;
  const props = m.properties as unknown as Record<string, unknown>;
  const inner = (headers["properties"] ?? {}) as Record<string, unknown>;
  return {
    exchange: m.fields.exchange,
    routingKey: m.fields.routingKey,
    body: m.content.toString(),
    // Which basic properties the trace message itself carries.
    setProperties: Object.keys(props).filter((k) => props[k] !== undefined),
    headerOrder: Object.keys(headers),
    propertyOrder: Object.keys(inner),
    types: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, typeOf(v)])),
    headers: normalized(plain(headers)),
  };
}

function typeOf(v: unknown): string {
  if (Buffer.isBuffer(v)) return "bytes";
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  return typeof v;
}

/** The node name and the connection's ports differ by nature between runs and brokers. */
function normalized(h: Outcome): Outcome {
  if (h === null || typeof h !== "object" || Array.isArray(h)) return h;
  const out = { ...h };
  if (typeof out["node"] === "string" && /^[^@\s]+@[^@\s]+$/.test(out["node"]))
    out["node"] = "<name>@<host>";
  if (typeof out["connection"] === "string")
    out["connection"] = out["connection"]
      .replace(/:\d+ -> /, ":<port> -> ")
      .replace(/:\d+$/, ":<port>");
  return out;
}

export const TRACE_SCENARIOS: Scenario[] = [
  {
    name: "trace: a publish and its delivery to a consumer; publish.<exchange> first, then deliver.<queue>, with the original properties as a table",
    run: (outer) =>
      withTrace(outer, async (ctx) => {
        const trace = await traceQueue(ctx);
        const s = await ctx.connect();
        const pub = (await s.confirmChannel()).ch;
        const cons = (await s.channel()).ch;
        const q = ctx.q("q");
        const cc = ctx.q("cc");
        await pub.assertQueue(q, { durable: false });
        await pub.assertQueue(cc, { durable: false });
        const got: string[] = [];
        await cons.consume(q, (m) => {
          if (!m) return;
          got.push(m.content.toString());
          cons.ack(m);
        });
        pub.sendToQueue(q, Buffer.from("hello"), {
          contentType: "text/plain",
          contentEncoding: "utf-8",
          headers: { a: "x", n: 5, CC: [cc] },
          deliveryMode: 2,
          priority: 3,
          correlationId: "c1",
          replyTo: "r1",
          expiration: "60000",
          messageId: "m1",
          timestamp: 1_700_000_000,
          type: "t1",
          appId: "app",
        });
        await pub.waitForConfirms();
        return { got, trace: await trace.take(2) };
      }),
  },
  {
    name: "trace: an unroutable publish is traced with no routed queues; a no-ack consumer's deliveries are traced; publishing to amq.rabbitmq.trace is refused",
    run: (outer) =>
      withTrace(outer, async (ctx) => {
        const trace = await traceQueue(ctx);
        const s = await ctx.connect();
        const pub = (await s.confirmChannel()).ch;
        const cons = (await s.channel()).ch;
        const x = ctx.x("x");
        const q = ctx.q("q");
        await pub.assertExchange(x, "topic", { durable: false });
        await pub.assertQueue(q, { durable: false });
        await pub.bindQueue(q, x, "k.*");
        const got: string[] = [];
        await cons.consume(q, (m) => m && got.push(m.content.toString()), { noAck: true });
        pub.publish(x, "none", Buffer.from("lost"));
        pub.publish(x, "k.1", Buffer.from("kept"));
        await pub.waitForConfirms();
        const refusedOn = await s.channel();
        const refused = await ctx.failure(s, refusedOn, () =>
          refusedOn.ch.publish(TRACE, `publish.${ctx.prefix}`, Buffer.from("self")),
        );
        return { got, refused, trace: await trace.take(3) };
      }),
  },
  {
    name: "trace: basic.get with and without ack and a requeued redelivery are traced; dead-lettering is not a publish, the dead-lettered delivery is",
    run: (outer) =>
      withTrace(outer, async (ctx) => {
        const trace = await traceQueue(ctx);
        const s = await ctx.connect();
        const ch = (await s.confirmChannel()).ch;
        const q = ctx.q("q");
        const dlq = ctx.q("dlq");
        const ttl = ctx.q("ttl");
        await ch.assertQueue(q, { durable: false });
        await ch.assertQueue(dlq, { durable: false });
        await ch.assertQueue(ttl, {
          durable: false,
          arguments: {
            "x-message-ttl": 20,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dlq,
          },
        });
        ch.sendToQueue(q, Buffer.from("one"));
        ch.sendToQueue(ttl, Buffer.from("dies"));
        await ch.waitForConfirms();
        const first = await ch.get(q);
        if (first) ch.nack(first, false, true);
        const again = await ch.get(q, { noAck: true });
        const dead = await ctx.poll(
          () => ch.get(dlq, { noAck: true }),
          (m) => m !== false,
        );
        return {
          gets: [first, again, dead].map((m) => (m ? m.content.toString() : null)),
          trace: await trace.take(5),
        };
      }),
  },
  {
    name: "trace: in a transaction a publish is traced when it arrives, before tx.commit, and also when rolled back",
    run: (outer) =>
      withTrace(outer, async (ctx) => {
        const trace = await traceQueue(ctx);
        const s = await ctx.connect();
        const ch = (await s.channel()).ch;
        const q = ctx.q("q");
        await ch.assertQueue(q, { durable: false });
        await rpc(ch, METHOD.TxSelect, METHOD.TxSelectOk);
        ch.sendToQueue(q, Buffer.from("rolled back"));
        await rpc(ch, METHOD.TxRollback, METHOD.TxRollbackOk);
        ch.sendToQueue(q, Buffer.from("committed"));
        // A round trip on the channel: the publish before it has been handled.
        await ch.checkQueue(q);
        const beforeCommit = await trace.take(2);
        await rpc(ch, METHOD.TxCommit, METHOD.TxCommitOk);
        const ready = (await ch.checkQueue(q)).messageCount;
        return { beforeCommit, afterCommit: await trace.take(0), ready };
      }),
  },
];

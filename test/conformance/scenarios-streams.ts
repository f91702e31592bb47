/**
 * Conformance scenarios for stream queues (`x-queue-type: stream`). Spread into SCENARIOS by
 * scenarios.ts; see there and harness.ts for the conventions. Retention is in
 * scenarios-stream-retention.ts.
 *
 * RabbitMQ writes the messages that reach its log writer together as one chunk, and `last`
 * starts at the last chunk: every scenario here publishes one message at a time, waiting for
 * its confirm, so that each is a chunk of its own on RabbitMQ too. RabbitMQ's queue.declare-ok
 * message count of a stream is a statistic refreshed every few seconds, so scenarios read it
 * only before anything is published.
 */
import type { Channel, ConfirmChannel, Message, Options } from "amqplib";
import type { Ctx, Outcome, Scenario, Session } from "./harness.js";
import { summarize } from "./harness.js";

const STREAM = { durable: true, arguments: { "x-queue-type": "stream" } };

/** Publish one message at a time, each confirmed before the next (one chunk each). */
export async function appendOneByOne(
  ch: ConfirmChannel,
  q: string,
  bodies: string[],
  options: Options.Publish = {},
): Promise<void> {
  for (const b of bodies) {
    ch.sendToQueue(q, Buffer.from(b), options);
    await ch.waitForConfirms();
  }
}

/** A stream consumer (acking each delivery) that records `body@offset`. */
export interface Reader {
  tag: string;
  got: string[];
}

export async function reader(ch: Channel, q: string, offset?: unknown): Promise<Reader> {
  const r: Reader = { tag: "", got: [] };
  const args = offset === undefined ? {} : { "x-stream-offset": offset };
  const ok = await ch.consume(
    q,
    (m) => {
      if (!m) return;
      const o = m.properties.headers?.["x-stream-offset"];
      r.got.push(`${m.content.toString()}@${o}${m.fields.redelivered ? " (redelivered)" : ""}`);
      ch.ack(m);
    },
    { arguments: args },
  );
  r.tag = ok.consumerTag;
  return r;
}

/** Wait (bounded, 3 s) until the readers together hold `n` deliveries. */
export async function readAll(ctx: Ctx, readers: Reader[], n: number): Promise<void> {
  await ctx.poll(
    async () => readers.reduce((sum, r) => sum + r.got.length, 0),
    (sum) => sum >= n,
  );
}

/** A fresh channel with a prefetch, consuming from `offset` until `n` arrived (bounded). */
export async function readFrom(
  ctx: Ctx,
  s: Session,
  q: string,
  offset: unknown,
  n: number,
): Promise<string[]> {
  const t = await s.channel();
  await t.ch.prefetch(100);
  const r = await reader(t.ch, q, offset);
  await readAll(ctx, [r], n);
  await t.ch.close();
  return r.got;
}

/** Declare `q` with these options on a channel of its own: declare-ok counts, or the error. */
async function declare(ctx: Ctx, s: Session, q: string, options: Options.AssertQueue) {
  const t = await s.channel();
  let ok: Outcome = null;
  const failure = await ctx.failure(s, t, async () => {
    const r = await t.ch.assertQueue(q, options);
    ok = [r.messageCount, r.consumerCount];
  });
  return failure.closed === "none" ? ok : failure;
}

const stream = (args: Record<string, unknown>, options: Options.AssertQueue = {}) => ({
  ...STREAM,
  ...options,
  arguments: { ...STREAM.arguments, ...args },
});

export const STREAM_SCENARIOS: Scenario[] = [
  {
    name: "stream declare: the properties and arguments a stream refuses, and x-max-age's forms",
    async run(ctx) {
      const s = await ctx.connect();
      const cases: Record<string, Options.AssertQueue> = {
        plain: STREAM,
        exclusive: stream({}, { exclusive: true }),
        autoDelete: stream({}, { autoDelete: true }),
        nonDurable: stream({}, { durable: false }),
        maxLength: stream({ "x-max-length": 5 }),
        messageTtl: stream({ "x-message-ttl": 5 }),
        deadLetter: stream({ "x-dead-letter-exchange": "x" }),
        unknownArg: stream({ "x-eventlab-anything": 1 }),
        age7D: stream({ "x-max-age": "7D" }),
        age1h: stream({ "x-max-age": "1h" }),
        age30s: stream({ "x-max-age": "30s" }),
        age0s: stream({ "x-max-age": "0s" }),
        age5ms: stream({ "x-max-age": "5ms" }),
        ageNumber: stream({ "x-max-age": 60 }),
        bytesNegative: stream({ "x-max-length-bytes": -1 }),
        bytesText: stream({ "x-max-length-bytes": "a" }),
        segmentTooLarge: stream({ "x-stream-max-segment-size-bytes": 3_000_000_001 }),
        segmentNegative: stream({ "x-stream-max-segment-size-bytes": -1 }),
        clusterSize0: stream({ "x-initial-cluster-size": 0 }),
        locator: stream({ "x-queue-leader-locator": "nowhere" }),
      };
      const out: Record<string, Outcome> = {};
      for (const [k, options] of Object.entries(cases)) {
        out[k] = await declare(ctx, s, ctx.q(k), options);
      }
      const serverNamed = await declare(ctx, s, "", STREAM);
      // x-max-age without a leading digit crashes RabbitMQ's channel: the connection goes.
      const s2 = await ctx.connect();
      const noNumber = await declare(ctx, s2, ctx.q("ageh"), stream({ "x-max-age": "h" }));
      return { ...out, serverNamed, ageWithoutNumber: noNumber };
    },
  },
  {
    name: "stream redeclare: equivalence over the stream's own arguments; passive declare",
    async run(ctx) {
      const s = await ctx.connect();
      const q = ctx.q("stream");
      const base = stream({ "x-max-age": "1h" });
      const cq = ctx.q("classic");
      await declare(ctx, s, cq, { durable: true });
      return {
        first: await declare(ctx, s, q, base),
        same: await declare(ctx, s, q, base),
        otherAge: await declare(ctx, s, q, stream({ "x-max-age": "2h" })),
        addedBytes: await declare(
          ctx,
          s,
          q,
          stream({ "x-max-age": "1h", "x-max-length-bytes": 9 }),
        ),
        withoutType: await declare(ctx, s, q, { durable: true, arguments: { "x-max-age": "1h" } }),
        nonDurable: await declare(ctx, s, q, { ...base, durable: false }),
        exclusive: await declare(ctx, s, q, { ...base, exclusive: true }),
        maxLengthIgnored: await declare(
          ctx,
          s,
          q,
          stream({ "x-max-age": "1h", "x-max-length": 5 }),
        ),
        classicAsStream: await declare(ctx, s, cq, STREAM),
        passive: await (async () => {
          const t = await s.channel();
          const r = await t.ch.checkQueue(q);
          return [r.messageCount, r.consumerCount];
        })(),
      };
    },
  },
  {
    name: "stream consume: first, last, next, offsets and timestamps; a numeric offset filters later messages",
    async run(ctx) {
      const s = await ctx.connect();
      const pub = (await s.confirmChannel()).ch;
      const q = ctx.q("stream");
      await pub.assertQueue(q, STREAM);
      await appendOneByOne(pub, q, ["a", "b", "c"]);
      const read = (offset: unknown, n: number) => readFrom(ctx, s, q, offset, n);
      const past = { "!": "timestamp", value: 1_000_000_000 };
      const out: Record<string, Outcome> = {
        first: await read("first", 3),
        last: await read("last", 1),
        offset1: await read(1, 2),
        negative: await read(-5, 3),
        pastTimestamp: await read(past, 3),
        lastHour: await read("1h", 3),
      };
      // Consumers that start at the end, all on one channel, so that RabbitMQ serves them from
      // the same log event: once `next` has the new message, the others have had their chance.
      const t = await s.channel();
      await t.ch.prefetch(10);
      const waiting = {
        next: await reader(t.ch, q, "next"),
        absent: await reader(t.ch, q),
        offset3: await reader(t.ch, q, 3),
        offset100: await reader(t.ch, q, 100),
        future: await reader(t.ch, q, { "!": "timestamp", value: 4_000_000_000 }),
      };
      await appendOneByOne(pub, q, ["d"]);
      await readAll(ctx, [waiting.next], 1);
      await t.ch.checkQueue(q);
      for (const [k, r] of Object.entries(waiting)) out[k] = r.got;
      return out;
    },
  },
  {
    name: "stream consume: the prefetch is credit, an ack gives it back, every consumer reads it all",
    async run(ctx) {
      const s = await ctx.connect();
      const pub = (await s.confirmChannel()).ch;
      const q = ctx.q("stream");
      await pub.assertQueue(q, STREAM);
      await appendOneByOne(pub, q, ["1", "2", "3", "4", "5"]);
      const t = await s.channel();
      await t.ch.prefetch(2);
      const msgs: Message[] = [];
      await t.ch.consume(q, (m) => m && msgs.push(m), {
        arguments: { "x-stream-offset": "first" },
      });
      const count = () =>
        ctx.poll(
          async () => msgs.length,
          (n) => n >= 5,
          1000,
        );
      await ctx.poll(
        async () => msgs.length,
        (n) => n >= 2,
      );
      await t.ch.checkQueue(q);
      const unacked = msgs.length;
      t.ch.ack(msgs[0] as Message);
      await ctx.poll(
        async () => msgs.length,
        (n) => n >= 3,
      );
      await t.ch.checkQueue(q);
      const afterOneAck = msgs.length;
      t.ch.ack(msgs[2] as Message, true);
      const afterAckMultiple = await count();
      const other = await readFrom(ctx, s, q, "first", 5);
      const declared = await pub.checkQueue(q);
      await t.ch.close();
      // Unacknowledged stream deliveries are not redelivered: the log keeps everything anyway.
      const again = await readFrom(ctx, s, q, 3, 2);
      return {
        unacked,
        afterOneAck,
        afterAckMultiple,
        redelivered: msgs.map((m) => m.fields.redelivered),
        other,
        consumerCount: declared.consumerCount,
        again,
      };
    },
  },
  {
    name: "stream refusals: basic.get, purge, nack, reject, recover, no-ack, no prefetch, other queue types' arguments",
    async run(ctx) {
      const setup = await ctx.connect();
      const pub = (await setup.confirmChannel()).ch;
      const q = ctx.q("stream");
      await pub.assertQueue(q, STREAM);
      await appendOneByOne(pub, q, ["1"]);
      /** `op` on a channel of a connection of its own, after `prefetch` (0: none). */
      const refused = async (prefetch: number, op: (ch: Channel) => unknown) => {
        const s = await ctx.connect();
        const t = await s.channel();
        if (prefetch > 0) await t.ch.prefetch(prefetch);
        return ctx.failure(s, t, () => op(t.ch));
      };
      /** Settle the first delivery with `how`. */
      const settling = (how: (ch: Channel, m: Message) => unknown) =>
        refused(1, async (ch) => {
          const got = new Promise<Message>((resolve) => {
            void ch.consume(q, (m) => m && resolve(m), {
              arguments: { "x-stream-offset": "first" },
            });
          });
          await how(ch, await got);
        });
      const consume = (prefetch: number, options: Options.Consume) =>
        refused(prefetch, (ch) => ch.consume(q, () => {}, options));
      return {
        get: await refused(0, (ch) => ch.get(q)),
        purge: await refused(0, (ch) => ch.purgeQueue(q)),
        nackRequeue: await settling((ch, m) => ch.nack(m, false, true)),
        rejectDiscard: await settling((ch, m) => ch.reject(m, false)),
        recover: await settling((ch) => ch.recover()),
        ackTwice: await settling((ch, m) => {
          ch.ack(m);
          ch.ack(m);
        }),
        noPrefetch: await consume(0, {}),
        globalPrefetchOnly: await refused(0, async (ch) => {
          await ch.prefetch(5, true);
          return ch.consume(q, () => {});
        }),
        noAck: await consume(1, { noAck: true }),
        priority: await consume(1, { priority: 3 }),
        haFailover: await consume(1, { arguments: { "x-cancel-on-ha-failover": true } }),
        offsetTooShort: await consume(1, { arguments: { "x-stream-offset": "0s" } }),
        offsetBadUnit: await consume(1, { arguments: { "x-stream-offset": "5x" } }),
        offsetWord: await consume(1, { arguments: { "x-stream-offset": "start" } }),
        offsetBoolean: await consume(1, { arguments: { "x-stream-offset": true } }),
        classicWithOffset: await (async () => {
          const cq = ctx.q("classic");
          await pub.assertQueue(cq, { durable: false });
          return refused(0, (ch) =>
            ch.consume(cq, () => {}, { arguments: { "x-stream-offset": "first" } }),
          );
        })(),
        exclusiveTwice: await refused(1, async (ch) => {
          await ch.consume(q, () => {}, { exclusive: true });
          await ch.consume(q, () => {}, { exclusive: true });
        }),
      };
    },
  },
  {
    name: "stream messages: what comes back of a message's properties and headers, through a bound exchange",
    async run(ctx) {
      const s = await ctx.connect();
      const pub = (await s.confirmChannel()).ch;
      const q = ctx.q("stream");
      const x = ctx.x("direct");
      await pub.assertQueue(q, STREAM);
      await pub.assertExchange(x, "direct", { durable: false });
      await pub.bindQueue(q, x, "k");
      pub.publish(x, "k", Buffer.from("full"), {
        contentType: "text/plain",
        deliveryMode: 2,
        priority: 3,
        correlationId: "c1",
        replyTo: "r",
        expiration: "60000",
        messageId: "m1",
        timestamp: 1_700_000_000,
        type: "t",
        appId: "a",
        headers: {
          s: "text",
          i: 5,
          b: true,
          n: null,
          big: 2 ** 40,
          ts: { "!": "timestamp", value: 1_700_000_000 },
          list: [1, "a"],
          table: { x: 1 },
          "x-stream-offset": "mine",
        },
      });
      await pub.waitForConfirms();
      pub.publish(x, "k", Buffer.from("bare"));
      await pub.waitForConfirms();
      const t = await s.channel();
      await t.ch.prefetch(10);
      const got: Outcome[] = [];
      await t.ch.consume(
        q,
        (m) => {
          if (!m) return;
          const { headers: _h, ...props } = m.properties;
          got.push({ ...(summarize(m) as Record<string, Outcome>), props: plainProps(props) });
          t.ch.ack(m);
        },
        { arguments: { "x-stream-offset": "first" } },
      );
      await ctx.poll(
        async () => got.length,
        (n) => n >= 2,
      );
      return got;
    },
  },
  {
    name: "stream delete: consumers are cancelled; delete-ok says 0 whatever if-empty and if-unused say",
    async run(ctx) {
      const s = await ctx.connect();
      const pub = (await s.confirmChannel()).ch;
      const q = ctx.q("stream");
      await pub.assertQueue(q, STREAM);
      await appendOneByOne(pub, q, ["1", "2"]);
      const t = await s.channel();
      await t.ch.prefetch(10);
      const events: string[] = [];
      await t.ch.consume(q, (m) => events.push(m ? m.content.toString() : "cancelled"), {
        arguments: { "x-stream-offset": "first" },
      });
      await ctx.poll(
        async () => events.length,
        (n) => n >= 2,
      );
      const deleted = await pub.deleteQueue(q, { ifEmpty: true, ifUnused: true });
      await ctx.poll(
        async () => events.length,
        (n) => n >= 3,
      );
      return { deleted: deleted.messageCount, events, exists: await ctx.queueExists(s, q) };
    },
  },
  {
    name: "stream as a dead-letter target: RabbitMQ 3.10 drops what is dead-lettered into a stream",
    async run(ctx) {
      const s = await ctx.connect();
      const t = await s.confirmChannel();
      const q = ctx.q("stream");
      const x = ctx.x("dlx");
      const work = ctx.q("work");
      await t.ch.assertQueue(q, STREAM);
      await t.ch.assertExchange(x, "fanout", { durable: false });
      await t.ch.bindQueue(q, x, "");
      await t.ch.assertQueue(work, { durable: false, arguments: { "x-dead-letter-exchange": x } });
      await appendOneByOne(t.ch, work, ["dead"]);
      const m = await ctx.poll(
        () => t.ch.get(work),
        (r) => r !== false,
      );
      if (m) t.ch.reject(m, false);
      // Whether it lands before or after this one, a dead-lettered message would show.
      await ctx.poll(
        async () => (await t.ch.checkQueue(work)).messageCount,
        (n) => n === 0,
      );
      t.ch.publish(x, "", Buffer.from("published"));
      await t.ch.waitForConfirms();
      return readFrom(ctx, s, q, "first", 1);
    },
  },
];

/** Message properties as plain JSON (timestamps are numbers of seconds in amqplib). */
function plainProps(p: Record<string, unknown>): Outcome {
  const out: Record<string, Outcome> = {};
  for (const k of Object.keys(p).sort()) {
    const v = p[k];
    if (v !== undefined) out[k] = v as Outcome;
  }
  return out;
}

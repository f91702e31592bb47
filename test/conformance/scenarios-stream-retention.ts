/**
 * Conformance scenarios for stream retention: x-max-length-bytes and x-max-age delete whole
 * segments, and only when a new segment starts (x-stream-max-segment-size-bytes); and the
 * message count queue.declare-ok gives for a stream. Spread into SCENARIOS by scenarios.ts.
 *
 * The segment size is small (500 bytes) so that a few messages fill one: a 20-byte message
 * published to the default exchange with a 17-character queue name takes 175 bytes on
 * RabbitMQ's disk, and each segment after the first starts with a 104-byte writer-tracking
 * entry that takes an offset of its own. RabbitMQ applies retention in the background, so the
 * scenarios wait (bounded) for the first offset to move.
 */
import type { Ctx, Scenario, Session } from "./harness.js";
import { timeout } from "./harness.js";
import { appendOneByOne, readAll, reader } from "./scenarios-streams.js";

const BODY = "x".repeat(20);

const offsetOf = (got: string) => Number(got.slice(got.indexOf("@") + 1));

/** The offset of the last message in the stream (a consumer from `last`). */
async function lastOffset(ctx: Ctx, s: Session, q: string): Promise<number> {
  const t = await s.channel();
  await t.ch.prefetch(1);
  const r = await reader(t.ch, q, "last");
  await readAll(ctx, [r], 1);
  await t.ch.close();
  return offsetOf(r.got[0] ?? "@-1");
}

/**
 * The offsets a consumer from `offset` gets up to `last`, read again (bounded, 3 s) until
 * `until` holds for them.
 */
async function offsets(
  ctx: Ctx,
  s: Session,
  q: string,
  offset: unknown,
  last: number,
  until: (o: number[]) => boolean,
): Promise<number[]> {
  return ctx.poll(async () => {
    const t = await s.channel();
    await t.ch.prefetch(100);
    const r = await reader(t.ch, q, offset);
    await ctx.poll(
      async () => r.got.map(offsetOf),
      (o) => o.includes(last),
    );
    await t.ch.close();
    return r.got.map(offsetOf);
  }, until);
}

export const STREAM_RETENTION_SCENARIOS: Scenario[] = [
  {
    name: "stream retention by x-max-length-bytes: whole segments go when a new one starts; tracking entries take offsets",
    async run(ctx) {
      const s = await ctx.connect();
      const pub = (await s.confirmChannel()).ch;
      const q = ctx.q("ret");
      await pub.assertQueue(q, {
        durable: true,
        arguments: {
          "x-queue-type": "stream",
          "x-stream-max-segment-size-bytes": 500,
          "x-max-length-bytes": 1200,
        },
      });
      await appendOneByOne(
        pub,
        q,
        Array.from({ length: 20 }, () => BODY),
      );
      const last = await lastOffset(ctx, s, q);
      const first = await offsets(ctx, s, q, "first", last, (o) => (o[0] ?? 0) > 0);
      const fromOffset5 = await offsets(ctx, s, q, 5, last, (o) => (o[0] ?? 0) > 5);
      return { last, first, fromOffset5 };
    },
  },
  {
    name: "stream retention by x-max-age: a full segment rolls over, and its old messages go, when a consumer attaches",
    async run(ctx) {
      const s = await ctx.connect();
      const pub = (await s.confirmChannel()).ch;
      const args = {
        "x-queue-type": "stream",
        "x-stream-max-segment-size-bytes": 500,
        "x-max-age": "1s",
      };
      const notFull = ctx.q("two");
      const full = ctx.q("three");
      await pub.assertQueue(notFull, { durable: true, arguments: args });
      await pub.assertQueue(full, { durable: true, arguments: args });
      await appendOneByOne(pub, notFull, [BODY, BODY]);
      await appendOneByOne(pub, full, [BODY, BODY, BODY]);
      // The one wait by time: the messages must become older than x-max-age.
      await timeout(1500);
      const kept = await offsets(ctx, s, notFull, "first", 1, () => true);
      // Nothing to wait for here but nothing: each read gets a short window, and RabbitMQ,
      // which deletes in the background, is read again (bounded) until the segment is gone.
      const fullAfterAttach = await ctx.poll(
        async () => {
          const t = await s.channel();
          await t.ch.prefetch(100);
          const r = await reader(t.ch, full, "first");
          await timeout(300);
          await t.ch.close();
          return r.got.map(offsetOf);
        },
        (o) => o.length === 0,
      );
      await appendOneByOne(pub, full, [BODY]);
      const last = await lastOffset(ctx, s, full);
      const afterNextMessage = await offsets(ctx, s, full, "first", last, () => true);
      return { kept, fullAfterAttach, afterNextMessage, last };
    },
  },
  {
    name: "stream declare-ok: the message count after publishing (RabbitMQ's lags)",
    async run(ctx) {
      const s = await ctx.connect();
      const pub = (await s.confirmChannel()).ch;
      const q = ctx.q("count");
      const options = { durable: true, arguments: { "x-queue-type": "stream" } };
      await pub.assertQueue(q, options);
      await appendOneByOne(pub, q, ["1", "2", "3"]);
      const ok = await pub.assertQueue(q, options);
      return { afterPublish: [ok.messageCount, ok.consumerCount] };
    },
  },
];

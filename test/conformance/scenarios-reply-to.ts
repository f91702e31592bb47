/**
 * Conformance scenarios for direct reply-to (`amq.rabbitmq.reply-to`), RabbitMQ's RPC without a
 * reply queue. Spread into SCENARIOS by scenarios.ts. The token a broker puts after
 * `amq.rabbitmq.reply-to.` names a channel in its own way: outcomes show it as `<token>`.
 */
import type { Channel, ConfirmChannel, Message } from "amqplib";
import type { Ctx, Outcome, Scenario, Session } from "./harness.js";

const REPLY_TO = "amq.rabbitmq.reply-to";

/** Outcomes with the broker's reply-to token replaced. */
function tokenless(v: Outcome): Outcome {
  return JSON.parse(
    JSON.stringify(v).replace(
      /amq\.rabbitmq\.reply-to\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+/g,
      `${REPLY_TO}.<token>`,
    ),
  ) as Outcome;
}

/** An RPC server: a queue whose requests it records, and a confirm channel to reply on. */
async function server(ctx: Ctx) {
  const s = await ctx.connect();
  const ch = (await s.confirmChannel()).ch;
  const q = ctx.q("rpc");
  await ch.assertQueue(q, { durable: false });
  const requests: Message[] = [];
  const returned: string[] = [];
  ch.on("return", (m: Message) => {
    const { replyText } = m.fields as Message["fields"] & { replyText?: string };
    returned.push(`${m.content.toString()} ${replyText}`);
  });
  await ch.consume(q, (m) => m && requests.push(m), { noAck: true });
  return { s, ch, q, requests, returned };
}

/** A client channel consuming its replies, recording each delivery. */
async function client(s: Session, ch?: Channel) {
  const c = ch ?? (await s.channel()).ch;
  const replies: Outcome[] = [];
  const ok = await c.consume(
    REPLY_TO,
    (m) => {
      if (!m) return;
      const { consumerTag: _tag, ...fields } = m.fields as Message["fields"] & {
        consumerTag: string;
      };
      replies.push({
        body: m.content.toString(),
        correlationId: m.properties.correlationId ?? null,
        ...(fields as Record<string, Outcome>),
      });
    },
    { noAck: true },
  );
  return { ch: c, tag: ok.consumerTag, replies };
}

async function reply(ch: ConfirmChannel, to: string, body: string, mandatory = false) {
  ch.publish("", to, Buffer.from(body), { correlationId: body, mandatory });
  await ch.waitForConfirms();
}

export const REPLY_TO_SCENARIOS: Scenario[] = [
  {
    name: "direct reply-to: the RPC round trip; a mandatory reply is returned though delivered",
    async run(ctx) {
      const srv = await server(ctx);
      const s = await ctx.connect();
      const c = await client(s);
      c.ch.sendToQueue(srv.q, Buffer.from("req1"), { replyTo: REPLY_TO });
      c.ch.sendToQueue(srv.q, Buffer.from("req2"), { replyTo: REPLY_TO });
      await ctx.poll(
        async () => srv.requests.length,
        (n) => n >= 2,
      );
      const to = srv.requests[0]?.properties.replyTo as string;
      await reply(srv.ch, to, "rep1");
      await reply(srv.ch, to, "rep2", true);
      await ctx.poll(
        async () => c.replies.length + srv.returned.length,
        (n) => n >= 3,
      );
      return tokenless({
        replyTo: srv.requests.map((r) => r.properties.replyTo as string),
        sameToken: srv.requests[1]?.properties.replyTo === to,
        replies: c.replies,
        returned: srv.returned,
      });
    },
  },
  {
    name: "direct reply-to: refusals when consuming and publishing",
    async run(ctx) {
      const srv = await server(ctx);
      const s = await ctx.connect();
      const attempt = async (op: (ch: Channel) => unknown, session?: Session) => {
        const ss = session ?? s;
        const t = await ss.channel();
        return ctx.failure(ss, t, () => op(t.ch));
      };
      return {
        withAcks: await attempt((ch) => ch.consume(REPLY_TO, () => {}, { noAck: false })),
        twice: await attempt(async (ch) => {
          await ch.consume(REPLY_TO, () => {}, { noAck: true });
          await ch.consume(REPLY_TO, () => {}, { noAck: true });
        }),
        publishWithoutConsumer: await attempt((ch) =>
          ch.sendToQueue(srv.q, Buffer.from("x"), { replyTo: REPLY_TO }),
        ),
        get: await attempt((ch) => ch.get(REPLY_TO, { noAck: true })),
        purge: await attempt((ch) => ch.purgeQueue(REPLY_TO)),
        bind: await attempt((ch) => ch.bindQueue(REPLY_TO, "amq.direct", "k")),
        consumeTokenName: await attempt((ch) =>
          ch.consume(`${REPLY_TO}.abc`, () => {}, { noAck: true }),
        ),
        tagInUse: await attempt(
          async (ch) => {
            const q = await ch.assertQueue("", { exclusive: true });
            ctx.ownQueue(q.queue);
            await ch.consume(q.queue, () => {}, { consumerTag: "taken" });
            await ch.consume(REPLY_TO, () => {}, { noAck: true, consumerTag: "taken" });
          },
          await ctx.connect(),
        ),
      };
    },
  },
  {
    name: "direct reply-to: queue.declare of the pseudo-queue and of a channel's reply-to name",
    async run(ctx) {
      const srv = await server(ctx);
      const s = await ctx.connect();
      const declare = async (name: string, passive: boolean, session = s) => {
        const t = await session.channel();
        let ok: Outcome = null;
        const failure = await ctx.failure(session, t, async () => {
          const r = passive
            ? await t.ch.checkQueue(name)
            : await t.ch.assertQueue(name, { durable: true, exclusive: true });
          ok = [r.queue, r.messageCount, r.consumerCount];
        });
        return failure.closed === "none" ? ok : failure;
      };
      const before = {
        passive: await declare(REPLY_TO, true),
        active: await declare(REPLY_TO, false),
      };
      const c = await client(s);
      c.ch.sendToQueue(srv.q, Buffer.from("req"), { replyTo: REPLY_TO });
      await ctx.poll(
        async () => srv.requests.length,
        (n) => n >= 1,
      );
      const to = srv.requests[0]?.properties.replyTo as string;
      const whileConsuming = await declare(to, true);
      await c.ch.close();
      const afterClose = await declare(to, true);
      return tokenless({
        before,
        whileConsuming,
        afterClose,
        unknownName: await declare(`${REPLY_TO}.abc`, true),
        otherName: await declare(`${REPLY_TO}x`, true),
        undecodable: await declare(`${REPLY_TO}.abc.def`, true, await ctx.connect()),
      });
    },
  },
  {
    name: "direct reply-to: a reply to a closed channel or a cancelled consumer is dropped",
    async run(ctx) {
      const srv = await server(ctx);
      const s = await ctx.connect();
      const first = await client(s);
      first.ch.sendToQueue(srv.q, Buffer.from("req"), { replyTo: REPLY_TO });
      const second = await client(s);
      second.ch.sendToQueue(srv.q, Buffer.from("req"), { replyTo: REPLY_TO });
      await ctx.poll(
        async () => srv.requests.length,
        (n) => n >= 2,
      );
      const [toFirst, toSecond] = srv.requests.map((r) => r.properties.replyTo as string);
      await first.ch.close();
      await second.ch.cancel(second.tag);
      await reply(srv.ch, toFirst as string, "to-closed", true);
      await reply(srv.ch, toSecond as string, "to-cancelled", true);
      await reply(srv.ch, `${REPLY_TO}.nobody`, "to-nobody", true);
      await ctx.poll(
        async () => srv.returned.length,
        (n) => n >= 3,
      );
      const t = await s.channel();
      const afterCancel = await ctx.failure(s, t, async () => {
        await t.ch.consume(REPLY_TO, () => {}, { noAck: true, consumerTag: "again" });
        await t.ch.cancel("again");
        t.ch.sendToQueue(srv.q, Buffer.from("late"), { replyTo: REPLY_TO });
      });
      return {
        replies: [...first.replies, ...second.replies],
        returned: srv.returned,
        serverChannelOpen: (await ctx.queueExists(srv.s, srv.q)) === true,
        afterCancel,
      };
    },
  },
];

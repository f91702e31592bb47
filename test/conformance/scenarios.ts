/**
 * Conformance scenarios: one list of small scripts, run against the embedded broker and against a
 * real RabbitMQ; each returns what a client observes, normalized by the harness
 * (test/conformance/harness.ts). Objects are named with `ctx.q`/`ctx.x` so the runner deletes
 * them afterwards (in its `finally`), whatever the scenario did.
 */
import type { Channel, ConfirmChannel, Message } from "amqplib";
import {
  type Ctx,
  METHOD,
  type Outcome,
  rpc,
  type Scenario,
  summarize,
  timeout,
} from "./harness.js";
import { CONSUMER_SCENARIOS } from "./scenarios-consumers.js";
import { REPLY_TO_SCENARIOS } from "./scenarios-reply-to.js";
import { STREAM_RETENTION_SCENARIOS } from "./scenarios-stream-retention.js";
import { STREAM_SCENARIOS } from "./scenarios-streams.js";
import { TRACE_SCENARIOS } from "./scenarios-trace.js";

const B = (s: string) => Buffer.from(s);

/** Publish bodies on a confirm channel and wait for the confirms. */
async function publishAll(
  ch: ConfirmChannel,
  exchange: string,
  key: string,
  bodies: string[],
  options: Parameters<Channel["publish"]>[3] = {},
): Promise<void> {
  for (const b of bodies) ch.publish(exchange, key, B(b), options);
  await ch.waitForConfirms();
}

/** Publish and record each message's confirm: "ack" or "nack". */
async function publishConfirmed(
  ch: ConfirmChannel,
  exchange: string,
  key: string,
  bodies: string[],
): Promise<string[]> {
  const results = bodies.map(
    (b) =>
      new Promise<string>((resolve) => {
        ch.publish(exchange, key, B(b), {}, (err) => resolve(err ? "nack" : "ack"));
      }),
  );
  return Promise.all(results);
}

/** Declare a fresh queue (durable: false) and bind it. */
async function boundQueue(
  ctx: Ctx,
  ch: Channel,
  suffix: string,
  exchange: string,
  key: string,
  args?: Record<string, unknown>,
): Promise<string> {
  const q = ctx.q(suffix);
  await ch.assertQueue(q, { durable: false });
  await ch.bindQueue(q, exchange, key, args);
  return q;
}

/** One session, a plain channel and a confirm channel. */
async function open(ctx: Ctx) {
  const s = await ctx.connect();
  const t = await s.channel();
  const c = await s.confirmChannel();
  return { s, t, ch: t.ch, pub: c.ch };
}

/** A dead-letter target: a fanout exchange with one queue bound. */
async function dlx(ctx: Ctx, ch: Channel): Promise<{ x: string; q: string }> {
  const x = ctx.x("dlx");
  await ch.assertExchange(x, "fanout", { durable: false });
  const q = await boundQueue(ctx, ch, "dlq", x, "");
  return { x, q };
}

export const SCENARIOS: Scenario[] = [
  // ---------------------------------------------------------------- exchange.declare / delete
  {
    name: "exchange.declare: the four types, then passive declare of each",
    async run(ctx) {
      const { ch } = await open(ctx);
      const out: Outcome[] = [];
      for (const type of ["direct", "fanout", "topic", "headers"]) {
        const x = ctx.x(type);
        const ok = await ch.assertExchange(x, type, { durable: false });
        await ch.checkExchange(x);
        out.push([type, ok.exchange]);
      }
      return out;
    },
  },
  {
    name: "exchange.declare passive of a missing exchange: 404 closes the channel",
    async run(ctx) {
      const { s, t } = await open(ctx);
      return ctx.failure(s, t, () => t.ch.checkExchange(ctx.name("missing")));
    },
  },
  {
    name: "exchange.declare equivalence: different type, durable, auto-delete → 406",
    async run(ctx) {
      const s = await ctx.connect();
      const x = ctx.x("eq");
      const setup = await s.channel();
      await setup.ch.assertExchange(x, "direct", { durable: false, autoDelete: false });
      const out: Outcome[] = [];
      for (const [type, opts] of [
        ["fanout", { durable: false, autoDelete: false }],
        ["direct", { durable: true, autoDelete: false }],
        ["direct", { durable: false, autoDelete: true }],
        ["direct", { durable: false, autoDelete: false, internal: true }],
      ] as const) {
        const t = await s.channel();
        out.push(await ctx.failure(s, t, () => t.ch.assertExchange(x, type, opts)));
      }
      // The same declaration again is fine.
      const t = await s.channel();
      out.push(await ctx.failure(s, t, () => t.ch.assertExchange(x, "direct", { durable: false })));
      return out;
    },
  },
  {
    name: "exchange.declare of an amq.* name → 403; passive amq.direct is fine",
    async run(ctx) {
      const { s, t } = await open(ctx);
      const passive = await t.ch.checkExchange("amq.direct").then(() => "ok");
      const t2 = await s.channel();
      return {
        passive,
        declare: await ctx.failure(s, t2, () =>
          t2.ch.assertExchange(`amq.${ctx.name("x")}`, "direct", { durable: false }),
        ),
      };
    },
  },
  {
    name: "exchange.declare of an unknown type → 503 closes the connection",
    async run(ctx) {
      const { s, t } = await open(ctx);
      return ctx.failure(s, t, () =>
        t.ch.assertExchange(ctx.x("weird"), "x-no-such-type", { durable: false }),
      );
    },
  },
  {
    name: "exchange.delete: if-unused with a binding → 406; missing exchange; then delete",
    async run(ctx) {
      const s = await ctx.connect();
      const t = await s.channel();
      const x = ctx.x("src");
      await t.ch.assertExchange(x, "fanout", { durable: false });
      await boundQueue(ctx, t.ch, "q", x, "");
      const ifUnused = await ctx.failure(s, t, () => t.ch.deleteExchange(x, { ifUnused: true }));
      const t2 = await s.channel();
      const missing = await ctx.failure(s, t2, () => t2.ch.deleteExchange(ctx.name("missing")));
      const t3 = await s.channel();
      await t3.ch.deleteExchange(x);
      const after = await ctx.failure(s, t3, () => t3.ch.checkExchange(x));
      return { ifUnused, missing, after };
    },
  },
  // ---------------------------------------------------------------- queue.declare
  {
    name: "queue.declare server-named: amq.gen- name, zero counts",
    async run(ctx) {
      const { ch } = await open(ctx);
      const ok = await ch.assertQueue("", { exclusive: true });
      return {
        name: /^amq\.gen-[A-Za-z0-9_-]{22}$/.test(ok.queue),
        messageCount: ok.messageCount,
        consumerCount: ok.consumerCount,
      };
    },
  },
  {
    name: "queue.declare passive of a missing queue → 404",
    async run(ctx) {
      const { s, t } = await open(ctx);
      return ctx.failure(s, t, () => t.ch.checkQueue(ctx.name("missing")));
    },
  },
  {
    name: "exclusive queue used from a second connection → 405 (declare, passive, get, consume, delete, purge)",
    async run(ctx) {
      const owner = await ctx.connect();
      const o = await owner.channel();
      const q = ctx.q("excl");
      await o.ch.assertQueue(q, { exclusive: true });
      const other = await ctx.connect();
      const out: Record<string, Outcome> = {};
      const ops: Record<string, (ch: Channel) => Promise<unknown>> = {
        declare: (ch) => ch.assertQueue(q, { exclusive: true }),
        passive: (ch) => ch.checkQueue(q),
        get: (ch) => ch.get(q),
        consume: (ch) => ch.consume(q, () => {}),
        delete: (ch) => ch.deleteQueue(q),
        purge: (ch) => ch.purgeQueue(q),
      };
      for (const [k, op] of Object.entries(ops)) {
        const t = await other.channel();
        out[k] = await ctx.failure(other, t, () => op(t.ch));
      }
      return out;
    },
  },
  {
    name: "queue.declare equivalence: durable, auto-delete, x-message-ttl, extra arg → 406",
    async run(ctx) {
      const s = await ctx.connect();
      const q = ctx.q("eq");
      const setup = await s.channel();
      await setup.ch.assertQueue(q, { durable: false, arguments: { "x-message-ttl": 1000 } });
      const out: Outcome[] = [];
      for (const opts of [
        { durable: true, arguments: { "x-message-ttl": 1000 } },
        { durable: false, autoDelete: true, arguments: { "x-message-ttl": 1000 } },
        { durable: false, arguments: { "x-message-ttl": 2000 } },
        { durable: false, arguments: {} },
        { durable: false, arguments: { "x-message-ttl": 1000, "x-max-length": 5 } },
        { durable: false, arguments: { "x-message-ttl": 1000 } },
      ]) {
        const t = await s.channel();
        out.push(await ctx.failure(s, t, () => t.ch.assertQueue(q, opts)));
      }
      return out;
    },
  },
  {
    name: "queue.declare of an amq.* name → 403",
    async run(ctx) {
      const { s, t } = await open(ctx);
      return ctx.failure(s, t, () => t.ch.assertQueue(`amq.${ctx.name("q")}`, { durable: false }));
    },
  },
  {
    name: "queue.declare-ok counts ready messages and consumers",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const q = ctx.q("counts");
      await ch.assertQueue(q, { durable: false });
      await publishAll(pub, "", q, ["1", "2", "3"]);
      const before = await ch.checkQueue(q);
      await ch.prefetch(1);
      const got: string[] = [];
      await ch.consume(q, (m) => m && got.push(m.content.toString()));
      await ctx.poll(
        async () => got.length,
        (n) => n >= 1,
      );
      const after = await ch.assertQueue(q, { durable: false });
      return {
        before: [before.messageCount, before.consumerCount],
        after: [after.messageCount, after.consumerCount],
        got,
      };
    },
  },
  // ---------------------------------------------------------------- bind / unbind / purge / delete
  {
    name: "queue.bind then unbind: only messages published while bound arrive",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const x = ctx.x("direct");
      await ch.assertExchange(x, "direct", { durable: false });
      const q = await boundQueue(ctx, ch, "q", x, "k");
      await publishAll(pub, x, "k", ["bound"]);
      await ch.unbindQueue(q, x, "k");
      await publishAll(pub, x, "k", ["unbound"]);
      // Unbinding something never bound is fine in RabbitMQ.
      await ch.unbindQueue(q, x, "never");
      return ctx.bodies(ch, q);
    },
  },
  {
    name: "queue.purge returns the purged count; queue.delete returns the remaining count",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const q = ctx.q("p");
      await ch.assertQueue(q, { durable: false });
      await publishAll(pub, "", q, ["1", "2", "3"]);
      const purged = await ch.purgeQueue(q);
      await publishAll(pub, "", q, ["4", "5"]);
      const deleted = await ch.deleteQueue(q);
      const missing = await ch.deleteQueue(ctx.name("missing"));
      return {
        purged: purged.messageCount,
        deleted: deleted.messageCount,
        missing: missing.messageCount,
      };
    },
  },
  {
    name: "queue.delete if-unused with a consumer and if-empty with messages → 406",
    async run(ctx) {
      const s = await ctx.connect();
      const t = await s.channel();
      const c = await s.confirmChannel();
      const q = ctx.q("d");
      await t.ch.assertQueue(q, { durable: false });
      await publishAll(c.ch, "", q, ["1"]);
      const ifEmpty = await ctx.failure(s, t, () => t.ch.deleteQueue(q, { ifEmpty: true }));
      const t2 = await s.channel();
      await t2.ch.consume(q, () => {});
      const t3 = await s.channel();
      const ifUnused = await ctx.failure(s, t3, () => t3.ch.deleteQueue(q, { ifUnused: true }));
      return { ifEmpty, ifUnused };
    },
  },
  {
    name: "queue.bind to the default exchange → 403",
    async run(ctx) {
      const { s, t } = await open(ctx);
      const q = ctx.q("q");
      await t.ch.assertQueue(q, { durable: false });
      return ctx.failure(s, t, () => t.ch.bindQueue(q, "", "k"));
    },
  },
  {
    name: "queue.bind with a missing queue or a missing exchange → 404",
    async run(ctx) {
      const s = await ctx.connect();
      const t = await s.channel();
      const x = ctx.x("x");
      const q = ctx.q("q");
      await t.ch.assertExchange(x, "direct", { durable: false });
      await t.ch.assertQueue(q, { durable: false });
      const missingQueue = await ctx.failure(s, t, () => t.ch.bindQueue(ctx.name("nq"), x, "k"));
      const t2 = await s.channel();
      const missingExchange = await ctx.failure(s, t2, () =>
        t2.ch.bindQueue(q, ctx.name("nx"), "k"),
      );
      const t3 = await s.channel();
      const bothMissing = await ctx.failure(s, t3, () =>
        t3.ch.bindQueue(ctx.name("nq"), ctx.name("nx"), "k"),
      );
      const t4 = await s.channel();
      const unbindMissing = await ctx.failure(s, t4, () =>
        t4.ch.unbindQueue(q, ctx.name("nx"), "k"),
      );
      return { missingQueue, missingExchange, bothMissing, unbindMissing };
    },
  },
  // ---------------------------------------------------------------- routing
  {
    name: "routing: direct and fanout, default exchange, amq.direct",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const d = ctx.x("direct");
      const f = ctx.x("fanout");
      await ch.assertExchange(d, "direct", { durable: false });
      await ch.assertExchange(f, "fanout", { durable: false });
      const a = await boundQueue(ctx, ch, "a", d, "a");
      const ab = await boundQueue(ctx, ch, "ab", d, "a");
      await ch.bindQueue(ab, d, "b");
      await ch.bindQueue(a, f, "ignored");
      await ch.bindQueue(ab, f, "");
      const amq = await boundQueue(ctx, ch, "amq", "amq.direct", ctx.name("k"));
      await publishAll(pub, d, "a", ["d-a"]);
      await publishAll(pub, d, "b", ["d-b"]);
      await publishAll(pub, d, "c", ["d-c"]);
      await publishAll(pub, f, "whatever", ["f"]);
      await publishAll(pub, "", a, ["default"]);
      await publishAll(pub, "amq.direct", ctx.name("k"), ["amq"]);
      return {
        a: await ctx.bodies(ch, a),
        ab: await ctx.bodies(ch, ab),
        amq: await ctx.bodies(ch, amq),
      };
    },
  },
  {
    name: "routing: topic edge cases",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const x = ctx.x("topic");
      await ch.assertExchange(x, "topic", { durable: false });
      const patterns = ["#", "a.#", "a.#.b", "*", "a.*", "*.b", "", "a..b", "#.#", "a.*.#"];
      const queues: Record<string, string> = {};
      for (const [i, p] of patterns.entries()) queues[p] = await boundQueue(ctx, ch, `t${i}`, x, p);
      const keys = ["", "a", "a.b", "a.x.b", "a.x.y.b", "b", "a.", ".b", "a..b", "x.b"];
      for (const k of keys) pub.publish(x, k, B(JSON.stringify(k)));
      await pub.waitForConfirms();
      const out: Record<string, Outcome> = {};
      for (const p of patterns) out[JSON.stringify(p)] = await ctx.bodies(ch, queues[p]!);
      return out;
    },
  },
  {
    name: "routing: headers exchange x-match all/any/all-with-x/any-with-x",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const x = ctx.x("headers");
      await ch.assertExchange(x, "headers", { durable: false });
      const bindings: Record<string, Record<string, unknown>> = {
        all: { "x-match": "all", a: "1", b: "2" },
        any: { "x-match": "any", a: "1", b: "2" },
        default: { a: "1", b: "2" },
        allWithX: { "x-match": "all-with-x", a: "1", "x-k": "v" },
        anyWithX: { "x-match": "any-with-x", "x-k": "v" },
        allXIgnored: { "x-match": "all", a: "1", "x-k": "v" },
        anyXIgnored: { "x-match": "any", "x-k": "v" },
        voidValue: { "x-match": "all", a: null },
        empty: {},
        emptyAny: { "x-match": "any" },
        number: { "x-match": "all", n: 1 },
      };
      const queues: Record<string, string> = {};
      for (const [name, args] of Object.entries(bindings))
        queues[name] = await boundQueue(ctx, ch, name, x, "", args);
      const messages: Record<string, Record<string, unknown> | undefined> = {
        none: undefined,
        a1: { a: "1" },
        a1b2: { a: "1", b: "2" },
        a1b3: { a: "1", b: "3" },
        a2: { a: "2" },
        a1xk: { a: "1", "x-k": "v" },
        xk: { "x-k": "v" },
        aVoid: { a: null },
        n1: { n: 1 },
        nString: { n: "1" },
      };
      for (const [name, headers] of Object.entries(messages))
        pub.publish(x, "", B(name), headers ? { headers } : {});
      await pub.waitForConfirms();
      const out: Record<string, Outcome> = {};
      for (const name of Object.keys(bindings)) out[name] = await ctx.bodies(ch, queues[name]!);
      return out;
    },
  },
  {
    name: "headers exchange: invalid x-match → 406",
    async run(ctx) {
      const { s, t } = await open(ctx);
      const x = ctx.x("headers");
      await t.ch.assertExchange(x, "headers", { durable: false });
      const q = ctx.q("q");
      await t.ch.assertQueue(q, { durable: false });
      return ctx.failure(s, t, () => t.ch.bindQueue(q, x, "", { "x-match": "some" }));
    },
  },
  {
    name: "exchange-to-exchange bindings and alternate-exchange",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const src = ctx.x("src");
      const mid = ctx.x("mid");
      const alt = ctx.x("alt");
      await ch.assertExchange(alt, "fanout", { durable: false });
      await ch.assertExchange(src, "direct", { durable: false, alternateExchange: alt });
      await ch.assertExchange(mid, "topic", { durable: false });
      await ch.bindExchange(mid, src, "k");
      const viaMid = await boundQueue(ctx, ch, "viaMid", mid, "#");
      const direct = await boundQueue(ctx, ch, "direct", src, "k");
      const altQ = await boundQueue(ctx, ch, "alt", alt, "");
      await publishAll(pub, src, "k", ["k"]);
      await publishAll(pub, src, "other", ["other"]);
      await ch.unbindExchange(mid, src, "k");
      await publishAll(pub, src, "k", ["k-after-unbind"]);
      return {
        viaMid: await ctx.bodies(ch, viaMid),
        direct: await ctx.bodies(ch, direct),
        alt: await ctx.bodies(ch, altQ),
      };
    },
  },
  {
    name: "exchange-to-exchange cycle delivers one copy per queue",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const a = ctx.x("a");
      const b = ctx.x("b");
      await ch.assertExchange(a, "fanout", { durable: false });
      await ch.assertExchange(b, "fanout", { durable: false });
      await ch.bindExchange(b, a, "");
      await ch.bindExchange(a, b, "");
      const qa = await boundQueue(ctx, ch, "qa", a, "");
      await ch.bindQueue(qa, b, "");
      const qb = await boundQueue(ctx, ch, "qb", b, "");
      await publishAll(pub, a, "", ["m"]);
      return { qa: await ctx.bodies(ch, qa), qb: await ctx.bodies(ch, qb) };
    },
  },
  {
    name: "publish to an internal exchange → 403",
    async run(ctx) {
      const { s, t } = await open(ctx);
      const x = ctx.x("internal");
      await t.ch.assertExchange(x, "fanout", { durable: false, internal: true });
      return ctx.failure(s, t, async () => {
        t.ch.publish(x, "", B("m"));
        await t.ch.checkExchange(x);
      });
    },
  },
  {
    name: "publish to a missing exchange → 404 closes the channel",
    async run(ctx) {
      const s = await ctx.connect();
      const t = await s.confirmChannel();
      return ctx.failure(s, t, async () => {
        t.ch.publish(ctx.name("missing"), "k", B("m"));
        await t.ch.waitForConfirms();
      });
    },
  },
  {
    name: "mandatory unroutable → basic.return 312 NO_ROUTE, then the confirm",
    async run(ctx) {
      const s = await ctx.connect();
      const t = await s.confirmChannel();
      const x = ctx.x("direct");
      await t.ch.assertExchange(x, "direct", { durable: false });
      const events: Outcome[] = [];
      t.ch.on("return", (m: Message) => {
        const f = m.fields as Message["fields"] & { replyCode?: number; replyText?: string };
        events.push({
          return: summarize(m),
          replyCode: f.replyCode ?? null,
          text: f.replyText ?? null,
        });
      });
      const confirmed = await new Promise<string>((resolve) => {
        t.ch.publish(x, "nowhere", B("m"), { mandatory: true }, (err) =>
          resolve(err ? "nack" : "ack"),
        );
      });
      events.push({ confirm: confirmed });
      // Not mandatory: silently dropped, still confirmed.
      await publishAll(t.ch, x, "nowhere", ["dropped"]);
      events.push({ returns: events.length - 1 });
      return events;
    },
  },
  // ---------------------------------------------------------------- consume, prefetch, acks
  {
    name: "two consumers on one channel with prefetch 1 share messages round-robin",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const q = ctx.q("rr");
      await ch.assertQueue(q, { durable: false });
      await ch.prefetch(1);
      const got: string[] = [];
      for (const name of ["c1", "c2"]) {
        await ch.consume(
          q,
          (m) => {
            if (!m) return;
            got.push(`${name}:${m.content.toString()}`);
            ch.ack(m);
          },
          { consumerTag: ctx.name(name) },
        );
      }
      await publishAll(pub, "", q, ["1", "2", "3", "4"]);
      await ctx.poll(
        async () => got.length,
        (n) => n >= 4,
      );
      return got.sort();
    },
  },
  {
    name: "prefetch 2 without acks: only 2 delivered, next after an ack",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const q = ctx.q("pf");
      await ch.assertQueue(q, { durable: false });
      await publishAll(pub, "", q, ["1", "2", "3", "4"]);
      await ch.prefetch(2);
      const got: Message[] = [];
      await ch.consume(q, (m) => m && got.push(m));
      await ctx.poll(
        async () => got.length,
        (n) => n >= 2,
      );
      // A short explicit window (100 ms) in which a third delivery must NOT arrive.
      await timeout(100);
      const first = got.map((m) => m.content.toString());
      const queued = await ch.checkQueue(q);
      ch.ack(got[0]!);
      await ctx.poll(
        async () => got.length,
        (n) => n >= 3,
      );
      return { first, ready: queued.messageCount, afterAck: got.map((m) => m.content.toString()) };
    },
  },
  {
    name: "global prefetch 3: shared by two consumers on one channel",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const a = ctx.q("gpa");
      const b = ctx.q("gpb");
      await ch.assertQueue(a, { durable: false });
      await ch.assertQueue(b, { durable: false });
      await publishAll(pub, "", a, ["a1", "a2", "a3", "a4"]);
      await publishAll(pub, "", b, ["b1", "b2", "b3", "b4"]);
      await ch.prefetch(3, true);
      const got: Message[] = [];
      await ch.consume(a, (m) => m && got.push(m));
      await ch.consume(b, (m) => m && got.push(m));
      await ctx.poll(
        async () => got.length,
        (n) => n >= 3,
      );
      // A short explicit window (100 ms) in which a fourth delivery must NOT arrive.
      await timeout(100);
      const first = got.length;
      const ready = (await ch.checkQueue(a)).messageCount + (await ch.checkQueue(b)).messageCount;
      ch.ackAll();
      let acked = first;
      const all = await ctx.poll(
        async () => {
          for (; acked < got.length; acked++) ch.ack(got[acked]!);
          return got.length;
        },
        (n) => n >= 8,
      );
      return { first, ready, all, bodies: got.map((m) => m.content.toString()).sort() };
    },
  },
  {
    name: "nack multiple with requeue: re-got in original order, redelivered",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const q = ctx.q("nack");
      await ch.assertQueue(q, { durable: false });
      await publishAll(pub, "", q, ["1", "2", "3", "4"]);
      const ms: Message[] = [];
      for (let i = 0; i < 3; i++) {
        const m = await ch.get(q);
        if (m) ms.push(m);
      }
      ch.nack(ms[2]!, true, true);
      return ctx.drain(ch, q);
    },
  },
  {
    name: "reject requeue of the middle message, ack the rest",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const q = ctx.q("rej");
      await ch.assertQueue(q, { durable: false });
      await publishAll(pub, "", q, ["1", "2", "3"]);
      const ms: Message[] = [];
      for (let i = 0; i < 3; i++) {
        const m = await ch.get(q);
        if (m) ms.push(m);
      }
      ch.reject(ms[1]!, true);
      ch.ack(ms[2]!, true); // multiple: also acks 1
      return {
        tags: ms.map((m) => m.fields.deliveryTag),
        counts: ms.map((m) => (m.fields as { messageCount?: number }).messageCount ?? null),
        rest: await ctx.drain(ch, q),
      };
    },
  },
  {
    name: "reject without requeue dead-letters with x-death rejected",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const d = await dlx(ctx, ch);
      const q = ctx.q("src");
      await ch.assertQueue(q, { durable: false, deadLetterExchange: d.x });
      await publishAll(pub, "", q, ["r1", "r2"], { headers: { h: "v" } });
      const m1 = await ch.get(q);
      const m2 = await ch.get(q);
      if (m1) ch.reject(m1, false);
      if (m2) ch.nack(m2, false, false);
      const dead = await ctx.collect(ch, d.q, 2);
      return { dead, left: (await ch.checkQueue(q)).messageCount };
    },
  },
  {
    name: "ack of an unknown delivery tag → 406 closes the channel",
    async run(ctx) {
      const { s, t } = await open(ctx);
      return ctx.failure(s, t, async () => {
        t.ch.ack({ fields: { deliveryTag: 1 } } as Message);
        await t.ch.checkExchange("amq.direct");
      });
    },
  },
  {
    name: "double ack → 406 unknown delivery tag",
    async run(ctx) {
      const { s, t, pub } = await open(ctx);
      const q = ctx.q("q");
      await t.ch.assertQueue(q, { durable: false });
      await publishAll(pub, "", q, ["1"]);
      const m = await t.ch.get(q);
      return ctx.failure(s, t, async () => {
        if (m) t.ch.ack(m);
        if (m) t.ch.ack(m);
        await t.ch.checkQueue(q);
      });
    },
  },
  {
    name: "basic.get: get-ok message counts, then get-empty",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const q = ctx.q("get");
      await ch.assertQueue(q, { durable: false });
      await publishAll(pub, "", q, ["1", "2"]);
      const counts: Outcome[] = [];
      for (let i = 0; i < 3; i++) {
        const m = await ch.get(q, { noAck: true });
        counts.push(
          m
            ? [m.content.toString(), (m.fields as { messageCount?: number }).messageCount ?? null]
            : m,
        );
      }
      return counts;
    },
  },
  {
    name: "basic.recover requeues unacked deliveries as redelivered",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const q = ctx.q("rec");
      await ch.assertQueue(q, { durable: false });
      await publishAll(pub, "", q, ["1", "2"]);
      const a = await ch.get(q);
      const b = await ch.get(q);
      await ch.recover();
      return { first: [summarize(a), summarize(b)], again: await ctx.drain(ch, q) };
    },
  },
  {
    name: "closing a channel with unacked messages requeues them (redelivered)",
    async run(ctx) {
      const s = await ctx.connect();
      const t = await s.channel();
      const c = await s.confirmChannel();
      const q = ctx.q("close");
      await t.ch.assertQueue(q, { durable: false });
      await publishAll(c.ch, "", q, ["1", "2", "3"]);
      const t2 = await s.channel();
      await t2.ch.get(q);
      await t2.ch.get(q);
      await t2.ch.close();
      return ctx.drain(t.ch, q);
    },
  },
  // ---------------------------------------------------------------- TTL, expiry, length limits
  {
    name: "per-message TTL (expiration) dead-letters with reason expired",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const d = await dlx(ctx, ch);
      const q = ctx.q("ttl");
      await ch.assertQueue(q, { durable: false, deadLetterExchange: d.x });
      await publishAll(pub, "", q, ["short"], { expiration: "50" });
      const dead = await ctx.collect(ch, d.q, 1);
      return { dead, left: (await ch.checkQueue(q)).messageCount };
    },
  },
  {
    name: "queue x-message-ttl dead-letters with reason expired, no original-expiration",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const d = await dlx(ctx, ch);
      const q = ctx.q("qttl");
      await ch.assertQueue(q, { durable: false, deadLetterExchange: d.x, messageTtl: 50 });
      await publishAll(pub, "", q, ["a", "b"]);
      await publishAll(pub, "", q, ["c"], { expiration: "20" });
      const dead = await ctx.collect(ch, d.q, 3);
      return { dead, left: (await ch.checkQueue(q)).messageCount };
    },
  },
  {
    name: "TTL 0: expires unless a consumer is waiting; dead-lettered",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const d = await dlx(ctx, ch);
      const q = ctx.q("ttl0");
      await ch.assertQueue(q, { durable: false, deadLetterExchange: d.x, messageTtl: 0 });
      await publishAll(pub, "", q, ["no-consumer"]);
      const dead = await ctx.collect(ch, d.q, 1);
      const got: string[] = [];
      const { consumerTag } = await ch.consume(q, (m) => m && got.push(m.content.toString()), {
        noAck: true,
      });
      await publishAll(pub, "", q, ["with-consumer"]);
      await ctx.poll(
        async () => got.length,
        (n) => n >= 1,
      );
      await ch.cancel(consumerTag);
      return { dead, got };
    },
  },
  {
    name: "x-expires: an unused queue disappears",
    async run(ctx) {
      const s = await ctx.connect();
      const t = await s.channel();
      const q = ctx.q("exp");
      await t.ch.assertQueue(q, { durable: false, expires: 100 });
      // Passive declare and basic.get count as use and would keep the queue alive, so probe
      // with a mandatory publish through the default exchange: returned once the queue is gone.
      const c = await s.confirmChannel();
      let returned = 0;
      c.ch.on("return", () => {
        returned++;
      });
      const gone = async () => {
        const before = returned;
        c.ch.publish("", q, B("probe"), { mandatory: true });
        await c.ch.waitForConfirms();
        return returned > before;
      };
      const existsAtFirst = !(await gone());
      const disappeared = await ctx.poll(gone, (v) => v, 3000);
      const t2 = await s.channel();
      const passive = await ctx.failure(s, t2, () => t2.ch.checkQueue(q));
      return { existsAtFirst, disappeared, passive };
    },
  },
  {
    name: "x-expires on a queue with a consumer: stays while consumed",
    async run(ctx) {
      const s = await ctx.connect();
      const t = await s.channel();
      const q = ctx.q("exp2");
      await t.ch.assertQueue(q, { durable: false, expires: 50 });
      const { consumerTag } = await t.ch.consume(q, () => {});
      // A short explicit window (150 ms, three times x-expires) in which it must NOT expire.
      await timeout(150);
      const whileConsumed = await ctx.queueExists(s, q);
      await t.ch.cancel(consumerTag);
      return { whileConsumed };
    },
  },
  {
    name: "x-expires: invalid value 0 → 406",
    async run(ctx) {
      const { s, t } = await open(ctx);
      return ctx.failure(s, t, () =>
        t.ch.assertQueue(ctx.q("exp0"), { durable: false, expires: 0 }),
      );
    },
  },
  {
    name: "x-max-length drop-head dead-letters the oldest with reason maxlen",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const d = await dlx(ctx, ch);
      const q = ctx.q("ml");
      await ch.assertQueue(q, { durable: false, deadLetterExchange: d.x, maxLength: 2 });
      await publishAll(pub, "", q, ["1", "2", "3", "4"]);
      const dead = await ctx.collect(ch, d.q, 2);
      return { dead, left: await ctx.bodies(ch, q) };
    },
  },
  {
    name: "x-max-length reject-publish nacks the publisher",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const q = ctx.q("rp");
      await ch.assertQueue(q, {
        durable: false,
        maxLength: 2,
        arguments: { "x-overflow": "reject-publish" },
      });
      const confirms = await publishConfirmed(pub, "", q, ["1", "2", "3"]);
      return { confirms, left: await ctx.bodies(ch, q) };
    },
  },
  {
    name: "x-max-length reject-publish-dlx nacks and dead-letters",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const d = await dlx(ctx, ch);
      const q = ctx.q("rpd");
      await ch.assertQueue(q, {
        durable: false,
        maxLength: 1,
        deadLetterExchange: d.x,
        arguments: { "x-overflow": "reject-publish-dlx" },
      });
      const confirms = await publishConfirmed(pub, "", q, ["1", "2"]);
      const dead = await ctx.collect(ch, d.q, 1);
      return { confirms, left: await ctx.bodies(ch, q), dead };
    },
  },
  {
    name: "x-max-length-bytes drops from the head",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const q = ctx.q("mlb");
      await ch.assertQueue(q, { durable: false, arguments: { "x-max-length-bytes": 10 } });
      await publishAll(pub, "", q, ["aaaa", "bbbb", "cccc", "dddddddddddd"]);
      const afterBig = (await ch.checkQueue(q)).messageCount;
      await publishAll(pub, "", q, ["eeee", "ffff", "gg"]);
      return { afterBig, left: await ctx.bodies(ch, q) };
    },
  },
  {
    name: "x-max-priority: higher priority first, capped at the max",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const q = ctx.q("prio");
      await ch.assertQueue(q, { durable: false, maxPriority: 5 });
      const sends: Array<[string, number | undefined]> = [
        ["p0", 0],
        ["none", undefined],
        ["p3", 3],
        ["p9", 9],
        ["p5", 5],
        ["p3b", 3],
      ];
      for (const [b, priority] of sends)
        pub.publish("", q, B(b), priority === undefined ? {} : { priority });
      await pub.waitForConfirms();
      return ctx.bodies(ch, q);
    },
  },
  {
    name: "x-dead-letter-routing-key replaces the routing key",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const x = ctx.x("dlx");
      await ch.assertExchange(x, "direct", { durable: false });
      const target = await boundQueue(ctx, ch, "target", x, "dead");
      const other = await boundQueue(ctx, ch, "other", x, ctx.name("src"));
      const q = ctx.q("src");
      await ch.assertQueue(q, {
        durable: false,
        deadLetterExchange: x,
        deadLetterRoutingKey: "dead",
      });
      await publishAll(pub, "", q, ["m"]);
      const m = await ch.get(q);
      if (m) ch.nack(m, false, false);
      return { target: await ctx.collect(ch, target, 1), other: await ctx.bodies(ch, other) };
    },
  },
  {
    name: 'dead-letter to the default exchange (x-dead-letter-exchange "") and x-death count',
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const a = ctx.q("a");
      const b = ctx.q("b");
      await ch.assertQueue(b, { durable: false, deadLetterExchange: "", deadLetterRoutingKey: a });
      await ch.assertQueue(a, { durable: false, deadLetterExchange: "", deadLetterRoutingKey: b });
      await publishAll(pub, "", a, ["m"]);
      const trail: Outcome[] = [];
      // Reject through a → b → a: x-death gets one entry per queue, counts grow.
      for (const q of [a, b, a]) {
        const [m] = await ctx.poll(
          async () => {
            const got = await ch.get(q);
            return got ? [got] : [];
          },
          (v) => v.length > 0,
        );
        if (!m) break;
        trail.push(summarize(m));
        ch.reject(m, false);
      }
      const last = await ctx.collect(ch, b, 1);
      return { trail, last };
    },
  },
  {
    name: "dead-letter cycle by expiry without rejection drops the message",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const q = ctx.q("cycle");
      await ch.assertQueue(q, {
        durable: false,
        messageTtl: 30,
        deadLetterExchange: "",
        deadLetterRoutingKey: ctx.name("cycle"),
      });
      await publishAll(pub, "", q, ["m"]);
      // Bounded: the queue empties (after one cycle the message is dropped) within 3 s.
      const depth = await ctx.poll(
        async () => (await ch.checkQueue(q)).messageCount,
        (n) => n === 0,
      );
      return { depth };
    },
  },
  // ---------------------------------------------------------------- queue types
  {
    name: "quorum queue must be durable; non-durable → 406",
    async run(ctx) {
      const s = await ctx.connect();
      const out: Record<string, Outcome> = {};
      const cases: Record<string, Parameters<Channel["assertQueue"]>[1]> = {
        nonDurable: { durable: false, arguments: { "x-queue-type": "quorum" } },
        exclusive: { durable: true, exclusive: true, arguments: { "x-queue-type": "quorum" } },
        autoDelete: { durable: true, autoDelete: true, arguments: { "x-queue-type": "quorum" } },
        unknownType: { durable: true, arguments: { "x-queue-type": "nope" } },
      };
      for (const [k, opts] of Object.entries(cases)) {
        const t = await s.channel();
        out[k] = await ctx.failure(s, t, () => t.ch.assertQueue(ctx.q(k), opts));
      }
      return out;
    },
  },
  {
    name: "quorum queue: x-delivery-count grows, x-delivery-limit drops the message",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const d = await dlx(ctx, ch);
      const q = ctx.q("qq");
      await ch.assertQueue(q, {
        durable: true,
        deadLetterExchange: d.x,
        arguments: { "x-queue-type": "quorum", "x-delivery-limit": 2 },
      });
      await publishAll(pub, "", q, ["m"]);
      const seen: Outcome[] = [];
      for (let i = 0; i < 4; i++) {
        const m = await ctx.poll(
          () => ch.get(q),
          (v) => v !== false,
          // Bounded: after the limit the message is gone and this waits out 500 ms.
          500,
        );
        if (!m) break;
        seen.push(summarize(m));
        ch.nack(m, false, true);
      }
      const dead = await ctx.collect(ch, d.q, 1);
      return { seen, dead };
    },
  },
  // ---------------------------------------------------------------- tx and confirms
  {
    name: "tx: publishes appear on commit, vanish on rollback",
    async run(ctx) {
      const { ch } = await open(ctx);
      const q = ctx.q("tx");
      await ch.assertQueue(q, { durable: false });
      await rpc(ch, METHOD.TxSelect, METHOD.TxSelectOk);
      ch.sendToQueue(q, B("committed"));
      const beforeCommit = (await ch.checkQueue(q)).messageCount;
      await rpc(ch, METHOD.TxCommit, METHOD.TxCommitOk);
      const afterCommit = (await ch.checkQueue(q)).messageCount;
      ch.sendToQueue(q, B("rolled-back"));
      await rpc(ch, METHOD.TxRollback, METHOD.TxRollbackOk);
      return { beforeCommit, afterCommit, bodies: await ctx.bodies(ch, q) };
    },
  },
  {
    name: "tx: acks take effect on commit; rollback keeps them unacked",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const q = ctx.q("txack");
      await ch.assertQueue(q, { durable: false });
      await publishAll(pub, "", q, ["1", "2"]);
      await rpc(ch, METHOD.TxSelect, METHOD.TxSelectOk);
      const m1 = await ch.get(q);
      const m2 = await ch.get(q);
      if (m1) ch.ack(m1);
      await rpc(ch, METHOD.TxCommit, METHOD.TxCommitOk);
      if (m2) ch.ack(m2);
      await rpc(ch, METHOD.TxRollback, METHOD.TxRollbackOk);
      await ch.recover();
      // Commit and rollback are both non-transactional for anything else: get is immediate.
      return ctx.drain(ch, q);
    },
  },
  {
    name: "tx.commit without tx.select → 406",
    async run(ctx) {
      const { s, t } = await open(ctx);
      return ctx.failure(s, t, () => rpc(t.ch, METHOD.TxCommit, METHOD.TxCommitOk));
    },
  },
  {
    name: "confirm.select then tx.select → 406, and the reverse",
    async run(ctx) {
      const s = await ctx.connect();
      const c = await s.confirmChannel();
      const confirmThenTx = await ctx.failure(s, c, () =>
        rpc(c.ch, METHOD.TxSelect, METHOD.TxSelectOk),
      );
      const t = await s.channel();
      await rpc(t.ch, METHOD.TxSelect, METHOD.TxSelectOk);
      const txThenConfirm = await ctx.failure(s, t, () =>
        rpc(t.ch, METHOD.ConfirmSelect, METHOD.ConfirmSelectOk),
      );
      return { confirmThenTx, txThenConfirm };
    },
  },
  // ---------------------------------------------------------------- lifecycle, consumers
  {
    name: "auto-delete queue is deleted after its last consumer cancels",
    async run(ctx) {
      const s = await ctx.connect();
      const t = await s.channel();
      const q = ctx.q("ad");
      await t.ch.assertQueue(q, { durable: false, autoDelete: true });
      const c1 = await t.ch.consume(q, () => {});
      const c2 = await t.ch.consume(q, () => {});
      await t.ch.cancel(c1.consumerTag);
      const afterFirst = await ctx.queueExists(s, q);
      await t.ch.cancel(c2.consumerTag);
      const afterLast = await ctx.poll(
        () => ctx.queueExists(s, q),
        (v) => v !== true,
      );
      return { afterFirst, afterLast };
    },
  },
  {
    name: "exclusive queue is deleted when its connection closes",
    async run(ctx) {
      const owner = await ctx.connect();
      const o = await owner.channel();
      const q = ctx.q("excl");
      await o.ch.assertQueue(q, { exclusive: true });
      await owner.conn.close();
      const other = await ctx.connect();
      return ctx.poll(
        () => ctx.queueExists(other, q),
        (v) => v !== true,
      );
    },
  },
  {
    name: "basic.consume exclusive while another consumer exists → 403, and the reverse",
    async run(ctx) {
      const s = await ctx.connect();
      const t = await s.channel();
      const q = ctx.q("q");
      const q2 = ctx.q("q2");
      await t.ch.assertQueue(q, { durable: false });
      await t.ch.assertQueue(q2, { durable: false });
      await t.ch.consume(q, () => {});
      const t2 = await s.channel();
      const exclusiveSecond = await ctx.failure(s, t2, () =>
        t2.ch.consume(q, () => {}, { exclusive: true }),
      );
      await t.ch.consume(q2, () => {}, { exclusive: true });
      const t3 = await s.channel();
      const afterExclusive = await ctx.failure(s, t3, () => t3.ch.consume(q2, () => {}));
      return { exclusiveSecond, afterExclusive };
    },
  },
  {
    name: "consumer tag reused on the same channel → 530 closes the connection",
    async run(ctx) {
      const { s, t } = await open(ctx);
      const q = ctx.q("q");
      await t.ch.assertQueue(q, { durable: false });
      const tag = ctx.name("tag");
      await t.ch.consume(q, () => {}, { consumerTag: tag });
      return ctx.failure(s, t, () => t.ch.consume(q, () => {}, { consumerTag: tag }));
    },
  },
  {
    name: "server-generated consumer tag is amq.ctag-",
    async run(ctx) {
      const { ch } = await open(ctx);
      const q = ctx.q("q");
      await ch.assertQueue(q, { durable: false });
      const { consumerTag } = await ch.consume(q, () => {});
      const cancelled = await ch.cancel(consumerTag);
      return { consumerTag, cancelled: cancelled.consumerTag === consumerTag };
    },
  },
  {
    name: "queue deleted while consuming → server basic.cancel (null message)",
    async run(ctx) {
      const { ch, pub } = await open(ctx);
      const q = ctx.q("gone");
      await ch.assertQueue(q, { durable: false });
      await publishAll(pub, "", q, ["1"]);
      const events: Outcome[] = [];
      let cancelled: () => void = () => {};
      const done = new Promise<void>((resolve) => {
        cancelled = resolve;
      });
      await ch.consume(
        q,
        (m) => {
          events.push(m ? m.content.toString() : null);
          if (m === null) cancelled();
        },
        { noAck: true },
      );
      await ctx.poll(
        async () => events.length,
        (n) => n >= 1,
      );
      const other = await ctx.connect();
      const t2 = await other.channel();
      const deleted = await t2.ch.deleteQueue(q);
      const r = await Promise.race([done.then(() => "cancelled"), timeout(3000)]);
      // The channel is still usable.
      const usable = await ch.checkExchange("amq.direct").then(() => true);
      return { events, deleted: deleted.messageCount, r, usable };
    },
  },
  // ---------------------------------------------------------------- user-id
  {
    name: "user-id: the connection's user is routed and confirmed; another or empty → 406, unconfirmed, not routed",
    async run(ctx) {
      const s = await ctx.connect();
      const admin = await s.channel();
      const q = ctx.q("uid");
      await admin.ch.assertQueue(q, { durable: false });
      const user = decodeURIComponent(new URL(ctx.url).username);
      /** Publish one message on a fresh confirm channel: its confirm, and how the channel ended. */
      const attempt = async (body: string, userId: string) => {
        const t = await s.confirmChannel();
        let confirm = "none";
        const refused = await ctx.failure(s, t, async () => {
          const settled = new Promise<void>((resolve) => {
            t.ch.publish("", q, B(body), { userId }, (err) => {
              // A server nack is "message nacked"; a channel closed first fails it client-side.
              confirm = err ? `nack (${(err as Error).message})` : "ack";
              resolve();
            });
          });
          await Promise.race([settled, timeout(3000)]);
        });
        return { confirm, refused };
      };
      const matching = await attempt("mine", user);
      const other = await attempt("claimed", "bob");
      const empty = await attempt("empty", "");
      return { matching, other, empty, routed: await ctx.bodies(admin.ch, q) };
    },
  },
  {
    name: "user-id is checked at basic.publish: in a transaction before tx.commit; an internal exchange's 403 comes first",
    async run(ctx) {
      const s = await ctx.connect();
      const admin = await s.channel();
      const q = ctx.q("uid-tx");
      await admin.ch.assertQueue(q, { durable: false });
      const x = ctx.x("uid-internal");
      await admin.ch.assertExchange(x, "fanout", { durable: false, internal: true });
      const tx = await s.channel();
      await rpc(tx.ch, METHOD.TxSelect, METHOD.TxSelectOk);
      const inTransaction = await ctx.failure(s, tx, async () => {
        tx.ch.publish("", q, B("claimed"), { userId: "bob" });
        await rpc(tx.ch, METHOD.TxCommit, METHOD.TxCommitOk);
      });
      const plain = await s.channel();
      const internal = await ctx.failure(s, plain, async () => {
        plain.ch.publish(x, "", B("claimed"), { userId: "bob" });
        await plain.ch.checkExchange(x);
      });
      return { inTransaction, internal, routed: await ctx.bodies(admin.ch, q) };
    },
  },
  // ---------------------------------------------------------------- expiration
  {
    name: "expiration must be whole milliseconds: +5 and 05 pass; abc, -5, 1.5, ' 5', '' → 406 with the reason",
    async run(ctx) {
      const s = await ctx.connect();
      const admin = await s.channel();
      const q = ctx.q("exp");
      await admin.ch.assertQueue(q, { durable: false });
      const results: Record<string, Outcome> = {};
      for (const expiration of ["+5000", "05000", "abc", "-5", "1.5", " 5", ""]) {
        const t = await s.confirmChannel();
        let confirm = "none";
        const refused = await ctx.failure(s, t, async () => {
          const settled = new Promise<void>((resolve) => {
            t.ch.publish("", q, B(expiration), { expiration }, (err) => {
              confirm = err ? "failed" : "ack";
              resolve();
            });
          });
          await Promise.race([settled, timeout(3000)]);
        });
        results[JSON.stringify(expiration)] = { confirm, refused };
      }
      return { results, routed: await ctx.bodies(admin.ch, q) };
    },
  },
  // ---------------------------------------------------------------- system and default exchanges
  {
    name: "exchange.delete of an amq.* name → 403 deletion of system exchange, whether it exists or not",
    async run(ctx) {
      const s = await ctx.connect();
      const out: Record<string, Outcome> = {};
      for (const name of ["amq.topic", `amq.${ctx.name("none")}`]) {
        const t = await s.channel();
        out[name] = await ctx.failure(s, t, () => t.ch.deleteExchange(name));
      }
      const t = await s.channel();
      const stillThere = await t.ch.checkExchange("amq.topic").then(() => true);
      return { ...out, stillThere };
    },
  },
  {
    name: "default exchange: passive declare, bind and unbind at either end → 403 before the other end is looked up",
    async run(ctx) {
      const s = await ctx.connect();
      const setup = await s.channel();
      const q = ctx.q("q");
      const x = ctx.x("x");
      await setup.ch.assertQueue(q, { durable: false });
      await setup.ch.assertExchange(x, "fanout", { durable: false });
      const missing = ctx.name("missing");
      const cases: Array<[string, (ch: Channel) => Promise<unknown>]> = [
        ["passive", (ch) => ch.checkExchange("")],
        ["bindQueue", (ch) => ch.bindQueue(q, "", "k")],
        ["bindMissingQueue", (ch) => ch.bindQueue(missing, "", "k")],
        ["unbindQueue", (ch) => ch.unbindQueue(q, "", "k")],
        ["unbindMissingQueue", (ch) => ch.unbindQueue(missing, "", "k")],
        ["bindExchangeToDefault", (ch) => ch.bindExchange("", x, "k")],
        ["bindMissingExchangeToDefault", (ch) => ch.bindExchange("", missing, "k")],
        ["unbindExchangeFromDefault", (ch) => ch.unbindExchange(x, "", "k")],
      ];
      const out: Record<string, Outcome> = {};
      for (const [label, op] of cases) {
        const t = await s.channel();
        out[label] = await ctx.failure(s, t, () => op(t.ch));
      }
      return out;
    },
  },
  {
    name: "a reply text over 255 bytes is cut to 252 bytes and '...' (404 and 405 with long queue names)",
    async run(ctx) {
      const owner = await ctx.connect();
      const own = await owner.channel();
      const locked = ctx.q(`excl-${"l".repeat(60)}`);
      await own.ch.assertQueue(locked, { exclusive: true });
      const s = await ctx.connect();
      const t1 = await s.channel();
      const missing = await ctx.failure(s, t1, () =>
        t1.ch.checkQueue(ctx.name(`missing-${"m".repeat(230)}`)),
      );
      const t2 = await s.channel();
      const lockedOut = await ctx.failure(s, t2, () => t2.ch.checkQueue(locked));
      const bytes = (o: Outcome) =>
        Buffer.byteLength(String((o as { text: string | null }).text ?? ""), "utf8");
      return { missing, locked: lockedOut, rawBytes: [bytes(missing), bytes(lockedOut)] };
    },
  },
  ...CONSUMER_SCENARIOS,
  ...STREAM_SCENARIOS,
  ...STREAM_RETENTION_SCENARIOS,
  ...REPLY_TO_SCENARIOS,
  ...TRACE_SCENARIOS,
];

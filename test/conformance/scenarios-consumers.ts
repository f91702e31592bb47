/**
 * Conformance scenarios for three consumer features: single active consumer
 * (`x-single-active-consumer`), consumer priorities (`x-priority`) and, in
 * scenarios-consumer-timeout.ts, the delivery acknowledgement timeout. Spread into SCENARIOS by
 * scenarios.ts; see there and harness.ts for the conventions, consumer-taps.ts for the helpers.
 */

import {
  ack,
  byName,
  channels,
  publish,
  received,
  settled,
  type Tap,
  tap,
} from "./consumer-taps.js";
import type { Outcome, Scenario, TrackedChannel } from "./harness.js";
import { timeout } from "./harness.js";
import { CONSUMER_TIMEOUT_SCENARIOS } from "./scenarios-consumer-timeout.js";

const SAC = { "x-single-active-consumer": true };

export const CONSUMER_SCENARIOS: Scenario[] = [
  // ---------------------------------------------------------------- single active consumer
  {
    name: "single active consumer: the first consumer gets everything; declare-ok counts the waiting ones too",
    async run(ctx) {
      const { list, pub } = await channels(ctx, 3);
      const [a, b, c] = list as [TrackedChannel, TrackedChannel, TrackedChannel];
      const q = ctx.q("sac");
      await a.ch.assertQueue(q, { durable: false, arguments: SAC });
      const taps = { a: await tap(a.ch, q), b: await tap(b.ch, q), c: await tap(c.ch, q) };
      await publish(pub, q, ["1", "2", "3", "4"]);
      await received(ctx, Object.values(taps), 4);
      const ok = await c.ch.assertQueue(q, { durable: false, arguments: SAC });
      return { ...byName(taps), declareOk: [ok.messageCount, ok.consumerCount] };
    },
  },
  {
    name: "single active consumer: cancel hands over to the next; the old consumer's unacked stay until its channel closes, then go to the new one",
    async run(ctx) {
      const { list, pub } = await channels(ctx, 3);
      const [a, b, c] = list as [TrackedChannel, TrackedChannel, TrackedChannel];
      const q = ctx.q("sac");
      await a.ch.assertQueue(q, { durable: false, arguments: SAC });
      const taps = { a: await tap(a.ch, q), b: await tap(b.ch, q), c: await tap(c.ch, q) };
      await publish(pub, q, ["1", "2", "3"]);
      await received(ctx, Object.values(taps), 3);
      await a.ch.cancel(taps.a.tag);
      await publish(pub, q, ["4", "5"]);
      await received(ctx, Object.values(taps), 5);
      // The cancelled consumer's deliveries can still be acked on its channel.
      await ack(taps.a, q, "1");
      const readyBeforeClose = await settled(b.ch, q);
      await a.ch.close();
      await received(ctx, Object.values(taps), 7);
      const ok = await c.ch.checkQueue(q);
      return {
        ...byName(taps),
        readyBeforeClose,
        after: [ok.messageCount, ok.consumerCount],
      };
    },
  },
  {
    name: "single active consumer: the active connection closes; its unacked go to the next consumer, redelivered, before new messages",
    async run(ctx) {
      const first = await ctx.connect();
      const a = await first.channel();
      const { list, pub } = await channels(ctx, 2);
      const [b, c] = list as [TrackedChannel, TrackedChannel];
      const q = ctx.q("sac");
      await b.ch.assertQueue(q, { durable: false, arguments: SAC });
      const taps = { a: await tap(a.ch, q), b: await tap(b.ch, q), c: await tap(c.ch, q) };
      await publish(pub, q, ["1", "2", "3"]);
      await received(ctx, Object.values(taps), 3);
      await ack(taps.a, q, "2");
      await first.conn.close();
      await received(ctx, Object.values(taps), 5);
      await publish(pub, q, ["4"]);
      await received(ctx, Object.values(taps), 6);
      return byName(taps);
    },
  },
  {
    name: "single active consumer: a busy active consumer (prefetch 1) holds the queue back; after its cancel the next one gets the rest",
    async run(ctx) {
      const { list, pub } = await channels(ctx, 3);
      const [a, b, c] = list as [TrackedChannel, TrackedChannel, TrackedChannel];
      const q = ctx.q("sac");
      await a.ch.assertQueue(q, { durable: false, arguments: SAC });
      await a.ch.prefetch(1);
      const taps = { a: await tap(a.ch, q), b: await tap(b.ch, q) };
      await publish(pub, q, ["1", "2", "3"]);
      await received(ctx, Object.values(taps), 1);
      const readyWhileBusy = await settled(b.ch, q);
      await ack(taps.a, q, "1");
      await received(ctx, Object.values(taps), 2);
      await a.ch.cancel(taps.a.tag);
      // RabbitMQ 3.10 does not deliver on this hand-over (see differences.ts): a short explicit
      // window (100 ms), then what is still ready. A new consumer makes the queue deliver again,
      // to the active consumer.
      await timeout(100);
      const readyAfterCancel = await settled(b.ch, q);
      const late = await tap(c.ch, q);
      await received(ctx, [...Object.values(taps), late], 3);
      return {
        ...byName({ ...taps, late }),
        readyWhileBusy,
        readyAfterCancel,
        readyAtEnd: await settled(b.ch, q),
      };
    },
  },
  {
    name: "single active consumer: exclusive basic.consume → 403, first or not; classic and quorum",
    async run(ctx) {
      const s = await ctx.connect();
      const setup = await s.channel();
      const classic = ctx.q("sac");
      const quorum = ctx.q("sacq");
      await setup.ch.assertQueue(classic, { durable: false, arguments: SAC });
      await setup.ch.assertQueue(quorum, {
        durable: true,
        arguments: { ...SAC, "x-queue-type": "quorum" },
      });
      const out: Record<string, Outcome> = {};
      for (const [name, q] of [
        ["classic", classic],
        ["quorum", quorum],
      ] as const) {
        const t1 = await s.channel();
        out[`${name}First`] = await ctx.failure(s, t1, () =>
          t1.ch.consume(q, () => {}, { exclusive: true }),
        );
        await setup.ch.consume(q, () => {});
        const t2 = await s.channel();
        out[`${name}Second`] = await ctx.failure(s, t2, () =>
          t2.ch.consume(q, () => {}, { exclusive: true }),
        );
      }
      return out;
    },
  },
  {
    name: "single active consumer and x-priority: the first consumer stays active; the next active is chosen by priority (classic) or order (quorum)",
    async run(ctx) {
      const out: Record<string, Outcome> = {};
      for (const type of ["classic", "quorum"] as const) {
        const { list, pub } = await channels(ctx, 4);
        const q = ctx.q(`sac-${type}`);
        await pub.assertQueue(q, {
          durable: type === "quorum",
          arguments: { ...SAC, "x-queue-type": type },
        });
        const taps: Record<string, Tap> = {};
        const priorities = { a: 0, b: 10, c: 5, d: 10 };
        let i = 0;
        for (const [name, p] of Object.entries(priorities)) {
          const ch = (list[i++] as TrackedChannel).ch;
          taps[name] = await tap(ch, q, { arguments: { "x-priority": p } });
        }
        const order: string[] = [];
        for (let n = 1; n <= 4; n++) {
          await publish(pub, q, [String(n)]);
          await received(ctx, Object.values(taps), n);
          const [who] = Object.entries(taps).find(([, t]) => t.got.includes(String(n))) ?? ["?"];
          order.push(who);
          const t = taps[who];
          if (t) await t.ch.cancel(t.tag);
        }
        out[type] = order;
      }
      return out;
    },
  },
  {
    name: "x-single-active-consumer: non-boolean values → 406; false delivers round-robin; redeclare without it → 406",
    async run(ctx) {
      const s = await ctx.connect();
      const out: Record<string, Outcome> = {};
      for (const [name, value] of [
        ["string", "true"],
        ["number", 1],
      ] as const) {
        const t = await s.channel();
        out[name] = await ctx.failure(s, t, () =>
          t.ch.assertQueue(ctx.q(`bad-${name}`), {
            durable: false,
            arguments: { "x-single-active-consumer": value },
          }),
        );
      }
      const { list, pub } = await channels(ctx, 2);
      const [a, b] = list as [TrackedChannel, TrackedChannel];
      const q = ctx.q("off");
      const off = { "x-single-active-consumer": false };
      await a.ch.assertQueue(q, { durable: false, arguments: off });
      const taps = {
        a: await tap(a.ch, q, { noAck: true }),
        b: await tap(b.ch, q, { noAck: true }),
      };
      await publish(pub, q, ["1", "2", "3", "4"]);
      await received(ctx, Object.values(taps), 4);
      out["off"] = byName(taps);
      const sac = ctx.q("sac");
      await a.ch.assertQueue(sac, { durable: false, arguments: SAC });
      const t = await s.channel();
      out["redeclare"] = await ctx.failure(s, t, () => t.ch.assertQueue(sac, { durable: false }));
      return out;
    },
  },
  {
    name: "single active consumer on a quorum queue: hand-over on cancel and on channel close; declare-ok counts",
    async run(ctx) {
      const { list, pub } = await channels(ctx, 3);
      const [a, b, c] = list as [TrackedChannel, TrackedChannel, TrackedChannel];
      const q = ctx.q("sacq");
      const args = { ...SAC, "x-queue-type": "quorum" };
      const count = async () => {
        const ok = await c.ch.assertQueue(q, { durable: true, arguments: args });
        return [ok.messageCount, ok.consumerCount];
      };
      await a.ch.assertQueue(q, { durable: true, arguments: args });
      await a.ch.prefetch(1);
      const taps = { a: await tap(a.ch, q), b: await tap(b.ch, q), c: await tap(c.ch, q) };
      await publish(pub, q, ["1", "2", "3"]);
      await received(ctx, Object.values(taps), 1);
      const counts: Outcome[] = [await count()];
      await a.ch.cancel(taps.a.tag);
      await received(ctx, Object.values(taps), 3);
      counts.push(await count());
      await ack(taps.a, q, "1");
      counts.push(await count());
      await ack(taps.b, q, "2");
      await b.ch.close();
      await received(ctx, Object.values(taps), 4);
      counts.push(await count());
      return { ...byName(taps), counts };
    },
  },
  {
    name: "quorum queue: an exclusive consumer does not keep others out",
    async run(ctx) {
      const s = await ctx.connect();
      const setup = await s.channel();
      const q = ctx.q("qx");
      await setup.ch.assertQueue(q, { durable: true, arguments: { "x-queue-type": "quorum" } });
      await setup.ch.consume(q, () => {}, { exclusive: true });
      const t = await s.channel();
      const second = await ctx.failure(s, t, () => t.ch.consume(q, () => {}));
      const t2 = await s.channel();
      const secondExclusive = await ctx.failure(s, t2, () =>
        t2.ch.consume(q, () => {}, { exclusive: true }),
      );
      return { second, secondExclusive, consumers: (await setup.ch.checkQueue(q)).consumerCount };
    },
  },
  {
    name: "declare-ok consumer count after a cancel with unacked deliveries: quorum counts the consumer until they are settled, classic does not",
    async run(ctx) {
      const out: Record<string, Outcome> = {};
      for (const type of ["classic", "quorum"] as const) {
        const { list, pub } = await channels(ctx, 2);
        const [a, b] = list as [TrackedChannel, TrackedChannel];
        const q = ctx.q(type);
        await pub.assertQueue(q, {
          durable: type === "quorum",
          arguments: { "x-queue-type": type },
        });
        const held = await tap(a.ch, q);
        await tap(b.ch, q, { noAck: true });
        await publish(pub, q, ["1"]);
        await received(ctx, [held], 1);
        const counts = [(await pub.checkQueue(q)).consumerCount];
        await a.ch.cancel(held.tag);
        counts.push((await pub.checkQueue(q)).consumerCount);
        await ack(held, q, "1");
        counts.push((await pub.checkQueue(q)).consumerCount);
        out[type] = counts;
      }
      return out;
    },
  },
  // ---------------------------------------------------------------- consumer priorities
  {
    name: "x-priority: the higher consumer gets messages while it has prefetch room, then the lower one",
    async run(ctx) {
      const { list, pub } = await channels(ctx, 2);
      const [l, h] = list as [TrackedChannel, TrackedChannel];
      const q = ctx.q("prio");
      await l.ch.assertQueue(q, { durable: false });
      await l.ch.prefetch(2);
      await h.ch.prefetch(2);
      const taps = {
        low: await tap(l.ch, q, { arguments: { "x-priority": 1 } }),
        high: await tap(h.ch, q, { arguments: { "x-priority": 10 } }),
      };
      await publish(pub, q, ["1", "2", "3", "4", "5"]);
      await received(ctx, Object.values(taps), 4);
      const ready = await settled(l.ch, q);
      await ack(taps.low, q, "3");
      await ack(taps.high, q, "1");
      await received(ctx, Object.values(taps), 5);
      await publish(pub, q, ["6"]);
      await received(ctx, Object.values(taps), 6);
      return { ...byName(taps), ready };
    },
  },
  {
    name: "x-priority: equal priorities take turns (none means 0); a negative priority gets nothing while others can take",
    async run(ctx) {
      const { list, pub } = await channels(ctx, 3);
      const [a, b, c] = list as [TrackedChannel, TrackedChannel, TrackedChannel];
      const q = ctx.q("prio");
      await a.ch.assertQueue(q, { durable: false });
      const taps = {
        negative: await tap(c.ch, q, { noAck: true, arguments: { "x-priority": -1 } }),
        none: await tap(a.ch, q, { noAck: true }),
        zero: await tap(b.ch, q, { noAck: true, arguments: { "x-priority": 0 } }),
      };
      await publish(pub, q, ["1", "2", "3", "4", "5", "6"]);
      await received(ctx, Object.values(taps), 6);
      return byName(taps);
    },
  },
  {
    name: "x-priority: a consumer that was full rejoins its priority's turn at the back",
    async run(ctx) {
      const { list, pub } = await channels(ctx, 3);
      const q = ctx.q("rr");
      await pub.assertQueue(q, { durable: false });
      const taps: Record<string, Tap> = {};
      for (const [i, name] of ["a", "b", "c"].entries()) {
        const ch = (list[i] as TrackedChannel).ch;
        await ch.prefetch(1);
        taps[name] = await tap(ch, q);
      }
      const { a, b, c } = taps as { a: Tap; b: Tap; c: Tap };
      await publish(pub, q, ["1", "2", "3"]);
      await received(ctx, [a, b, c], 3);
      await ack(b, q, "2");
      // a is full: it is skipped and leaves the turn; b takes 4.
      await publish(pub, q, ["4"]);
      await received(ctx, [a, b, c], 4);
      await ack(a, q, "1");
      await ack(c, q, "3");
      await ack(b, q, "4");
      await publish(pub, q, ["5", "6", "7"]);
      await received(ctx, [a, b, c], 7);
      return byName(taps);
    },
  },
  {
    name: "x-priority: on a quorum queue too, higher first while it has room",
    async run(ctx) {
      const { list, pub } = await channels(ctx, 2);
      const [l, h] = list as [TrackedChannel, TrackedChannel];
      const q = ctx.q("prioq");
      await l.ch.assertQueue(q, { durable: true, arguments: { "x-queue-type": "quorum" } });
      await l.ch.prefetch(2);
      await h.ch.prefetch(2);
      const taps = {
        low: await tap(l.ch, q),
        high: await tap(h.ch, q, { arguments: { "x-priority": 3 } }),
      };
      await publish(pub, q, ["1", "2", "3", "4", "5"]);
      await received(ctx, Object.values(taps), 4);
      const ready = await settled(l.ch, q);
      await ack(taps.high, q, "1");
      await received(ctx, Object.values(taps), 5);
      return { ...byName(taps), ready };
    },
  },
  {
    name: "x-priority: values that are not integers → 406 (classic and quorum); a long is fine",
    async run(ctx) {
      const s = await ctx.connect();
      const setup = await s.channel();
      const classic = ctx.q("c");
      const quorum = ctx.q("q");
      await setup.ch.assertQueue(classic, { durable: false });
      await setup.ch.assertQueue(quorum, {
        durable: true,
        arguments: { "x-queue-type": "quorum" },
      });
      const out: Record<string, Outcome> = {};
      const values: Array<[string, unknown]> = [
        ["string", "5"],
        ["boolean", true],
        ["double", 1.5],
        ["table", { p: 1 }],
        ["void", null],
      ];
      for (const [name, value] of values) {
        const t = await s.channel();
        out[name] = await ctx.failure(s, t, () =>
          t.ch.consume(classic, () => {}, { arguments: { "x-priority": value } }),
        );
      }
      const tq = await s.channel();
      out["quorumString"] = await ctx.failure(s, tq, () =>
        tq.ch.consume(quorum, () => {}, { arguments: { "x-priority": "5" } }),
      );
      const tl = await s.channel();
      out["long"] = await ctx.failure(s, tl, () =>
        tl.ch.consume(classic, () => {}, { arguments: { "x-priority": 2 ** 40 } }),
      );
      return out;
    },
  },
  ...CONSUMER_TIMEOUT_SCENARIOS,
];

/**
 * Conformance scenarios for the delivery acknowledgement timeout: RabbitMQ's consumer_timeout
 * (a 406 closes the channel of a delivery left unacknowledged too long), and the per-queue
 * x-consumer-timeout of RabbitMQ 3.12, which 3.10 ignores. Part of CONSUMER_SCENARIOS.
 *
 * Recording the consumer-timeout scenarios. RabbitMQ 3.10's timeout is server-wide (30 minutes)
 * and the RabbitMQ that records everything else must keep its settings, so these scenarios run
 * on a node of their own with consumer_timeout = CONSUMER_TIMEOUT_MS and a channel tick of
 * 100 ms (RabbitMQ looks for timed-out deliveries only on that tick, 60 s by default), while
 * record.ts runs the rest on EVENTLAB_TEST_AMQP_URL and writes one fixture:
 *
 *   DIR=$(mktemp -d)
 *   eventlab cluster up --nodes 1 --base-port 0 --name-prefix ctimeout --dir "$DIR"
 *   # the rabbitmqctl script itself (on Debian /usr/lib/rabbitmq/bin/rabbitmqctl, not the
 *   # /usr/sbin wrapper, which switches to the rabbitmq user and its Erlang cookie):
 *   HOME="$DIR" RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf" rabbitmqctl -n ctimeout-1@localhost \
 *     eval 'application:set_env(rabbit, consumer_timeout, 1000),
 *           application:set_env(rabbit, channel_tick_interval, 100).'
 *   EVENTLAB_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672 \
 *   EVENTLAB_TEST_CONSUMER_TIMEOUT_URL=<the node's amqp URL, printed by cluster up> \
 *     npx tsx test/conformance/record.ts
 *   eventlab cluster down --dir "$DIR"
 *
 * Channels read consumer_timeout when they open, so the setting applies at once to the
 * scenarios' connections. Without EVENTLAB_TEST_CONSUMER_TIMEOUT_URL these scenarios fail
 * against RabbitMQ (and record.ts writes nothing) rather than record a 30-minute timeout.
 */

import { ack, publish, received, settled, tap } from "./consumer-taps.js";
import {
  Ctx,
  describeError,
  METHOD,
  type Outcome,
  rpc,
  type Scenario,
  type Session,
  type TrackedChannel,
  timeout,
} from "./harness.js";

/**
 * The consumer timeout the timeout scenarios run with. RabbitMQ 3.10 has only the server-wide
 * `consumer_timeout` (default 30 minutes), checked on each channel's tick (`channel_tick_interval`,
 * default 60 s), so these scenarios need a RabbitMQ node of their own: see the file comment.
 * On the embedded broker they set the same timeout per queue with `x-consumer-timeout`, which
 * RabbitMQ 3.10 ignores (it is a 3.12 argument).
 */
export const CONSUMER_TIMEOUT_MS = 1000;
const TIMEOUT_ARGS = { "x-consumer-timeout": CONSUMER_TIMEOUT_MS };

/**
 * Run a timeout scenario on a broker whose deliveries time out after CONSUMER_TIMEOUT_MS: the
 * embedded broker as it is (the queues carry x-consumer-timeout), and, when the run is against
 * the RabbitMQ of EVENTLAB_TEST_AMQP_URL, the node named by EVENTLAB_TEST_CONSUMER_TIMEOUT_URL.
 */
async function withConsumerTimeout(ctx: Ctx, body: (c: Ctx) => Promise<Outcome>): Promise<Outcome> {
  if (ctx.url !== process.env["EVENTLAB_TEST_AMQP_URL"]) return body(ctx);
  const url = process.env["EVENTLAB_TEST_CONSUMER_TIMEOUT_URL"];
  if (!url) {
    throw new Error(
      `this scenario needs a RabbitMQ with consumer_timeout = ${CONSUMER_TIMEOUT_MS}: set EVENTLAB_TEST_CONSUMER_TIMEOUT_URL (see test/conformance/scenarios-consumer-timeout.ts)`,
    );
  }
  const inner = new Ctx(url);
  try {
    return inner.normalize(await body(inner));
  } finally {
    await inner.cleanup();
  }
}

/** Wait (bounded: the timeout, the check interval and a margin) for the server to close `t`. */
async function timedOut(s: Session, t: TrackedChannel): Promise<Outcome> {
  const r = await Promise.race([t.closed, timeout(CONSUMER_TIMEOUT_MS + 3000)]);
  if (r === "timeout") return "still open";
  return describeError(s.error ? "connection" : "channel", s.error ?? t.error);
}

/** Whether a channel still answers (a round trip), without waiting for anything else. */
async function answers(t: TrackedChannel): Promise<boolean> {
  try {
    await t.ch.checkExchange("amq.direct");
    return true;
  } catch {
    return false;
  }
}

export const CONSUMER_TIMEOUT_SCENARIOS: Scenario[] = [
  // ---------------------------------------------------------------- consumer timeout
  {
    name: "consumer timeout: an unacked delivery past the timeout closes its channel with 406; the message goes back, redelivered",
    run: (outer) =>
      withConsumerTimeout(outer, async (ctx) => {
        const s = await ctx.connect();
        const slow = await s.channel();
        const other = await s.channel();
        const pub = (await s.confirmChannel()).ch;
        const q = ctx.q("ct");
        await other.ch.assertQueue(q, { durable: false, arguments: TIMEOUT_ARGS });
        const held = await tap(slow.ch, q);
        await publish(pub, q, ["1"]);
        await received(ctx, [held], 1);
        const closed = await timedOut(s, slow);
        const next = await tap(other.ch, q);
        await received(ctx, [next], 1);
        return {
          held: held.got,
          closed,
          connectionOpen: s.error === undefined && (await answers(other)),
          next: next.got,
        };
      }),
  },
  {
    name: "consumer timeout: basic.get with manual ack times out too; no-ack, acked and tx-acked deliveries do not",
    run: (outer) =>
      withConsumerTimeout(outer, async (ctx) => {
        const s = await ctx.connect();
        const noAck = await s.channel();
        const acked = await s.channel();
        const txAcked = await s.channel();
        const getter = await s.channel();
        const pub = (await s.confirmChannel()).ch;
        const q = ctx.q("ct");
        await pub.assertQueue(q, { durable: false, arguments: TIMEOUT_ARGS });
        await publish(pub, q, ["1", "2", "3", "4"]);
        await noAck.ch.get(q, { noAck: true });
        const m2 = await acked.ch.get(q);
        if (m2) acked.ch.ack(m2);
        await rpc(txAcked.ch, METHOD.TxSelect, METHOD.TxSelectOk);
        const m3 = await txAcked.ch.get(q);
        if (m3) txAcked.ch.ack(m3);
        const m4 = await getter.ch.get(q);
        const got = m4 ? m4.content.toString() : null;
        const closed = await timedOut(s, getter);
        // A short explicit window (300 ms: three of RabbitMQ's checks) in which the other
        // channels must NOT be closed.
        await timeout(300);
        const open = {
          noAck: await answers(noAck),
          acked: await answers(acked),
          txAcked: await answers(txAcked),
        };
        return { got, closed, open, ready: await settled(pub, q) };
      }),
  },
  {
    name: "consumer timeout: all the channel's unacked deliveries go back (acked ones stay acked); the connection's other channels stay open",
    run: (outer) =>
      withConsumerTimeout(outer, async (ctx) => {
        const s = await ctx.connect();
        const first = await s.channel();
        const ch = await s.channel();
        const pub = (await s.confirmChannel()).ch;
        const q = ctx.q("ct");
        await pub.assertQueue(q, { durable: false, arguments: TIMEOUT_ARGS });
        const t = await tap(ch.ch, q);
        await publish(pub, q, ["1", "2", "3"]);
        await received(ctx, [t], 3);
        await ack(t, q, "2");
        const closed = await timedOut(s, ch);
        const back = await ctx.drain(pub, q);
        return { closed, firstOpen: await answers(first), back };
      }),
  },
  {
    name: "x-consumer-timeout (a RabbitMQ 3.12 queue argument) is accepted; RabbitMQ 3.10 ignores it",
    run: (outer) =>
      withConsumerTimeout(outer, async (ctx) => {
        const s = await ctx.connect();
        const ch = await s.channel();
        const pub = (await s.confirmChannel()).ch;
        const q = ctx.q("ct");
        const short = { "x-consumer-timeout": CONSUMER_TIMEOUT_MS / 2 };
        await pub.assertQueue(q, { durable: false, arguments: short });
        const redeclare = await pub.assertQueue(q, { durable: false }).then(() => "ok");
        const t = await tap(ch.ch, q);
        await publish(pub, q, ["1"]);
        await received(ctx, [t], 1);
        return { redeclare, closed: await timedOut(s, ch) };
      }),
  },
];

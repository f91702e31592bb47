/**
 * The firehose over the wire: a broker started with `trace: true` copies publishes and
 * deliveries to amq.rabbitmq.trace; one started without traces nothing until
 * RunningBroker.trace(true), and nothing again after trace(false).
 */
import amqp, { type ChannelModel } from "amqplib";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";

const WAIT = { timeout: 3000, interval: 10 } as const;

let broker: RunningBroker | undefined;
let conn: ChannelModel | undefined;
afterEach(async () => {
  await conn?.close().catch(() => {});
  await broker?.close();
  conn = undefined;
  broker = undefined;
});

/** A queue and a trace queue bound with `#`; `traced()` takes what the trace queue holds. */
async function setup(trace: boolean) {
  broker = await startBroker({ port: 0, trace });
  conn = await amqp.connect(broker.url);
  const ch = await conn.createConfirmChannel();
  const { queue: tq } = await ch.assertQueue("", { exclusive: true });
  await ch.bindQueue(tq, "amq.rabbitmq.trace", "#");
  const { queue: q } = await ch.assertQueue("work", { exclusive: true });
  const traced = async () => {
    const out: string[] = [];
    for (let m = await ch.get(tq, { noAck: true }); m; m = await ch.get(tq, { noAck: true })) {
      out.push(`${m.fields.routingKey} ${m.content}`);
    }
    return out;
  };
  const roundTrip = async (body: string) => {
    ch.sendToQueue(q, Buffer.from(body));
    await ch.waitForConfirms();
    const m = await ch.get(q, { noAck: true });
    expect(m ? m.content.toString() : null).toBe(body);
  };
  return { ch, q, traced, roundTrip };
}

describe("amq.rabbitmq.trace", () => {
  it("is silent while tracing is off (the default)", async () => {
    const { roundTrip, traced } = await setup(false);
    await roundTrip("a");
    expect(await traced()).toEqual([]);
  });

  it("with trace: true, gets publish.<exchange> then deliver.<queue> with the body", async () => {
    const { roundTrip, traced } = await setup(true);
    await roundTrip("a");
    expect(await traced()).toEqual(["publish. a", "deliver.work a"]);
  });

  it("is switched at run time by RunningBroker.trace", async () => {
    const { roundTrip, traced } = await setup(false);
    broker?.trace(true);
    await roundTrip("on");
    broker?.trace(false);
    await roundTrip("off");
    expect(await traced()).toEqual(["publish. on", "deliver.work on"]);
  });

  it("a consumer of a trace queue is not traced in turn", async () => {
    const { ch, roundTrip } = await setup(true);
    const { queue: tap } = await ch.assertQueue("", { exclusive: true });
    await ch.bindQueue(tap, "amq.rabbitmq.trace", "#");
    const seen: string[] = [];
    await ch.consume(tap, (m) => m && seen.push(m.fields.routingKey), { noAck: true });
    await roundTrip("x");
    await expect.poll(() => seen.length, WAIT).toBeGreaterThanOrEqual(2);
    // A round trip after the two copies: a traced trace delivery would have arrived by now.
    await ch.checkQueue(tap);
    expect(seen).toEqual(["publish.", "deliver.work"]);
  });
});

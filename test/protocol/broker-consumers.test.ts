/**
 * Consumer features over scripted frames: the broker's consumerTimeout option and a queue's
 * x-consumer-timeout (the close, its text and blame, the deliveries going back, no timer left
 * behind), and the consumer_priorities capability. What RabbitMQ does for the same is in the
 * conformance scenarios (test/conformance/scenarios-consumer*.ts).
 */
import { afterEach, describe, expect, it } from "vitest";
import type { FieldTable } from "../../src/broker/codec/index.js";
import { tableField } from "../../src/broker/codec/index.js";
import type { BrokerOptions } from "../../src/broker/server.js";
import { BrokerHarness, type TestClient } from "./broker-helpers.js";

let harness: BrokerHarness | undefined;

function setup(options: BrokerOptions = {}): BrokerHarness {
  harness = new BrokerHarness(options);
  return harness;
}

afterEach(async () => {
  const h = harness;
  harness = undefined;
  await h?.teardown();
});

const timedOutText = (channel: number, ms: number) =>
  `PRECONDITION_FAILED - delivery acknowledgement on channel ${channel} timed out. Timeout value used: ${ms} ms. This timeout value can be configured, see consumers doc guide to learn more`;

/** Channels 1 and 2, queue `q` declared with `args`, a consumer "a" on channel 1, one delivery. */
async function deliveredOnce(c: TestClient, args: FieldTable = {}): Promise<void> {
  await c.openChannel(1);
  await c.openChannel(2);
  c.sendMethod(1, "queue.declare", { queue: "q", arguments: args });
  await c.expect("queue.declare-ok", 1);
  c.sendMethod(1, "basic.consume", { queue: "q", consumerTag: "a" });
  await c.expect("basic.consume-ok", 1);
  c.publish(2, "", "q", "m");
  const d = await c.expectContent("basic.deliver");
  expect(d.method.args).toMatchObject({ consumerTag: "a", redelivered: false });
}

describe("consumer timeout", () => {
  it("the broker's consumerTimeout closes the channel (406, no method blamed); the delivery goes back", async () => {
    const c = await setup({ consumerTimeout: 150 }).open();
    await deliveredOnce(c);
    const started = Date.now();
    const close = await c.expectChannelClose(1, 406);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(close).toEqual({
      replyCode: 406,
      replyText: timedOutText(1, 150),
      classId: 0,
      methodId: 0,
    });
    c.sendMethod(2, "basic.consume", { queue: "q", consumerTag: "b" });
    await c.expect("basic.consume-ok", 2);
    const again = await c.expectContent("basic.deliver");
    expect(again.method.args).toMatchObject({ consumerTag: "b", redelivered: true });
    await c.close();
  });

  it("a queue's x-consumer-timeout replaces the broker's (default 30 minutes)", async () => {
    const c = await setup().open();
    await deliveredOnce(c, { "x-consumer-timeout": 100 });
    const close = await c.expectChannelClose(1, 406);
    expect(close.replyText).toBe(timedOutText(1, 100));
    await c.close();
  });

  it("an x-consumer-timeout that is not an integer turns it off for the queue, as in RabbitMQ 3.12", async () => {
    const c = await setup({ consumerTimeout: 50 }).open();
    await deliveredOnce(c, { "x-consumer-timeout": "soon" });
    await c.quiet(300);
    await c.close();
  });

  // false must not become 0 (an immediate timeout) or anything else that fires.
  it("consumerTimeout false turns it off", async () => {
    const c = await setup({ consumerTimeout: false }).open();
    await deliveredOnce(c);
    await c.quiet(200);
    await c.close();
  });

  it("an acked delivery does not time out", async () => {
    const c = await setup({ consumerTimeout: 100 }).open();
    await deliveredOnce(c);
    c.sendMethod(1, "basic.ack", { deliveryTag: 1 });
    await c.quiet(300);
    await c.close();
  });

  it("closing the channel before the timeout gives its delivery back, and nothing fires later", async () => {
    const c = await setup({ consumerTimeout: 100 }).open();
    await deliveredOnce(c);
    c.sendMethod(1, "channel.close", { replyCode: 200, replyText: "", classId: 0, methodId: 0 });
    await c.expect("channel.close-ok", 1);
    // The message went back to the queue and nothing else happens on the connection.
    await c.quiet(300);
    c.sendMethod(2, "queue.declare", { queue: "q", passive: true });
    const ok = await c.expect("queue.declare-ok", 2);
    expect(ok.args).toMatchObject({ messageCount: 1, consumerCount: 0 });
    await c.close();
  });
});

describe("consumer priorities", () => {
  it("connection.start offers the consumer_priorities capability, as RabbitMQ", async () => {
    const c = setup().connect();
    c.sendHeader();
    const start = await c.expect("connection.start", 0);
    const caps = tableField(start.args.serverProperties, "capabilities");
    expect(tableField(caps, "consumer_priorities")).toBe(true);
    c.destroy();
  });
});

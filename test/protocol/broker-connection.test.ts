/**
 * The embedded broker's connection and channel state machines, driven by scripted frames over
 * an in-memory duplex pair: handshake, authentication, negotiation limits, framing errors,
 * heartbeats, closing, limits and the memory alarm.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  encodeBodyFrame,
  encodeFrame,
  encodeHeaderFrame,
  encodeMethodFrame,
  encodeTable,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  PROTOCOL_HEADER,
  tableField,
} from "../../src/broker/codec/index.js";
import type { BrokerOptions } from "../../src/broker/server.js";
import { BrokerHarness, type TestClient, waitFor } from "./broker-helpers.js";

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

/** A method frame for class/method ids the codec does not know. */
function unknownMethodFrame(channel: number, classId: number, methodId: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt16BE(classId, 0);
  payload.writeUInt16BE(methodId, 2);
  return encodeFrame(FRAME_METHOD, channel, payload);
}

async function declare(c: TestClient, ch: number, queue: string): Promise<void> {
  c.sendMethod(ch, "queue.declare", { queue });
  const ok = await c.expect("queue.declare-ok", ch);
  expect(ok.args.queue).toBe(queue);
}

describe("protocol header", () => {
  it("answers a wrong protocol version with AMQP 0-9-1's header and closes", async () => {
    const h = setup();
    const c = h.connect();
    c.send(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 2]));
    await c.waitClosed();
    expect(c.rawBytes).toEqual(Buffer.from("AMQP\u0000\u0000\u0009\u0001", "latin1"));
    expect(c.frames).toHaveLength(0);
  });

  it("answers an HTTP request the same way, without waiting for eight bytes", async () => {
    const h = setup();
    const c = h.connect();
    c.send(Buffer.from("GET"));
    await c.waitClosed();
    expect(c.rawBytes).toEqual(PROTOCOL_HEADER);
  });

  it("accepts the protocol header split over several writes", async () => {
    const h = setup();
    const c = h.connect();
    for (const b of PROTOCOL_HEADER) c.send(Buffer.from([b]));
    await c.expect("connection.start", 0);
  });
});

describe("connection.start", () => {
  it("offers PLAIN and AMQPLAIN, version 0-9, and RabbitMQ's capabilities", async () => {
    const h = setup();
    const c = h.connect();
    c.sendHeader();
    const start = await c.expect("connection.start", 0);
    expect(start.args.versionMajor).toBe(0);
    expect(start.args.versionMinor).toBe(9);
    expect(start.args.mechanisms.toString().split(" ").sort()).toEqual(["AMQPLAIN", "PLAIN"]);
    expect(start.args.locales.toString()).toContain("en_US");
    const props = start.args.serverProperties;
    expect(tableField(props, "product")).toBeTypeOf("string");
    const caps = tableField(props, "capabilities");
    for (const cap of [
      "publisher_confirms",
      "exchange_exchange_bindings",
      "basic.nack",
      "consumer_cancel_notify",
      "connection.blocked",
      "authentication_failure_close",
      "per_consumer_qos",
    ]) {
      expect(tableField(caps, cap), cap).toBe(true);
    }
  });
});

describe("authentication", () => {
  it("logs guest in with PLAIN over loopback", async () => {
    const h = setup();
    const c = h.connect();
    const { tune } = await c.handshake();
    expect(tune.args).toMatchObject({ channelMax: 2047, frameMax: 131072, heartbeat: 60 });
    await c.close();
  });

  it("logs in with AMQPLAIN (a field table without its length prefix)", async () => {
    const h = setup();
    const c = h.connect();
    c.sendHeader();
    await c.expect("connection.start");
    const response = encodeTable({ LOGIN: "guest", PASSWORD: "guest" }).subarray(4);
    c.startOk({ mechanism: "AMQPLAIN", response });
    await c.expect("connection.tune", 0);
  });

  it("refuses a bad password with connection.close 403 ACCESS_REFUSED", async () => {
    const h = setup();
    const c = h.connect();
    c.sendHeader();
    await c.expect("connection.start");
    c.startOk({ password: "wrong" });
    const { replyText } = await c.expectConnectionClose(403);
    expect(replyText).toMatch(
      /^ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/,
    );
  });

  it("refuses an unknown mechanism", async () => {
    const h = setup();
    const c = h.connect();
    c.sendHeader();
    await c.expect("connection.start");
    c.startOk({ mechanism: "EXTERNAL" });
    const m = await c.until("connection.close");
    expect(m.args.replyCode).not.toBe(200);
    c.sendMethod(0, "connection.close-ok");
    await c.waitClosed();
  });

  it("refuses guest from a non-loopback peer with 403", async () => {
    const h = setup();
    const c = h.connect(false);
    c.sendHeader();
    await c.expect("connection.start");
    c.startOk();
    await c.expectConnectionClose(403);
  });

  it("accepts configured users, from anywhere, and no longer guest", async () => {
    const h = setup({ users: [{ username: "alice", password: "s3cret" }] });
    const alice = h.connect(false);
    await alice.handshake({ username: "alice", password: "s3cret" });
    await alice.openChannel(1);
    await alice.close();

    const guest = h.connect();
    guest.sendHeader();
    await guest.expect("connection.start");
    guest.startOk();
    await guest.expectConnectionClose(403);
  });
});

describe("tune and open", () => {
  it("refuses a frame_max above the offer with 530", async () => {
    const h = setup();
    const c = h.connect();
    await c.toTune();
    c.sendMethod(0, "connection.tune-ok", { channelMax: 2047, frameMax: 131073, heartbeat: 0 });
    await c.expectConnectionClose(530);
  });

  it("refuses a frame_max below 4096 with 530", async () => {
    const h = setup();
    const c = h.connect();
    await c.toTune();
    c.sendMethod(0, "connection.tune-ok", { channelMax: 2047, frameMax: 1024, heartbeat: 0 });
    await c.expectConnectionClose(530);
  });

  it("refuses a vhost other than / with 530", async () => {
    const h = setup();
    const c = h.connect();
    await c.toTune();
    c.sendMethod(0, "connection.tune-ok", { channelMax: 2047, frameMax: 131072, heartbeat: 0 });
    c.sendMethod(0, "connection.open", { virtualHost: "/other" });
    const { replyText } = await c.expectConnectionClose(530);
    expect(replyText).toContain("/other");
  });

  it("treats a method out of handshake order as a hard error", async () => {
    const h = setup();
    const c = h.connect();
    c.sendHeader();
    await c.expect("connection.start");
    c.sendMethod(0, "connection.open", { virtualHost: "/" });
    await c.expectConnectionClose(503);
  });

  it("refuses the second connection over maxConnections with 530", async () => {
    const h = setup({ maxConnections: 1 });
    const first = await h.open();
    const second = h.connect();
    second.sendHeader();
    await second.expect("connection.start");
    second.startOk();
    await second.expect("connection.tune");
    second.sendMethod(0, "connection.tune-ok", {
      channelMax: 2047,
      frameMax: 131072,
      heartbeat: 0,
    });
    second.sendMethod(0, "connection.open", { virtualHost: "/" });
    const { replyText } = await second.expectConnectionClose(530);
    expect(replyText).toMatch(/connection limit/);
    // The first one is unaffected, and once it is gone a new one may open.
    await first.openChannel(1);
    await first.close();
    const third = await h.open();
    await third.close();
  });
});

describe("framing errors", () => {
  it("closes with 501 for a frame larger than the negotiated frame_max", async () => {
    const h = setup();
    const c = await h.open({ frameMax: 4096 });
    await c.openChannel(1);
    c.sendMethod(1, "basic.publish", { exchange: "", routingKey: "q" });
    c.send(encodeHeaderFrame(1, 5000));
    c.send(encodeBodyFrame(1, Buffer.alloc(5000)));
    const { replyText } = await c.expectConnectionClose(501);
    expect(replyText).toMatch(/^FRAME_ERROR/);
  });

  it("closes with 501 for a bad frame-end octet", async () => {
    const h = setup();
    const c = await h.open();
    const f = encodeMethodFrame(1, 20, 10, {});
    f[f.length - 1] = 0x00;
    c.send(f);
    await c.expectConnectionClose(501);
  });

  it("closes with 501 for an unknown frame type", async () => {
    const h = setup();
    const c = await h.open();
    c.send(Buffer.from([0x04, 0, 1, 0, 0, 0, 0, 0xce]));
    await c.expectConnectionClose(501);
  });

  it("closes with 501 for a heartbeat frame on channel 1", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    c.send(encodeFrame(FRAME_HEARTBEAT, 1, Buffer.alloc(0)));
    await c.expectConnectionClose(501);
  });

  it("closes the connection for an unknown method (503 COMMAND_INVALID here; see report)", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    c.send(unknownMethodFrame(1, 60, 99));
    const m = await c.until("connection.close");
    expect(m.args.replyCode).toBe(503);
    c.sendMethod(0, "connection.close-ok");
    await c.waitClosed();
  });

  it("closes the connection for an unknown class on channel 0", async () => {
    const h = setup();
    const c = await h.open();
    c.send(unknownMethodFrame(0, 99, 1));
    const m = await c.until("connection.close");
    expect([503, 540]).toContain(m.args.replyCode);
    c.sendMethod(0, "connection.close-ok");
    await c.waitClosed();
  });

  it("closes with 502 for a method whose arguments are truncated", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    const f = encodeMethodFrame(1, 50, 10, { queue: "some-queue-name" });
    // Keep class/method ids and part of the arguments, fix up the size.
    const payload = f.subarray(7, 7 + 8);
    c.send(encodeFrame(FRAME_METHOD, 1, payload));
    await c.expectConnectionClose(502);
  });
});

describe("channels", () => {
  it("closes with 504 for a method on a channel that was never opened", async () => {
    const h = setup();
    const c = await h.open();
    c.sendMethod(5, "queue.declare", { queue: "" });
    const { replyText } = await c.expectConnectionClose(504);
    expect(replyText).toMatch(/^CHANNEL_ERROR/);
  });

  it("closes with 504 for a second channel.open", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    c.sendMethod(1, "channel.open");
    await c.expectConnectionClose(504);
  });

  it("refuses a channel number above the negotiated channel_max", async () => {
    const h = setup();
    const c = await h.open({ channelMax: 10 });
    await c.openChannel(10);
    c.sendMethod(11, "channel.open");
    const { replyCode } = await c.expectConnectionClose(530);
    expect(replyCode).toBe(530);
  });

  it("refuses a tune-ok channel_max above the offer", async () => {
    const h = setup({ channelMax: 5 });
    const c = h.connect();
    const { tune } = await c.toTune();
    expect(tune.args.channelMax).toBe(5);
    c.sendMethod(0, "connection.tune-ok", { channelMax: 6, frameMax: 131072, heartbeat: 0 });
    await c.expectConnectionClose(530);
  });

  it("rejects a frame on a channel before connection.open", async () => {
    const h = setup();
    const c = h.connect();
    c.sendHeader();
    await c.expect("connection.start");
    c.sendMethod(1, "channel.open");
    const m = await c.until("connection.close");
    expect(m.args.replyCode).toBe(504);
    c.sendMethod(0, "connection.close-ok");
    await c.waitClosed();
  });

  it("answers channel.close with close-ok, requeues unacked deliveries, and reopens", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    await declare(c, 1, "requeue-q");
    c.publish(1, "", "requeue-q", "one");
    c.publish(1, "", "requeue-q", "two");
    c.sendMethod(1, "basic.get", { queue: "requeue-q", noAck: false });
    const got = await c.expectContent("basic.get-ok");
    expect(got.body.toString()).toBe("one");
    expect(got.method.args.redelivered).toBe(false);
    expect(h.broker.stats()).toMatchObject({ unacked: 1, ready: 1 });

    c.sendMethod(1, "channel.close", { replyCode: 200, replyText: "", classId: 0, methodId: 0 });
    await c.expect("channel.close-ok", 1);
    expect(h.broker.stats()).toMatchObject({ unacked: 0, ready: 2, channels: 0 });

    await c.openChannel(1);
    c.sendMethod(1, "basic.get", { queue: "requeue-q", noAck: true });
    const again = await c.expectContent("basic.get-ok");
    expect(again.body.toString()).toBe("one");
    expect(again.method.args.redelivered).toBe(true);
    await c.close();
  });

  it("a soft error closes only the channel (404), and the connection goes on", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    c.sendMethod(1, "queue.declare", { queue: "missing", passive: true });
    const { replyText, classId, methodId } = await c.expectChannelClose(1, 404);
    expect(replyText).toBe("NOT_FOUND - no queue 'missing' in vhost '/'");
    expect([classId, methodId]).toEqual([50, 10]);
    await c.openChannel(1);
    await declare(c, 1, "now-there");
    await c.close();
  });
});

describe("as RabbitMQ 3.10 answers", () => {
  // rabbit_channel:expand_queue_name_shortcut/2 raises not_found (404, a channel error);
  // the embedded broker raises 530 NOT_ALLOWED and closes the whole connection.
  it("an empty queue name with no queue declared on the channel is 404, channel only", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    c.sendMethod(1, "queue.purge", { queue: "" });
    const { replyText } = await c.expectChannelClose(1, 404);
    expect(replyText).toBe("NOT_FOUND - no previously declared queue");
    await c.openChannel(1);
    await c.close();
  });
});

describe("content", () => {
  it("closes with 505 for a content header without basic.publish", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    c.send(encodeHeaderFrame(1, 3));
    const { replyText } = await c.expectConnectionClose(505);
    expect(replyText).toMatch(/^UNEXPECTED_FRAME/);
  });

  it("closes with 505 for a method where the content header belongs", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    c.sendMethod(1, "basic.publish", { exchange: "", routingKey: "q" });
    c.sendMethod(1, "basic.qos", { prefetchCount: 1 });
    await c.expectConnectionClose(505);
  });

  it("closes with 505 for a body frame where the content header belongs", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    c.sendMethod(1, "basic.publish", { exchange: "", routingKey: "q" });
    c.send(encodeBodyFrame(1, Buffer.from("abc")));
    await c.expectConnectionClose(505);
  });

  it("closes with 505 for a body larger than its header declared", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    await declare(c, 1, "big-body");
    c.sendMethod(1, "basic.publish", { exchange: "", routingKey: "big-body" });
    c.send(encodeHeaderFrame(1, 3));
    c.send(encodeBodyFrame(1, Buffer.from("12345")));
    const close = await c.until("connection.close");
    expect(close.args).toMatchObject({ replyCode: 505, classId: 60, methodId: 40 });
    c.sendMethod(0, "connection.close-ok");
    await c.waitClosed();
    expect(h.broker.vhost.queues.get("big-body")?.messageCount ?? 0).toBe(0);
  });

  it("assembles a body split over several frames", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    await declare(c, 1, "split");
    c.sendMethod(1, "basic.publish", { exchange: "", routingKey: "split" });
    c.send(encodeHeaderFrame(1, 6, { contentType: "text/plain" }));
    c.send(encodeBodyFrame(1, Buffer.from("ab")), encodeBodyFrame(1, Buffer.from("cdef")));
    c.sendMethod(1, "basic.get", { queue: "split", noAck: true });
    const got = await c.expectContent("basic.get-ok");
    expect(got.body.toString()).toBe("abcdef");
    expect(got.header.properties.contentType).toBe("text/plain");
    await c.close();
  });

  it("refuses a message above maxMessageSize with channel.close 406; the connection stays usable", async () => {
    const h = setup({ maxMessageSize: 1000 });
    const c = await h.open();
    await c.openChannel(1);
    await declare(c, 1, "limited");
    c.publish(1, "", "limited", Buffer.alloc(2000, 1));
    const { replyText, classId, methodId } = await c.expectChannelClose(1, 406);
    expect(replyText).toMatch(
      /^PRECONDITION_FAILED - message size 2000 is larger than configured max size 1000/,
    );
    expect([classId, methodId]).toEqual([60, 40]);
    await c.openChannel(2);
    c.publish(2, "", "limited", Buffer.alloc(1000, 2));
    c.sendMethod(2, "basic.get", { queue: "limited", noAck: true });
    const got = await c.expectContent("basic.get-ok");
    expect(got.body.length).toBe(1000);
    expect(got.method.args.messageCount).toBe(0);
    await c.close();
  });

  it("routes and confirms a user-id that names the connection's user; refuses another with 406, unconfirmed", async () => {
    const h = setup({ users: [{ username: "alice", password: "s3cret" }] });
    const c = h.connect();
    await c.handshake({ username: "alice", password: "s3cret" });
    await c.openChannel(1);
    await declare(c, 1, "ids");
    c.sendMethod(1, "confirm.select");
    await c.expect("confirm.select-ok", 1);
    c.publish(1, "", "ids", "mine", { userId: "alice" });
    expect((await c.expect("basic.ack", 1)).args.deliveryTag).toBe(1);
    c.publish(1, "", "ids", "claimed", { userId: "guest" });
    // channel.close is the next frame: no ack or nack for the refused message.
    expect(await c.expectChannelClose(1, 406)).toEqual({
      replyCode: 406,
      replyText:
        "PRECONDITION_FAILED - user_id property set to 'guest' but authenticated user was 'alice'",
      classId: 60,
      methodId: 40,
    });
    await c.openChannel(2);
    c.publish(2, "", "ids", "", { userId: "" });
    expect((await c.expectChannelClose(2, 406)).replyText).toBe(
      "PRECONDITION_FAILED - user_id property set to '' but authenticated user was 'alice'",
    );
    await c.openChannel(3);
    c.sendMethod(3, "basic.get", { queue: "ids", noAck: true });
    const got = await c.expectContent("basic.get-ok");
    expect([got.body.toString(), got.header.properties.userId]).toEqual(["mine", "alice"]);
    expect(got.method.args.messageCount).toBe(0);
    expect(h.broker.stats().published).toBe(1);
    await c.close();
  });

  it("refuses a user-id of another user in a transaction at basic.publish, before tx.commit", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    await declare(c, 1, "tx-ids");
    c.sendMethod(1, "tx.select");
    await c.expect("tx.select-ok", 1);
    c.publish(1, "", "tx-ids", "claimed", { userId: "bob" });
    const closed = await c.expectChannelClose(1, 406);
    expect([closed.replyText, closed.classId, closed.methodId]).toEqual([
      "PRECONDITION_FAILED - user_id property set to 'bob' but authenticated user was 'guest'",
      60,
      40,
    ]);
    await c.close();
  });
});

describe("timeouts and heartbeats", () => {
  it("drops a socket that does not complete the handshake in time", async () => {
    const h = setup({ handshakeTimeout: 200 });
    const silent = h.connect();
    const started = Date.now();
    await silent.waitClosed(2000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await waitFor(() => h.broker.stats().connections === 0, "the silent connection to go");

    // Half a handshake counts as silent too.
    const half = h.connect();
    half.sendHeader();
    await half.expect("connection.start");
    await half.waitClosed(2000);
  });

  it("drops a client that stops sending after negotiating heartbeat 1", async () => {
    const h = setup();
    const c = await h.open({ heartbeat: 1 });
    const started = Date.now();
    await c.waitClosed(5000);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(1500);
    expect(took).toBeLessThan(5000);
    // Dropped without a close frame, as RabbitMQ does.
    expect(c.frames.some((f) => f.method?.name === "connection.close")).toBe(false);
  });

  it("sends heartbeats, and keeps a client that sends its own", async () => {
    const h = setup();
    const c = await h.open({ heartbeat: 1 });
    const started = Date.now();
    let beats = 0;
    while (Date.now() - started < 3000) {
      const f = await c.next(1500);
      expect(f.type).toBe(FRAME_HEARTBEAT);
      expect(f.channel).toBe(0);
      beats += 1;
      c.send(encodeFrame(FRAME_HEARTBEAT, 0, Buffer.alloc(0)));
    }
    expect(beats).toBeGreaterThanOrEqual(3);
    expect(c.closed).toBe(false);
    await c.close();
  });

  it("sends no heartbeats when the client negotiates 0", async () => {
    const h = setup({ heartbeat: 1 });
    const c = await h.open({ heartbeat: 0 });
    await c.quiet(1200);
    await c.close();
  });
});

describe("closing", () => {
  it("answers connection.close with close-ok and ends the stream", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    await c.openChannel(2);
    expect(h.broker.stats()).toMatchObject({ connections: 1, channels: 2 });
    await c.close();
    await waitFor(() => h.broker.stats().connections === 0, "connection gone");
  });

  it("forgets a connection whose stream is destroyed, returning its unacked messages", async () => {
    const h = setup();
    const c = await h.open();
    await c.openChannel(1);
    await declare(c, 1, "dropped");
    c.publish(1, "", "dropped", "x");
    c.sendMethod(1, "basic.consume", { queue: "dropped", consumerTag: "t" });
    await c.expect("basic.consume-ok", 1);
    await c.expectContent("basic.deliver");
    expect(h.broker.stats()).toMatchObject({ unacked: 1, consumers: 1 });
    c.destroy();
    await waitFor(() => h.broker.stats().connections === 0, "connection gone");
    expect(h.broker.stats()).toMatchObject({ unacked: 0, ready: 1, consumers: 0 });
  });

  it("shutdown closes open connections with 320 CONNECTION_FORCED", async () => {
    const h = setup();
    const c = await h.open();
    h.broker.shutdown();
    await c.expectConnectionClose(320);
  });
});

describe("memory alarm", () => {
  it("blocks a publisher that announced connection.blocked, and unblocks after a purge", async () => {
    const h = setup({ memoryHighWatermark: 1000 });
    const publisher = await h.open();
    const admin = await h.open();
    await publisher.openChannel(1);
    await admin.openChannel(1);
    await declare(admin, 1, "heavy");

    publisher.publish(1, "", "heavy", Buffer.alloc(2000, 7));
    const blocked = await publisher.expect("connection.blocked", 0);
    expect(blocked.args.reason).toMatch(/memory/);
    expect(h.broker.stats().blocked).toBe(true);
    // A connection that has not published is not blocked.
    await admin.quiet(50);

    admin.sendMethod(1, "queue.purge", { queue: "heavy" });
    const purged = await admin.expect("queue.purge-ok", 1);
    expect(purged.args.messageCount).toBe(1);
    await publisher.expect("connection.unblocked", 0);
    expect(h.broker.stats().blocked).toBe(false);

    // The publisher reads again.
    await publisher.openChannel(2);
    await publisher.close();
    await admin.close();
  });

  it("blocks without notifying a client that did not announce the capability", async () => {
    const h = setup({ memoryHighWatermark: 1000 });
    const publisher = await h.open({ capabilities: {} });
    const admin = await h.open();
    await publisher.openChannel(1);
    await admin.openChannel(1);
    await declare(admin, 1, "heavy2");
    publisher.publish(1, "", "heavy2", Buffer.alloc(2000, 7));
    await waitFor(() => h.broker.stats().blocked, "the alarm");
    // Paused: its next request is not answered until the alarm clears.
    publisher.sendMethod(2, "channel.open");
    await publisher.quiet(100);
    admin.sendMethod(1, "queue.purge", { queue: "heavy2" });
    await admin.expect("queue.purge-ok", 1);
    await publisher.expect("channel.open-ok", 2);
    expect(publisher.frames.some((f) => f.method?.name.startsWith("connection."))).toBe(false);
    await publisher.close();
    await admin.close();
  });
});

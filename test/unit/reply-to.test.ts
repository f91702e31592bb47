/** The direct reply-to registry (src/broker/model/reply-to.ts) without a connection. */
import { describe, expect, it } from "vitest";
import { AmqpError } from "../../src/broker/errors.js";
import { makeMessage } from "../../src/broker/model/message.js";
import { DirectReplies, isReplyQueueName, REPLY_QUEUE } from "../../src/broker/model/reply-to.js";

const message = (key: string) => makeMessage("", key, {}, Buffer.from("reply"));

function failure(f: () => unknown): [number, string] | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof AmqpError) return [e.replyCode, e.replyText];
    throw e;
  }
  return undefined;
}

describe("direct reply-to registry", () => {
  it("routes a reply to its consumer while it lives, then drops it", () => {
    const r = new DirectReplies();
    const got: string[] = [];
    const token = r.register({ deliverReply: (m) => got.push(m.routingKey) });
    const key = `${REPLY_QUEUE}.${token}`;
    r.route(key, message(key));
    r.route("other", message("other"));
    r.unregister(token);
    r.route(key, message(key));
    expect(got).toEqual([key]);
  });

  it("a token has RabbitMQ's shape: two base64 parts joined by a dot", () => {
    const token = new DirectReplies().register({ deliverReply: () => {} });
    expect(token).toMatch(/^[A-Za-z0-9+/]{40}\.[A-Za-z0-9+/]{22}==$/);
  });

  it("declare: the pseudo-queue always, a token while its consumer lives, else 404 or 541", () => {
    const r = new DirectReplies();
    const token = r.register({ deliverReply: () => {} });
    expect(r.declare(REPLY_QUEUE)).toBe(REPLY_QUEUE);
    expect(r.declare(`${REPLY_QUEUE}.${token}`)).toBe(`${REPLY_QUEUE}.${token}`);
    expect(failure(() => r.declare(`${REPLY_QUEUE}.abc`))).toEqual([
      404,
      `NOT_FOUND - no queue '${REPLY_QUEUE}.abc' in vhost '/'`,
    ]);
    expect(failure(() => r.declare(`${REPLY_QUEUE}x`))?.[0]).toBe(404);
    expect(failure(() => r.declare(`${REPLY_QUEUE}.abc.def`))).toEqual([541, "INTERNAL_ERROR"]);
    r.unregister(token);
    expect(failure(() => r.declare(`${REPLY_QUEUE}.${token}`))?.[0]).toBe(404);
  });

  it("names that are the reply-to's", () => {
    expect(
      [REPLY_QUEUE, `${REPLY_QUEUE}.x`, "amq.rabbitmq.reply", "q"].map(isReplyQueueName),
    ).toEqual([true, true, false, false]);
  });
});

/**
 * The x-delayed-message holder (model/delayed.ts) and the x-delay reading (routing/delay.ts),
 * with fake timers: due-time order whatever the publish order, one timer for all, the
 * header negated on release, and exchange.declare's checks as the plugin makes them.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Decimal } from "../../src/broker/codec/index.js";
import { AmqpError, REPLY } from "../../src/broker/errors.js";
import { DelayedMessages } from "../../src/broker/model/delayed.js";
import { type Message, makeMessage } from "../../src/broker/model/message.js";
import { VHost } from "../../src/broker/model/vhost.js";
import { delayOf, explainRoute, MAX_DELAY, RoutingTable } from "../../src/broker/routing/index.js";
import { renderRoute } from "../../src/ui/route-view.js";
import { createTheme } from "../../src/ui/theme.js";

const X = { name: "later", type: "x-delayed-message" as const };

function msg(body: string, delay?: unknown): Message {
  const headers = delay === undefined ? {} : { "x-delay": delay };
  return makeMessage("later", "k", { headers } as never, Buffer.from(body));
}

describe("delayOf", () => {
  it.each([
    [undefined, undefined],
    [0, undefined],
    [-5, undefined],
    [250, 250],
    [1.9, 1],
    [10n, 10],
    ["300", 300],
    ["3e2", undefined],
    ["soon", undefined],
    [new Decimal(1, 25), 2],
    [MAX_DELAY, MAX_DELAY],
    [MAX_DELAY + 1, undefined],
    [true, undefined],
  ])("x-delay %o → %o", (value, expected) => {
    expect(delayOf(value === undefined ? {} : { "x-delay": value })).toBe(expected);
  });
});

describe("DelayedMessages", () => {
  let out: Array<{ exchange: string; body: string; delay: unknown }>;
  let holder: DelayedMessages;
  beforeEach(() => {
    vi.useFakeTimers();
    out = [];
    const host = {
      publish(exchange: string, m: Message) {
        out.push({ exchange, body: m.body.toString(), delay: m.properties.headers?.["x-delay"] });
      },
    };
    holder = new DelayedMessages(host, () => Date.now());
  });
  afterEach(() => {
    holder.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });

  it("releases in due-time order, with one timer, x-delay negated", () => {
    expect(holder.hold(X, msg("c", 300))).toBe(true);
    expect(holder.hold(X, msg("a", 100))).toBe(true);
    expect(holder.hold(X, msg("b", 200))).toBe(true);
    expect(holder.hold(X, msg("b2", 200))).toBe(true);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(99);
    expect(out).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(out).toEqual([{ exchange: "later", body: "a", delay: -100 }]);
    vi.advanceTimersByTime(100);
    expect(out.map((o) => o.body)).toEqual(["a", "b", "b2"]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(100);
    expect(out.map((o) => o.body)).toEqual(["a", "b", "b2", "c"]);
    expect(holder.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("an earlier message moves the one timer forward", () => {
    holder.hold(X, msg("late", 10_000));
    holder.hold(X, msg("soon", 10));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(10);
    expect(out.map((o) => o.body)).toEqual(["soon"]);
  });

  it("does not hold without a positive x-delay, nor for other exchange types", () => {
    expect(holder.hold(X, msg("now"))).toBe(false);
    expect(holder.hold(X, msg("zero", 0))).toBe(false);
    expect(holder.hold(X, msg("negative", -1000))).toBe(false);
    expect(holder.hold({ name: "d", type: "direct" }, msg("direct", 1000))).toBe(false);
    expect(holder.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("drops what waits in a deleted exchange, and keeps the rest", () => {
    holder.hold(X, msg("gone", 100));
    holder.hold({ name: "other", type: "x-delayed-message" }, msg("kept", 200));
    expect(holder.heldIn("later")).toBe(1);
    expect(holder.dropExchange("later")).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(out).toEqual([{ exchange: "other", body: "kept", delay: -200 }]);
  });

  it("waits past Node's longest timer in steps", () => {
    holder.hold(X, msg("far", MAX_DELAY));
    vi.advanceTimersByTime(2 ** 31);
    expect(out).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(MAX_DELAY - 2 ** 31);
    expect(out.map((o) => o.body)).toEqual(["far"]);
  });

  it("a release the vhost refuses is dropped, and the rest still go", () => {
    const failing = new DelayedMessages(
      {
        publish(_x: string, m: Message) {
          if (m.body.toString() === "bad") throw new Error("refused");
          out.push({ exchange: "x", body: m.body.toString(), delay: 0 });
        },
      },
      () => Date.now(),
    );
    failing.hold(X, msg("bad", 5));
    failing.hold(X, msg("good", 5));
    vi.advanceTimersByTime(5);
    expect(out.map((o) => o.body)).toEqual(["good"]);
    failing.close();
  });
});

describe("exchange.declare x-delayed-message", () => {
  const declare = (v: VHost, name: string, type: string, args: Record<string, unknown>) =>
    v.declareExchange({
      name,
      type,
      passive: false,
      durable: false,
      autoDelete: false,
      internal: false,
      args: args as never,
    });
  const refusal = (f: () => void): [number, string] => {
    try {
      f();
    } catch (err) {
      if (err instanceof AmqpError) return [err.replyCode, err.replyText];
      throw err;
    }
    throw new Error("not refused");
  };

  it("needs x-delayed-type, refused with the plugin's own text (typos and all)", () => {
    const v = new VHost();
    const [code, text] = refusal(() => declare(v, "later", "x-delayed-message", {}));
    expect(code).toBe(REPLY.PRECONDITION_FAILED);
    expect(text).toContain("Invalid argument, 'x-delayed-type' must bean existing exchnage type");
    expect(v.exchanges.has("later")).toBe(false);
  });

  it("refuses an unknown x-delayed-type as RabbitMQ refuses an unknown type", () => {
    const v = new VHost();
    const [code, text] = refusal(() =>
      declare(v, "later", "x-delayed-message", { "x-delayed-type": "x-nope" }),
    );
    expect(code).toBe(REPLY.COMMAND_INVALID);
    expect(text).toContain("unknown exchange type 'x-nope'");
    expect(
      refusal(() =>
        declare(v, "l2", "x-delayed-message", { "x-delayed-type": "x-delayed-message" }),
      )[0],
    ).toBe(REPLY.PRECONDITION_FAILED);
  });

  it("routes by x-delayed-type, and a redeclaration is not checked again (as the plugin)", () => {
    const v = new VHost();
    declare(v, "later", "x-delayed-message", { "x-delayed-type": "topic" });
    expect(v.routing.exchange("later")).toMatchObject({ type: "topic", delayed: true });
    expect(() => declare(v, "later", "x-delayed-message", {})).not.toThrow();
    expect(refusal(() => declare(v, "later", "topic", {}))[0]).toBe(REPLY.PRECONDITION_FAILED);
    v.close();
  });
});

describe("eventlab route on a delayed exchange", () => {
  const table = new RoutingTable(() => true);
  table.declareExchange({ name: "later", type: "direct", delayed: true });
  table.bind({ source: "later", destination: "q", destinationType: "queue", routingKey: "k" });

  it("says how long a message is held, then routes by x-delayed-type", () => {
    const e = explainRoute(table, "later", { routingKey: "k", headers: { "x-delay": 5000 } });
    expect(e.queues).toEqual(["q"]);
    expect(e.hops[0]).toMatchObject({ type: "direct", delayed: true, delayMs: 5000 });
    const input = { exchange: "later", routingKey: "k", headers: { "x-delay": 5000 } };
    const text = renderRoute(e, input, createTheme(false));
    expect(text).toContain("x-delayed-message routing as direct");
    expect(text).toContain("delayed: held 5000 ms (x-delay)");
  });

  it("without a positive x-delay it says nothing of a delay", () => {
    const e = explainRoute(table, "later", { routingKey: "k", headers: { "x-delay": -1 } });
    expect(e.hops[0]?.delayMs).toBeUndefined();
    expect(
      renderRoute(e, { exchange: "later", routingKey: "k", headers: {} }, createTheme(false)),
    ).not.toContain("held");
  });
});

/**
 * The pure parts of `eventlab dlq`: reading x-death, grouping, where a replayed message goes
 * and with which properties.
 */
import type { GetMessage } from "amqplib";
import { describe, expect, it } from "vitest";
import {
  deathsOf,
  destinationOf,
  groupDeaths,
  originOf,
  publishOptions,
} from "../../src/client/dlq.js";

const death = (queue: string, reason: string, count: number, seconds: number) => ({
  count,
  reason,
  queue,
  time: { "!": "timestamp", value: seconds },
  exchange: "orders",
  "routing-keys": ["order.created", "audit"],
});

function got(headers: Record<string, unknown>, extra: Record<string, unknown> = {}): GetMessage {
  return {
    content: Buffer.from("{}"),
    fields: {
      deliveryTag: 1,
      redelivered: false,
      exchange: "orders.dlx",
      routingKey: "order.created",
      messageCount: 0,
    },
    properties: { headers, messageId: "m1", contentType: "application/json", ...extra },
  } as unknown as GetMessage;
}

describe("x-death", () => {
  it("reads entries most recent first, with times in milliseconds", () => {
    const d = deathsOf({
      "x-death": [death("retry", "expired", 2, 20), death("work", "rejected", 1, 10)],
    });
    expect(d).toEqual([
      {
        queue: "retry",
        reason: "expired",
        exchange: "orders",
        routingKeys: ["order.created", "audit"],
        count: 2,
        time: 20_000,
      },
      {
        queue: "work",
        reason: "rejected",
        exchange: "orders",
        routingKeys: ["order.created", "audit"],
        count: 1,
        time: 10_000,
      },
    ]);
    expect(deathsOf({})).toEqual([]);
    expect(deathsOf({ "x-death": "garbage" })).toEqual([]);
  });

  it("the origin is x-first-death-*, else the oldest entry", () => {
    const deaths = [death("retry", "expired", 1, 20), death("work", "rejected", 1, 10)];
    expect(
      originOf({
        "x-death": deaths,
        "x-first-death-queue": "work",
        "x-first-death-reason": "rejected",
        "x-first-death-exchange": "orders",
      }),
    ).toEqual({
      queue: "work",
      reason: "rejected",
      exchange: "orders",
      routingKeys: ["order.created", "audit"],
    });
    expect(originOf({ "x-death": deaths })?.queue).toBe("work");
    expect(originOf({})).toBeUndefined();
  });

  it("groups by first death, adding up the deaths and spanning the times", () => {
    const a = { "x-death": [death("retry", "expired", 1, 30), death("work", "rejected", 2, 10)] };
    const b = { "x-death": [death("work", "rejected", 1, 40)] };
    const c = { "x-death": [death("small", "maxlen", 1, 5)] };
    const groups = groupDeaths([{ headers: a }, { headers: b }, { headers: c }, { headers: {} }]);
    expect(groups.map((g) => [g.reason, g.queue, g.messages, g.deaths, g.first, g.last])).toEqual([
      ["rejected", "work", 2, 4, 10_000, 40_000],
      ["(no x-death)", "", 1, 0, undefined, undefined],
      ["maxlen", "small", 1, 1, 5_000, 5_000],
    ]);
  });
});

describe("replaying one message", () => {
  const headers = {
    "x-death": [death("work", "rejected", 1, 10)],
    "x-first-death-queue": "work",
    CC: ["audit"],
    BCC: ["secret"],
    tenant: "acme",
  };

  it("keeps properties and headers (x-death too), drops CC and BCC, is mandatory", () => {
    const o = publishOptions(got(headers, { priority: 3, correlationId: undefined }));
    expect(o).toEqual({
      mandatory: true,
      messageId: "m1",
      contentType: "application/json",
      priority: 3,
      headers: { "x-death": headers["x-death"], "x-first-death-queue": "work", tenant: "acme" },
    });
  });

  it("--to-origin goes straight into the first death's queue; --exchange keeps the first key", () => {
    expect(destinationOf(got(headers), { kind: "origin" })).toEqual({
      exchange: "",
      routingKey: "work",
    });
    expect(destinationOf(got({}), { kind: "origin" })).toBeUndefined();
    expect(
      destinationOf(got(headers), { kind: "exchange", exchange: "orders", routingKey: undefined }),
    ).toEqual({ exchange: "orders", routingKey: "order.created" });
    expect(
      destinationOf(got({}), { kind: "exchange", exchange: "orders", routingKey: "k" }),
    ).toEqual({ exchange: "orders", routingKey: "k" });
  });
});

/**
 * The publisher's amqplib options put the same bytes on the wire as the copy of the
 * properties it used to make (`{...properties, mandatory}`, messageId added): the method
 * and the content header amqplib encodes from them are compared byte for byte. Headers
 * equal to the last ones are sent as one kept object, and only then.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Options } from "amqplib";
import { describe, expect, it } from "vitest";
import { publishOptions, StableHeaders } from "../../src/client/publisher.js";
import type { PublishProperties } from "../../src/config/templates.js";

const require = createRequire(import.meta.url);
// amqplib's own encoder, past its package exports: the code that writes the frames.
const lib = join(dirname(require.resolve("amqplib")), "lib");
const Args = require(join(lib, "api_args.js")) as {
  publish(exchange: string, routingKey: string, options: Options.Publish): Record<string, unknown>;
};
const defs = require(join(lib, "defs.js")) as {
  BasicPublish: number;
  BasicProperties: number;
  encodeMethod(id: number, channel: number, fields: unknown): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: unknown): Buffer;
};

/** The frames amqplib writes before the body: basic.publish and the content header. */
function wire(options: Options.Publish): Buffer {
  const fields = Args.publish("orders", "order.created", options);
  return Buffer.concat([
    defs.encodeMethod(defs.BasicPublish, 1, fields),
    defs.encodeProperties(defs.BasicProperties, 1, 100, fields),
  ]);
}

/** What the publisher built before: a copy of the properties, mandatory and the key added. */
function copied(p: PublishProperties, mandatory: boolean, messageId?: string): Options.Publish {
  const options: Options.Publish = { ...p, mandatory };
  if (messageId !== undefined && options.messageId === undefined) options.messageId = messageId;
  return options;
}

const cases: Array<[string, PublishProperties, string | undefined]> = [
  ["a text template", { headers: {}, contentType: "text/plain" }, "ab12cd34-1"],
  ["its own message id", { headers: { a: 1 }, messageId: "own" }, "ab12cd34-2"],
  [
    "every property",
    {
      contentType: "application/json",
      contentEncoding: "gzip",
      headers: { tenant: "t1", n: 2.5, ok: true, list: [1, "x"], nested: { a: 1 } },
      persistent: true,
      priority: 3,
      expiration: "60000",
      messageId: "m-1",
      correlationId: "c-1",
      replyTo: "amq.rabbitmq.reply-to",
      type: "order.created",
      appId: "eventlab",
      userId: "guest",
      timestamp: 1_700_000_000,
    },
    undefined,
  ],
  [
    "a replayed message (deliveryMode, CC)",
    {
      headers: {},
      deliveryMode: 2,
      CC: ["other"],
      clusterId: "ignored by amqplib",
    } as unknown as PublishProperties,
    undefined,
  ],
  ["no key and no id", { headers: {}, persistent: false }, undefined],
];

describe("publish options", () => {
  for (const [name, properties, key] of cases) {
    for (const mandatory of [true, false]) {
      it(`${name}, mandatory ${mandatory}: the same bytes as the copy`, () => {
        const stable = new StableHeaders();
        const options = publishOptions(
          properties,
          mandatory,
          key,
          stable.stable(properties.headers),
        );
        expect(wire(options).equals(wire(copied(properties, mandatory, key)))).toBe(true);
        // The second message with equal headers gets the kept object, and the same bytes.
        const again = { ...properties, headers: { ...properties.headers } };
        const second = publishOptions(again, mandatory, key, stable.stable(again.headers));
        expect(second.headers).toBe(options.headers);
        expect(wire(second).equals(wire(copied(again, mandatory, key)))).toBe(true);
      });
    }
  }

  it("the message's own id wins over the key; without either, no id is sent", () => {
    expect(publishOptions({ headers: {}, messageId: "own" }, true, "key").messageId).toBe("own");
    expect(publishOptions({ headers: {} }, true, "key").messageId).toBe("key");
    expect(publishOptions({ headers: {} }, true, undefined).messageId).toBeUndefined();
  });
});

describe("stable headers", () => {
  it("keeps one object while the headers stay equal, and a new one when they change", () => {
    const s = new StableHeaders();
    const first = s.stable({ a: 1, b: "x" });
    expect(first).toEqual({ a: 1, b: "x" });
    expect(s.stable({ a: 1, b: "x" })).toBe(first);
    const changed = s.stable({ a: 2, b: "x" });
    expect(changed).not.toBe(first);
    expect(changed).toEqual({ a: 2, b: "x" });
    // The same keys in another order encode in another order: not equal.
    const reordered = s.stable({ b: "x", a: 2 });
    expect(reordered).not.toBe(changed);
    expect(Object.keys(reordered as object)).toEqual(["b", "a"]);
    // A key more, or one less.
    expect(s.stable({ b: "x", a: 2, c: 0 })).toEqual({ b: "x", a: 2, c: 0 });
    expect(s.stable({ b: "x", a: 2 })).toEqual({ b: "x", a: 2 });
  });

  it("a kept object is never the caller's: changing the caller's headers later changes nothing", () => {
    const s = new StableHeaders();
    const mine = { a: 1 };
    const kept = s.stable(mine);
    expect(kept).not.toBe(mine);
    mine.a = 5;
    expect(kept).toEqual({ a: 1 });
    expect(s.stable(mine)).toEqual({ a: 5 });
  });

  it("passes headers of another prototype through, and stops comparing after many changes", () => {
    const s = new StableHeaders();
    const inherited = Object.create({ "1": "inherited" }) as Record<string, unknown>;
    inherited["b"] = 2;
    expect(s.stable(inherited)).toBe(inherited);
    const t = new StableHeaders();
    for (let i = 0; i < 40; i++) t.stable({ n: i });
    const fresh = { n: 99 };
    expect(t.stable(fresh)).toBe(fresh);
    expect(t.stable(undefined)).toBeUndefined();
  });
});

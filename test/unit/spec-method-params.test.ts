/**
 * The typed codec against RabbitMQ's spec file: MethodParams (the argument types derived from
 * the codec's table) has exactly the spec's methods, each with exactly its arguments, named
 * as the codec names them and typed as the codec decodes their domains; the vocabulary the
 * broker exports (reply codes, basic property names) is the spec's.
 *
 * FIELDS below is checked twice: by the compiler against MethodParams (`satisfies` refuses a
 * missing or extra method or field, and the type test compares the value types), and here
 * against the spec file. So neither the table, nor the types derived from it, can drift.
 */
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  BASIC_PROPERTY_NAMES,
  type DecodedMethod,
  type DOMAINS,
  type Domain,
  decodeMethod,
  encodeMethodByName,
  type FieldTable,
  type MethodInput,
  type MethodName,
  type MethodParams,
  methodByName,
} from "../../src/broker/codec/index.js";
import { REPLY, SOFT_ERRORS } from "../../src/broker/vocabulary.js";
import { type JsonSpec, specPath } from "../protocol/codec-oracle.js";

/** Every method's arguments, in wire order, with their spec domain (or type). */
const FIELDS = {
  "connection.start": {
    versionMajor: "octet",
    versionMinor: "octet",
    serverProperties: "peer-properties",
    mechanisms: "longstr",
    locales: "longstr",
  },
  "connection.start-ok": {
    clientProperties: "peer-properties",
    mechanism: "shortstr",
    response: "longstr",
    locale: "shortstr",
  },
  "connection.secure": { challenge: "longstr" },
  "connection.secure-ok": { response: "longstr" },
  "connection.tune": { channelMax: "short", frameMax: "long", heartbeat: "short" },
  "connection.tune-ok": { channelMax: "short", frameMax: "long", heartbeat: "short" },
  "connection.open": { virtualHost: "shortstr", capabilities: "shortstr", insist: "bit" },
  "connection.open-ok": { knownHosts: "shortstr" },
  "connection.close": {
    replyCode: "short",
    replyText: "shortstr",
    classId: "short",
    methodId: "short",
  },
  "connection.close-ok": {},
  "connection.blocked": { reason: "shortstr" },
  "connection.unblocked": {},
  "connection.update-secret": { newSecret: "longstr", reason: "shortstr" },
  "connection.update-secret-ok": {},
  "channel.open": { outOfBand: "shortstr" },
  "channel.open-ok": { channelId: "longstr" },
  "channel.flow": { active: "bit" },
  "channel.flow-ok": { active: "bit" },
  "channel.close": {
    replyCode: "short",
    replyText: "shortstr",
    classId: "short",
    methodId: "short",
  },
  "channel.close-ok": {},
  "access.request": {
    realm: "shortstr",
    exclusive: "bit",
    passive: "bit",
    active: "bit",
    write: "bit",
    read: "bit",
  },
  "access.request-ok": { ticket: "short" },
  "exchange.declare": {
    ticket: "short",
    exchange: "exchange-name",
    type: "shortstr",
    passive: "bit",
    durable: "bit",
    autoDelete: "bit",
    internal: "bit",
    nowait: "bit",
    arguments: "table",
  },
  "exchange.declare-ok": {},
  "exchange.delete": { ticket: "short", exchange: "exchange-name", ifUnused: "bit", nowait: "bit" },
  "exchange.delete-ok": {},
  "exchange.bind": {
    ticket: "short",
    destination: "exchange-name",
    source: "exchange-name",
    routingKey: "shortstr",
    nowait: "bit",
    arguments: "table",
  },
  "exchange.bind-ok": {},
  "exchange.unbind": {
    ticket: "short",
    destination: "exchange-name",
    source: "exchange-name",
    routingKey: "shortstr",
    nowait: "bit",
    arguments: "table",
  },
  "exchange.unbind-ok": {},
  "queue.declare": {
    ticket: "short",
    queue: "queue-name",
    passive: "bit",
    durable: "bit",
    exclusive: "bit",
    autoDelete: "bit",
    nowait: "bit",
    arguments: "table",
  },
  "queue.declare-ok": { queue: "queue-name", messageCount: "message-count", consumerCount: "long" },
  "queue.bind": {
    ticket: "short",
    queue: "queue-name",
    exchange: "exchange-name",
    routingKey: "shortstr",
    nowait: "bit",
    arguments: "table",
  },
  "queue.bind-ok": {},
  "queue.purge": { ticket: "short", queue: "queue-name", nowait: "bit" },
  "queue.purge-ok": { messageCount: "message-count" },
  "queue.delete": {
    ticket: "short",
    queue: "queue-name",
    ifUnused: "bit",
    ifEmpty: "bit",
    nowait: "bit",
  },
  "queue.delete-ok": { messageCount: "message-count" },
  "queue.unbind": {
    ticket: "short",
    queue: "queue-name",
    exchange: "exchange-name",
    routingKey: "shortstr",
    arguments: "table",
  },
  "queue.unbind-ok": {},
  "basic.qos": { prefetchSize: "long", prefetchCount: "short", global: "bit" },
  "basic.qos-ok": {},
  "basic.consume": {
    ticket: "short",
    queue: "queue-name",
    consumerTag: "shortstr",
    noLocal: "bit",
    noAck: "bit",
    exclusive: "bit",
    nowait: "bit",
    arguments: "table",
  },
  "basic.consume-ok": { consumerTag: "shortstr" },
  "basic.cancel": { consumerTag: "shortstr", nowait: "bit" },
  "basic.cancel-ok": { consumerTag: "shortstr" },
  "basic.publish": {
    ticket: "short",
    exchange: "exchange-name",
    routingKey: "shortstr",
    mandatory: "bit",
    immediate: "bit",
  },
  "basic.return": {
    replyCode: "short",
    replyText: "shortstr",
    exchange: "exchange-name",
    routingKey: "shortstr",
  },
  "basic.deliver": {
    consumerTag: "shortstr",
    deliveryTag: "longlong",
    redelivered: "bit",
    exchange: "exchange-name",
    routingKey: "shortstr",
  },
  "basic.get": { ticket: "short", queue: "queue-name", noAck: "bit" },
  "basic.get-ok": {
    deliveryTag: "longlong",
    redelivered: "bit",
    exchange: "exchange-name",
    routingKey: "shortstr",
    messageCount: "message-count",
  },
  "basic.get-empty": { clusterId: "shortstr" },
  "basic.ack": { deliveryTag: "longlong", multiple: "bit" },
  "basic.reject": { deliveryTag: "longlong", requeue: "bit" },
  "basic.recover-async": { requeue: "bit" },
  "basic.recover": { requeue: "bit" },
  "basic.recover-ok": {},
  "basic.nack": { deliveryTag: "longlong", multiple: "bit", requeue: "bit" },
  "tx.select": {},
  "tx.select-ok": {},
  "tx.commit": {},
  "tx.commit-ok": {},
  "tx.rollback": {},
  "tx.rollback-ok": {},
  "confirm.select": { nowait: "bit" },
  "confirm.select-ok": {},
} as const satisfies {
  readonly [K in MethodName]: { readonly [F in keyof MethodParams[K]]-?: Domain };
};

/** How the codec decodes each wire type (methods.ts documents the same policy). */
interface Decodes {
  bit: boolean;
  octet: number;
  short: number;
  long: number;
  longlong: number | bigint;
  timestamp: number | bigint;
  shortstr: string;
  longstr: Buffer;
  table: FieldTable;
}

type FromFields<T extends Record<string, Record<string, Domain>>> = {
  -readonly [K in keyof T]: { -readonly [F in keyof T[K]]: Decodes[(typeof DOMAINS)[T[K][F]]] };
};

/** The spec's "routing-key" → "routingKey", spelled out again rather than imported. */
const camel = (name: string) => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

describe("MethodParams, the typed codec's argument types", () => {
  it("are exactly FIELDS, each domain typed as the codec decodes it", () => {
    expectTypeOf<FromFields<typeof FIELDS>>().toEqualTypeOf<MethodParams>();
    expectTypeOf<keyof MethodParams>().toEqualTypeOf<MethodName>();
    // Run time: decoding gives exactly the fields the types promise, for every method.
    for (const name of Object.keys(FIELDS) as MethodName[]) {
      const spec = methodByName(name);
      const args = Object.fromEntries(spec?.args.map((a) => [a.key, sample(a.type)]) ?? []);
      // Names chosen at run time: the argument type is the union's, checked at run time.
      const payload = encodeMethodByName(name, args as never);
      expect(Object.keys(decodeMethod(payload).args), name).toEqual(Object.keys(FIELDS[name]));
    }
  });

  it("narrow on the method name", () => {
    const m: DecodedMethod = decodeMethod(
      encodeMethodByName("basic.publish", { exchange: "orders", routingKey: "order.created" }),
    );
    expect(m.name).toBe("basic.publish");
    if (m.name === "basic.publish") {
      expectTypeOf(m.args.routingKey).toEqualTypeOf<string>();
      expectTypeOf(m.args.mandatory).toEqualTypeOf<boolean>();
      // @ts-expect-error a misspelt field is a compile error
      expect(m.args.routingkey).toBeUndefined();
      expect(m.args.routingKey).toBe("order.created");
    }
  });

  it("leave out, when encoding, exactly the arguments that have a spec default", () => {
    expectTypeOf<MethodInput<"queue.declare">>().toEqualTypeOf<{
      ticket?: number | undefined;
      queue?: string | undefined;
      passive?: boolean | undefined;
      durable?: boolean | undefined;
      exclusive?: boolean | undefined;
      autoDelete?: boolean | undefined;
      nowait?: boolean | undefined;
      arguments?: FieldTable | undefined;
    }>();
    expectTypeOf<MethodInput<"basic.deliver">>().toEqualTypeOf<{
      consumerTag: string;
      deliveryTag: number | bigint;
      redelivered?: boolean | undefined;
      exchange: string;
      routingKey: string;
    }>();
    expectTypeOf<MethodInput<"connection.secure">>().toEqualTypeOf<{
      challenge: string | Uint8Array;
    }>();
    const payload = encodeMethodByName("basic.deliver", {
      consumerTag: "c",
      deliveryTag: 1,
      exchange: "",
      routingKey: "k",
    });
    expect(decodeMethod(payload).args).toMatchObject({ redelivered: false });
  });
});

/** A value of each wire type, to encode every method once. */
function sample(type: string): unknown {
  switch (type) {
    case "bit":
      return true;
    case "shortstr":
      return "s";
    case "longstr":
      return Buffer.from("l");
    case "table":
      return { k: "v" };
    default:
      return 1;
  }
}

const present = existsSync(specPath);
const why = present ? "" : " (skipped: ../shared/spec/amqp-rabbitmq-0.9.1.json not found)";

describe.skipIf(!present)(`the typed codec and vocabulary match RabbitMQ's spec file${why}`, () => {
  const spec = (present ? JSON.parse(readFileSync(specPath, "utf8")) : {}) as JsonSpec;

  it("FIELDS has every class.method, in order, each argument with its name and domain", () => {
    const expected = spec.classes.flatMap((c) =>
      c.methods.map((m) => [
        `${c.name}.${m.name}`,
        m.arguments.map((a) => [camel(a.name), a.domain ?? a.type]),
      ]),
    );
    const actual = Object.entries(FIELDS).map(([name, fields]) => [name, Object.entries(fields)]);
    expect(actual).toEqual(expected);
  });

  it("REPLY names every reply code of the spec, and SOFT_ERRORS are its soft errors", () => {
    // The reply codes: success, and every code the spec classes as a soft or hard error.
    const codes = spec.constants.filter((k) => k.name === "REPLY-SUCCESS" || k.class !== undefined);
    expect(REPLY).toEqual(
      Object.fromEntries(codes.map((k) => [k.name.replace(/-/g, "_"), k.value])),
    );
    expect([...SOFT_ERRORS].sort()).toEqual(
      codes
        .filter((k) => k.class === "soft-error")
        .map((k) => k.value)
        .sort(),
    );
  });

  it("BASIC_PROPERTY_NAMES are the spec's 14 basic properties, in flag order", () => {
    const basic = spec.classes.find((c) => c.name === "basic");
    expect(BASIC_PROPERTY_NAMES).toEqual((basic?.properties ?? []).map((p) => camel(p.name)));
    expect(BASIC_PROPERTY_NAMES).toHaveLength(14);
  });
});

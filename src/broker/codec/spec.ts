/**
 * The AMQP 0-9-1 method and property table, as RabbitMQ defines it (its machine-readable
 * spec, amqp-rabbitmq-0.9.1.json, MIT-style licence; see test/protocol/codec-spec.test.ts,
 * which checks every entry here against that file). One row per method: class id, method id,
 * whether it carries content, whether it is synchronous, and its ordered arguments as
 * [spec name, domain, default?]. The domain resolves to a wire type through DOMAINS.
 * The codec in methods.ts is driven by this table alone, and the argument types of every
 * method (params.ts) are derived from its literal type, so the two cannot disagree.
 */

export type AmqpType =
  | "bit"
  | "octet"
  | "short"
  | "long"
  | "longlong"
  | "shortstr"
  | "longstr"
  | "timestamp"
  | "table";

/** Domain → wire type, exactly as the spec lists them. */
export const DOMAINS = {
  bit: "bit",
  "channel-id": "longstr",
  "class-id": "short",
  "consumer-tag": "shortstr",
  "delivery-tag": "longlong",
  destination: "shortstr",
  duration: "longlong",
  "exchange-name": "shortstr",
  long: "long",
  longlong: "longlong",
  longstr: "longstr",
  "message-count": "long",
  "method-id": "short",
  "no-ack": "bit",
  "no-local": "bit",
  octet: "octet",
  offset: "longlong",
  path: "shortstr",
  "peer-properties": "table",
  "queue-name": "shortstr",
  redelivered: "bit",
  reference: "longstr",
  "reject-code": "short",
  "reject-text": "shortstr",
  "reply-code": "short",
  "reply-text": "shortstr",
  "security-token": "longstr",
  short: "short",
  shortstr: "shortstr",
  table: "table",
  timestamp: "timestamp",
} as const satisfies Readonly<Record<string, AmqpType>>;

/** A domain name the table may use (or a type name, which is also a domain). */
export type Domain = keyof typeof DOMAINS;

type RawArg = readonly [name: string, domain: Domain, defaultValue?: unknown];
type RawMethod = readonly [
  id: number,
  name: string,
  flags: { readonly sync?: true; readonly content?: true },
  args: readonly RawArg[],
];
type RawClass = readonly [id: number, name: string, methods: readonly RawMethod[]];

// Arguments given by "type" in the spec use the type name as their domain (each type is
// also a domain of the same name), so one column serves both.
const RAW = [
  [
    10,
    "connection",
    [
      [
        10,
        "start",
        { sync: true },
        [
          ["version-major", "octet", 0],
          ["version-minor", "octet", 9],
          ["server-properties", "peer-properties"],
          ["mechanisms", "longstr", "PLAIN"],
          ["locales", "longstr", "en_US"],
        ],
      ],
      [
        11,
        "start-ok",
        {},
        [
          ["client-properties", "peer-properties"],
          ["mechanism", "shortstr", "PLAIN"],
          ["response", "longstr"],
          ["locale", "shortstr", "en_US"],
        ],
      ],
      [20, "secure", { sync: true }, [["challenge", "longstr"]]],
      [21, "secure-ok", {}, [["response", "longstr"]]],
      [
        30,
        "tune",
        { sync: true },
        [
          ["channel-max", "short", 0],
          ["frame-max", "long", 0],
          ["heartbeat", "short", 0],
        ],
      ],
      [
        31,
        "tune-ok",
        {},
        [
          ["channel-max", "short", 0],
          ["frame-max", "long", 0],
          ["heartbeat", "short", 0],
        ],
      ],
      [
        40,
        "open",
        { sync: true },
        [
          ["virtual-host", "shortstr", "/"],
          ["capabilities", "shortstr", ""],
          ["insist", "bit", false],
        ],
      ],
      [41, "open-ok", {}, [["known-hosts", "shortstr", ""]]],
      [
        50,
        "close",
        { sync: true },
        [
          ["reply-code", "short"],
          ["reply-text", "shortstr", ""],
          ["class-id", "short"],
          ["method-id", "short"],
        ],
      ],
      [51, "close-ok", {}, []],
      [60, "blocked", {}, [["reason", "shortstr", ""]]],
      [61, "unblocked", {}, []],
      [
        70,
        "update-secret",
        { sync: true },
        [
          ["new-secret", "longstr"],
          ["reason", "shortstr"],
        ],
      ],
      [71, "update-secret-ok", {}, []],
    ],
  ],
  [
    20,
    "channel",
    [
      [10, "open", { sync: true }, [["out-of-band", "shortstr", ""]]],
      [11, "open-ok", {}, [["channel-id", "longstr", ""]]],
      [20, "flow", { sync: true }, [["active", "bit"]]],
      [21, "flow-ok", {}, [["active", "bit"]]],
      [
        40,
        "close",
        { sync: true },
        [
          ["reply-code", "short"],
          ["reply-text", "shortstr", ""],
          ["class-id", "short"],
          ["method-id", "short"],
        ],
      ],
      [41, "close-ok", {}, []],
    ],
  ],
  [
    30,
    "access",
    [
      [
        10,
        "request",
        { sync: true },
        [
          ["realm", "shortstr", "/data"],
          ["exclusive", "bit", false],
          ["passive", "bit", true],
          ["active", "bit", true],
          ["write", "bit", true],
          ["read", "bit", true],
        ],
      ],
      [11, "request-ok", {}, [["ticket", "short", 1]]],
    ],
  ],
  [
    40,
    "exchange",
    [
      [
        10,
        "declare",
        { sync: true },
        [
          ["ticket", "short", 0],
          ["exchange", "exchange-name"],
          ["type", "shortstr", "direct"],
          ["passive", "bit", false],
          ["durable", "bit", false],
          ["auto-delete", "bit", false],
          ["internal", "bit", false],
          ["nowait", "bit", false],
          ["arguments", "table", {}],
        ],
      ],
      [11, "declare-ok", {}, []],
      [
        20,
        "delete",
        { sync: true },
        [
          ["ticket", "short", 0],
          ["exchange", "exchange-name"],
          ["if-unused", "bit", false],
          ["nowait", "bit", false],
        ],
      ],
      [21, "delete-ok", {}, []],
      [
        30,
        "bind",
        { sync: true },
        [
          ["ticket", "short", 0],
          ["destination", "exchange-name"],
          ["source", "exchange-name"],
          ["routing-key", "shortstr", ""],
          ["nowait", "bit", false],
          ["arguments", "table", {}],
        ],
      ],
      [31, "bind-ok", {}, []],
      [
        40,
        "unbind",
        { sync: true },
        [
          ["ticket", "short", 0],
          ["destination", "exchange-name"],
          ["source", "exchange-name"],
          ["routing-key", "shortstr", ""],
          ["nowait", "bit", false],
          ["arguments", "table", {}],
        ],
      ],
      [51, "unbind-ok", {}, []],
    ],
  ],
  [
    50,
    "queue",
    [
      [
        10,
        "declare",
        { sync: true },
        [
          ["ticket", "short", 0],
          ["queue", "queue-name", ""],
          ["passive", "bit", false],
          ["durable", "bit", false],
          ["exclusive", "bit", false],
          ["auto-delete", "bit", false],
          ["nowait", "bit", false],
          ["arguments", "table", {}],
        ],
      ],
      [
        11,
        "declare-ok",
        {},
        [
          ["queue", "queue-name"],
          ["message-count", "message-count"],
          ["consumer-count", "long"],
        ],
      ],
      [
        20,
        "bind",
        { sync: true },
        [
          ["ticket", "short", 0],
          ["queue", "queue-name", ""],
          ["exchange", "exchange-name"],
          ["routing-key", "shortstr", ""],
          ["nowait", "bit", false],
          ["arguments", "table", {}],
        ],
      ],
      [21, "bind-ok", {}, []],
      [
        30,
        "purge",
        { sync: true },
        [
          ["ticket", "short", 0],
          ["queue", "queue-name", ""],
          ["nowait", "bit", false],
        ],
      ],
      [31, "purge-ok", {}, [["message-count", "message-count"]]],
      [
        40,
        "delete",
        { sync: true },
        [
          ["ticket", "short", 0],
          ["queue", "queue-name", ""],
          ["if-unused", "bit", false],
          ["if-empty", "bit", false],
          ["nowait", "bit", false],
        ],
      ],
      [41, "delete-ok", {}, [["message-count", "message-count"]]],
      [
        50,
        "unbind",
        { sync: true },
        [
          ["ticket", "short", 0],
          ["queue", "queue-name", ""],
          ["exchange", "exchange-name"],
          ["routing-key", "shortstr", ""],
          ["arguments", "table", {}],
        ],
      ],
      [51, "unbind-ok", {}, []],
    ],
  ],
  [
    60,
    "basic",
    [
      [
        10,
        "qos",
        { sync: true },
        [
          ["prefetch-size", "long", 0],
          ["prefetch-count", "short", 0],
          ["global", "bit", false],
        ],
      ],
      [11, "qos-ok", {}, []],
      [
        20,
        "consume",
        { sync: true },
        [
          ["ticket", "short", 0],
          ["queue", "queue-name", ""],
          ["consumer-tag", "shortstr", ""],
          ["no-local", "bit", false],
          ["no-ack", "bit", false],
          ["exclusive", "bit", false],
          ["nowait", "bit", false],
          ["arguments", "table", {}],
        ],
      ],
      [21, "consume-ok", {}, [["consumer-tag", "shortstr"]]],
      [
        30,
        "cancel",
        { sync: true },
        [
          ["consumer-tag", "shortstr"],
          ["nowait", "bit", false],
        ],
      ],
      [31, "cancel-ok", {}, [["consumer-tag", "shortstr"]]],
      [
        40,
        "publish",
        { content: true },
        [
          ["ticket", "short", 0],
          ["exchange", "exchange-name", ""],
          ["routing-key", "shortstr", ""],
          ["mandatory", "bit", false],
          ["immediate", "bit", false],
        ],
      ],
      [
        50,
        "return",
        { content: true },
        [
          ["reply-code", "short"],
          ["reply-text", "shortstr", ""],
          ["exchange", "exchange-name"],
          ["routing-key", "shortstr"],
        ],
      ],
      [
        60,
        "deliver",
        { content: true },
        [
          ["consumer-tag", "shortstr"],
          ["delivery-tag", "longlong"],
          ["redelivered", "bit", false],
          ["exchange", "exchange-name"],
          ["routing-key", "shortstr"],
        ],
      ],
      [
        70,
        "get",
        { sync: true },
        [
          ["ticket", "short", 0],
          ["queue", "queue-name", ""],
          ["no-ack", "bit", false],
        ],
      ],
      [
        71,
        "get-ok",
        { content: true },
        [
          ["delivery-tag", "longlong"],
          ["redelivered", "bit", false],
          ["exchange", "exchange-name"],
          ["routing-key", "shortstr"],
          ["message-count", "message-count"],
        ],
      ],
      [72, "get-empty", {}, [["cluster-id", "shortstr", ""]]],
      [
        80,
        "ack",
        {},
        [
          ["delivery-tag", "longlong", 0],
          ["multiple", "bit", false],
        ],
      ],
      [
        90,
        "reject",
        {},
        [
          ["delivery-tag", "longlong"],
          ["requeue", "bit", true],
        ],
      ],
      [100, "recover-async", {}, [["requeue", "bit", false]]],
      [110, "recover", { sync: true }, [["requeue", "bit", false]]],
      [111, "recover-ok", {}, []],
      [
        120,
        "nack",
        {},
        [
          ["delivery-tag", "longlong", 0],
          ["multiple", "bit", false],
          ["requeue", "bit", true],
        ],
      ],
    ],
  ],
  [
    90,
    "tx",
    [
      [10, "select", { sync: true }, []],
      [11, "select-ok", {}, []],
      [20, "commit", { sync: true }, []],
      [21, "commit-ok", {}, []],
      [30, "rollback", { sync: true }, []],
      [31, "rollback-ok", {}, []],
    ],
  ],
  [
    85,
    "confirm",
    [
      [10, "select", { sync: true }, [["nowait", "bit", false]]],
      [11, "select-ok", {}, []],
    ],
  ],
] as const satisfies readonly RawClass[];

/**
 * The table's literal type: codec/params.ts derives the argument types of every method
 * (MethodParams) from it, so the types and the codec cannot disagree.
 */
export type SpecTable = typeof RAW;

/** basic content-header properties, in flag order (first = bit 15). */
const RAW_BASIC_PROPERTIES = [
  ["content-type", "shortstr"],
  ["content-encoding", "shortstr"],
  ["headers", "table"],
  ["delivery-mode", "octet"],
  ["priority", "octet"],
  ["correlation-id", "shortstr"],
  ["reply-to", "shortstr"],
  ["expiration", "shortstr"],
  ["message-id", "shortstr"],
  ["timestamp", "timestamp"],
  ["type", "shortstr"],
  ["user-id", "shortstr"],
  ["app-id", "shortstr"],
  ["cluster-id", "shortstr"],
] as const satisfies readonly (readonly [name: string, type: AmqpType])[];

/** The basic properties' literal type, from which params.ts derives BasicProperties. */
export type BasicPropertyTable = typeof RAW_BASIC_PROPERTIES;

export interface ArgSpec {
  /** The spec's name, e.g. "routing-key". */
  readonly name: string;
  /** The JavaScript key in an args object, e.g. "routingKey" (amqplib uses the same). */
  readonly key: string;
  readonly domain: string;
  readonly type: AmqpType;
  readonly hasDefault: boolean;
  readonly defaultValue: unknown;
}

export interface MethodSpec {
  readonly classId: number;
  readonly methodId: number;
  /** (classId << 16) | methodId, handy as a map key. */
  readonly id: number;
  readonly className: string;
  readonly methodName: string;
  /** "class.method", e.g. "basic.publish". */
  readonly name: string;
  readonly content: boolean;
  readonly synchronous: boolean;
  readonly args: readonly ArgSpec[];
}

export interface PropertySpec {
  readonly name: string;
  readonly key: string;
  readonly type: AmqpType;
  /** The bit in the 16-bit property-flags word. */
  readonly flag: number;
}

export interface ClassSpec {
  readonly id: number;
  readonly name: string;
  readonly methods: readonly MethodSpec[];
}

/** A spec name as an args key: "routing-key" → "routingKey". */
export function camelCase<S extends string>(name: S): CamelCase<S> {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()) as CamelCase<S>;
}

/** camelCase at the type level, for the types derived from the table. */
export type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;

const TABLE: readonly RawClass[] = RAW;

export const CLASSES: readonly ClassSpec[] = TABLE.map(([classId, className, methods]) => ({
  id: classId,
  name: className,
  methods: methods.map(
    ([methodId, methodName, flags, args]): MethodSpec => ({
      classId,
      methodId,
      id: classId * 0x10000 + methodId,
      className,
      methodName,
      name: `${className}.${methodName}`,
      content: flags.content === true,
      synchronous: flags.sync === true,
      args: args.map(([name, domain, ...rest]) => ({
        name,
        key: camelCase(name),
        domain,
        type: DOMAINS[domain],
        hasDefault: rest.length > 0,
        defaultValue: rest[0],
      })),
    }),
  ),
}));

export const METHODS: readonly MethodSpec[] = CLASSES.flatMap((c) => c.methods);

const BY_ID = new Map<number, MethodSpec>(METHODS.map((m) => [m.id, m]));
const BY_NAME = new Map<string, MethodSpec>(METHODS.map((m) => [m.name, m]));

export function methodById(classId: number, methodId: number): MethodSpec | undefined {
  return BY_ID.get(classId * 0x10000 + methodId);
}

export function methodByName(name: string): MethodSpec | undefined {
  return BY_NAME.get(name);
}

export const BASIC_CLASS_ID = 60;

export const BASIC_PROPERTIES: readonly PropertySpec[] = RAW_BASIC_PROPERTIES.map(
  ([name, type], i) => ({ name, key: camelCase(name), type, flag: 1 << (15 - i) }),
);

/** The names of a property table's rows in camelCase, as a tuple in the same order. */
type CamelNames<T extends readonly (readonly [name: string, type: AmqpType])[]> = {
  readonly [I in keyof T]: CamelCase<T[I][0]>;
};
/** The 14 basic property names as args keys ("contentType", …), in wire (flag) order. */
export type BasicPropertyNames = CamelNames<BasicPropertyTable>;
export type BasicPropertyName = BasicPropertyNames[number];

/** The 14 basic property names, camelCase as the codec uses them, in wire (flag) order. */
export const BASIC_PROPERTY_NAMES = Object.freeze(
  RAW_BASIC_PROPERTIES.map(([name]) => camelCase(name)),
) as BasicPropertyNames;

export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
export const FRAME_END = 0xce;
export const FRAME_MIN_SIZE = 4096;
/** Frame header (type, channel, size) plus the frame-end octet. */
export const FRAME_OVERHEAD = 8;

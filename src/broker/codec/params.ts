/**
 * The argument types of every AMQP method, derived from the declarative table in spec.ts
 * (types only; nothing here exists at run time). Because the codec and these types read the
 * same table, a decoded method's `args` has exactly the fields the codec produced, and a
 * method sent by name must carry exactly the fields the codec writes.
 *
 *   MethodParams["basic.publish"]  → { ticket: number; exchange: string; routingKey: string;
 *                                      mandatory: boolean; immediate: boolean }
 *   DecodedMethod                  → a union that narrows on `name`
 *   MethodInput<"queue.declare">   → the same fields, those with a spec default optional
 */
import type {
  BasicPropertyTable,
  CamelCase,
  DOMAINS,
  Domain,
  MethodSpec,
  SpecTable,
} from "./spec.js";
import type { FieldTable } from "./table.js";

/** What the codec decodes each wire type to. */
export interface DecodedTypes {
  bit: boolean;
  octet: number;
  short: number;
  long: number;
  /** A number when it is a safe integer, else a bigint. */
  longlong: number | bigint;
  timestamp: number | bigint;
  shortstr: string;
  longstr: Buffer;
  table: FieldTable;
}

/** What the codec accepts when encoding: as decoded, and a string for a longstr (UTF-8). */
export interface EncodableTypes extends Omit<DecodedTypes, "longstr"> {
  longstr: string | Uint8Array;
}

type Simplify<T> = { [K in keyof T]: T[K] } & unknown;

type ArgRow = readonly [name: string, domain: Domain, defaultValue?: unknown];
type MethodRow = readonly [id: number, name: string, flags: object, args: readonly ArgRow[]];

type WireType<A extends ArgRow> = (typeof DOMAINS)[A[1]];
type HasDefault<A extends ArgRow> = A["length"] extends 3 ? true : false;

/** One row per method: its "class.method" name, ids, content flag and argument rows. */
type Entry = SpecTable[number] extends infer C
  ? C extends readonly [
      infer ClassId extends number,
      infer ClassName extends string,
      infer Methods extends readonly MethodRow[],
    ]
    ? Methods[number] extends infer M
      ? M extends MethodRow
        ? {
            name: `${ClassName}.${M[1]}`;
            classId: ClassId;
            methodId: M[0];
            content: M[2] extends { content: true } ? true : false;
            args: M[3][number];
          }
        : never
      : never
    : never
  : never;

type EntryOf<K extends MethodName> = Extract<Entry, { name: K }>;

/** Every "class.method" name in the table, e.g. "basic.publish". */
export type MethodName = Entry["name"];

/** Methods that carry content (a header and body frames follow them). */
export type ContentMethodName = Extract<Entry, { content: true }>["name"];

type Decoded<A extends ArgRow> = Simplify<{
  -readonly [R in A as CamelCase<R[0]>]: DecodedTypes[WireType<R>];
}>;

type Input<A extends ArgRow> = Simplify<
  {
    -readonly [R in A as HasDefault<R> extends true
      ? never
      : CamelCase<R[0]>]: EncodableTypes[WireType<R>];
  } & {
    -readonly [R in A as HasDefault<R> extends true ? CamelCase<R[0]> : never]?:
      | EncodableTypes[WireType<R>]
      | undefined;
  }
>;

/**
 * Each method's arguments exactly as decodeMethod returns them, keyed by "class.method".
 * The field names are the spec's names in camelCase ("routing-key" → routingKey).
 */
export type MethodParams = { [E in Entry as E["name"]]: Decoded<E["args"]> };

/** What encoding a method by name accepts: arguments with a spec default may be left out. */
export type MethodInput<K extends MethodName> = Input<EntryOf<K>["args"]>;

/** One decoded method; `name` is the discriminant and `args` its exact argument type. */
export interface MethodOf<K extends MethodName> {
  readonly classId: EntryOf<K>["classId"];
  readonly methodId: EntryOf<K>["methodId"];
  readonly name: K;
  readonly spec: MethodSpec;
  readonly args: MethodParams[K];
}

/** Any decoded method: `if (m.name === "basic.publish") m.args.routingKey` is typed. */
export type DecodedMethod = { [K in MethodName]: MethodOf<K> }[MethodName];

/**
 * The rest parameter of a typed send: the arguments may be left out only when the method has
 * none that must be given.
 */
export type ArgsParam<T> = Partial<T> extends T ? [args?: T] : [args: T];

/** The basic content-header properties; each is optional (absent from the flags when unset). */
export type BasicProperties = Simplify<{
  -readonly [P in BasicPropertyTable[number] as CamelCase<P[0]>]?: DecodedTypes[P[1]];
}>;

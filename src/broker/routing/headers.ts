/**
 * Headers-exchange matching as RabbitMQ does it. `x-match` is all (the default), any,
 * all-with-x or any-with-x; binding arguments whose names start with "x-" take part only
 * in the *-with-x modes. A void (null) binding value asks only that the header be
 * present. Values compare with their types: 1, "1" and true are three different values.
 * With nothing to compare, "all" matches every message and "any" none.
 */

/** The x-match values a headers binding may have, "all" (the default) first. */
export const HEADERS_MODES = ["all", "any", "all-with-x", "any-with-x"] as const;
export type HeadersMode = (typeof HEADERS_MODES)[number];

export function isHeadersMode(value: unknown): value is HeadersMode {
  return typeof value === "string" && (HEADERS_MODES as readonly string[]).includes(value);
}

export interface HeadersBinding {
  mode: HeadersMode;
  /** The pairs that take part, after dropping x-match and (outside *-with-x) x- keys. */
  pairs: ReadonlyArray<readonly [key: string, value: unknown]>;
}

/** A bad x-match, refused at bind time with RabbitMQ's reply. */
export class InvalidMatchError extends Error {
  readonly replyCode = 406;
  constructor(value: unknown) {
    super(
      `PRECONDITION_FAILED - Invalid x-match field value <<${JSON.stringify(String(value))}>>; expected all, any, all-with-x, or any-with-x`,
    );
    this.name = "InvalidMatchError";
  }
}

export function compileHeaders(
  args: Readonly<Record<string, unknown>> | undefined,
): HeadersBinding {
  const raw = args?.["x-match"];
  const text = raw === undefined ? "all" : Buffer.isBuffer(raw) ? raw.toString("utf8") : raw;
  if (!isHeadersMode(text)) throw new InvalidMatchError(raw);
  const mode = text;
  const withX = mode.endsWith("-with-x");
  const pairs: Array<readonly [string, unknown]> = [];
  for (const [key, value] of Object.entries(args ?? {})) {
    if (key === "x-match") continue;
    if (key.startsWith("x-") && !withX) continue;
    pairs.push([key, value]);
  }
  return { mode, pairs };
}

export function matchHeaders(
  binding: HeadersBinding,
  headers: Readonly<Record<string, unknown>> | undefined,
): boolean {
  const h = headers ?? {};
  const ok = ([key, value]: readonly [string, unknown]) =>
    Object.hasOwn(h, key) && (value === null || value === undefined || sameValue(value, h[key]));
  if (binding.mode === "all" || binding.mode === "all-with-x") return binding.pairs.every(ok);
  return binding.pairs.some(ok);
}

/** Equality with types: numbers, strings, booleans, buffers, lists and tables. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b))
    return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (typeof a === "bigint" || typeof b === "bigint") {
    return (
      (typeof a === "bigint" || typeof a === "number") &&
      (typeof b === "bigint" || typeof b === "number") &&
      BigInt(a) === BigInt(b)
    );
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((v, i) => sameValue(v, b[i]))
    );
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length &&
      ka.every(
        (k) =>
          Object.hasOwn(b, k) &&
          sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
      )
    );
  }
  return false;
}

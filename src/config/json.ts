/**
 * JSON that keeps what it was given. A config file's body may hold numbers that a JavaScript
 * number cannot carry (12345678901234567890, 1.0, 1e400); they are kept as their literal
 * text in a JsonNumber and written back exactly as they were.
 */

/** A number kept as the literal text it was written with. */
export class JsonNumber {
  constructor(readonly text: string) {}
  toJSON(): number {
    return Number(this.text);
  }
}

/** A JSON number literal (RFC 8259), nothing else: no hex, no `+`, no `.5`, no `Infinity`. */
const NUMBER_LITERAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * The value to keep for a number read from `source`: the number itself when writing it back
 * gives the same text, else a JsonNumber with the source text (when that is valid JSON).
 */
export function keepNumber(value: number, source: string): number | JsonNumber {
  if (!NUMBER_LITERAL.test(source) || JSON.stringify(value) === source) return value;
  return new JsonNumber(source);
}

/** Whether a value holds a JsonNumber anywhere (then it must be written with stringifyJson). */
export function hasJsonNumber(value: unknown): boolean {
  if (value instanceof JsonNumber) return true;
  if (Array.isArray(value)) return value.some(hasJsonNumber);
  if (value !== null && typeof value === "object") return Object.values(value).some(hasJsonNumber);
  return false;
}

/** JSON.stringify that writes JsonNumbers as their literal text. */
export function stringifyJson(value: unknown): string {
  if (value instanceof JsonNumber) return value.text;
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      const v = value[i];
      // As JSON.stringify: undefined, functions and symbols in arrays become null.
      out +=
        v === undefined || typeof v === "function" || typeof v === "symbol"
          ? "null"
          : stringifyJson(v);
    }
    return `${out}]`;
  }
  if (
    value !== null &&
    typeof value === "object" &&
    typeof (value as { toJSON?: unknown }).toJSON !== "function"
  ) {
    let out = "{";
    let first = true;
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
      out += `${first ? "" : ","}${JSON.stringify(k)}:${stringifyJson(v)}`;
      first = false;
    }
    return `${out}}`;
  }
  return JSON.stringify(value) ?? "null";
}

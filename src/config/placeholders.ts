/**
 * Strings and values with placeholders (`{{seq}}`, `{{uuid}}`, `{{int 1 6}}`, …, see
 * generators.ts), compiled once into render trees: constant parts are kept as they are, the
 * rest become functions of the message's runtime state. A string that is exactly one
 * placeholder keeps the generated value's type. Problems are collected in the Compiler, each
 * at its path, so a template reports all of them at once.
 */
import type { ConfigIssue } from "../errors.js";
import {
  compileGenerator,
  type FakerSlot,
  type Generator,
  type GeneratorRuntime,
} from "./generators.js";
import { JsonNumber } from "./json.js";

/** A compiled value: a constant, or a function of the message's runtime state. */
export type Part<T = unknown> =
  | { constant: true; value: T }
  | { constant: false; fn: (rt: GeneratorRuntime) => T };

/** `\{{` (a literal `{{`), or a placeholder up to the first `}}`. */
const PLACEHOLDER = /\\\{\{|\{\{((?:[^}]|\}(?!\}))*)\}\}/g;

/** What compiling collects: problems, and the Faker placeholders to bind once Faker is loaded. */
export interface Compiler {
  issues: ConfigIssue[];
  env: NodeJS.ProcessEnv;
  seeded: boolean;
  faker: Array<{ path: string; source: string; slot: FakerSlot }>;
}
/** A path the way config errors print them: `body.data.user_id`, `body.list[1]`, `headers["a.b"]`. */
export function child(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** How a generated value reads inside text. */
export function toText(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** At most `width` characters of `text` around `at`, for messages: never a whole body. */
function excerpt(text: string, at = 0, width = 60): string {
  if (text.length <= width) return JSON.stringify(text);
  const start = Math.max(0, Math.min(at - width / 3, text.length - width));
  const end = Math.floor(start + width);
  return `${start > 0 ? "…" : ""}${JSON.stringify(text.slice(Math.floor(start), end))}${end < text.length ? `… (${text.length} characters)` : ""}`;
}

/**
 * Compile a string with placeholders. Exactly one placeholder keeps the value's type.
 *
 * With `json`, the string is JSON text (a body like `{"id": "{{uuid}}", "n": {{seq}}}`) and
 * placeholders are filled in place: everything around them goes out exactly as written
 * (whitespace, number literals such as 1.0 or 12345678901234567890). A value inside a JSON
 * string is escaped as string content; a value outside one is written as a JSON value (a
 * generated name becomes "Ada", a number stays 5), so the result stays valid JSON.
 */
export function compileString(text: string, path: string, c: Compiler, json = false): Part {
  const pieces: Array<string | Generator> = [];
  let literal = "";
  let last = 0;
  const unterminated = (gap: string, offset: number) => {
    const open = gap.indexOf("{{");
    if (open >= 0) {
      c.issues.push({
        path,
        message: `unterminated placeholder: "{{" without "}}" at ${excerpt(text, offset + open)} (write \\{{ for a literal {{)`,
      });
    }
  };
  for (const m of text.matchAll(PLACEHOLDER)) {
    const gap = text.slice(last, m.index);
    unterminated(gap, last);
    literal += gap;
    last = m.index + m[0].length;
    if (m[1] === undefined) {
      literal += "{{";
      continue;
    }
    const source = m[1];
    const compiled = compileGenerator(source, { env: c.env, seeded: c.seeded });
    if ("error" in compiled) {
      c.issues.push({ path, message: `${excerpt(`{{${source}}}`)}: ${compiled.error}` });
      continue;
    }
    if (compiled.faker) c.faker.push({ path, source, slot: compiled.faker });
    if (literal !== "") pieces.push(literal);
    literal = "";
    pieces.push(compiled.generator);
  }
  const tail = text.slice(last);
  unterminated(tail, last);
  literal += tail;
  if (literal !== "") pieces.push(literal);

  if (pieces.every((p) => typeof p === "string")) return { constant: true, value: pieces.join("") };
  if (json) inJsonText(pieces);
  const [first] = pieces;
  if (pieces.length === 1 && typeof first === "function" && !json)
    return { constant: false, fn: first };
  return {
    constant: false,
    fn: (rt) => {
      let out = "";
      for (const p of pieces) out += typeof p === "string" ? p : toText(p(rt));
      return out;
    },
  };
}

/**
 * Wrap each generator of JSON text so that what it writes fits where it stands: inside a
 * string literal as escaped string content, elsewhere as a JSON value.
 */
function inJsonText(pieces: Array<string | Generator>): void {
  let inString = false;
  let escaped = false;
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    if (typeof p === "string") {
      for (const ch of p) {
        if (escaped) escaped = false;
        else if (inString && ch === "\\") escaped = true;
        else if (ch === '"') inString = !inString;
      }
      continue;
    }
    pieces[i] = inString
      ? (rt) => JSON.stringify(toText(p(rt))).slice(1, -1)
      : (rt) => jsonValueText(p(rt));
  }
}

/** A generated value as JSON text outside a string: numbers as they are, text quoted. */
function jsonValueText(v: unknown): string {
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "null";
  if (v === undefined) return "null";
  return JSON.stringify(v);
}

/** Whether a body string is JSON text: it opens an object or an array (not a `{{placeholder}}`). */
export function looksLikeJson(text: string): boolean {
  return /^\s*(?:\[|\{(?!\{))/.test(text);
}

/** Compile any JSON-like value into a render tree: constant subtrees are reused as they are. */
export function compileValue(value: unknown, path: string, c: Compiler): Part {
  if (typeof value === "string") return compileString(value, path, c);
  if (value instanceof JsonNumber) return { constant: true, value };
  if (Array.isArray(value)) {
    const parts = value.map((v, i) => compileValue(v, child(path, i), c));
    if (parts.every((p) => p.constant)) return { constant: true, value };
    const n = parts.length;
    return {
      constant: false,
      fn: (rt) => {
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = at(parts[i] as Part, rt);
        return out;
      },
    };
  }
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    const parts = keys.map((k) =>
      compileValue((value as Record<string, unknown>)[k], child(path, k), c),
    );
    if (parts.every((p) => p.constant)) return { constant: true, value };
    const n = keys.length;
    const set = keys.includes("__proto__")
      ? (o: Record<string, unknown>, k: string, v: unknown) => {
          Object.defineProperty(o, k, { value: v, enumerable: true, writable: true });
        }
      : (o: Record<string, unknown>, k: string, v: unknown) => {
          o[k] = v;
        };
    return {
      constant: false,
      fn: (rt) => {
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) set(out, keys[i] as string, at(parts[i] as Part, rt));
        return out;
      },
    };
  }
  return { constant: true, value };
}

export function at<T>(p: Part<T>, rt: GeneratorRuntime): T {
  return p.constant ? p.value : p.fn(rt);
}

export function map<T, U>(p: Part<T>, f: (v: T) => U): Part<U> {
  if (p.constant) return { constant: true, value: f(p.value) };
  const fn = p.fn;
  return { constant: false, fn: (rt) => f(fn(rt)) };
}

/**
 * The one filter language of eventlab (`consume --filter`, scenario `expect[].message.match`,
 * `dlq replay --filter`). Built on filtrex: an expression compiles to a function over a plain
 * object; no JavaScript of the user is ever evaluated, and only own properties are reachable
 * (`body.constructor`, `body.__proto__` are missing, not the prototype).
 *
 * A missing property, a type mismatch (`"a" > 1`) or an unknown name at run time makes the
 * expression false: filtrex returns an Error value then, and `test()` maps it to false.
 */
import { createRequire } from "node:module";
import type * as Filtrex from "filtrex";
import type { Options } from "filtrex";
import { UsageError } from "../errors.js";

let filtrexModule: typeof Filtrex | undefined;
/**
 * filtrex, loaded the first time an expression is compiled: most runs (produce, consume
 * without --filter) never compile one, and its parser is a good part of a start's module code.
 */
function filtrex(): typeof Filtrex {
  filtrexModule ??= createRequire(import.meta.url)("filtrex") as typeof Filtrex;
  return filtrexModule;
}

/** What an expression can see of one message. */
export interface MessageFacts {
  /** Parsed JSON when the body is JSON, else the UTF-8 text (or undefined for binary). */
  body: unknown;
  headers: Record<string, unknown>;
  /** messageId, correlationId, contentType, type, appId, priority, timestamp, deliveryMode, expiration, replyTo, userId, contentEncoding. */
  properties: Record<string, unknown>;
  exchange: string;
  routingKey: string;
  redelivered: boolean;
}

export interface Expression {
  readonly source: string;
  test(m: MessageFacts): boolean;
}

/** The top-level names an expression may use. */
export const EXPRESSION_ROOTS = [
  "body",
  "headers",
  "properties",
  "exchange",
  "routingKey",
  "redelivered",
] as const;

const ROOTS: ReadonlySet<string> = new Set(EXPRESSION_ROOTS);
const KEYWORDS: ReadonlySet<string> = new Set([
  "and",
  "or",
  "not",
  "in",
  "mod",
  "if",
  "then",
  "else",
  "of",
  "true",
  "false",
  "null",
]);
const FUNCTIONS: ReadonlySet<string> = new Set([
  "abs",
  "ceil",
  "floor",
  "log",
  "log2",
  "log10",
  "max",
  "min",
  "round",
  "sqrt",
  "exists",
  "empty",
  "lower",
  "upper",
  "length",
]);

const PROPERTY_NAMES = [
  "messageId",
  "correlationId",
  "contentType",
  "type",
  "appId",
  "priority",
  "timestamp",
  "deliveryMode",
  "expiration",
  "replyTo",
  "userId",
  "contentEncoding",
] as const;

const PROPERTY_NAME_SET: ReadonlySet<string> = new Set<string>(PROPERTY_NAMES);

const HELP_HINT =
  'README "Filter expressions": == != < <= > >= and or not in ~= + - * / %, text in double quotes, e.g. body.total > 100 and headers.region == "eu"';

function own(obj: unknown, key: string): boolean {
  return (
    (typeof obj === "object" || typeof obj === "function") &&
    obj !== null &&
    Object.hasOwn(obj, key)
  );
}

class MissingProperty extends Error {}

/**
 * A single-quoted path (`'headers.x-region'`, for names filtrex cannot spell bare) is split on
 * dots too; at each level the longest own key wins, so a header named `app.version` is reached
 * by `'headers.app.version'`.
 */
function resolveQuotedPath(name: string, data: unknown): unknown {
  const parts = name.split(".");
  let value = data;
  let i = 0;
  while (i < parts.length) {
    let found = false;
    for (let j = parts.length; j > i; j--) {
      const key = parts.slice(i, j).join(".");
      if (own(value, key)) {
        value = (value as Record<string, unknown>)[key];
        i = j;
        found = true;
        break;
      }
    }
    if (!found) throw new MissingProperty(`Property “${parts[i]}” does not exist.`);
  }
  return value;
}

function customProp(
  name: string,
  get: (name: string) => unknown,
  obj: unknown,
  type: "unescaped" | "single-quoted",
): unknown {
  if (type === "single-quoted") return resolveQuotedPath(name, obj);
  return filtrex().useDotAccessOperator(name, get, obj, type);
}

const regexCache = new Map<string, RegExp>();
function regexOf(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    re = new RegExp(pattern);
    if (regexCache.size > 256) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re;
}

const extraFunctions = {
  lower: (v: unknown) => (typeof v === "string" ? v.toLowerCase() : v),
  upper: (v: unknown) => (typeof v === "string" ? v.toUpperCase() : v),
  length: (v: unknown) => (typeof v === "string" || Array.isArray(v) ? v.length : 0),
};

const operators = {
  "==": (a: unknown, b: unknown) => a === b,
  "!=": (a: unknown, b: unknown) => a !== b,
  "~=": (a: unknown, b: unknown) =>
    typeof a === "string" && typeof b === "string" && regexOf(b).test(a),
};

const FILTREX_OPTIONS: Options = {
  customProp: customProp as NonNullable<Options["customProp"]>,
  operators: operators as NonNullable<Options["operators"]>,
  extraFunctions,
  constants: { true: true, false: false, null: null },
};

/**
 * filtrex 3 still parses `%` but prints a deprecation warning on every use; eventlab documents
 * `%`, so it is rewritten to filtrex's `mod` outside quotes. Returns the rewritten text and the
 * offsets (in the rewritten text) where each ` mod ` was put, to map error columns back.
 */
function rewriteModulo(src: string): { text: string; at: number[] } {
  let text = "";
  const at: number[] = [];
  let quote: string | undefined;
  for (let i = 0; i < src.length; i++) {
    const c = src.charAt(i);
    if (quote !== undefined) {
      text += c;
      if (c === "\\" && i + 1 < src.length) {
        text += src.charAt(i + 1);
        i++;
      } else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
      text += c;
    } else if (c === "%") {
      at.push(text.length);
      text += " mod ";
    } else text += c;
  }
  return { text, at };
}

function sourceOffset(rewritten: number, at: readonly number[]): number {
  let offset = rewritten;
  for (const a of at) {
    if (a + 5 <= rewritten) offset -= 4;
    else if (a < rewritten) offset -= rewritten - a;
  }
  return offset;
}

interface Token {
  kind: "symbol" | "quoted" | "string";
  text: string;
  offset: number;
  /** The next non-blank character after the token. */
  next: string;
}

function skipBlanks(src: string, from: number): string {
  let k = from;
  while (k < src.length && /\s/.test(src.charAt(k))) k++;
  return src.charAt(k);
}

/** A quoted token starting at `i`: its unescaped text and the index after the closing quote. */
function readQuoted(src: string, i: number): { text: string; end: number } {
  const quote = src.charAt(i);
  let j = i + 1;
  let text = "";
  while (j < src.length && src.charAt(j) !== quote) {
    if (src.charAt(j) === "\\" && j + 1 < src.length) {
      const e = src.charAt(j + 1);
      text += e;
      j += 2;
    } else {
      text += src.charAt(j);
      j++;
    }
  }
  return { text, end: j + 1 };
}

function readWhile(src: string, i: number, re: RegExp): number {
  let j = i;
  while (j < src.length && re.test(src.charAt(j))) j++;
  return j;
}

/** Just enough of a scanner to check names, functions and regex literals before filtrex runs. */
function scan(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src.charAt(i);
    if (c === '"' || c === "'") {
      const { text, end } = readQuoted(src, i);
      out.push({
        kind: c === '"' ? "string" : "quoted",
        text,
        offset: i,
        next: skipBlanks(src, end),
      });
      i = end;
    } else if (/[A-Za-z_$]/.test(c)) {
      const j = readWhile(src, i, /[\w$.]/);
      out.push({ kind: "symbol", text: src.slice(i, j), offset: i, next: skipBlanks(src, j) });
      i = j;
    } else if (/[0-9]/.test(c)) {
      i = readWhile(src, i, /[\w.]/);
    } else {
      i++;
    }
  }
  return out;
}

/** `line 2, column 5` for multi-line sources, `column 5` otherwise (1-based). */
function position(src: string, offset: number): string {
  const before = src.slice(0, offset);
  const lines = before.split("\n");
  const column = (lines[lines.length - 1] ?? "").length + 1;
  return src.includes("\n") ? `line ${lines.length}, column ${column}` : `column ${column}`;
}

function pointer(src: string, offset: number): string {
  const start = src.lastIndexOf("\n", offset - 1) + 1;
  const endNl = src.indexOf("\n", offset);
  const line = src.slice(start, endNl === -1 ? src.length : endNl);
  return `\n  ${line}\n  ${" ".repeat(offset - start)}^`;
}

function fail(
  where: string,
  src: string,
  offset: number,
  what: string,
  hint: string = HELP_HINT,
): never {
  throw new UsageError(
    `${where}: bad expression at ${position(src, offset)}: ${what}${pointer(src, offset)}`,
    hint,
  );
}

function checkSymbol(src: string, where: string, tok: Token): void {
  const root = tok.text.split(".")[0] ?? "";
  if (KEYWORDS.has(tok.text)) return;
  if (tok.next === "(") {
    if (!FUNCTIONS.has(tok.text)) {
      fail(
        where,
        src,
        tok.offset,
        `unknown function "${tok.text}" (known: ${[...FUNCTIONS].join(", ")})`,
      );
    }
    return;
  }
  if (!ROOTS.has(root)) {
    fail(
      where,
      src,
      tok.offset,
      `unknown name "${tok.text}"; an expression starts from ${EXPRESSION_ROOTS.join(", ")}`,
      PROPERTY_NAME_SET.has(root)
        ? `message properties are under "properties.", e.g. properties.${root}`
        : HELP_HINT,
    );
  }
  const prop = root === "properties" ? tok.text.split(".")[1] : undefined;
  if (prop !== undefined && !PROPERTY_NAME_SET.has(prop)) {
    fail(
      where,
      src,
      tok.offset,
      `unknown message property "${prop}" (known: ${PROPERTY_NAMES.join(", ")})`,
    );
  }
}

function checkQuoted(src: string, where: string, tok: Token): void {
  const root = tok.text.split(".")[0] ?? "";
  if (ROOTS.has(root)) return;
  fail(
    where,
    src,
    tok.offset,
    `'${tok.text}' in single quotes names a field, and there is no field "${root}"`,
    `write text in double quotes ("${tok.text}"); single quotes are for field paths with dashes, e.g. 'headers.x-region'`,
  );
}

function checkString(src: string, where: string, tok: Token): void {
  if (!src.slice(0, tok.offset).trimEnd().endsWith("~=")) return;
  try {
    regexOf(tok.text);
  } catch (e) {
    fail(
      where,
      src,
      tok.offset,
      `invalid regular expression "${tok.text}": ${(e as Error).message}`,
    );
  }
}

function checkTokens(src: string, where: string): void {
  for (const tok of scan(src)) {
    if (tok.kind === "symbol") checkSymbol(src, where, tok);
    else if (tok.kind === "quoted") checkQuoted(src, where, tok);
    else checkString(src, where, tok);
  }
}

/**
 * jison reports the position only inside its message: a line of up to 20 consumed characters
 * (prefixed "..." when cut) plus the upcoming input, and a caret under the failing token.
 */
function offsetOfParseError(message: string, flat: string): number {
  const lines = message.split("\n");
  const caretIdx = lines.findIndex((l) => /^-*\^$/.test(l));
  if (caretIdx < 1) return flat.length;
  const shown = lines[caretIdx - 1] ?? "";
  const dashes = (lines[caretIdx] ?? "").length - 1;
  if (!shown.startsWith("...")) return Math.min(dashes, flat.length);
  const past = shown.slice(3, dashes);
  const upcoming = shown.slice(dashes).replace(/\.\.\.$/, "");
  const at = flat.indexOf(past + upcoming);
  if (at >= 0) return at + past.length;
  const pastAt = flat.lastIndexOf(past);
  return pastAt >= 0 ? pastAt + past.length : flat.length;
}

function describeParseError(message: string, src: string, offset: number): string {
  if (message.startsWith("Lexical error")) {
    const ch = src.charAt(offset);
    if (ch === "&" || ch === "|")
      return `unexpected "${src.slice(offset, offset + 2)}"; write "and" / "or"`;
    if (ch === "=") return 'unexpected "="; compare with "=="';
    if (ch === "'") return "unterminated single-quoted field name";
    if (ch === '"' && /\\[^\\"]/.test(src.slice(offset)))
      return 'in text, only \\\\ and \\" are escapes: write a backslash as \\\\ (a regular expression\'s \\. is "\\\\.")';
    if (ch === '"') return "unterminated text (a double quote is missing)";
    return `unexpected character "${ch}"`;
  }
  const expectedMatch = /Expecting (.*), got '([^']*)'/.exec(message);
  const expected = expectedMatch?.[1] ?? "";
  const got = expectedMatch?.[2];
  const gotText =
    got === "EndOfExpression" || offset >= src.length
      ? "the end of the expression"
      : `"${(/^\S+/.exec(src.slice(offset)) ?? [""])[0]}"`;
  if (/'Number'|'Symbol'|'String'/.test(expected))
    return `expected a value (number, "text", field or parenthesis), got ${gotText}`;
  if (/'=='|'and'/.test(expected)) {
    const closing = expected.includes("')'") && !expected.includes("'EndOfExpression'");
    return `expected an operator${closing ? ' or ")"' : ', "and"/"or" or the end'}, got ${gotText}`;
  }
  if (got === "=") return 'unexpected "="; compare with "=="';
  return `unexpected ${gotText}`;
}

/** Throws UsageError naming `where` (e.g. "--filter", "expect[2].message.match"), the expression, the column and what was expected. */
export function compileExpression(source: string, where: string): Expression {
  if (source.trim() === "") {
    throw new UsageError(`${where}: the expression is empty`, HELP_HINT);
  }
  // Newlines become spaces, one for one, so that offsets still match the source.
  const flat = source.replace(/[\r\n]/g, " ");
  const { text, at } = rewriteModulo(flat);
  let fn: (data: unknown) => unknown;
  try {
    fn = filtrex().compileExpression(text, FILTREX_OPTIONS);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const offset = sourceOffset(offsetOfParseError(message, text), at);
    fail(where, source, offset, describeParseError(message, flat, offset));
  }
  checkTokens(flat, where);
  return {
    source,
    test(m: MessageFacts): boolean {
      let result: unknown;
      try {
        result = fn(m);
      } catch {
        return false;
      }
      if (result instanceof Error) return false;
      if (Array.isArray(result)) return result.length > 0;
      return Boolean(result);
    },
  };
}

function textOf(content: Buffer): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(content);
  } catch {
    return undefined;
  }
}

function headerValue(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return textOf(v) ?? v;
  if (Array.isArray(v)) return v.map(headerValue);
  if (typeof v === "bigint") return Number(v);
  return v;
}

/** The body an expression sees: parsed JSON when it parses, else the text, else undefined. */
export function bodyFacts(content: Buffer): unknown {
  const text = textOf(content);
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (trimmed !== "") {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      // not JSON: the text itself
    }
  }
  return text;
}

/** MessageFacts from an amqplib ConsumeMessage or GetMessage. */
export function factsOf(m: {
  content: Buffer;
  fields: { exchange: string; routingKey: string; redelivered?: boolean };
  // amqplib's MessageProperties has no index signature: any object with optional headers.
  properties: object & { headers?: Record<string, unknown> | undefined };
}): MessageFacts {
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m.properties.headers ?? {})) {
    if (v !== undefined) headers[k] = headerValue(v);
  }
  const properties: Record<string, unknown> = {};
  for (const name of PROPERTY_NAMES) {
    const v = (m.properties as Record<string, unknown>)[name];
    if (v !== undefined && v !== null) properties[name] = headerValue(v);
  }
  return {
    body: bodyFacts(m.content),
    headers,
    properties,
    exchange: m.fields.exchange,
    routingKey: m.fields.routingKey,
    redelivered: m.fields.redelivered === true,
  };
}

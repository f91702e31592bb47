/**
 * The generators behind placeholders. Each placeholder is parsed once into a closure; the
 * runtime carries the per-message state (sequence index, random numbers, the clock).
 * Faker is imported only by templates that use it.
 */
import { randomUUID } from "node:crypto";
import type { Faker } from "@faker-js/faker";
import { hashString, type Random, uuidFrom } from "./random.js";

/** The state one compiled template renders with; advanced once per message. */
export class GeneratorRuntime {
  /** 0-based index of the message being rendered (-1 before the first). */
  index = -1;
  private nowIndex = -2;
  private nowValue = 0;

  constructor(
    /** A number in [0, 1): seeded when a seed is given. */
    readonly random: Random,
    private readonly clock: () => number,
  ) {}

  /** Advance to the next message. */
  next(): void {
    this.index += 1;
  }

  /** Epoch milliseconds, read once per message so every placeholder of it sees one time. */
  now(): number {
    if (this.nowIndex !== this.index) {
      this.nowValue = this.clock();
      this.nowIndex = this.index;
    }
    return this.nowValue;
  }
}

export type Generator = (rt: GeneratorRuntime) => unknown;

/** A Faker placeholder: its function is bound once Faker is loaded and the path checked. */
export interface FakerSlot {
  path: string;
  bind(fn: () => unknown): void;
}

export type CompiledGenerator =
  | { generator: Generator; name: string; args: string[]; faker?: FakerSlot }
  | { error: string };

export interface CompileOptions {
  env: NodeJS.ProcessEnv;
  /** Whether values come from a seeded stream (then uuids do too). */
  seeded: boolean;
}

interface Arg {
  text: string;
  quoted: boolean;
}

/** Split `pick a "b c" 'd'` into words; quotes group words (and keep them text). */
function splitArgs(source: string): Arg[] | { error: string } {
  const out: Arg[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s"']+))/y;
  let at = 0;
  while (at < source.length) {
    re.lastIndex = at;
    const m = re.exec(source);
    if (m === null) {
      if (source.slice(at).trim() === "") break;
      return { error: `unbalanced quote in ${JSON.stringify(source.slice(at).trim())}` };
    }
    if (m[1] !== undefined) out.push({ text: m[1].replace(/\\(.)/g, "$1"), quoted: true });
    else if (m[2] !== undefined) out.push({ text: m[2], quoted: true });
    else out.push({ text: m[3] ?? "", quoted: false });
    at = re.lastIndex;
  }
  return out;
}

const NUMBER = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;
const INTEGER = /^-?\d+$/;
const TWO_32 = 4294967296;

/** What one generator's compiler gives: its generator (and Faker slot), or what is wrong. */
type Compiled = { generator: Generator; faker?: FakerSlot } | { error: string };

interface GeneratorSpec {
  /** How many arguments it takes, at least and at most. */
  args: readonly [min: number, max: number];
  /** What it takes, for the message when the count is wrong: `seq takes …`. */
  usage: string;
  /** `args` is the words after the name, in the number it takes. */
  compile(args: Arg[], options: CompileOptions): Compiled;
}

const fail = (error: string): Compiled => ({ error });

/** `{{seq}}`, `{{seq 100}}`: 1, 2, 3, … (or from the start given). */
function compileSeq([a]: Arg[]): Compiled {
  if (a !== undefined && !(INTEGER.test(a.text) && Number.isSafeInteger(Number(a.text))))
    return fail(`seq expects a whole start number, got ${JSON.stringify(a.text)}`);
  const start = a === undefined ? 1 : Number(a.text);
  return { generator: (rt) => start + rt.index };
}

const NOW_FORMATS: Record<string, Generator> = {
  iso: (rt) => new Date(rt.now()).toISOString(),
  ms: (rt) => rt.now(),
  s: (rt) => Math.floor(rt.now() / 1000),
};

function compileNow([a]: Arg[]): Compiled {
  const format = a?.text ?? "iso";
  const generator = Object.hasOwn(NOW_FORMATS, format) ? NOW_FORMATS[format] : undefined;
  if (generator === undefined)
    return fail(`now expects iso, ms or s, got ${JSON.stringify(format)}`);
  return { generator };
}

function compileInt([a, b]: Arg[]): Compiled {
  const [lo = "", hi = ""] = [a?.text, b?.text];
  if (!INTEGER.test(lo) || !INTEGER.test(hi))
    return fail(
      `int expects two whole numbers, got ${JSON.stringify(lo)} and ${JSON.stringify(hi)}`,
    );
  const min = Number(lo);
  const max = Number(hi);
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max))
    return fail(`int expects numbers within ±${Number.MAX_SAFE_INTEGER}`);
  if (min > max) return fail(`int expects MIN ≤ MAX, got ${min} > ${max}`);
  const span = max - min + 1;
  if (span <= TWO_32) return { generator: (rt) => min + Math.floor(rt.random() * span) };
  // Wider than one 32-bit draw: combine two.
  return { generator: (rt) => min + Math.floor((rt.random() + rt.random() / TWO_32) * span) };
}

function compileFloat([a, b, d]: Arg[]): Compiled {
  const [lo = "", hi = ""] = [a?.text, b?.text];
  const decimals = d?.text;
  if (!NUMBER.test(lo) || !NUMBER.test(hi))
    return fail(`float expects two numbers, got ${JSON.stringify(lo)} and ${JSON.stringify(hi)}`);
  if (
    decimals !== undefined &&
    (!INTEGER.test(decimals) || Number(decimals) < 0 || Number(decimals) > 15)
  )
    return fail(`float expects decimals from 0 to 15, got ${JSON.stringify(decimals)}`);
  const min = Number(lo);
  const max = Number(hi);
  if (min > max) return fail(`float expects MIN ≤ MAX, got ${min} > ${max}`);
  const factor = 10 ** (decimals === undefined ? 2 : Number(decimals));
  return { generator: (rt) => Math.round((min + rt.random() * (max - min)) * factor) / factor };
}

function compilePick(args: Arg[]): Compiled {
  // Unquoted items that look like numbers are numbers; quote one to keep it text.
  const items = args.map((a) => (!a.quoted && NUMBER.test(a.text) ? Number(a.text) : a.text));
  if (items.length === 1) {
    const only = items[0];
    return { generator: () => only };
  }
  const n = items.length;
  return { generator: (rt) => items[Math.floor(rt.random() * n)] };
}

function compileBool([a]: Arg[]): Compiled {
  const p = a === undefined ? 0.5 : Number(a.text);
  if (a !== undefined && !(NUMBER.test(a.text) && p >= 0 && p <= 1))
    return fail(`bool expects a probability from 0 to 1, got ${JSON.stringify(a.text)}`);
  return { generator: (rt) => rt.random() < p };
}

/** A Faker path, bound to its function once Faker is loaded (see resolveFakerPath). */
function compileFaker([a]: Arg[]): Compiled {
  const path = a?.text ?? "";
  if (!/^[A-Za-z]\w*(\.[A-Za-z]\w*)+$/.test(path))
    return fail(
      `faker expects a path like person.fullName or location.city, got ${JSON.stringify(path)}`,
    );
  let fn: () => unknown = () => {
    throw new Error(`faker path ${path} was not bound at compile time`);
  };
  return {
    generator: () => fakerValue(fn()),
    faker: {
      path,
      bind(f) {
        fn = f;
      },
    },
  };
}

function compileEnv([a, b]: Arg[], options: CompileOptions): Compiled {
  const variable = a?.text ?? "";
  const value = options.env[variable] ?? b?.text;
  if (value === undefined)
    return fail(
      `environment variable ${variable} is not set; set it, or give a default: {{env ${variable} value}}`,
    );
  return { generator: () => value };
}

/** Every generator by name: what it takes and how it compiles. */
const SPECS: Record<string, GeneratorSpec> = {
  seq: { args: [0, 1], usage: "an optional start number, like {{seq 100}}", compile: compileSeq },
  uuid: {
    args: [0, 0],
    usage: "no arguments: {{uuid}}",
    compile: (_, options) => ({
      generator: options.seeded ? (rt) => uuidFrom(rt.random) : () => randomUUID(),
    }),
  },
  now: {
    args: [0, 1],
    usage: "an optional format: iso (default), ms or s, like {{now ms}}",
    compile: compileNow,
  },
  int: { args: [2, 2], usage: "two whole numbers MIN MAX, like {{int 1 6}}", compile: compileInt },
  float: {
    args: [2, 3],
    usage: "MIN MAX and optional decimals, like {{float 0 1 3}}",
    compile: compileFloat,
  },
  pick: {
    args: [1, Number.POSITIVE_INFINITY],
    usage: 'one or more items, like {{pick eu us "south america" 3}}',
    compile: compilePick,
  },
  bool: {
    args: [0, 1],
    usage: "an optional probability from 0 to 1, like {{bool 0.2}}",
    compile: compileBool,
  },
  faker: { args: [1, 1], usage: "one path, like {{faker person.fullName}}", compile: compileFaker },
  env: {
    args: [1, 2],
    usage: "a variable name and an optional default, like {{env REGION}} or {{env REGION eu}}",
    compile: compileEnv,
  },
};

const GENERATORS = Object.keys(SPECS);

/** Compile the text between `{{` and `}}`. */
export function compileGenerator(source: string, options: CompileOptions): CompiledGenerator {
  const split = splitArgs(source);
  if (!Array.isArray(split)) return split;
  const [head, ...rest] = split;
  if (head === undefined)
    return { error: `empty placeholder; known generators: ${GENERATORS.join(", ")}` };
  const name = head.text;
  const spec = Object.hasOwn(SPECS, name) ? SPECS[name] : undefined;
  if (spec === undefined)
    return { error: `unknown generator "${name}"; known generators: ${GENERATORS.join(", ")}` };
  const [min, max] = spec.args;
  if (rest.length < min || rest.length > max) return { error: `${name} takes ${spec.usage}` };
  const compiled = spec.compile(rest, options);
  if ("error" in compiled) return compiled;
  return { ...compiled, name, args: rest.map((a) => a.text) };
}

/** Faker values as they travel: dates as ISO-8601 text, big integers as text. */
function fakerValue(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "bigint") return v.toString();
  return v;
}

/** A new Faker instance (English), so seeded templates never share Faker's state. */
export async function loadFaker(): Promise<Faker> {
  const { Faker, en, base } = await import("@faker-js/faker");
  return new Faker({ locale: [en, base] });
}

/** Seed a template's Faker (after its paths were checked) and tie its dates to the clock. */
export function seedFaker(
  faker: Faker,
  seed: number | undefined,
  templateName: string,
  clock: () => number,
): void {
  faker.setDefaultRefDate(() => new Date(clock()));
  if (seed !== undefined) faker.seed(hashString(`${seed}:${templateName}:faker`));
}

const hidden = (key: string) => key.startsWith("_") || key in Object.prototype;

/** What a Faker module offers: its function names. */
function functionsOf(owner: unknown): string[] {
  if (owner === null || typeof owner !== "object") return [];
  const names = new Set<string>();
  for (let o: object | null = owner; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) {
      if (!hidden(k) && typeof (owner as Record<string, unknown>)[k] === "function") names.add(k);
    }
  }
  return [...names].sort();
}

function modulesOf(faker: Faker): string[] {
  return Object.keys(faker)
    .filter((k) => !hidden(k) && k !== "definitions" && k !== "rawDefinitions")
    .filter((k) => functionsOf((faker as unknown as Record<string, unknown>)[k]).length > 0)
    .sort();
}

const list = (names: string[], max = 12) =>
  names.length > max ? `${names.slice(0, max).join(", ")}, …` : names.join(", ");

/**
 * The function at a dotted Faker path, called once to check that it works without
 * arguments; or what is wrong with the path and what would be valid.
 */
export function resolveFakerPath(
  faker: Faker,
  path: string,
): { fn: () => unknown } | { error: string } {
  const parts = path.split(".");
  let owner: unknown;
  let cur: unknown = faker;
  for (const [i, part] of parts.entries()) {
    const valid =
      cur !== null && typeof cur === "object" && !hidden(part) && part in (cur as object);
    if (!valid) {
      const where = parts.slice(0, i).join(".");
      const offer =
        i === 0
          ? `modules: ${list(modulesOf(faker), 40)}`
          : `${where} has: ${list(functionsOf(cur))}`;
      return { error: `unknown Faker path ${JSON.stringify(path)}; ${offer}` };
    }
    owner = cur;
    cur = (cur as Record<string, unknown>)[part];
  }
  if (typeof cur !== "function") {
    return {
      error: `Faker path ${JSON.stringify(path)} is not a function; ${path} has: ${list(functionsOf(cur))}`,
    };
  }
  const f = cur as (this: unknown) => unknown;
  const fn = () => f.call(owner);
  try {
    fn();
  } catch {
    return {
      error: `Faker function ${path} needs arguments; use one that takes none, like person.fullName or location.city`,
    };
  }
  return { fn };
}

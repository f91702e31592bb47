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

export const GENERATORS = [
  "seq",
  "uuid",
  "now",
  "int",
  "float",
  "pick",
  "bool",
  "faker",
  "env",
] as const;

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

/** Compile the text between `{{` and `}}`. */
export function compileGenerator(source: string, options: CompileOptions): CompiledGenerator {
  const split = splitArgs(source);
  if (!Array.isArray(split)) return split;
  const [head, ...rest] = split;
  if (head === undefined)
    return { error: `empty placeholder; known generators: ${GENERATORS.join(", ")}` };
  const name = head.text;
  const args = rest.map((a) => a.text);
  const ok = (generator: Generator) => ({ generator, name, args });
  const argCount = (min: number, max: number, usage: string): { error: string } | undefined =>
    args.length < min || args.length > max ? { error: `${name} takes ${usage}` } : undefined;

  switch (name) {
    case "seq": {
      const bad = argCount(0, 1, "an optional start number, like {{seq 100}}");
      if (bad) return bad;
      const [a] = args;
      if (a !== undefined && !(INTEGER.test(a) && Number.isSafeInteger(Number(a))))
        return { error: `seq expects a whole start number, got ${JSON.stringify(a)}` };
      const start = a === undefined ? 1 : Number(a);
      return ok((rt) => start + rt.index);
    }
    case "uuid": {
      const bad = argCount(0, 0, "no arguments: {{uuid}}");
      if (bad) return bad;
      return ok(options.seeded ? (rt) => uuidFrom(rt.random) : () => randomUUID());
    }
    case "now": {
      const bad = argCount(0, 1, "an optional format: iso (default), ms or s, like {{now ms}}");
      if (bad) return bad;
      const format = args[0] ?? "iso";
      if (format === "iso") return ok((rt) => new Date(rt.now()).toISOString());
      if (format === "ms") return ok((rt) => rt.now());
      if (format === "s") return ok((rt) => Math.floor(rt.now() / 1000));
      return { error: `now expects iso, ms or s, got ${JSON.stringify(format)}` };
    }
    case "int": {
      const bad = argCount(2, 2, "two whole numbers MIN MAX, like {{int 1 6}}");
      if (bad) return bad;
      const [a, b] = args as [string, string];
      if (!INTEGER.test(a) || !INTEGER.test(b))
        return {
          error: `int expects two whole numbers, got ${JSON.stringify(a)} and ${JSON.stringify(b)}`,
        };
      const min = Number(a);
      const max = Number(b);
      if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max))
        return { error: `int expects numbers within ±${Number.MAX_SAFE_INTEGER}` };
      if (min > max) return { error: `int expects MIN ≤ MAX, got ${min} > ${max}` };
      const span = max - min + 1;
      if (span <= TWO_32) return ok((rt) => min + Math.floor(rt.random() * span));
      // Wider than one 32-bit draw: combine two.
      return ok((rt) => min + Math.floor((rt.random() + rt.random() / TWO_32) * span));
    }
    case "float": {
      const bad = argCount(2, 3, "MIN MAX and optional decimals, like {{float 0 1 3}}");
      if (bad) return bad;
      const [a, b, d] = args as [string, string, string | undefined];
      if (!NUMBER.test(a) || !NUMBER.test(b))
        return {
          error: `float expects two numbers, got ${JSON.stringify(a)} and ${JSON.stringify(b)}`,
        };
      if (d !== undefined && (!INTEGER.test(d) || Number(d) < 0 || Number(d) > 15))
        return { error: `float expects decimals from 0 to 15, got ${JSON.stringify(d)}` };
      const min = Number(a);
      const max = Number(b);
      if (min > max) return { error: `float expects MIN ≤ MAX, got ${min} > ${max}` };
      const factor = 10 ** (d === undefined ? 2 : Number(d));
      return ok((rt) => Math.round((min + rt.random() * (max - min)) * factor) / factor);
    }
    case "pick": {
      if (args.length === 0)
        return { error: 'pick takes one or more items, like {{pick eu us "south america" 3}}' };
      // Unquoted items that look like numbers are numbers; quote one to keep it text.
      const items = rest.map((a) => (!a.quoted && NUMBER.test(a.text) ? Number(a.text) : a.text));
      if (items.length === 1) {
        const only = items[0];
        return ok(() => only);
      }
      const n = items.length;
      return ok((rt) => items[Math.floor(rt.random() * n)]);
    }
    case "bool": {
      const bad = argCount(0, 1, "an optional probability from 0 to 1, like {{bool 0.2}}");
      if (bad) return bad;
      const [a] = args;
      const p = a === undefined ? 0.5 : Number(a);
      if (a !== undefined && !(NUMBER.test(a) && p >= 0 && p <= 1))
        return { error: `bool expects a probability from 0 to 1, got ${JSON.stringify(a)}` };
      return ok((rt) => rt.random() < p);
    }
    case "faker": {
      const bad = argCount(1, 1, "one path, like {{faker person.fullName}}");
      if (bad) return bad;
      const path = args[0] as string;
      if (!/^[A-Za-z]\w*(\.[A-Za-z]\w*)+$/.test(path))
        return {
          error: `faker expects a path like person.fullName or location.city, got ${JSON.stringify(path)}`,
        };
      let fn: () => unknown = () => {
        throw new Error(`faker path ${path} was not bound at compile time`);
      };
      return {
        ...ok(() => fakerValue(fn())),
        faker: {
          path,
          bind(f) {
            fn = f;
          },
        },
      };
    }
    case "env": {
      const bad = argCount(
        1,
        2,
        "a variable name and an optional default, like {{env REGION}} or {{env REGION eu}}",
      );
      if (bad) return bad;
      const [variable, fallback] = args as [string, string | undefined];
      const value = options.env[variable] ?? fallback;
      if (value === undefined)
        return {
          error: `environment variable ${variable} is not set; set it, or give a default: {{env ${variable} value}}`,
        };
      return ok(() => value);
    }
    default:
      return { error: `unknown generator "${name}"; known generators: ${GENERATORS.join(", ")}` };
  }
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

/**
 * The generators behind placeholders. Each is parsed once into a closure; the runtime
 * carries the per-message state (sequence, seeded random numbers, Faker).
 */
import { randomUUID } from "node:crypto";
import type { Faker } from "@faker-js/faker";

export interface GeneratorRuntime {
  /** 0-based index of the message being rendered. */
  index: number;
  /** Advance to the next message. */
  next(): void;
  /** A number in [0, 1): seeded when --seed is given. */
  random(): number;
  /** The Faker function at a dotted path (present when the template uses Faker). */
  fakerFn(path: string): () => unknown;
}

export type Generator = (rt: GeneratorRuntime) => unknown;

export type CompiledGenerator = { generator: Generator; fakerPath?: string } | { error: string };

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
  seed?: number | undefined;
  now?: () => number;
}

/** Split `int 1 "a b" c` into words; quotes group words. */
export function splitArgs(source: string): string[] | { error: string } {
  const out: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+))/gy;
  let m: RegExpExecArray | null;
  let rest = source;
  re.lastIndex = 0;
  // biome-ignore lint/suspicious/noAssignInExpressions: the classic exec loop
  while ((m = re.exec(source)) !== null) {
    if (m[1] !== undefined) out.push(m[1].replace(/\\(.)/g, "$1"));
    else if (m[2] !== undefined) out.push(m[2]);
    else if (m[3] !== undefined) {
      if (/["']/.test(m[3])) return { error: `unbalanced quote in ${JSON.stringify(m[3])}` };
      out.push(m[3]);
    }
    rest = source.slice(re.lastIndex);
  }
  if (rest.trim() !== "") return { error: `unbalanced quote in ${JSON.stringify(rest.trim())}` };
  return out;
}

const NUMBER = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;
const INTEGER = /^-?\d+$/;

export function compileGenerator(source: string, options: CompileOptions): CompiledGenerator {
  const words = splitArgs(source.trim());
  if (!Array.isArray(words)) return words;
  const [name, ...args] = words;
  if (name === undefined)
    return { error: `empty placeholder; known generators: ${GENERATORS.join(", ")}` };
  const now = options.now ?? Date.now;
  const argCount = (min: number, max: number, usage: string): string | undefined =>
    args.length < min || args.length > max ? `${name} takes ${usage}` : undefined;
  switch (name) {
    case "seq": {
      const bad = argCount(0, 1, "an optional start number, like {{seq 100}}");
      if (bad) return { error: bad };
      const start = args[0] === undefined ? 1 : Number(args[0]);
      if (args[0] !== undefined && !INTEGER.test(args[0]))
        return { error: `seq expects a whole start number, got ${JSON.stringify(args[0])}` };
      return { generator: (rt) => start + rt.index };
    }
    case "uuid": {
      const bad = argCount(0, 0, "no arguments");
      if (bad) return { error: bad };
      if (options.seed === undefined) return { generator: () => randomUUID() };
      return { generator: (rt) => seededUuid(rt) };
    }
    case "now": {
      const bad = argCount(0, 1, "an optional format: iso (default), ms or s");
      if (bad) return { error: bad };
      const format = args[0] ?? "iso";
      if (format === "iso") return { generator: () => new Date(now()).toISOString() };
      if (format === "ms") return { generator: () => now() };
      if (format === "s") return { generator: () => Math.floor(now() / 1000) };
      return { error: `now expects iso, ms or s, got ${JSON.stringify(format)}` };
    }
    case "int": {
      const bad = argCount(2, 2, "two whole numbers, like {{int 1 6}}");
      if (bad) return { error: bad };
      const [a, b] = args as [string, string];
      if (!INTEGER.test(a) || !INTEGER.test(b))
        return {
          error: `int expects two whole numbers, got ${JSON.stringify(a)} and ${JSON.stringify(b)}`,
        };
      const min = Number(a);
      const max = Number(b);
      if (min > max) return { error: `int expects MIN ≤ MAX, got ${min} > ${max}` };
      const span = max - min + 1;
      return { generator: (rt) => min + Math.floor(rt.random() * span) };
    }
    case "float": {
      const bad = argCount(2, 3, "MIN MAX and optional decimals, like {{float 0 1 3}}");
      if (bad) return { error: bad };
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
      return { generator: (rt) => Math.round((min + rt.random() * (max - min)) * factor) / factor };
    }
    case "pick": {
      if (args.length === 0)
        return { error: 'pick takes one or more items, like {{pick eu us "south america"}}' };
      const items = args.map((a) => (NUMBER.test(a) ? Number(a) : a));
      return { generator: (rt) => items[Math.floor(rt.random() * items.length)] };
    }
    case "bool": {
      const bad = argCount(0, 1, "an optional probability from 0 to 1, like {{bool 0.2}}");
      if (bad) return { error: bad };
      const p = args[0] === undefined ? 0.5 : Number(args[0]);
      if (!(p >= 0 && p <= 1) || (args[0] !== undefined && !NUMBER.test(args[0]))) {
        return { error: `bool expects a probability from 0 to 1, got ${JSON.stringify(args[0])}` };
      }
      return { generator: (rt) => rt.random() < p };
    }
    case "faker": {
      const bad = argCount(1, 1, "one path, like {{faker person.fullName}}");
      if (bad) return { error: bad };
      const path = args[0] as string;
      if (!/^[A-Za-z]\w*(\.[A-Za-z]\w*)+$/.test(path))
        return { error: `faker expects a path like person.fullName, got ${JSON.stringify(path)}` };
      let fn: (() => unknown) | undefined;
      const generator: Generator = (rt) => {
        fn ??= rt.fakerFn(path);
        return fn();
      };
      return { generator, fakerPath: path };
    }
    case "env": {
      const bad = argCount(1, 2, "a variable name and an optional default, like {{env REGION eu}}");
      if (bad) return { error: bad };
      const [variable, fallback] = args as [string, string | undefined];
      const value = options.env[variable] ?? fallback;
      if (value === undefined)
        return {
          error: `environment variable ${variable} is not set (give a default: {{env ${variable} value}})`,
        };
      return { generator: () => value };
    }
    default:
      return { error: `unknown generator "${name}"; known generators: ${GENERATORS.join(", ")}` };
  }
}

function seededUuid(rt: GeneratorRuntime): string {
  let hex = "";
  for (let i = 0; i < 4; i++)
    hex += Math.floor(rt.random() * 0x1_0000_0000)
      .toString(16)
      .padStart(8, "0");
  const variant = ((Number.parseInt(hex[16] ?? "0", 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** mulberry32: small, fast, good enough for test data; not for secrets. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Load Faker (only when a template uses it) and check its paths. Returns the unknown ones. */
export async function loadFaker(seed: number | undefined, templateName: string): Promise<Faker> {
  const { Faker, en, base } = await import("@faker-js/faker");
  const faker = new Faker({ locale: [en, base] });
  if (seed !== undefined) faker.seed(hash(`${seed}:${templateName}:faker`));
  return faker;
}

export function fakerFunction(faker: Faker, path: string): (() => unknown) | undefined {
  const parts = path.split(".");
  let owner: unknown;
  let cur: unknown = faker;
  for (const part of parts) {
    if (cur === null || typeof cur !== "object" || part.startsWith("_")) return undefined;
    owner = cur;
    cur = (cur as Record<string, unknown>)[part];
  }
  if (typeof cur !== "function") return undefined;
  const fn = cur as (this: unknown) => unknown;
  return () => fn.call(owner);
}

export function createRuntime(
  templateName: string,
  seed: number | undefined,
  faker: Faker | undefined,
): GeneratorRuntime {
  const random = seed === undefined ? Math.random : mulberry32(hash(`${seed}:${templateName}`));
  return {
    index: -1,
    next() {
      this.index += 1;
    },
    random,
    fakerFn(path) {
      const fn = faker ? fakerFunction(faker, path) : undefined;
      if (!fn) throw new Error(`faker path ${path} was not checked at compile time`);
      return fn;
    },
  };
}

/**
 * Message contracts: a JSON Schema on a template or a consumer profile (`schema:`), as a
 * file next to the config or inline. Each schema is compiled once (Ajv 8 with formats) and
 * cached by file; a body is checked as JSON, and what is wrong comes back as a list of
 * `{ path: "/total", message: "must be >= 0" }` with a one-line summary.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import type { Ajv, AnySchema, ErrorObject, ValidateFunction } from "ajv";
import type { Config } from "./schema.js";

/** A schema as the config gives it: a path (relative to the config file) or the schema itself. */
export type SchemaSpec = string | Record<string, unknown>;

/** One thing a body does wrong: a JSON Pointer into the body and what is wrong there. */
export interface Violation {
  path: string;
  message: string;
}

export interface Contract {
  /** Where the schema came from: its file as given, or "inline schema". */
  readonly source: string;
  /** The violations of a body; empty when it conforms. */
  check(body: Buffer | string): Violation[];
  /** The violations of a value already parsed. */
  checkValue(value: unknown): Violation[];
}

/** Why a schema cannot be used: not found, not JSON, or not a valid JSON Schema. */
export class ContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContractError";
  }
}

/**
 * Ajv and its formats are CommonJS, and loaded only when a schema is compiled: a run (or a
 * playground) without contracts does not pay for them.
 */
const require = createRequire(import.meta.url);
type AjvClass = new (options: Record<string, unknown>) => Ajv;
const ENGINE_MODULES = { "07": "ajv", "2019": "ajv/dist/2019.js", "2020": "ajv/dist/2020.js" };
const engines = new Map<string, Ajv>();

/** One Ajv per JSON Schema dialect; draft-07 (and 06, 04-compatible schemas) by default. */
function engineFor(schema: unknown): Ajv {
  const dialect =
    schema !== null && typeof schema === "object"
      ? String((schema as Record<string, unknown>)["$schema"] ?? "")
      : "";
  const key = dialect.includes("2020-12") ? "2020" : dialect.includes("2019-09") ? "2019" : "07";
  let ajv = engines.get(key);
  if (!ajv) {
    const loaded = require(ENGINE_MODULES[key]) as { default: AjvClass };
    ajv = new loaded.default({ allErrors: true, strict: false, addUsedSchema: false });
    const formats = require("ajv-formats") as { default: (ajv: Ajv) => Ajv };
    formats.default(ajv);
    engines.set(key, ajv);
  }
  return ajv;
}

/** Compile a schema object; throws ContractError saying what is wrong with it. */
export function compileContract(schema: unknown, source = "inline schema"): Contract {
  if (typeof schema === "boolean") return contractOf(engineFor({}).compile(schema), source);
  if (schema === null || typeof schema !== "object" || Array.isArray(schema))
    throw new ContractError(`${source}: a JSON Schema is an object (or true/false)`);
  const ajv = engineFor(schema);
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema as AnySchema);
  } catch (err) {
    throw new ContractError(`${source} is not a valid JSON Schema: ${schemaProblem(err)}`);
  }
  return contractOf(validate, source);
}

function schemaProblem(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // "schema is invalid: data/properties/total/type must be equal to one of the allowed values, …"
  const first = (text.split("\n")[0] ?? text).replace(/^schema is invalid: /, "");
  return first.length > 200 ? `${first.slice(0, 200)}…` : first;
}

function contractOf(validate: ValidateFunction, source: string): Contract {
  const checkValue = (value: unknown): Violation[] =>
    validate(value) ? [] : violationsOf(validate.errors ?? []);
  return {
    source,
    checkValue,
    check(body) {
      const text = typeof body === "string" ? body : body.toString("utf8");
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return [{ path: "/", message: "not JSON" }];
      }
      return checkValue(value);
    },
  };
}

/** Ajv's errors in a person's words: the path of the field itself for missing and extra ones. */
function violationsOf(errors: readonly ErrorObject[]): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const params = e.params as Record<string, unknown>;
    let path = e.instancePath;
    let message = e.message ?? "is invalid";
    if (e.keyword === "required" && typeof params["missingProperty"] === "string") {
      path = `${path}/${escapePointer(params["missingProperty"])}`;
      message = "is required";
    } else if (
      e.keyword === "additionalProperties" &&
      typeof params["additionalProperty"] === "string"
    ) {
      path = `${path}/${escapePointer(params["additionalProperty"])}`;
      message = "is not allowed (no such property in the schema)";
    } else if (e.keyword === "enum" && Array.isArray(params["allowedValues"])) {
      message = `must be one of ${(params["allowedValues"] as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    }
    const v = { path: path === "" ? "/" : path, message };
    const key = `${v.path}\u0000${v.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(v);
  }
  return out;
}

function escapePointer(s: string): string {
  return s.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** `/total must be >= 0; /id is required` — at most `max` of them, then how many more. */
export function summarize(violations: readonly Violation[], max = 3): string {
  const shown = violations.slice(0, max).map((v) => `${v.path} ${v.message}`);
  const more = violations.length - shown.length;
  return more > 0 ? `${shown.join("; ")} (and ${more} more)` : shown.join("; ");
}

const byFile = new Map<string, Contract>();
const byObject = new WeakMap<object, Contract>();
/** The contract of each loaded template and consumer profile, found by the object itself. */
const byOwner = new WeakMap<object, Contract>();

/**
 * The contract of a loaded template or consumer profile (checked and compiled when the config
 * was loaded); for one built elsewhere, its `schema:` compiled now, relative to `base`.
 */
export function contractOfOwner(
  owner: { schema?: SchemaSpec | undefined },
  base: string,
): Contract | undefined {
  if (owner.schema === undefined) return undefined;
  return byOwner.get(owner) ?? contractFor(owner.schema, base);
}

/** The directory a config's relative schema paths start from. */
export function contractBase(cwd: string, configFile: string | undefined): string {
  return configFile === undefined ? cwd : dirname(resolve(cwd, configFile));
}

/**
 * The contract of a `schema:` value (or a `--schema` file): compiled once, then cached by
 * its absolute path (or by the inline object). Throws ContractError when unusable.
 */
export function contractFor(spec: SchemaSpec, base: string): Contract {
  if (typeof spec !== "string") {
    const known = byObject.get(spec);
    if (known) return known;
    const made = compileContract(spec);
    byObject.set(spec, made);
    return made;
  }
  const file = resolve(base, spec);
  const known = byFile.get(file);
  if (known) return known;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ContractError(
      code === "ENOENT"
        ? `schema file ${spec} not found`
        : code === "EISDIR"
          ? `schema file ${spec} is a directory`
          : `cannot read schema file ${spec} (${code ?? String(err)})`,
    );
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text.startsWith("\uFEFF") ? text.slice(1) : text);
  } catch (err) {
    throw new ContractError(
      `schema file ${spec} is not JSON (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  const made = compileContract(schema, spec);
  byFile.set(file, made);
  return made;
}

/** Where a config holds a schema: its dotted path in the document, and the value. */
export function configContracts(
  config: Pick<Config, "templates" | "consumers">,
): Array<{ path: [string, string, "schema"]; spec: SchemaSpec; owner: object }> {
  const out: Array<{ path: [string, string, "schema"]; spec: SchemaSpec; owner: object }> = [];
  for (const [name, t] of Object.entries(config.templates))
    if (t.schema !== undefined)
      out.push({ path: ["templates", name, "schema"], spec: t.schema, owner: t });
  for (const [name, c] of Object.entries(config.consumers))
    if (c.schema !== undefined)
      out.push({ path: ["consumers", name, "schema"], spec: c.schema, owner: c });
  return out;
}

/** Every `schema:` of a config that cannot be used, with its path; compiles (and caches) the rest. */
export function contractIssues(
  config: Pick<Config, "templates" | "consumers">,
  base: string,
): Array<{ path: Array<string | number>; message: string }> {
  const issues: Array<{ path: Array<string | number>; message: string }> = [];
  for (const { path, spec, owner } of configContracts(config)) {
    try {
      byOwner.set(owner, contractFor(spec, base));
    } catch (err) {
      if (!(err instanceof ContractError)) throw err;
      issues.push({ path, message: err.message });
    }
  }
  return issues;
}

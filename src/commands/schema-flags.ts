/**
 * Flags that fill a config object (a consumer profile, a queue, a binding) are checked by the
 * config's own zod schema, so each rule (a range, a duration, a field that needs another) is
 * written once and reads the same from a file and from the command line. This module maps
 * the schema's problems back to the flags a person typed. Not a command.
 */
import type { z } from "zod";
import type { FieldNamer } from "../config/schema.js";
import { UsageError } from "../errors.js";

type SchemaModule = typeof import("../config/schema.js");
let loaded: Promise<SchemaModule> | undefined;

/**
 * The config schema, loaded the first time a command checks its flags with it: `--help`
 * and commander's own parsing never load zod. The one lazy import below the command list.
 */
export function configSchemas(): Promise<SchemaModule> {
  loaded ??= import("../config/schema.js");
  return loaded;
}

/**
 * The flags that fill one config object, by field path: `"failures.rate": "--fail-rate"`.
 * A key with a value, `"ack=false": "--no-ack"`, names the flag that sets that value.
 */
export type FlagNames = Readonly<Record<string, string>>;

/**
 * `input` (built from the flags) through `schema`: its output, or one usage error that lists
 * every problem. A value's problem names its flag (`--fail-rate: expected a fraction from 0
 * to 1, got 2`); a rule across fields is said in flags (`--on-failure retry needs
 * --retry-delays`).
 */
export async function checkFlags<S extends z.ZodType>(
  pick: (schemas: SchemaModule) => S,
  input: z.input<S>,
  names: FlagNames,
): Promise<z.output<S>> {
  const schemas = await configSchemas();
  const result = pick(schemas).safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const rule = schemas.ruleMessageOf(issue);
    return rule ? rule(flagNamer(names)) : `${flagAt(names, issue.path)}: ${expectation(issue)}`;
  });
  throw new UsageError([...new Set(problems)].join("; "));
}

/** Rules name flags: `--reject` for policy reject, `--on-failure retry` for onFailure retry. */
export function flagNamer(names: FlagNames): FieldNamer {
  return (key, value) => {
    const exact = value === undefined ? undefined : names[`${key}=${String(value)}`];
    if (exact !== undefined) return exact;
    const flag = names[key] ?? key;
    return value === undefined || value === true ? flag : `${flag} ${String(value)}`;
  };
}

/** The flag behind a field path: the longest prefix the table knows (`retry.delays.1` → `--retry-delays`). */
function flagAt(names: FlagNames, path: readonly PropertyKey[]): string {
  const segments = path.map(String);
  for (let n = segments.length; n > 0; n--) {
    const flag = names[segments.slice(0, n).join(".")];
    if (flag !== undefined) return flag;
  }
  return segments.join(".");
}

/** What was expected, and what was given when the message does not say it already. */
function expectation(issue: z.core.$ZodIssue): string {
  const { message } = issue;
  if (!message.startsWith("expected") || message.includes(", got ") || !("input" in issue))
    return message;
  const input: unknown = issue.input;
  return `${message}, got ${typeof input === "number" ? String(input) : JSON.stringify(input)}`;
}

/** Names given on the command line, checked by the config's name rules: `[flag, kind, name]`. */
export async function checkNames(
  names: ReadonlyArray<
    readonly [flag: string, kind: "exchange" | "queue" | "template", name: string]
  >,
): Promise<void> {
  if (names.length === 0) return;
  const { nameIssue } = await configSchemas();
  const problems = names.flatMap(([flag, kind, name]) => {
    const issue = nameIssue(kind, name);
    return issue === true ? [] : [`${flag} ${JSON.stringify(name)}: ${issue}`];
  });
  if (problems.length > 0) throw new UsageError(problems.join("; "));
}

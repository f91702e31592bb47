/**
 * Message contracts at the commands' edge: which schema `produce --validate` and
 * `consume --validate` check against, a tally of the messages that broke it (with the first
 * few as examples), and how the tally is printed. The checking itself is config/contracts.ts.
 */
import {
  type Contract,
  ContractError,
  contractBase,
  contractFor,
  type SchemaSpec,
  summarize,
  type Violation,
} from "../../config/contracts.js";
import type { Context } from "../../context.js";
import { EventlabError, ExitCode, UsageError } from "../../errors.js";
import { count } from "../../ui/format.js";

/** How many bad messages are shown with their violations. */
export const EXAMPLES_SHOWN = 5;

export interface ViolationExample {
  /** The template (produce) or consumer (consume) the message belongs to. */
  source: string;
  messageId: string | undefined;
  errors: Violation[];
}

/** Messages that broke a contract: how many, per source, and the first few. */
export class ViolationTally {
  total = 0;
  readonly bySource = new Map<string, number>();
  readonly examples: ViolationExample[] = [];

  add(source: string, messageId: string | undefined, errors: Violation[]): void {
    this.total += 1;
    this.bySource.set(source, (this.bySource.get(source) ?? 0) + 1);
    if (this.examples.length < EXAMPLES_SHOWN) this.examples.push({ source, messageId, errors });
  }
}

/** Load (once) the contract a `schema:` or a `--schema` file names; a bad one is the user's to fix. */
export async function loadContract(
  ctx: Context,
  spec: SchemaSpec,
  from: { flag: string } | { config: string },
): Promise<Contract> {
  const loaded = "flag" in from ? undefined : await ctx.loadConfig();
  const base = "flag" in from ? ctx.cwd : contractBase(ctx.cwd, loaded?.file);
  try {
    return contractFor(spec, base);
  } catch (err) {
    if (!(err instanceof ContractError)) throw err;
    const e = err;
    throw "flag" in from
      ? new UsageError(
          `${from.flag}: ${e.message}`,
          "give the path of a JSON Schema file (relative to the current directory)",
        )
      : new EventlabError("config", `${from.config}: ${e.message}`, {
          hint: "a schema: is a JSON Schema file (relative to the config file) or an inline mapping",
        });
  }
}

/**
 * The contract of each template for `produce --validate`: `--schema FILE` for all of them,
 * else each template's own `schema:`. A template without one is a usage error naming it.
 */
export async function produceContracts(
  ctx: Context,
  templates: readonly string[],
  schemaFlag: string | undefined,
): Promise<Map<string, Contract>> {
  const out = new Map<string, Contract>();
  if (schemaFlag !== undefined) {
    const contract = await loadContract(ctx, schemaFlag, { flag: "--schema" });
    for (const name of templates) out.set(name, contract);
    return out;
  }
  const named = templates.filter((n) => n !== FLAGS_TEMPLATE);
  if (named.length < templates.length) {
    throw new UsageError(
      "--validate needs a schema: give --schema FILE for a message made of flags",
      "for example: eventlab produce --exchange '' --key orders --body-file order.json --validate --schema order.schema.json",
    );
  }
  const { config, file } = await ctx.loadConfig();
  const missing = named.filter((n) => config.templates[n]?.schema === undefined);
  if (missing.length > 0) {
    throw new UsageError(
      `--validate: template${missing.length === 1 ? "" : "s"} ${missing.map((n) => `"${n}"`).join(", ")} ${missing.length === 1 ? "has" : "have"} no schema`,
      `add schema: <file.json> under templates.${missing[0]}${file ? ` in ${file}` : ""}, or give --schema FILE`,
    );
  }
  for (const name of named) {
    const spec = config.templates[name]?.schema as SchemaSpec;
    out.set(name, await loadContract(ctx, spec, { config: `templates.${name}.schema` }));
  }
  return out;
}

/** The name run/produce.ts gives the template made of flags alone. */
export const FLAGS_TEMPLATE = "(flags)";

/** The bad messages after a run, on stderr: the count, then the first few with their ids. */
export function printViolations(
  ctx: Context,
  tally: ViolationTally,
  what: { verb: string; per: string },
): void {
  if (tally.total === 0) return;
  const { io, theme } = ctx;
  const per = [...tally.bySource].map(([name, n]) => `${name} ${count(n)}`).join(", ");
  io.err(
    theme.error(
      `✗ ${count(tally.total)} message${tally.total === 1 ? "" : "s"} broke the contract${tally.total === 1 ? "" : "s"} and ${tally.total === 1 ? "was" : "were"} ${what.verb} (${what.per}: ${per})`,
    ),
  );
  for (const e of tally.examples) io.err(`  ${exampleLine(e)}`);
  if (tally.total > tally.examples.length)
    io.err(theme.dim(`  … and ${count(tally.total - tally.examples.length)} more`));
}

/** `o-17 (order-created): /total must be >= 0; /id is required` */
export function exampleLine(e: ViolationExample): string {
  return `${e.messageId ?? "(no message id)"} (${e.source}): ${summarize(e.errors)}`;
}

/** `produce --validate`: the check PublishRun runs on each rendered message, and its tally. */
export async function produceValidation(
  ctx: Context,
  o: { validate?: boolean | undefined; schema?: string | undefined },
  templates: readonly string[],
): Promise<
  | {
      tally: ViolationTally;
      accept: (template: string, message: { content: Buffer }, id: string) => boolean;
    }
  | undefined
> {
  if (!o.validate) return undefined;
  const contracts = await produceContracts(ctx, templates, o.schema);
  const tally = new ViolationTally();
  return {
    tally,
    accept: (template, message, id) => {
      const errors = contracts.get(template)?.check(message.content) ?? [];
      if (errors.length === 0) return true;
      tally.add(template, id, errors);
      return false;
    },
  };
}

/** The summary's validation fields: how many were refused, and the first few. */
export function violationFields(tally: ViolationTally): {
  invalid: number;
  violations: Array<{ template: string; messageId: string | undefined; errors: Violation[] }>;
} {
  return {
    invalid: tally.total,
    violations: tally.examples.map((e) => ({
      template: e.source,
      messageId: e.messageId,
      errors: e.errors,
    })),
  };
}

/** `consume --validate`: the check of each printed message, and what the run ends with. */
export interface ConsumeValidation {
  readonly tally: ViolationTally;
  /** Check message `n`; a bad one gets a stderr line, and with --json a `violations` field. */
  check(
    n: number,
    message: { body: Buffer; properties: Record<string, unknown> },
    line: string,
    json: boolean,
  ): string;
  /** After the run: the count and examples on stderr, and exit code 1 when any was bad. */
  conclude(): void;
}

export async function consumeValidation(
  ctx: Context,
  o: {
    queue?: string | undefined;
    exchange?: string | undefined;
    validate?: boolean | undefined;
    schema?: string | undefined;
  },
): Promise<ConsumeValidation | undefined> {
  if (!o.validate) return undefined;
  const source = o.queue ?? `exchange ${o.exchange ?? ""}`;
  let contract: Contract;
  if (o.schema !== undefined) {
    contract = await loadContract(ctx, o.schema, { flag: "--schema" });
  } else {
    const { config, file } = await ctx.loadConfig();
    const profile = o.queue === undefined ? undefined : config.consumers[o.queue];
    if (profile?.schema === undefined) {
      throw new UsageError(
        profile
          ? `--validate: consumer "${o.queue}" has no schema`
          : `--validate needs a schema: ${o.queue === undefined ? "a tap" : `"${o.queue}"`} is not a consumer profile with one`,
        profile
          ? `add schema: <file.json> under consumers.${o.queue}${file ? ` in ${file}` : ""}, or give --schema FILE`
          : "give --schema FILE, or name a consumer profile (consumers: in the config) that has a schema:",
      );
    }
    contract = await loadContract(ctx, profile.schema, { config: `consumers.${o.queue}.schema` });
  }
  const tally = new ViolationTally();
  const { io, theme } = ctx;
  return {
    tally,
    check(n, message, line, json) {
      const errors = contract.check(message.body);
      if (errors.length === 0) return line;
      const id = message.properties["messageId"];
      const messageId = typeof id === "string" ? id : undefined;
      tally.add(source, messageId, errors);
      io.err(
        theme.error(
          `✗ #${n} ${messageId ?? "(no message id)"} breaks ${contract.source}: ${summarize(errors)}`,
        ),
      );
      if (!json || !line.endsWith("}\n")) return line;
      return `${line.slice(0, -2)},"violations":${JSON.stringify(errors)}}\n`;
    },
    conclude() {
      if (tally.total === 0) return;
      printViolations(ctx, tally, { verb: "handled as usual", per: "per consumer" });
      if (ctx.exitCode === undefined) ctx.setExitCode(ExitCode.failure);
    },
  };
}

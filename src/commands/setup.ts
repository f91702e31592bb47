/**
 * `eventlab setup`: write eventlab.config.yaml by answering a few questions — the broker,
 * an exchange, its queues and bindings, message templates — then try it out. Every
 * question has a flag; without a terminal, missing answers are a usage error naming them.
 * This file is the command's definition (flags, help, argv → options); the questions and
 * the writing are in run/setup.ts, loaded lazily, and the file's text in config/setup-yaml.ts.
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import {
  DEFAULT_CONFIG_FILE,
  type ExchangeType,
  exchangeTypes,
  type HeadersMatch,
  headersMatchModes,
} from "../config/constants.js";
import { GENERATORS, type QueueAnswer, type TemplateFlag } from "../config/setup-answers.js";
import type { Context } from "../context.js";
import {
  configFileArg,
  configFileTarget,
  durationArg,
  intArg,
  type Run,
  typedValue,
} from "./options.js";
import { checkNames } from "./schema-flags.js";

/** What the flags answered; undefined where they did not. */
export interface SetupFlags {
  broker?: string | undefined;
  exchange?: string | undefined;
  type?: ExchangeType | undefined;
  match?: HeadersMatch | undefined;
  queues?: QueueAnswer[] | undefined;
  /** Template names, each optionally with its own routing key (name=key). */
  templates?: TemplateFlag[] | undefined;
  routingKey?: string | undefined;
  fields?: Array<[string, string]> | undefined;
  amount?: number | undefined;
  delayMs?: number | undefined;
}

export interface SetupOptions {
  flags: SetupFlags;
  file: string;
  yes: boolean;
  /** Try the result (apply, produce, consume): undefined asks. */
  tryIt: boolean | undefined;
  json: boolean;
}

/** `--queue name`, `--queue name=binding-key` or, for headers, `--queue name=k:v,k:v`. */
export function queueArg(raw: string, previous: QueueAnswer[] = []): QueueAnswer[] {
  const at = raw.indexOf("=");
  const name = at < 0 ? raw : raw.slice(0, at);
  if (at < 0) return [...previous, { name }];
  const spec = raw.slice(at + 1);
  if (!/^[^:,]+:/.test(spec)) return [...previous, { name, key: spec }];
  const headers: Record<string, unknown> = {};
  for (const pair of spec.split(",")) {
    const colon = pair.indexOf(":");
    if (colon <= 0)
      throw new InvalidArgumentError("Expected name=k:v,k:v header pairs, e.g. eu=region:eu.");
    headers[pair.slice(0, colon)] = typedValue(pair.slice(colon + 1));
  }
  return [...previous, { name, headers }];
}

/** `--template name` or `--template name=routing-key`; each name once. */
export function templateArg(raw: string, previous: TemplateFlag[] = []): TemplateFlag[] {
  const at = raw.indexOf("=");
  const name = at < 0 ? raw : raw.slice(0, at);
  if (previous.some((t) => t.name === name))
    throw new InvalidArgumentError(`Expected each template once; ${name} is given twice.`);
  return [...previous, at < 0 ? { name } : { name, routingKey: raw.slice(at + 1) }];
}

/** `--field name=generator`, e.g. `id=uuid`, `who=name`. */
export function fieldArg(
  raw: string,
  previous: Array<[string, string]> = [],
): Array<[string, string]> {
  const at = raw.indexOf("=");
  const gen = raw.slice(at + 1);
  if (at <= 0 || !Object.hasOwn(GENERATORS, gen)) {
    throw new InvalidArgumentError(
      `Expected name=generator, e.g. id=uuid; generators: ${Object.keys(GENERATORS).join(", ")}.`,
    );
  }
  return [...previous, [raw.slice(0, at), gen]];
}

const HELP = `
On a terminal, setup asks for what the flags leave open. Without one, give the flags (or
--yes for the defaults). An existing file is shown as a diff and replaced only when you
agree (or with --yes).

Examples:
  $ eventlab setup
  $ eventlab setup --yes --no-try
  $ eventlab setup --broker embedded --exchange orders --type topic \\
      --queue 'inventory=order.created.*' --queue 'audit=#' \\
      --template order-created --routing-key 'order.created.{{pick eu us}}' \\
      --field id=uuid --field qty=int --amount 20 --delay 100ms --yes
  $ eventlab setup --exchange alerts --type headers --match all \\
      --queue 'eu-high=region:eu,priority:high' --yes`;

export function setupCommand(ctx: Context, run: Run<SetupOptions>) {
  return new Command("setup")
    .description("answer a few questions (or give flags) to write eventlab.config.yaml")
    .option("--broker <embedded|url>", "the embedded broker (`eventlab broker`) or an amqp:// URL")
    .option("--exchange <name>", "the exchange to publish to")
    .addOption(new Option("--type <type>", "exchange type").choices(exchangeTypes))
    .option(
      "--queue <name[=binding]>",
      "a queue and its binding key, or k:v,k:v header pairs for headers (repeatable)",
      queueArg,
    )
    .addOption(
      new Option("--match <mode>", "x-match for headers bindings").choices(headersMatchModes),
    )
    .option(
      "--template <name[=routing-key]>",
      "a message template, with its routing key (repeatable)",
      templateArg,
    )
    .option("--routing-key <key>", "routing key of templates given without one")
    .option(
      "--field <name=generator>",
      `a body field and its generator (repeatable): ${Object.keys(GENERATORS).join(", ")}`,
      fieldArg,
    )
    .option("-n, --amount <n>", "messages per run of each template", intArg(0))
    .option("-d, --delay <duration>", "pause between messages, e.g. 100ms", durationArg)
    .option(
      "-f, --file <path>",
      `where to write (default: ${DEFAULT_CONFIG_FILE}, or --config)`,
      configFileArg,
    )
    .option("-y, --yes", "accept the defaults for everything not given, and overwrite", false)
    .option("--try", "then apply the topology and run a short produce and consume")
    .option("--no-try", "do not offer to try it")
    .option("--json", "print {file, config, tried} as JSON instead of the summary", false)
    .addHelpText("after", HELP)
    .action(async (flags) => {
      const file = configFileTarget(flags.file, ctx);
      await checkNames([
        ...(flags.exchange !== undefined
          ? [["--exchange", "exchange", flags.exchange] as const]
          : []),
        ...(flags.queue ?? []).map((q) => ["--queue", "queue", q.name] as const),
        ...(flags.template ?? []).map((t) => ["--template", "template", t.name] as const),
      ]);
      await run(ctx, {
        flags: {
          broker: flags.broker,
          exchange: flags.exchange,
          type: flags.type,
          match: flags.match,
          queues: flags.queue,
          templates: flags.template,
          routingKey: flags.routingKey,
          fields: flags.field,
          amount: flags.amount,
          delayMs: flags.delay,
        },
        file,
        yes: flags.yes,
        tryIt: flags.try,
        json: flags.json,
      });
    });
}

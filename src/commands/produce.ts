/**
 * `eventlab produce [template...]`: publish messages from templates (or from flags),
 * with publisher confirms and mandatory returns on by default. This file is the command's
 * definition (flags, help, argv → options); the work is in run/produce.ts, loaded lazily.
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import type { Reconnect } from "../client/reconnect.js";
import type { PropertiesConfig } from "../config/schema.js";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import {
  durationArg,
  intArg,
  keyValueArg,
  positiveNumberArg,
  RECONNECT_HELP,
  type ReconnectChoice,
  type Run,
  reconnectArg,
  reconnectChoice,
  typedValue,
} from "./options.js";
import { checkFlags, configSchemas } from "./schema-flags.js";

export type BodySource =
  | { kind: "text"; text: string }
  | { kind: "file"; path: string }
  | { kind: "stdin" };

/** `--replay FILE`: publish a recording again; `speed` scales its spacing (Infinity: max). */
export interface ReplayOptions {
  file: string;
  speed: number;
}

/** `--speed 2x` → 2, `0.5x` → 0.5, `max` → Infinity. */
export function speedArg(raw: string): number {
  if (raw === "max") return Number.POSITIVE_INFINITY;
  const m = /^(\d+(?:\.\d+)?|\.\d+)x$/.exec(raw);
  const n = m ? Number(m[1]) : Number.NaN;
  if (!(n > 0) || !Number.isFinite(n))
    throw new InvalidArgumentError("Expected a factor like 1x, 2x or 0.5x, or max.");
  return n;
}

/** Flags that make or shape messages: a replay sends the recorded ones as they are. */
const NOT_WITH_REPLAY = [
  ["header", "--header"],
  ["property", "--property"],
  ["body", "--body"],
  ["bodyFile", "--body-file"],
  ["template", "--template"],
  ["amount", "--amount"],
  ["delay", "--delay"],
  ["rate", "--rate"],
  ["persistent", "--persistent"],
  ["seed", "--seed"],
  ["explain", "--explain"],
] as const;

export interface ProduceOptions {
  templates: string[];
  exchange?: string | undefined;
  routingKey?: string | undefined;
  headers: Record<string, unknown>;
  properties: Partial<PropertiesConfig>;
  body?: BodySource | undefined;
  /** Fill placeholders in a body read from a file or stdin (sent byte for byte otherwise). */
  template?: boolean | undefined;
  amount?: number | undefined;
  delayMs?: number | undefined;
  rate?: number | undefined;
  persistent?: boolean | undefined;
  confirm: boolean;
  mandatory: boolean;
  window: number;
  seed?: number | undefined;
  json: boolean;
  /** --replay FILE: publish a recording instead of templates. */
  replay?: ReplayOptions | undefined;
  /** How long to wait for outstanding confirms at the end (and after Ctrl-C). */
  settleTimeoutMs: number;
  /** Explain where each template's first message goes before publishing it. */
  explain: boolean;
  reconnect: ReconnectChoice;
  /** Check each message against its template's schema (or --schema) before publishing it. */
  validate?: boolean | undefined;
  /** --schema FILE: the JSON Schema to validate against. */
  schema?: string | undefined;
}

export interface TemplateSummary {
  name: string;
  exchange: string;
  published: number;
}

export interface ProduceSummary {
  templates: TemplateSummary[];
  /** Distinct messages published (each once, however often it was sent). */
  published: number;
  confirmed: number;
  nacked: number;
  returned: number;
  /** Sent again after a reconnect because their first confirm never came: possible duplicates. */
  republished: number;
  /** Given up on: the broker never answered for them; they may or may not have arrived. */
  unconfirmed: number;
  /** Times the broker blocked publishing (memory or disk alarm). */
  blocked: number;
  /**
   * Each reconnect: when, from which node to which, how long the connection was down, and
   * the time from the loss to the first confirm on the new connection.
   */
  reconnects: Array<Reconnect & { firstConfirmMs?: number }>;
  confirms: boolean;
  mandatory: boolean;
  /** From the first publish to the last confirm. */
  elapsedMs: number;
  /** Messages per second while publishing (first to last publish). */
  ratePerSecond: number;
  interrupted: boolean;
  /** Why publishing stopped early (the broker closed the channel, the connection was lost). */
  error?: string;
  /** With --validate: messages that broke their schema and were not published. */
  invalid?: number;
  /** With --validate: the first few of them, with their violations. */
  violations?: Array<{
    template: string;
    messageId: string | undefined;
    errors: Array<{ path: string; message: string }>;
  }>;
  /** Up to five distinct (exchange, routing key, reply) returns, each with its count. */
  returnedSamples: Array<{
    exchange: string;
    routingKey: string;
    replyCode: number;
    replyText: string;
    count: number;
  }>;
}

/** A repeatable `--property name=value`, as given; the config's schema checks it in the action. */
export function propertyArg(
  raw: string,
  previous: ReadonlyArray<readonly [string, string]> = [],
): Array<readonly [string, string]> {
  const i = raw.indexOf("=");
  if (i <= 0) throw new InvalidArgumentError("Expected name=value, e.g. messageId={{uuid}}.");
  return [...previous, [raw.slice(0, i), raw.slice(i + 1)]];
}

/** Properties whose values are typed (3 is a number, true a boolean); the others are text. */
const TYPED_PROPERTIES = new Set(["priority", "persistent", "timestamp"]);

/**
 * `--property` pairs as template properties, checked by the config's properties schema: the
 * names it knows (camelCase, kebab-case or snake_case) and the values it accepts.
 */
async function propertiesOf(
  pairs: ReadonlyArray<readonly [string, string]>,
): Promise<Partial<PropertiesConfig>> {
  if (pairs.length === 0) return {};
  const { propertiesSchema } = await configSchemas();
  const fields = Object.keys(propertiesSchema.shape);
  const normal = (name: string) => name.toLowerCase().replace(/[-_]/g, "");
  const byName = new Map(fields.map((f) => [normal(f), f]));
  const input: Record<string, unknown> = {};
  const names: Record<string, string> = {};
  for (const [name, value] of pairs) {
    const field = byName.get(normal(name));
    if (field === undefined) {
      throw new UsageError(
        `--property ${name}: not a message property`,
        `properties: ${fields.join(", ")}; for example --property messageId={{uuid}}`,
      );
    }
    input[field] = TYPED_PROPERTIES.has(field) ? typedValue(value) : value;
    names[field] = `--property ${field}`;
  }
  return checkFlags((m) => m.propertiesSchema, input, names);
}

export function produceCommand(ctx: Context, run: Run<ProduceOptions>) {
  return new Command("produce")
    .description("publish messages from templates in the config, or from flags")
    .argument("[template...]", "template names from the config's templates: section")
    .option("-e, --exchange <name>", "exchange to publish to ('' is the default exchange)")
    .option("-k, --key <routing-key>", "routing key (placeholders allowed)")
    .option(
      "-H, --header <key=value>",
      "header, repeatable; values are typed (5 is a number, '\"5\"' a string)",
      keyValueArg,
    )
    .option(
      "-p, --property <name=value>",
      "message property, repeatable (messageId, type, priority, expiration, …)",
      propertyArg,
    )
    .option(
      "-b, --body <text>",
      "body text or JSON, sent as written; {{placeholders}} are filled; '-' reads standard input",
    )
    .option("--body-file <path>", "send a file's bytes as the body, unchanged")
    .option("--template", "fill {{placeholders}} in --body-file or --body - as well")
    .option(
      "--replay <file>",
      "publish the messages of a recording (consume --save, or consume --json) again, byte for byte",
    )
    .option(
      "--speed <factor>",
      "with --replay: 1x keeps the recorded spacing (default), 2x halves it, max sends at once",
      speedArg,
    )
    .option("-n, --amount <n>", "how many messages per template", intArg(0))
    .option("-d, --delay <duration>", "pause between messages, e.g. 250ms or 1s", durationArg)
    .option("-r, --rate <msg/s>", "aim at this many messages per second", positiveNumberArg)
    .option("--persistent", "mark messages persistent (delivery mode 2)")
    .option("--no-confirm", "do not use publisher confirms")
    .option("--no-mandatory", "do not ask for unroutable messages back")
    .addOption(
      new Option("--confirm-window <n>", "unconfirmed messages in flight before publishing waits")
        .argParser(intArg(1, 1_000_000))
        .default(1000),
    )
    .option("--seed <n>", "make generated values repeatable", intArg(0, 2 ** 32 - 1))
    .addOption(
      new Option(
        "--settle-timeout <duration>",
        "how long to wait for outstanding confirms at the end",
      )
        .argParser(durationArg)
        .default(10_000, "10s"),
    )
    .option("--reconnect <attempts|forever>", RECONNECT_HELP.reconnect, reconnectArg)
    .option("--no-reconnect", RECONNECT_HELP.noReconnect)
    .option("--reconnect-timeout <duration>", RECONNECT_HELP.timeout, durationArg)
    .option("--json", "print the summary as one JSON object")
    .option(
      "--validate",
      "check each message against its template's schema: an invalid one is not published (exit 1)",
    )
    .option("--schema <file>", "the JSON Schema to validate against (implies --validate)")
    .option(
      "--explain",
      "first explain where each template's first message goes (as `eventlab route` does)",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab produce order-created                          # one template from the config
  $ eventlab produce order-created --explain --amount 1     # and why it lands where it does
  $ eventlab produce order-created --amount 1000 --rate 200
  $ eventlab produce match-goal match-card --amount 20 --delay 500ms --seed 7
  $ eventlab produce --exchange '' --key inventory --body '{"sku":"A-1","qty":{{int 1 5}}}' --amount 10
  $ echo 'hello' | eventlab produce --exchange amq.topic --key greetings.en --body -
  $ eventlab produce --exchange '' --key images --body-file photo.jpg   # bytes as they are
  $ eventlab produce --replay orders.ndjson --speed 2x      # a consume --save recording, twice as fast
  $ eventlab produce --replay orders.ndjson --exchange '' --key orders-copy --speed max
  $ eventlab produce order-created --amount 100 --validate  # check against its schema: first
  $ eventlab produce --exchange '' --key orders --body-file order.json --schema order.schema.json

Bodies go out byte for byte: a --body text without placeholders exactly as written, a file
or standard input exactly as read (with --template, placeholders in them are filled). The
content type is JSON, text/plain or application/octet-stream, from what the body holds,
unless --property contentType=… sets it.

--replay FILE publishes a recording (consume --save FILE, or the NDJSON of consume --json)
again, byte for byte: body, properties, and headers with their AMQP field types. --speed 1x
keeps the recorded spacing, 2x halves it, max sends as fast as confirms allow; --exchange
and --key redirect every message. The whole file is checked first: a bad line is an error
naming FILE:line, and then nothing is published.

Exit codes: 0 all confirmed, 1 error (or, with --validate, a message broke its schema),
2 interrupted, 3 some messages were nacked or returned`,
    )
    .action(async (templates, flags) => {
      if (flags.speed !== undefined && flags.replay === undefined)
        throw new UsageError("--speed goes with --replay");
      if (flags.replay !== undefined) {
        if (templates.length > 0)
          throw new UsageError(
            "give either template names or --replay, not both",
            "--replay publishes the recorded messages; --exchange and --key may redirect them",
          );
        const given = NOT_WITH_REPLAY.find(([k]) => flags[k] !== undefined);
        if (given)
          throw new UsageError(
            `--replay sends the recorded messages as they are: leave out ${given[1]}`,
            "--exchange and --key redirect them; --speed sets the pace",
          );
      }
      if (flags.body !== undefined && flags.bodyFile !== undefined)
        throw new UsageError("give either --body or --body-file, not both");
      if (flags.delay !== undefined && flags.rate !== undefined) {
        throw new UsageError(
          "give either --delay or --rate, not both",
          "--delay 10ms waits between messages; --rate 100 aims at 100 messages per second",
        );
      }
      if (flags.template && flags.bodyFile === undefined && flags.body !== "-") {
        throw new UsageError(
          "--template goes with --body-file or --body -",
          "a --body text is always a template: {{placeholders}} in it are filled, and \\{{ is a literal {{",
        );
      }
      await run(ctx, {
        templates,
        exchange: flags.exchange,
        routingKey: flags.key,
        headers: flags.header ?? {},
        properties: await propertiesOf(flags.property ?? []),
        body: bodySource(flags.body, flags.bodyFile),
        template: flags.template === true,
        amount: flags.amount,
        delayMs: flags.delay,
        rate: flags.rate,
        persistent: flags.persistent,
        confirm: flags.confirm,
        mandatory: flags.mandatory,
        window: flags.confirmWindow,
        seed: flags.seed,
        json: flags.json === true,
        replay:
          flags.replay === undefined ? undefined : { file: flags.replay, speed: flags.speed ?? 1 },
        settleTimeoutMs: flags.settleTimeout,
        explain: flags.explain === true,
        reconnect: reconnectChoice(flags),
        ...validation(flags),
      });
    });
}

function bodySource(body: string | undefined, file: string | undefined): BodySource | undefined {
  if (body === "-") return { kind: "stdin" };
  if (body !== undefined) return { kind: "text", text: body };
  if (file !== undefined) return { kind: "file", path: file };
  return undefined;
}

/** `--validate`, and `--schema FILE`, which implies it. */
function validation(flags: { validate?: boolean | undefined; schema?: string | undefined }) {
  return {
    validate: flags.validate === true || flags.schema !== undefined ? true : undefined,
    schema: flags.schema,
  };
}

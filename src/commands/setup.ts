/**
 * `eventlab setup`: write eventlab.config.yaml by answering a few questions — the broker,
 * an exchange, its queues and bindings, message templates — then try it out. Every
 * question has a flag; without a terminal, missing answers are a usage error naming them.
 * The file is written once, at the end, atomically: Ctrl-C leaves nothing behind.
 */
import { Command } from "commander";
import type { Context } from "../context.js";
import { EventlabError, InterruptedError, UsageError } from "../errors.js";
import type { Prompter } from "../ui/prompter.js";
import { choiceFlag, collect, durationFlag, intFlag, keyValueFlags, matchFlag } from "./options.js";

const TYPES = ["topic", "direct", "fanout", "headers"] as const;
type ExchangeType = (typeof TYPES)[number];
const MATCHES = ["all", "any", "all-with-x", "any-with-x"] as const;
type Match = (typeof MATCHES)[number];

export const TYPE_HELP: Record<ExchangeType, string> = {
  topic: "routing keys like order.created.eu; bindings use patterns: * one word, # any words",
  direct: "a queue gets the messages whose routing key equals its binding key",
  fanout: "every bound queue gets a copy of every message; routing keys are ignored",
  headers: "routes on message headers (region=eu, …), all or any of them, not on the key",
};

/** Generators a template field can use: id → [placeholder, what it gives]. */
export const GENERATORS: Record<string, [placeholder: string, help: string]> = {
  seq: ["{{seq}}", "a counter: 1, 2, 3, …"],
  uuid: ["{{uuid}}", "a random UUID"],
  now: ["{{now}}", "the time, ISO 8601"],
  int: ["{{int 1 100}}", "a whole number from 1 to 100"],
  float: ["{{float 0 100}}", "a number from 0 to 100, two decimals"],
  pick: ["{{pick red green blue}}", "one of a list"],
  bool: ["{{bool}}", "true or false"],
  name: ["{{faker person.fullName}}", "a person's name (Faker)"],
  email: ["{{faker internet.email}}", "an e-mail address (Faker)"],
  city: ["{{faker location.city}}", "a city (Faker)"],
  product: ["{{faker commerce.productName}}", "a product name (Faker)"],
};

export interface QueueAnswer {
  name: string;
  /** Binding key (direct, topic). */
  key?: string;
  /** Header pairs (headers). */
  headers?: Record<string, unknown>;
}

export interface TemplateAnswer {
  name: string;
  routingKey: string;
  headers: Record<string, unknown>;
  /** Body field → generator id. */
  fields: Array<[field: string, generator: string]>;
  amount: number;
  delayMs: number;
}

export interface SetupAnswers {
  /** "embedded", or an amqp URL. */
  broker: string;
  exchange: string;
  type: ExchangeType;
  match: Match;
  queues: QueueAnswer[];
  templates: TemplateAnswer[];
}

/** What the flags answered; undefined where they did not. */
export interface SetupFlags {
  broker?: string | undefined;
  exchange?: string | undefined;
  type?: ExchangeType | undefined;
  match?: Match | undefined;
  queues?: QueueAnswer[] | undefined;
  /** Template names, each optionally with its own routing key (name=key). */
  templates?: Array<{ name: string; routingKey?: string }> | undefined;
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

interface RawSetupFlags {
  broker?: string;
  exchange?: string;
  type?: string;
  match?: string;
  queue?: string[];
  template?: string[];
  routingKey?: string;
  field?: string[];
  amount?: string;
  delay?: string;
  file?: string;
  yes?: boolean;
  try?: boolean;
  json?: boolean;
}

function nameProblem(what: string, v: string): true | string {
  if (v.trim() === "") return `give the ${what} a name`;
  if (v.startsWith("amq.")) return `names starting with "amq." are reserved by the broker`;
  if (Buffer.byteLength(v) > 255) return "at most 255 bytes";
  return true;
}

function checkName(flag: string, what: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const ok = nameProblem(what, v);
  if (ok !== true) throw new UsageError(`${flag} ${JSON.stringify(v)}: ${ok}`);
  return v;
}

/** `--queue name`, `--queue name=binding-key` or, for headers, `--queue name=k:v,k:v`. */
export function parseQueueFlag(raw: string): QueueAnswer {
  const at = raw.indexOf("=");
  const name = at < 0 ? raw : raw.slice(0, at);
  checkName("--queue", "queue", name);
  if (at < 0) return { name };
  const spec = raw.slice(at + 1);
  if (/^[^:,]+:/.test(spec)) {
    const pairs = spec.split(",").map((p) => p.replace(":", "="));
    return { name, headers: keyValueFlags("--queue", pairs) };
  }
  return { name, key: spec };
}

/** `--field name=generator`, e.g. `id=uuid`, `who=name`. */
export function parseFieldFlag(raw: string): [string, string] {
  const at = raw.indexOf("=");
  const field = raw.slice(0, at);
  const gen = raw.slice(at + 1);
  if (at <= 0 || !(gen in GENERATORS)) {
    throw new UsageError(
      `--field expects name=generator, got ${JSON.stringify(raw)}`,
      `generators: ${Object.keys(GENERATORS).join(", ")}; for example --field id=uuid`,
    );
  }
  return [field, gen];
}

export function parseSetupArgs(f: RawSetupFlags, globalConfig?: string): SetupOptions {
  const type = choiceFlag("--type", f.type, TYPES);
  return {
    flags: {
      broker: f.broker,
      exchange: checkName("--exchange", "exchange", f.exchange),
      type,
      match: matchFlag(f.match),
      queues: f.queue?.map(parseQueueFlag),
      templates: f.template?.map((raw) => {
        const at = raw.indexOf("=");
        const name = checkName("--template", "template", at < 0 ? raw : raw.slice(0, at)) as string;
        return at < 0 ? { name } : { name, routingKey: raw.slice(at + 1) };
      }),
      routingKey: f.routingKey,
      fields: f.field?.map(parseFieldFlag),
      amount: intFlag("--amount", f.amount, 0),
      delayMs: durationFlag("--delay", f.delay),
    },
    file: f.file ?? globalConfig ?? "eventlab.config.yaml",
    yes: f.yes === true,
    tryIt: f.try,
    json: f.json === true,
  };
}

export function setupCommand(ctx: Context, run = runSetup): Command {
  return new Command("setup")
    .description("answer a few questions (or give flags) to write eventlab.config.yaml")
    .option("--broker <embedded|url>", "the embedded broker (`eventlab broker`) or an amqp:// URL")
    .option("--exchange <name>", "the exchange to publish to")
    .option("--type <type>", `exchange type: ${TYPES.join(", ")}`)
    .option(
      "--queue <name[=binding]>",
      "a queue and its binding key, or k:v,k:v header pairs for headers (repeatable)",
      collect,
    )
    .option("--match <mode>", "x-match for headers bindings: all, any, all-with-x, any-with-x")
    .option(
      "--template <name[=routing-key]>",
      "a message template, with its routing key (repeatable)",
      collect,
    )
    .option("--routing-key <key>", "routing key of templates given without one")
    .option(
      "--field <name=generator>",
      `a body field and its generator (repeatable): ${Object.keys(GENERATORS).join(", ")}`,
      collect,
    )
    .option("-n, --amount <n>", "messages per run of each template")
    .option("-d, --delay <duration>", "pause between messages, e.g. 100ms")
    .option("-f, --file <path>", "where to write (default: eventlab.config.yaml, or --config)")
    .option("-y, --yes", "accept the defaults for everything not given, and overwrite")
    .option("--try", "then apply the topology and run a short produce and consume")
    .option("--no-try", "do not offer to try it")
    .option("--json", "print {file, config, tried} as JSON instead of the summary")
    .addHelpText(
      "after",
      `
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
      --queue 'eu-high=region:eu,priority:high' --yes`,
    )
    .action(async (f: RawSetupFlags) => run(ctx, parseSetupArgs(f, ctx.globals.config)));
}

// ------------------------------------------------------------------ defaults

function defaultQueues(exchange: string, type: ExchangeType): QueueAnswer[] {
  switch (type) {
    case "topic":
      return [{ name: `${exchange}.all`, key: "#" }];
    case "direct":
      return [{ name: `${exchange}.created`, key: "created" }];
    case "fanout":
      return [{ name: `${exchange}.all` }];
    case "headers":
      return [{ name: `${exchange}.eu`, headers: { region: "eu" } }];
  }
}

/** A routing key that the first binding takes: wildcards filled with sample words. */
function sampleKey(type: ExchangeType, queues: QueueAnswer[]): string {
  if (type === "fanout" || type === "headers") return "";
  const key = queues.find((q) => q.key !== undefined)?.key ?? "created";
  if (type === "direct") return key;
  return key
    .split(".")
    .map((w) => (w === "#" ? "event.created" : w === "*" ? "example" : w))
    .join(".");
}

/** What setup needs without a terminal (or --yes): the topology. */
const NEEDED = ["--exchange", "--type", "--queue"];

const DEFAULT_FIELDS: Array<[string, string]> = [
  ["id", "uuid"],
  ["n", "seq"],
  ["at", "now"],
];

// ------------------------------------------------------------------ questions

async function ask(ctx: Context, o: SetupOptions, p: Prompter | undefined): Promise<SetupAnswers> {
  const f = o.flags;
  const missing: string[] = [];
  /**
   * The flag's answer, else the default (--yes), else a question (terminal). Without a
   * terminal, the topology flags are needed; everything else has a default.
   */
  const answer = async <T>(
    given: T | undefined,
    flag: string,
    fallback: T,
    q: () => Promise<T>,
  ): Promise<T> => {
    if (given !== undefined) return given;
    if (o.yes) return fallback;
    if (p) return q();
    if (NEEDED.includes(flag)) missing.push(flag);
    return fallback;
  };

  let broker = await answer(f.broker, "--broker", "embedded", () =>
    (p as Prompter)
      .select({
        id: "broker",
        message: "Which broker?",
        choices: [
          {
            value: "embedded",
            name: "the embedded broker",
            description: "`eventlab broker` runs it; nothing to install",
          },
          { value: "url", name: "a RabbitMQ (or other AMQP 0-9-1 broker) URL" },
        ],
        default: "embedded",
      })
      .then((v) =>
        v === "url"
          ? (p as Prompter).input({
              id: "brokerUrl",
              message: "Broker URL",
              default: "amqp://guest:guest@127.0.0.1:5672",
              validate: (s) => (/^amqps?:\/\//.test(s) ? true : "an amqp:// or amqps:// URL"),
            })
          : v,
      ),
  );
  if (broker !== "embedded") broker = await testBroker(ctx, broker);

  const exchange = await answer(f.exchange, "--exchange", "events", () =>
    (p as Prompter).input({
      id: "exchange",
      message: "Exchange name",
      default: "events",
      validate: (v) => nameProblem("exchange", v),
    }),
  );
  const type = await answer(f.type, "--type", "topic" as ExchangeType, () =>
    (p as Prompter).select<ExchangeType>({
      id: "type",
      message: `Type of ${exchange}`,
      choices: TYPES.map((t) => ({ value: t, name: t, description: TYPE_HELP[t] })),
      default: "topic",
    }),
  );
  const match =
    type === "headers"
      ? await answer(f.match, "--match", "all" as Match, () =>
          (p as Prompter).select<Match>({
            id: "match",
            message: "Match all header pairs, or any?",
            choices: MATCHES.map((m) => ({ value: m, name: m })),
            default: "all",
          }),
        )
      : "all";
  const queues = await answer(f.queues, "--queue", defaultQueues(exchange, type), () =>
    askQueues(ctx, p as Prompter, exchange, type, match),
  );

  const base = exchange.replace(/s$/, "") || "event";
  const templates: TemplateAnswer[] = [];
  if (f.templates !== undefined || o.yes || !p) {
    // From flags (or defaults): one template per --template, fields and pace shared.
    const given = f.templates ?? [{ name: base }];
    given.forEach((t, i) => {
      templates.push({
        name: t.name,
        routingKey:
          type === "fanout" || type === "headers"
            ? ""
            : (t.routingKey ?? f.routingKey ?? sampleKey(type, queues.slice(i % queues.length))),
        headers: type === "headers" ? { ...(queues[i % queues.length]?.headers ?? {}) } : {},
        fields: f.fields ?? DEFAULT_FIELDS,
        amount: f.amount ?? 10,
        delayMs: f.delayMs ?? 100,
      });
    });
  } else {
    // Bounded: at most 10 templates, one after another until the person stops.
    for (let i = 0; i < 10; i++) {
      templates.push(await askTemplate(ctx, p, f, i, base, type, queues));
      const more = await p.confirm({
        id: i === 0 ? "templateMore" : `templateMore${i + 1}`,
        message: "Add another template?",
        default: false,
      });
      if (!more) break;
    }
  }
  if (missing.length > 0) {
    throw new UsageError(
      `setup needs answers, and there is no terminal to ask: give ${missing.join(", ")}`,
      "or pass --yes to take the defaults for everything not given",
    );
  }
  return {
    broker,
    exchange,
    type,
    match,
    queues,
    templates,
  };
}

/** The questions for template `i` (ids: template, routingKey, … then template2, …). */
async function askTemplate(
  ctx: Context,
  p: Prompter,
  f: SetupFlags,
  i: number,
  base: string,
  type: ExchangeType,
  queues: QueueAnswer[],
): Promise<TemplateAnswer> {
  const { theme } = ctx;
  const id = (name: string) => (i === 0 ? name : `${name}${i + 1}`);
  const target = queues.slice(i % Math.max(1, queues.length));
  const name = await p.input({
    id: id("template"),
    message: i === 0 ? "Name of the message template" : "Name of the next template",
    default: i === 0 ? base : `${base}-${i + 1}`,
    validate: (v) => nameProblem("template", v),
  });
  const routingKey =
    type === "fanout" || type === "headers"
      ? ""
      : (f.routingKey ??
        (await p.input({
          id: id("routingKey"),
          message: "Routing key of its messages (placeholders like {{pick eu us}} allowed)",
          default: sampleKey(type, target),
        })));
  const fields =
    f.fields ??
    (
      await p.checkbox({
        id: id("fields"),
        message: "Fields of the message body",
        choices: Object.entries(GENERATORS).map(([g, [ph, help]]) => ({
          value: g,
          name: `${g.padEnd(8)} ${ph}  ${theme.dim(help)}`,
          short: g,
          checked: DEFAULT_FIELDS.some(([, d]) => d === g),
        })),
      })
    ).map((g): [string, string] => [DEFAULT_FIELDS.find(([, d]) => d === g)?.[0] ?? g, g]);
  const amount =
    f.amount ??
    Number(
      await p.input({
        id: id("amount"),
        message: "How many messages per run?",
        default: "10",
        validate: (v) => (/^\d+$/.test(v.trim()) ? true : "a whole number"),
      }),
    );
  let delayMs = f.delayMs;
  if (delayMs === undefined) {
    const { parseDuration } = await import("../config/duration.js");
    const raw = await p.input({
      id: id("delay"),
      message: "Pause between messages",
      default: "100ms",
      validate: (v) => (parseDuration(v) !== undefined ? true : "a duration like 100ms, 1s or 0"),
    });
    delayMs = parseDuration(raw) as number;
  }
  const headers = type === "headers" ? { ...(target[0]?.headers ?? {}) } : {};
  return { name, routingKey, headers, fields, amount, delayMs };
}

async function askQueues(
  ctx: Context,
  p: Prompter,
  exchange: string,
  type: ExchangeType,
  match: Match,
): Promise<QueueAnswer[]> {
  const { theme, io } = ctx;
  const queues: QueueAnswer[] = [];
  const defaults = defaultQueues(exchange, type);
  // Bounded: a person adds queues one by one and stops; at most 50 here.
  for (let i = 0; i < 50; i++) {
    const suggested = defaults[i]?.name ?? `${exchange}.q${i + 1}`;
    const name = await p.input({
      id: `queue${i + 1}`,
      message: i === 0 ? "First queue" : "Another queue (empty to finish)",
      default: i === 0 ? suggested : "",
      validate: (v) => (i > 0 && v === "" ? true : nameProblem("queue", v)),
    });
    if (name === "") break;
    if (type === "fanout") queues.push({ name });
    else if (type === "headers") {
      const raw = await p.input({
        id: `queue${i + 1}Headers`,
        message: `Header pairs ${name} matches (x-match ${match}), like region=eu,priority=high`,
        default: "region=eu",
        validate: (v) =>
          /^[^=,]+=[^,]*(,[^=,]+=[^,]*)*$/.test(v) ? true : "key=value pairs, comma-separated",
      });
      queues.push({ name, headers: keyValueFlags("--queue", raw.split(",")) });
    } else {
      const key = await bindingKey(ctx, p, i, name, type, defaults[i]?.key ?? "#");
      queues.push({ name, key });
    }
    if (
      !(await p.confirm({ id: `queue${i + 1}More`, message: "Add another queue?", default: false }))
    )
      break;
  }
  io.err(theme.dim(`${queues.length} queue${queues.length === 1 ? "" : "s"} bound to ${exchange}`));
  return queues;
}

/** A binding key, with a live check: try sample routing keys against it until done. */
async function bindingKey(
  ctx: Context,
  p: Prompter,
  i: number,
  queue: string,
  type: ExchangeType,
  suggested: string,
): Promise<string> {
  const { theme, io } = ctx;
  const key = await p.input({
    id: `queue${i + 1}Key`,
    message:
      type === "topic"
        ? `Binding key of ${queue} (* one word, # any words)`
        : `Binding key of ${queue} (the routing key it takes)`,
    default: type === "topic" ? suggested : queue.split(".").pop(),
  });
  const { explainBinding } = await import("../broker/routing/index.js");
  // Bounded: try up to 20 sample keys.
  for (let n = 0; n < 20; n++) {
    const sample = await p.input({
      id: `queue${i + 1}Try`,
      message: "Try a routing key against it (empty to go on)",
      default: "",
    });
    if (sample === "") break;
    const v = explainBinding(type, key, undefined, { routingKey: sample });
    io.err(
      `  ${v.match ? theme.ok(theme.symbols.ok) : theme.error(theme.symbols.fail)} ${sample}  ${theme.dim(v.reason)}`,
    );
  }
  return key;
}

async function testBroker(ctx: Context, url: string): Promise<string> {
  const { connect } = await import("../client/connect.js");
  const c = await connect([url], { timeoutMs: 5000, connectionName: "eventlab setup" });
  ctx.io.err(`${ctx.theme.ok(ctx.theme.symbols.ok)} connected to ${c.address.display}`);
  await c.close();
  return url;
}

// ------------------------------------------------------------------ the file

const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

/** A YAML scalar: bare when that reads the same, else quoted. */
function scalar(v: unknown): string {
  if (typeof v === "string") {
    const bare = /^[A-Za-z_][A-Za-z0-9_.\-/]*$/.test(v) && !RESERVED.test(v);
    return bare ? v : JSON.stringify(v);
  }
  return JSON.stringify(v);
}

/** A one-line YAML mapping: { region: eu, priority: 5 }. */
function flow(record: Record<string, unknown>): string {
  const pairs = Object.entries(record).map(([k, v]) => `${scalar(k)}: ${scalar(v)}`);
  return pairs.length === 0 ? "{}" : `{ ${pairs.join(", ")} }`;
}

export function configText(a: SetupAnswers, now = new Date()): string {
  const lines: string[] = [];
  const y = scalar;
  lines.push(`# Written by \`eventlab setup\` on ${now.toISOString().slice(0, 10)}.`);
  lines.push(
    "# Every field is described in the example config: `eventlab init --file example.yaml`.",
  );
  lines.push("broker:");
  if (a.broker === "embedded") {
    lines.push(
      "  # The embedded broker: start it with `eventlab broker` (in memory, lost on restart).",
    );
    lines.push(`  url: ${y("amqp://guest:guest@127.0.0.1:5672")}`);
  } else lines.push(`  url: ${y(a.broker)}`);
  lines.push("topology:");
  lines.push("  exchanges:");
  lines.push(`    ${y(a.exchange)}: { type: ${a.type} }  # ${TYPE_HELP[a.type]}`);
  lines.push("  queues:");
  for (const q of a.queues) lines.push(`    ${y(q.name)}: {}`);
  lines.push("  bindings:");
  for (const q of a.queues) {
    const parts = [`source: ${y(a.exchange)}`, `destination: ${y(q.name)}`];
    if (a.type === "headers") {
      parts.push(`match: ${a.match}`, `headers: ${flow(q.headers ?? {})}`);
    } else if (a.type !== "fanout") parts.push(`routingKey: ${y(q.key ?? "")}`);
    lines.push(`    - { ${parts.join(", ")} }`);
  }
  lines.push("templates:");
  for (const t of a.templates) {
    lines.push(`  ${y(t.name)}:`);
    lines.push(`    exchange: ${y(a.exchange)}`);
    if (t.routingKey !== "") lines.push(`    routingKey: ${y(t.routingKey)}`);
    if (Object.keys(t.headers).length > 0) lines.push(`    headers: ${flow(t.headers)}`);
    lines.push("    properties: { contentType: application/json }");
    lines.push(t.fields.length === 0 ? "    body: {}" : "    body:");
    for (const [field, gen] of t.fields) {
      lines.push(`      ${y(field)}: ${y(GENERATORS[gen]?.[0] ?? gen)}`);
    }
    lines.push(`    amount: ${t.amount}`);
    lines.push(`    delay: ${t.delayMs}ms`);
  }
  return `${lines.join("\n")}\n`;
}

export async function runSetup(ctx: Context, o: SetupOptions): Promise<void> {
  const { io, theme } = ctx;
  const interactive = io.stdinIsTTY && io.stderrIsTTY;
  const prompter = interactive && !o.yes ? await ctx.prompter() : undefined;
  try {
    const answers = await ask(ctx, o, prompter);
    const text = configText(answers);
    const { parseConfig } = await import("../config/load.js");
    const config = parseConfig(text, o.file);
    const path = await import("node:path");
    const full = path.resolve(ctx.cwd, o.file);
    const { readConfigIfAny, writeConfigText } = await import("../config/write.js");
    const before = await readConfigIfAny(full, o.file);
    let written = false;
    if (before === text) io.err(theme.dim(`${o.file} already says exactly this`));
    else {
      if (before !== undefined) {
        const { createTwoFilesPatch } = await import("diff");
        const patch = createTwoFilesPatch(o.file, o.file, before, text, "now", "new", {
          context: 2,
        });
        for (const line of patch.split("\n").slice(2)) {
          io.err(
            line.startsWith("+")
              ? theme.ok(line)
              : line.startsWith("-")
                ? theme.error(line)
                : theme.dim(line),
          );
        }
        const replace =
          o.yes ||
          (prompter !== undefined &&
            (await prompter.confirm({
              id: "overwrite",
              message: `Replace ${o.file}?`,
              default: false,
            })));
        if (!replace) {
          throw new EventlabError("usage", `${o.file} exists; left as it was`, {
            hint: "answer yes, or pass --yes to replace it, or --file to write elsewhere",
          });
        }
      }
      await writeConfigText(full, o.file, text);
      written = true;
      if (!o.json) io.err(`${theme.ok(theme.symbols.ok)} wrote ${o.file}`);
    }
    const tryIt =
      o.tryIt ??
      (o.yes
        ? false
        : prompter !== undefined &&
          (await prompter.confirm({
            id: "try",
            message: "Apply the topology and run a short produce and consume now?",
            default: true,
          })));
    let tried: unknown;
    if (tryIt) tried = await tryOut(ctx, answers, config);
    if (o.json) io.out(`${JSON.stringify({ file: o.file, written, config, tried })}\n`);
    else if (!tryIt) {
      io.err(
        theme.dim(
          answers.broker === "embedded"
            ? "next: `eventlab broker` in one terminal; `eventlab topology apply` and `eventlab produce` in another, or `eventlab play`"
            : "next: `eventlab topology apply`, then `eventlab produce` and `eventlab consume`, or `eventlab play`",
        ),
      );
    }
  } catch (err) {
    const { PromptCancelled } = await import("../ui/prompter.js");
    if (err instanceof PromptCancelled)
      throw new InterruptedError("setup cancelled; nothing was written");
    throw err;
  }
}

/** The short round trip after writing: on an in-process broker for the embedded choice. */
async function tryOut(
  ctx: Context,
  a: SetupAnswers,
  config: import("../config/schema.js").Config,
): Promise<unknown> {
  const { connect } = await import("../client/connect.js");
  let broker: { url: string; close(): Promise<void> } | undefined;
  let url = a.broker;
  if (a.broker === "embedded") {
    const { startBroker } = await import("../broker/index.js");
    broker = await startBroker({ port: 0 });
    url = broker.url;
  }
  const connection = await connect([url], { connectionName: "eventlab setup" });
  try {
    const { runRoundTrip } = await import("../lab/roundtrip.js");
    const report = await runRoundTrip(connection, config, {
      templates: a.templates.map((t) => t.name),
      amount: Math.min(Math.max(...a.templates.map((t) => t.amount)), 5),
      env: ctx.env,
      signal: ctx.signal,
      idleMs: 1000,
    });
    const { theme, io } = ctx;
    const per = report.queues.map((q) => `${q.name} ${q.consumed}/${q.routed}`).join(", ");
    io.err(
      `${report.lost === 0 ? theme.ok(theme.symbols.ok) : theme.error(theme.symbols.fail)} tried it: published ${report.published}, returned ${report.returned}, consumed ${per || "nothing (no queue took the messages)"}`,
    );
    return report;
  } finally {
    await connection.close();
    await broker?.close();
  }
}

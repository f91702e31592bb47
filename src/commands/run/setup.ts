/**
 * What `eventlab setup` does once its flags are parsed: ask what the flags leave open (on
 * a terminal), build the config, show a diff against the file there and write it once, at
 * the end, atomically (Ctrl-C leaves nothing behind), then offer a short round trip.
 */

import path from "node:path";
import { createTwoFilesPatch } from "diff";
import { startBroker } from "../../broker/index.js";
import { explainBinding } from "../../broker/routing/index.js";
import { connect } from "../../client/connect.js";
import {
  DEFAULT_URL,
  type ExchangeType,
  exchangeTypes,
  type HeadersMatch,
  headersMatchModes,
} from "../../config/constants.js";
import { parseDuration } from "../../config/duration.js";
import { parseConfig } from "../../config/load.js";
import type { Config } from "../../config/schema.js";
import { nameIssue } from "../../config/schema.js";
import {
  answerer,
  DEFAULT_AMOUNT,
  DEFAULT_EXCHANGE,
  DEFAULT_FIELDS,
  defaultQueues,
  GENERATORS,
  type QueueAnswer,
  type SetupAnswers,
  sampleKey,
  type TemplateAnswer,
  TYPE_HELP,
  targetQueues,
  templateBase,
  templateHeaders,
  templatesFromFlags,
} from "../../config/setup-answers.js";
import { configText } from "../../config/setup-yaml.js";
import { readConfigIfAny, writeConfigText } from "../../config/write.js";
import type { Context } from "../../context.js";
import { EventlabError, InterruptedError, UsageError } from "../../errors.js";
import { runRoundTrip } from "../../lab/roundtrip.js";
import { PromptCancelled, type Prompter } from "../../ui/prompter.js";
import { table } from "../../ui/table.js";
import { VERSION } from "../../version.js";
import { typedValue } from "../options.js";
import type { SetupFlags, SetupOptions } from "../setup.js";

/** Bounds on what a person adds one by one until they stop. */
const MAX_QUEUES = 50;
const MAX_TEMPLATES = 10;
const MAX_SAMPLE_KEYS = 20;

export async function runSetup(ctx: Context, o: SetupOptions): Promise<void> {
  const { io } = ctx;
  const interactive = io.stdinIsTTY && io.stderrIsTTY;
  const prompter = interactive && !o.yes ? await ctx.prompter() : undefined;
  try {
    const answers = await ask(ctx, o, prompter);
    const text = configText(answers);
    const config = parseConfig(text, o.file);
    const written = await writeOnce(ctx, o, prompter, text);
    const tryIt =
      o.tryIt ??
      (!o.yes &&
        prompter !== undefined &&
        (await prompter.confirm({
          id: "try",
          message: "Apply the topology and run a short produce and consume now?",
          default: true,
        })));
    const tried = tryIt ? await tryOut(ctx, answers, config) : undefined;
    if (o.json) io.out(`${JSON.stringify({ file: o.file, written, config, tried })}\n`);
    else if (!tryIt) io.err(ctx.theme.dim(nextSteps(answers.broker)));
  } catch (err) {
    if (err instanceof PromptCancelled)
      throw new InterruptedError("setup cancelled; nothing was written");
    throw err;
  }
}

function nextSteps(broker: string): string {
  return broker === "embedded"
    ? "next: `eventlab broker` in one terminal; `eventlab topology apply` and `eventlab produce` in another, or `eventlab play`"
    : "next: `eventlab topology apply`, then `eventlab produce` and `eventlab consume`, or `eventlab play`";
}

/** Write `text` unless the file says exactly that; a different file is replaced only on yes. */
async function writeOnce(
  ctx: Context,
  o: SetupOptions,
  prompter: Prompter | undefined,
  text: string,
): Promise<boolean> {
  const { io, theme } = ctx;
  const full = path.resolve(ctx.cwd, o.file);
  const before = await readConfigIfAny(full, o.file);
  if (before === text) {
    io.err(theme.dim(`${o.file} already says exactly this`));
    return false;
  }
  if (before !== undefined) {
    showDiff(ctx, o.file, before, text);
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
  if (!o.json) io.err(`${theme.ok(theme.symbols.ok)} wrote ${o.file}`);
  return true;
}

function showDiff(ctx: Context, file: string, before: string, after: string): void {
  const { io, theme } = ctx;
  const patch = createTwoFilesPatch(file, file, before, after, "now", "new", { context: 2 });
  for (const line of patch.split("\n").slice(2)) {
    const colour = line.startsWith("+") ? theme.ok : line.startsWith("-") ? theme.error : theme.dim;
    io.err(colour(line));
  }
}

/** The short round trip after writing: on an in-process broker for the embedded choice. */
async function tryOut(ctx: Context, a: SetupAnswers, config: Config): Promise<unknown> {
  const broker =
    a.broker === "embedded" ? await startBroker({ port: 0, version: VERSION }) : undefined;
  try {
    const connection = await connect([broker?.url ?? a.broker], {
      connectionName: "eventlab setup",
    });
    try {
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
    }
  } finally {
    await broker?.close();
  }
}

// ------------------------------------------------------------------ questions

async function ask(ctx: Context, o: SetupOptions, p: Prompter | undefined): Promise<SetupAnswers> {
  const f = o.flags;
  const missing: string[] = [];
  const answer = answerer(o.yes, p, missing);

  let broker = await answer(f.broker, "--broker", "embedded", askBroker);
  if (broker !== "embedded") broker = await testBroker(ctx, broker);
  const exchange = await answer(f.exchange, "--exchange", DEFAULT_EXCHANGE, (q) =>
    q.input({
      id: "exchange",
      message: "Exchange name",
      default: DEFAULT_EXCHANGE,
      validate: (v) => nameIssue("exchange", v),
    }),
  );
  const type = await answer<ExchangeType>(f.type, "--type", "topic", (q) =>
    q.select({
      id: "type",
      message: `Type of ${exchange}`,
      choices: exchangeTypes.map((t) => ({ value: t, name: t, description: TYPE_HELP[t] })),
      default: "topic",
    }),
  );
  const match =
    type === "headers"
      ? await answer<HeadersMatch>(f.match, "--match", "all", (q) =>
          q.select({
            id: "match",
            message: "Match all header pairs, or any?",
            choices: headersMatchModes.map((m) => ({ value: m, name: m })),
            default: "all",
          }),
        )
      : "all";
  const queues = await answer(f.queues, "--queue", defaultQueues(exchange, type), (q) =>
    askQueues(ctx, q, exchange, type, match),
  );
  const templates =
    f.templates !== undefined || o.yes || !p
      ? templatesFromFlags(f.templates, {
          exchange,
          type,
          queues,
          routingKey: f.routingKey,
          fields: f.fields,
          amount: f.amount,
          delayMs: f.delayMs,
        })
      : await askTemplates(ctx, p, f, exchange, type, queues);
  if (missing.length > 0) {
    throw new UsageError(
      `setup needs answers, and there is no terminal to ask: give ${missing.join(", ")}`,
      "or pass --yes to take the defaults for everything not given",
    );
  }
  return { broker, exchange, type, match, queues, templates };
}

async function askBroker(p: Prompter): Promise<string> {
  const choice = await p.select({
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
  });
  if (choice !== "url") return choice;
  return p.input({
    id: "brokerUrl",
    message: "Broker URL",
    default: DEFAULT_URL,
    validate: (s) => (/^amqps?:\/\//.test(s) ? true : "an amqp:// or amqps:// URL"),
  });
}

async function testBroker(ctx: Context, url: string): Promise<string> {
  const c = await connect([url], { timeoutMs: 5000, connectionName: "eventlab setup" });
  ctx.io.err(`${ctx.theme.ok(ctx.theme.symbols.ok)} connected to ${c.address.display}`);
  await c.close();
  return url;
}

/** One template after another until the person stops (ids: template, … then template2, …). */
async function askTemplates(
  ctx: Context,
  p: Prompter,
  f: SetupFlags,
  exchange: string,
  type: ExchangeType,
  queues: QueueAnswer[],
): Promise<TemplateAnswer[]> {
  const templates: TemplateAnswer[] = [];
  const base = templateBase(exchange);
  for (let i = 0; i < MAX_TEMPLATES; i++) {
    const taken = templates.map((t) => t.name);
    templates.push(await askTemplate(ctx, p, f, { i, base, type, queues, taken }));
    const more = await p.confirm({
      id: i === 0 ? "templateMore" : `templateMore${i + 1}`,
      message: "Add another template?",
      default: false,
    });
    if (!more) break;
  }
  return templates;
}

/** The questions for template `i`; flags answer theirs for every template. */
async function askTemplate(
  ctx: Context,
  p: Prompter,
  f: SetupFlags,
  at: { i: number; base: string; type: ExchangeType; queues: QueueAnswer[]; taken: string[] },
): Promise<TemplateAnswer> {
  const { i, base, type, queues, taken } = at;
  const id = (name: string) => (i === 0 ? name : `${name}${i + 1}`);
  const name = await p.input({
    id: id("template"),
    message: i === 0 ? "Name of the message template" : "Name of the next template",
    default: i === 0 ? base : `${base}-${i + 1}`,
    validate: (v) =>
      taken.includes(v) ? `there is a template ${v} already` : nameIssue("template", v),
  });
  const routingKey =
    type === "fanout" || type === "headers"
      ? ""
      : (f.routingKey ??
        (await p.input({
          id: id("routingKey"),
          message: "Routing key of its messages (placeholders like {{pick eu us}} allowed)",
          default: sampleKey(type, targetQueues(queues, i)),
        })));
  const fields = f.fields ?? (await askFields(ctx, p, id("fields")));
  const amount =
    f.amount ??
    Number(
      await p.input({
        id: id("amount"),
        message: "How many messages per run?",
        default: String(DEFAULT_AMOUNT),
        validate: (v) => (/^\d+$/.test(v.trim()) ? true : "a whole number"),
      }),
    );
  const delayMs =
    f.delayMs ??
    (parseDuration(
      await p.input({
        id: id("delay"),
        message: "Pause between messages",
        default: "100ms",
        validate: (v) => (parseDuration(v) !== undefined ? true : "a duration like 100ms, 1s or 0"),
      }),
    ) as number);
  return { name, routingKey, headers: templateHeaders(type, queues, i), fields, amount, delayMs };
}

/** The body's fields: generators to tick, named as in the defaults (id, n, at) or after themselves. */
async function askFields(ctx: Context, p: Prompter, id: string): Promise<Array<[string, string]>> {
  const labels = table(
    Object.entries(GENERATORS).map(([g, [placeholder, help]]) => [
      g,
      placeholder,
      ctx.theme.dim(help),
    ]),
  );
  const picked = await p.checkbox({
    id,
    message: "Fields of the message body",
    choices: Object.entries(GENERATORS).map(([g], i) => ({
      value: g,
      name: labels[i] ?? g,
      short: g,
      checked: DEFAULT_FIELDS.some(([, d]) => d === g),
    })),
  });
  return picked.map((g): [string, string] => [
    DEFAULT_FIELDS.find(([, d]) => d === g)?.[0] ?? g,
    g,
  ]);
}

async function askQueues(
  ctx: Context,
  p: Prompter,
  exchange: string,
  type: ExchangeType,
  match: HeadersMatch,
): Promise<QueueAnswer[]> {
  const { theme, io } = ctx;
  const queues: QueueAnswer[] = [];
  const defaults = defaultQueues(exchange, type);
  for (let i = 0; i < MAX_QUEUES; i++) {
    const suggested = defaults[i]?.name ?? `${exchange}.q${i + 1}`;
    const name = await p.input({
      id: `queue${i + 1}`,
      message: i === 0 ? "First queue" : "Another queue (empty to finish)",
      default: i === 0 ? suggested : "",
      validate: (v) => (i > 0 && v === "" ? true : nameIssue("queue", v)),
    });
    if (name === "") break;
    if (type === "fanout") queues.push({ name });
    else if (type === "headers")
      queues.push({ name, headers: await askHeaders(p, `queue${i + 1}Headers`, name, match) });
    else
      queues.push({ name, key: await bindingKey(ctx, p, i, name, type, defaults[i]?.key ?? "#") });
    if (
      !(await p.confirm({ id: `queue${i + 1}More`, message: "Add another queue?", default: false }))
    )
      break;
  }
  io.err(theme.dim(`${queues.length} queue${queues.length === 1 ? "" : "s"} bound to ${exchange}`));
  return queues;
}

/** `region=eu,priority=high` → the header pairs a queue's binding matches, values typed. */
async function askHeaders(
  p: Prompter,
  id: string,
  queue: string,
  match: HeadersMatch,
): Promise<Record<string, unknown>> {
  const raw = await p.input({
    id,
    message: `Header pairs ${queue} matches (x-match ${match}), like region=eu,priority=high`,
    default: "region=eu",
    validate: (v) =>
      /^[^=,]+=[^,]*(,[^=,]+=[^,]*)*$/.test(v) ? true : "key=value pairs, comma-separated",
  });
  // The check above leaves only name=value pairs; values are typed as flags' are.
  return Object.fromEntries(
    raw.split(",").map((pair) => {
      const at = pair.indexOf("=");
      return [pair.slice(0, at), typedValue(pair.slice(at + 1))];
    }),
  );
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
    default: type === "topic" ? suggested : (queue.split(".").pop() ?? queue),
  });
  for (let n = 0; n < MAX_SAMPLE_KEYS; n++) {
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

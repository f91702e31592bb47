/**
 * `eventlab produce [template...]`: publish messages from templates (or from flags),
 * with publisher confirms and mandatory returns on by default.
 */
import { Command } from "commander";
import type { PropertiesConfig, TemplateConfig } from "../config/schema.js";
import type { TemplateInput } from "../config/templates.js";
import type { Context } from "../context.js";
import { ConfigError, EventlabError, ExitCode, UsageError } from "../errors.js";
import { count, elapsed, rate } from "../ui/format.js";
import {
  collect,
  durationFlag,
  intFlag,
  keyValueFlags,
  positiveNumberFlag,
  typedValue,
} from "./options.js";

export type BodySource =
  | { kind: "text"; text: string }
  | { kind: "file"; path: string }
  | { kind: "stdin" };

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
  /** How long to wait for outstanding confirms at the end (and after Ctrl-C). */
  settleTimeoutMs: number;
  /** Explain where each template's first message goes before publishing it. */
  explain?: boolean;
}

export interface TemplateSummary {
  name: string;
  exchange: string;
  published: number;
}

export interface ProduceSummary {
  templates: TemplateSummary[];
  published: number;
  confirmed: number;
  nacked: number;
  returned: number;
  unconfirmed: number;
  confirms: boolean;
  mandatory: boolean;
  /** From the first publish to the last confirm. */
  elapsedMs: number;
  /** Messages per second while publishing (first to last publish). */
  ratePerSecond: number;
  interrupted: boolean;
  /** Why publishing stopped early (the broker closed the channel, the connection was lost). */
  error?: string;
  /** Up to five distinct (exchange, routing key, reply) returns, each with its count. */
  returnedSamples: Array<{
    exchange: string;
    routingKey: string;
    replyCode: number;
    replyText: string;
    count: number;
  }>;
}

const PROPERTY_KEYS: Record<string, keyof PropertiesConfig> = {
  contenttype: "contentType",
  contentencoding: "contentEncoding",
  persistent: "persistent",
  priority: "priority",
  expiration: "expiration",
  messageid: "messageId",
  correlationid: "correlationId",
  replyto: "replyTo",
  type: "type",
  appid: "appId",
  userid: "userId",
  timestamp: "timestamp",
};

/** `--property k=v` values, keyed by the template property they set. */
export function propertyFlags(raws: readonly string[] | undefined): Partial<PropertiesConfig> {
  const out: Record<string, unknown> = {};
  for (const raw of raws ?? []) {
    const i = raw.indexOf("=");
    const key =
      i > 0 ? PROPERTY_KEYS[raw.slice(0, i).toLowerCase().replace(/[-_]/g, "")] : undefined;
    if (i <= 0 || key === undefined) {
      throw new UsageError(
        `--property expects name=value with a known property, got ${JSON.stringify(raw)}`,
        `properties: ${Object.values(PROPERTY_KEYS).join(", ")}; for example --property messageId={{uuid}}`,
      );
    }
    const value = raw.slice(i + 1);
    if (key === "priority") out[key] = intFlag("--property priority", value, 0, 255);
    else if (key === "persistent") {
      if (value !== "true" && value !== "false")
        throw new UsageError(
          `--property persistent expects true or false, got ${JSON.stringify(value)}`,
        );
      out[key] = value === "true";
    } else if (key === "timestamp") {
      const typed = typedValue(value);
      out[key] = typeof typed === "number" || typeof typed === "boolean" ? typed : value;
    } else out[key] = value;
  }
  return out as Partial<PropertiesConfig>;
}

interface RawProduceFlags {
  exchange?: string;
  key?: string;
  header?: string[];
  property?: string[];
  body?: string;
  bodyFile?: string;
  template?: boolean;
  amount?: string;
  delay?: string;
  rate?: string;
  persistent?: boolean;
  confirm: boolean;
  mandatory: boolean;
  window?: string;
  seed?: string;
  json?: boolean;
  settleTimeout?: string;
  explain?: boolean;
}

export function parseProduceArgs(templates: string[], flags: RawProduceFlags): ProduceOptions {
  if (flags.body !== undefined && flags.bodyFile !== undefined) {
    throw new UsageError("give either --body or --body-file, not both");
  }
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
  const body: BodySource | undefined =
    flags.body === "-"
      ? { kind: "stdin" }
      : flags.body !== undefined
        ? { kind: "text", text: flags.body }
        : flags.bodyFile !== undefined
          ? { kind: "file", path: flags.bodyFile }
          : undefined;
  return {
    templates,
    exchange: flags.exchange,
    routingKey: flags.key,
    headers: keyValueFlags("--header", flags.header),
    properties: propertyFlags(flags.property),
    body,
    template: flags.template === true,
    amount: intFlag("--amount", flags.amount, 0),
    delayMs: durationFlag("--delay", flags.delay),
    rate: positiveNumberFlag("--rate", flags.rate),
    persistent: flags.persistent,
    confirm: flags.confirm,
    mandatory: flags.mandatory,
    window: intFlag("--confirm-window", flags.window, 1, 1_000_000) ?? 1000,
    seed: intFlag("--seed", flags.seed, 0, 2 ** 32 - 1),
    json: flags.json === true,
    settleTimeoutMs: durationFlag("--settle-timeout", flags.settleTimeout) ?? 10_000,
    explain: flags.explain === true,
  };
}

export function produceCommand(ctx: Context, run = runProduce): Command {
  return new Command("produce")
    .description("publish messages from templates in the config, or from flags")
    .argument("[template...]", "template names from the config's templates: section")
    .option("-e, --exchange <name>", "exchange to publish to ('' is the default exchange)")
    .option("-k, --key <routing-key>", "routing key (placeholders allowed)")
    .option(
      "-H, --header <key=value>",
      "header, repeatable; values are typed (5 is a number, '\"5\"' a string)",
      collect,
    )
    .option(
      "-p, --property <name=value>",
      "message property, repeatable (messageId, type, priority, expiration, …)",
      collect,
    )
    .option(
      "-b, --body <text>",
      "body text or JSON, sent as written; {{placeholders}} are filled; '-' reads standard input",
    )
    .option("--body-file <path>", "send a file's bytes as the body, unchanged")
    .option("--template", "fill {{placeholders}} in --body-file or --body - as well")
    .option("-n, --amount <n>", "how many messages per template")
    .option("-d, --delay <duration>", "pause between messages, e.g. 250ms or 1s")
    .option("-r, --rate <msg/s>", "aim at this many messages per second")
    .option("--persistent", "mark messages persistent (delivery mode 2)")
    .option("--no-confirm", "do not use publisher confirms")
    .option("--no-mandatory", "do not ask for unroutable messages back")
    .option(
      "--confirm-window <n>",
      "unconfirmed messages in flight before publishing waits",
      "1000",
    )
    .option("--seed <n>", "make generated values repeatable")
    .option(
      "--settle-timeout <duration>",
      "how long to wait for outstanding confirms at the end",
      "10s",
    )
    .option("--json", "print the summary as one JSON object")
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

Bodies go out byte for byte: a --body text without placeholders exactly as written, a file
or standard input exactly as read (with --template, placeholders in them are filled). The
content type is JSON, text/plain or application/octet-stream, from what the body holds,
unless --property contentType=… sets it.

Exit codes: 0 all confirmed, 1 error, 2 interrupted, 3 some messages were nacked or returned`,
    )
    .action(async (templates: string[], flags: RawProduceFlags & { confirmWindow?: string }) => {
      const options = parseProduceArgs(templates, {
        ...flags,
        window: flags.confirmWindow ?? flags.window,
      });
      await run(ctx, options);
    });
}

async function readBody(ctx: Context, source: BodySource): Promise<string | Buffer> {
  if (source.kind === "text") return source.text;
  if (source.kind === "file") {
    const { readFile } = await import("node:fs/promises");
    const path = await import("node:path");
    try {
      return await readFile(path.resolve(ctx.cwd, source.path));
    } catch (err) {
      throw new EventlabError(
        "io",
        `cannot read --body-file ${source.path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        {
          hint: "check the path; it is relative to the current directory",
        },
      );
    }
  }
  if (ctx.io.stdinIsTTY) {
    throw new UsageError(
      "--body - reads the body from standard input, but it is a terminal",
      "pipe the body in: echo '{\"a\":1}' | eventlab produce … --body -",
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.io.stdin)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

/** The body a template gets from the flags: text as given, bytes as read (or as text with --template). */
async function bodyFromFlags(
  ctx: Context,
  o: ProduceOptions,
): Promise<TemplateInput["body"] | undefined> {
  if (!o.body) return undefined;
  const body = await readBody(ctx, o.body);
  if (!Buffer.isBuffer(body) || !o.template) return body;
  const { isUtf8 } = await import("node:buffer");
  if (!isUtf8(body)) {
    throw new UsageError(
      `--template fills placeholders in text, but ${o.body.kind === "file" ? `--body-file ${o.body.path}` : "standard input"} is not UTF-8 text`,
      "leave out --template to send the bytes as they are",
    );
  }
  return body.toString("utf8");
}

/** The templates to run: the named ones with flag overrides, or one made of flags alone. */
export async function resolveTemplates(
  ctx: Context,
  o: ProduceOptions,
): Promise<Array<[string, TemplateInput]>> {
  const body = await bodyFromFlags(ctx, o);
  const override = (t: TemplateConfig): TemplateInput => ({
    ...t,
    exchange: o.exchange ?? t.exchange,
    routingKey: o.routingKey ?? t.routingKey,
    headers: { ...t.headers, ...o.headers },
    properties: {
      ...t.properties,
      ...o.properties,
      ...(o.persistent !== undefined ? { persistent: o.persistent } : {}),
    },
    body: body ?? t.body,
    amount: o.amount ?? t.amount,
    ...(o.delayMs !== undefined ? { delay: o.delayMs, rate: undefined } : {}),
    ...(o.rate !== undefined ? { rate: o.rate, delay: undefined } : {}),
  });
  if (o.templates.length === 0) {
    if (o.exchange === undefined && o.routingKey === undefined) {
      const { config, file } = await ctx.loadConfig();
      const names = Object.keys(config.templates);
      throw new UsageError(
        "nothing to publish: name a template, or give --exchange and --key",
        names.length > 0
          ? `templates in ${file}: ${names.join(", ")}`
          : "for example: eventlab produce --exchange '' --key my-queue --body '{\"hello\":\"world\"}' (or `eventlab init` for a config with templates)",
      );
    }
    return [
      [
        "(flags)",
        override({
          exchange: "",
          routingKey: "",
          headers: {},
          properties: {},
          body: "",
          amount: 1,
        }),
      ],
    ];
  }
  const { config, file } = await ctx.loadConfig();
  return o.templates.map((name) => {
    const t = config.templates[name];
    if (!t) {
      const names = Object.keys(config.templates);
      throw new UsageError(
        `unknown template "${name}"${file ? ` (not in ${file})` : " (no config file found)"}`,
        names.length > 0
          ? `templates: ${names.join(", ")}`
          : "run `eventlab init` to write a config with example templates",
      );
    }
    return [name, override(t)];
  });
}

/** `--explain`: the routing of a template's first message, on stderr. */
async function explain(
  ctx: Context,
  template: string,
  m: { exchange: string; routingKey: string; properties: { headers: Record<string, unknown> } },
): Promise<void> {
  const { explainText } = await import("./route.js");
  const text = await explainText(ctx, {
    exchange: m.exchange,
    routingKey: m.routingKey,
    headers: m.properties.headers,
  });
  ctx.io.err(ctx.theme.dim(`${template}: where its first message goes`));
  ctx.io.stderr.write(
    text ?? `the config does not declare exchange '${m.exchange}': nothing to explain offline\n`,
  );
}

export async function runProduce(ctx: Context, o: ProduceOptions): Promise<void> {
  const resolved = await resolveTemplates(ctx, o);
  // Load what the run needs side by side, not one after another.
  const [{ compileTemplate }, { Publisher }, { Pacer, paceOf, sleep }, { startProgress }] =
    await Promise.all([
      import("../config/templates.js"),
      import("../client/publisher.js"),
      import("../lab/pacer.js"),
      import("../ui/progress.js"),
    ]);
  const compiled = await Promise.all(
    resolved.map(([name, t]) => compileTemplate(name, t, { seed: o.seed, env: ctx.env })),
  ).catch(async (err: unknown) => {
    // Name the config file in placeholder errors of templates that came from it.
    if (err instanceof ConfigError && o.templates.length > 0) {
      const { file } = await ctx.loadConfig();
      throw new ConfigError(file, err.issues, err.hint);
    }
    // A message made of flags alone: name the flag, not a config path.
    if (err instanceof ConfigError) {
      const lines = err.issues.map((i) => `${flagOf(i.path, o.body)}: ${i.message}`);
      throw new UsageError(
        lines.length === 1 ? lines[0]! : `${lines.length} problems:\n  ${lines.join("\n  ")}`,
        err.hint,
      );
    }
    throw err;
  });

  const connection = await ctx.connect({ connectionName: "eventlab produce" });
  const blockedNotes: string[] = [];
  connection.model.on("blocked", (reason: string) => {
    blockedNotes.push(reason);
    ctx.io.err(
      ctx.theme.warn(`! the broker blocked publishing (${reason}); waiting until it unblocks`),
    );
  });
  try {
    const publisher = await Publisher.open(connection, {
      confirm: o.confirm,
      mandatory: o.mandatory,
      window: o.window,
    });
    const total = compiled.reduce((n, t) => n + t.amount, 0);
    const started = performance.now();
    const perTemplate = compiled.map((t) => ({ name: t.name, exchange: "", published: 0 }));
    const progress = await startProgress(ctx.io, () => {
      const s = publisher.stats;
      const secs = (performance.now() - started) / 1000;
      return `publishing ${count(s.published)}/${count(total)} · confirmed ${count(s.confirmed)} · ${rate(s.published / Math.max(secs, 0.001))} msg/s`;
    });

    let failure: unknown;
    try {
      await Promise.all(
        compiled.map(async (t, ti) => {
          const pacer = new Pacer(paceOf(t.delayMs, t.rate));
          const mine = perTemplate[ti]!;
          for (let i = 0; i < t.amount; i++) {
            if (ctx.signal.aborted || failure) return;
            const wait = pacer.waitFor(i);
            if (wait >= 1) await sleep(wait, ctx.signal);
            if (ctx.signal.aborted) return;
            const message = t.render();
            mine.exchange = message.exchange;
            if (i === 0 && o.explain) await explain(ctx, t.name, message);
            if (!publisher.publish(message)) await publisher.ready(ctx.signal);
            mine.published += 1;
            // Let confirms, returns and timers in between long synchronous bursts.
            if ((i & 1023) === 1023) await new Promise<void>((r) => setImmediate(r));
          }
        }),
      );
    } catch (err) {
      failure = err;
    } finally {
      progress.stop();
    }
    const publishMs = performance.now() - started;
    // Wait for every confirm (or, without confirms, one round trip that brings back every
    // return) even after a failure: what was confirmed before it still counts. amqplib drops
    // messages still buffered when the connection closes.
    const settled = await publisher.settle(
      ctx.signal.aborted || failure !== undefined
        ? Math.min(o.settleTimeoutMs, 5000)
        : o.settleTimeoutMs,
    );
    const elapsedMs = performance.now() - started;
    await publisher.close();
    const exchanges = new Set(perTemplate.map((p) => p.exchange));
    const error = publisher.error
      ? publisher.describeFailure(exchanges.size === 1 ? [...exchanges][0] : undefined)
      : failure;
    const s = publisher.stats;
    const summary: ProduceSummary = {
      templates: perTemplate,
      published: s.published,
      confirmed: s.confirmed,
      nacked: s.nacked,
      returned: s.returned,
      unconfirmed: s.unanswered + (o.confirm ? s.outstanding : 0),
      confirms: o.confirm,
      mandatory: o.mandatory,
      elapsedMs: Math.round(elapsedMs),
      ratePerSecond: Math.round((s.published / Math.max(publishMs, 1)) * 1000 * 10) / 10,
      interrupted: ctx.signal.aborted,
      returnedSamples: publisher.returnedSamples,
      ...(error !== undefined ? { error: errorText(error) } : {}),
    };
    printSummary(ctx, summary, o.json);
    // The summary above counts what was confirmed and what may be lost; the error says why.
    if (error !== undefined) throw error;
    if (summary.interrupted) ctx.setExitCode(ExitCode.interrupted);
    else if (!settled) {
      throw new EventlabError(
        "timeout",
        o.confirm
          ? `${count(summary.unconfirmed)} messages were not confirmed within ${elapsed(o.settleTimeoutMs)}`
          : `the broker did not answer within ${elapsed(o.settleTimeoutMs)}: the messages sent may not all have arrived`,
        {
          hint: "the broker may be overloaded or blocked; raise --settle-timeout, or check its memory and disk alarms",
        },
      );
    } else if (summary.nacked > 0 || summary.returned > 0) ctx.setExitCode(ExitCode.undelivered);
  } finally {
    await connection.close();
  }
}

/** The flag a path of the flags-only template (`templates["(flags)"].body`) came from. */
function flagOf(path: string, body: BodySource | undefined): string {
  const rest = path.replace(/^templates\["\(flags\)"\]\.?/, "");
  const [field = "", ...sub] = rest.split(".");
  const key = sub.join(".");
  if (field.startsWith("body"))
    return body?.kind === "file"
      ? `--body-file ${body.path}`
      : body?.kind === "stdin"
        ? "--body -"
        : "--body";
  if (field === "routingKey") return "--key";
  if (field === "exchange") return "--exchange";
  if (field.startsWith("headers")) return `--header ${key || rest.slice(7)}`;
  if (field.startsWith("properties")) return `--property ${key || rest.slice(10)}`;
  return rest;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function printSummary(ctx: Context, s: ProduceSummary, json: boolean): void {
  const { io, theme } = ctx;
  if (json) {
    io.out(`${JSON.stringify(s)}\n`);
    return;
  }
  const parts = [`published ${theme.bold(count(s.published))}`];
  if (s.confirms) parts.push(`confirmed ${count(s.confirmed)}`);
  if (s.nacked > 0) parts.push(theme.error(`nacked ${count(s.nacked)}`));
  if (s.mandatory)
    parts.push(s.returned > 0 ? theme.warn(`returned ${count(s.returned)}`) : "returned 0");
  if (s.unconfirmed > 0)
    parts.push(theme.error(`unconfirmed ${count(s.unconfirmed)} (may be lost)`));
  else if (!s.confirms) parts.push(theme.dim("without confirms"));
  const bad = s.nacked + s.returned + s.unconfirmed > 0 || s.interrupted || s.error !== undefined;
  const mark = bad ? theme.warn("!") : theme.ok("✓");
  const why = s.interrupted
    ? theme.warn(" — interrupted")
    : s.error !== undefined
      ? theme.warn(" — stopped by the error below")
      : "";
  io.out(
    `${mark} ${parts.join(" · ")} in ${elapsed(s.elapsedMs)} (${rate(s.ratePerSecond)} msg/s)${why}\n`,
  );
  if (s.templates.length > 1) {
    for (const t of s.templates)
      io.out(
        `  ${t.name}: ${count(t.published)} to ${t.exchange === "" ? "(default exchange)" : t.exchange}\n`,
      );
  }
  if (s.returned > 0) {
    const distinct = s.returnedSamples.length;
    io.err(
      theme.warn(
        `! ${count(s.returned)} message${s.returned === 1 ? " was" : "s were"} returned as unroutable${distinct > 1 ? ` (the first ${distinct} kinds)` : ""}:`,
      ),
    );
    for (const r of s.returnedSamples) {
      const ex = r.exchange === "" ? "the default exchange" : `exchange ${r.exchange}`;
      io.err(
        `  ${count(r.count)} × ${r.replyCode} ${r.replyText}: ${ex}, routing key ${JSON.stringify(r.routingKey)}`,
      );
    }
    const first = s.returnedSamples[0];
    const hint =
      first && first.exchange === ""
        ? `the default exchange routes to the queue named by the routing key, and there is no queue "${first.routingKey}": eventlab declare queue ${first.routingKey}`
        : "no binding matched the routing key; bind a queue (eventlab declare binding <exchange> <queue> --key <pattern>) or check the key";
    io.err(theme.dim(`hint: ${hint}`));
  }
  if (s.nacked > 0) {
    io.err(
      theme.warn(
        `! ${count(s.nacked)} message${s.nacked === 1 ? " was" : "s were"} nacked by the broker`,
      ),
    );
    io.err(
      theme.dim(
        "hint: a queue with x-overflow reject-publish may be full, or the broker is short of resources",
      ),
    );
  }
}

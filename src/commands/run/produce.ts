/**
 * What `eventlab produce` does once its flags are parsed: read the body, resolve and compile
 * the templates, publish them paced with confirms, and print an honest summary.
 */

import { isUtf8 } from "node:buffer";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { TemplateConfig } from "../../config/schema.js";
import { compileTemplate, type TemplateInput } from "../../config/templates.js";
import type { Context } from "../../context.js";
import { ConfigError, EventlabError, ExitCode, UsageError } from "../../errors.js";
import { count, elapsed, rate } from "../../ui/format.js";
import type { BodySource, ProduceOptions, ProduceSummary } from "../produce.js";
import { openLink } from "./link.js";
import { PublishRun } from "./publish-run.js";

async function readBody(ctx: Context, source: BodySource): Promise<string | Buffer> {
  if (source.kind === "text") return source.text;
  if (source.kind === "file") {
    try {
      return await readFile(resolve(ctx.cwd, source.path));
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

/**
 * `--explain`: the routing of a template's first message, on stderr. The explanation
 * (routing tables, the route view and its table layout) loads only for --explain: a plain
 * publish should not pay for it.
 */
async function explain(
  ctx: Context,
  template: string,
  m: { exchange: string; routingKey: string; properties: { headers: Record<string, unknown> } },
): Promise<void> {
  const [{ config }, { explainText }] = await Promise.all([
    ctx.loadConfig(),
    import("../../lab/explain.js"),
  ]);
  const text = explainText(
    config.topology,
    { exchange: m.exchange, routingKey: m.routingKey, headers: m.properties.headers },
    ctx.theme,
  );
  ctx.io.err(ctx.theme.dim(`${template}: where its first message goes`));
  ctx.io.stderr.write(
    text ?? `the config does not declare exchange '${m.exchange}': nothing to explain offline\n`,
  );
}

export async function runProduce(ctx: Context, o: ProduceOptions): Promise<void> {
  const resolved = await resolveTemplates(ctx, o);
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

  const link = await openLink(ctx, "eventlab produce", o.reconnect);
  try {
    const run = new PublishRun(
      ctx,
      o,
      compiled,
      link,
      o.explain ? (name, message) => explain(ctx, name, message) : undefined,
    );
    const { summary, error, settled } = await run.run();
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
    await link.close();
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

function printSummary(ctx: Context, s: ProduceSummary, json: boolean): void {
  if (json) {
    ctx.io.out(`${JSON.stringify(s)}\n`);
    return;
  }
  ctx.io.out(`${summaryLine(ctx.theme, s)}\n`);
  if (s.templates.length > 1) {
    for (const t of s.templates)
      ctx.io.out(
        `  ${t.name}: ${count(t.published)} to ${t.exchange === "" ? "(default exchange)" : t.exchange}\n`,
      );
  }
  if (s.returned > 0) printReturns(ctx, s);
  if (s.nacked > 0) {
    ctx.io.err(
      ctx.theme.warn(
        `! ${count(s.nacked)} message${s.nacked === 1 ? " was" : "s were"} nacked by the broker`,
      ),
    );
    ctx.io.err(
      ctx.theme.dim(
        "hint: a queue with x-overflow reject-publish may be full, or the broker is short of resources",
      ),
    );
  }
}

/** `✓ published 10 · confirmed 10 · returned 0 in 12ms (833 msg/s)` */
function summaryLine(theme: Context["theme"], s: ProduceSummary): string {
  const parts = [`published ${theme.bold(count(s.published))}`];
  if (s.confirms) parts.push(`confirmed ${count(s.confirmed)}`);
  if (s.republished > 0)
    parts.push(theme.warn(`republished ${count(s.republished)} (possible duplicates)`));
  if (s.nacked > 0) parts.push(theme.error(`nacked ${count(s.nacked)}`));
  if (s.mandatory)
    parts.push(s.returned > 0 ? theme.warn(`returned ${count(s.returned)}`) : "returned 0");
  if (s.unconfirmed > 0)
    parts.push(theme.error(`unconfirmed ${count(s.unconfirmed)} (may be lost)`));
  else if (!s.confirms) parts.push(theme.dim("without confirms"));
  if (s.reconnects.length > 0)
    parts.push(
      theme.warn(
        `reconnected ${s.reconnects.length === 1 ? "once" : `${s.reconnects.length} times`}`,
      ),
    );
  if (s.blocked > 0)
    parts.push(theme.warn(`blocked ${s.blocked === 1 ? "once" : `${s.blocked} times`}`));
  const bad = s.nacked + s.returned + s.unconfirmed > 0 || s.interrupted || s.error !== undefined;
  const mark = bad ? theme.warn("!") : theme.ok("✓");
  const why = s.interrupted
    ? theme.warn(" — interrupted")
    : s.error !== undefined
      ? theme.warn(" — stopped by the error below")
      : "";
  return `${mark} ${parts.join(" · ")} in ${elapsed(s.elapsedMs)} (${rate(s.ratePerSecond)} msg/s)${why}`;
}

function printReturns(ctx: Context, s: ProduceSummary): void {
  const { io, theme } = ctx;
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

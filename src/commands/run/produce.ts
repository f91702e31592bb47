/**
 * What `eventlab produce` does once its flags are parsed: read the body, resolve and compile
 * the templates, publish them paced with confirms, and print an honest summary.
 */

import { compileTemplate } from "../../config/templates.js";
import type { Context } from "../../context.js";
import { ConfigError, UsageError } from "../../errors.js";
import { count, elapsed, rate } from "../../ui/format.js";
import type { BodySource, ProduceOptions, ProduceSummary } from "../produce.js";
import { printViolations, produceValidation, violationFields } from "./contract-check.js";
import { openLink } from "./link.js";
import { resolveTemplates } from "./message-flags.js";
import { concludePublish, PublishRun } from "./publish-run.js";
import { runReplay } from "./replay.js";

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
  if (o.replay) {
    await runReplay(ctx, { ...o, replay: o.replay }, printSummary);
    return;
  }
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

  const validation = await produceValidation(
    ctx,
    o,
    resolved.map(([name]) => name),
  );
  const link = await openLink(ctx, "eventlab produce", o.reconnect);
  try {
    const run = new PublishRun(
      ctx,
      o,
      compiled,
      link,
      o.explain ? (name, message) => explain(ctx, name, message) : undefined,
      validation?.accept,
    );
    const outcome = await run.run();
    const { error, settled } = outcome;
    const summary = validation
      ? { ...outcome.summary, ...violationFields(validation.tally) }
      : outcome.summary;
    printSummary(ctx, summary, o.json);
    if (validation)
      printViolations(ctx, validation.tally, { verb: "not published", per: "per template" });
    // The summary above counts what was confirmed and what may be lost; the error says why.
    if (error !== undefined) throw error;
    concludePublish(ctx, o, summary, settled);
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

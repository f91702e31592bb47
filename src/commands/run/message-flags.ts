/**
 * The message a command builds from its flags: --body, --body-file or standard input, laid
 * over the named templates of the config (or a template made of the flags alone). Shared by
 * `produce` and `request`, which build their messages the same way.
 */
import { isUtf8 } from "node:buffer";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { TemplateConfig } from "../../config/schema.js";
import type { TemplateInput } from "../../config/templates.js";
import type { Context } from "../../context.js";
import { EventlabError, UsageError } from "../../errors.js";
import type { BodySource, ProduceOptions } from "../produce.js";

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

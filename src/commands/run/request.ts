/**
 * What `eventlab request` does once its flags are parsed: render the request as `produce`
 * would (same templates, body rules and content type), consume from the direct reply-to
 * pseudo-queue on a confirm channel, then for each request publish it mandatory with a
 * correlation id of its own and wait for its reply, its return, or the timeout.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { ConfirmChannel, ConsumeMessage, Message } from "amqplib";
import { brokerError } from "../../client/errors.js";
import { maskSecrets } from "../../client/url.js";
import type { CompiledTemplate } from "../../config/templates.js";
import { compileTemplate } from "../../config/templates.js";
import type { Context } from "../../context.js";
import { ConfigError, EventlabError, ExitCode, UsageError } from "../../errors.js";
import { elapsed } from "../../ui/format.js";
import { ndjsonLine } from "../../ui/message.js";
import type { ProduceOptions } from "../produce.js";
import type { RequestOptions } from "../request.js";
import { resolveTemplates } from "./message-flags.js";

/** RabbitMQ's direct reply-to pseudo-queue. */
export const REPLY_TO = "amq.rabbitmq.reply-to";

type Outcome =
  | { kind: "reply"; message: ConsumeMessage; rttMs: number }
  | { kind: "returned"; message: Message }
  | { kind: "nacked" }
  | { kind: "timeout" }
  | { kind: "interrupted" }
  | { kind: "closed"; error: unknown };

/** The request as `produce` renders it: flags over the template, if one is named. */
async function compileRequest(ctx: Context, o: RequestOptions): Promise<CompiledTemplate> {
  const asProduce: ProduceOptions = {
    templates: o.template !== undefined ? [o.template] : [],
    exchange: o.exchange,
    routingKey: o.routingKey,
    headers: o.headers,
    properties: o.contentType !== undefined ? { contentType: o.contentType } : {},
    body: o.body,
    amount: o.count,
    confirm: true,
    mandatory: true,
    window: 1,
    json: o.json,
    settleTimeoutMs: o.timeoutMs,
    explain: false,
    reconnect: {},
  };
  const [resolved] = await resolveTemplates(ctx, asProduce);
  if (!resolved) throw new EventlabError("internal", "no request to send");
  const [name, template] = resolved;
  try {
    return await compileTemplate(name, template, { env: ctx.env });
  } catch (err) {
    if (err instanceof ConfigError && o.template === undefined) {
      const lines = err.issues.map((i) => i.message);
      throw new UsageError(
        `the request's ${lines.length === 1 ? `body: ${lines[0]}` : `flags:\n  ${lines.join("\n  ")}`}`,
        err.hint,
      );
    }
    if (err instanceof ConfigError) {
      const { file } = await ctx.loadConfig();
      throw new ConfigError(file, err.issues, err.hint);
    }
    throw err;
  }
}

/** `exchange 'rpc', routing key 'price.quote'` (the default exchange by its role). */
function target(exchange: string, routingKey: string): string {
  return exchange === ""
    ? `the default exchange (queue ${JSON.stringify(routingKey)})`
    : `exchange ${JSON.stringify(exchange)}, routing key ${JSON.stringify(routingKey)}`;
}

export async function runRequest(ctx: Context, o: RequestOptions): Promise<void> {
  const { io, theme } = ctx;
  const compiled = await compileRequest(ctx, o);
  const connection = await ctx.connect({ connectionName: "eventlab request" });
  let failed = 0;
  try {
    let channel: ConfirmChannel;
    try {
      channel = await connection.model.createConfirmChannel();
    } catch (err) {
      throw brokerError(err, undefined, connection);
    }
    // A channel error fails what is pending; the outcome says which operation it was.
    let channelError: unknown;
    let onClosed: ((error: unknown) => void) | undefined;
    channel.on("error", (err: unknown) => {
      channelError = err;
    });
    channel.on("close", () => onClosed?.(channelError ?? connection.closeReason));

    let pending:
      | { correlationId: string; settle(outcome: Outcome): void; start: number }
      | undefined;
    let stray = 0;
    // Direct reply-to: consume (no-ack) from the pseudo-queue before publishing, on this channel.
    try {
      await channel.consume(
        REPLY_TO,
        (message) => {
          if (!message) return;
          if (pending && message.properties.correlationId === pending.correlationId) {
            pending.settle({ kind: "reply", message, rttMs: performance.now() - pending.start });
          } else stray += 1;
        },
        { noAck: true },
      );
    } catch (err) {
      throw brokerError(err, { op: "consume", queue: REPLY_TO }, connection);
    }
    channel.on("return", (message: Message) => {
      if (pending && message.properties.correlationId === pending.correlationId)
        pending.settle({ kind: "returned", message });
    });

    for (let n = 1; n <= o.count; n++) {
      const m = compiled.render();
      const correlationId = randomUUID();
      const outcome = await new Promise<Outcome>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const onAbort = () => settle({ kind: "interrupted" });
        const settle = (outcome: Outcome) => {
          clearTimeout(timer);
          ctx.signal.removeEventListener("abort", onAbort);
          pending = undefined;
          onClosed = undefined;
          resolve(outcome);
        };
        if (ctx.signal.aborted) return settle({ kind: "interrupted" });
        ctx.signal.addEventListener("abort", onAbort, { once: true });
        onClosed = (error) => settle({ kind: "closed", error });
        pending = { correlationId, settle, start: performance.now() };
        timer = setTimeout(() => settle({ kind: "timeout" }), o.timeoutMs);
        try {
          channel.publish(
            m.exchange,
            m.routingKey,
            m.content,
            {
              ...m.properties,
              // A request no one took within the timeout expires: no late answer to no one.
              expiration: m.properties.expiration ?? String(o.timeoutMs),
              replyTo: REPLY_TO,
              correlationId,
              mandatory: true,
            },
            (err) => {
              if (!err) return;
              // amqplib fails the confirms of a channel that closed too: that is not a nack.
              setImmediate(() => {
                if (pending?.correlationId !== correlationId) return;
                if (channelError !== undefined || connection.closed)
                  settle({ kind: "closed", error: channelError ?? connection.closeReason });
                else settle({ kind: "nacked" });
              });
            },
          );
        } catch (err) {
          settle({ kind: "closed", error: channelError ?? err });
        }
      });
      const where = target(m.exchange, m.routingKey);
      switch (outcome.kind) {
        case "reply": {
          const isError = printReply(ctx, o, n, correlationId, outcome.message, outcome.rttMs);
          if (isError) failed += 1;
          break;
        }
        case "returned": {
          const { replyCode, replyText } = outcome.message.fields as unknown as {
            replyCode: number;
            replyText: string;
          };
          throw new EventlabError(
            "not-found",
            `the request was returned unroutable (${replyCode} ${replyText}): ${m.exchange === "" ? `there is no queue named ${JSON.stringify(m.routingKey)}` : `no queue is bound to ${where}`}`,
            {
              hint:
                m.exchange === ""
                  ? `declare the queue (eventlab declare queue ${m.routingKey}), or start the replier with --declare`
                  : `see which queues it reaches: eventlab route ${m.exchange} ${m.routingKey}; bind the replier's queue with that key`,
            },
          );
        }
        case "nacked":
          throw new EventlabError("broker", `the broker nacked the request to ${where}`, {
            hint: "the queue may be full (x-overflow reject-publish), or the broker short of resources",
          });
        case "timeout":
          throw new EventlabError(
            "timeout",
            `no reply within ${elapsed(o.timeoutMs)} to request ${n} (correlation id ${correlationId}) sent to ${where}`,
            {
              hint: `is a replier consuming from the queue it routes to? (eventlab reply <queue> --echo answers); a slow one needs a longer --timeout${stray > 0 ? `; ${stray} replies with other correlation ids came (late replies to earlier requests?)` : ""}`,
            },
          );
        case "interrupted":
          ctx.setExitCode(ExitCode.interrupted);
          io.err(theme.warn(`! interrupted while waiting for the reply to request ${n}`));
          return;
        case "closed":
          throw brokerError(outcome.error, { op: "publish", exchange: m.exchange }, connection);
      }
    }
    if (failed > 0) {
      throw new EventlabError(
        "broker",
        `${failed === 1 && o.count === 1 ? "the reply" : `${failed} of ${o.count} replies`} carried an error (x-error)`,
        { hint: "the replier failed to answer: see its x-error above, and its own output" },
      );
    }
  } finally {
    await connection.close();
  }
}

/** Print one reply: its body on stdout (or a JSON line), the round trip on stderr. Whether it is an error reply. */
function printReply(
  ctx: Context,
  o: RequestOptions,
  n: number,
  correlationId: string,
  message: ConsumeMessage,
  rttMs: number,
): boolean {
  const { io, theme } = ctx;
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const rtt = Math.round(rttMs * 1000) / 1000;
  if (o.json) {
    const properties: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(message.properties))
      if (k !== "headers" && v !== undefined && v !== null) properties[k] = v;
    const line = ndjsonLine(n, {
      exchange: message.fields.exchange,
      routingKey: message.fields.routingKey,
      redelivered: message.fields.redelivered,
      headers,
      properties,
      body: message.content,
    });
    io.out(`{"rttMs":${rtt},${line.slice(1)}`);
  } else {
    io.stdout.write(message.content);
    if (io.stdoutIsTTY && message.content.at(-1) !== 0x0a) io.stdout.write("\n");
  }
  const error = headers["x-error"];
  const counter = o.count > 1 ? ` ${n}/${o.count}` : "";
  io.err(
    theme.dim(
      `← reply${counter} in ${rtt < 10 ? rtt.toFixed(2) : Math.round(rtt)} ms · ${message.content.length} bytes · correlation id ${correlationId}`,
    ),
  );
  if (error === undefined) return false;
  const text = Buffer.isBuffer(error) ? error.toString("utf8") : String(error);
  const code = headers["x-exit-code"];
  io.err(
    theme.warn(
      `! the replier reported an error${code !== undefined ? ` (exit code ${String(code)})` : ""}: ${maskSecrets(text.trim())}`,
    ),
  );
  return true;
}

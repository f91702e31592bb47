/**
 * What `eventlab reply` does once its flags are parsed: consume requests from a queue one at a
 * time, answer each to its reply-to (default exchange) with its correlation id, wait for the
 * broker to confirm the reply, then ack the request. --echo sends the body back; --command
 * runs a shell command with the body on its standard input and replies with its output.
 */
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import type { ConfirmChannel, ConsumeMessage, Message, Options } from "amqplib";
import { brokerError, isReply } from "../../client/errors.js";
import { detectContentType } from "../../config/templates.js";
import type { Context } from "../../context.js";
import { EventlabError, ExitCode } from "../../errors.js";
import { count, elapsed } from "../../ui/format.js";
import type { ReplyMode, ReplyOptions } from "../reply.js";

/** How long the broker has to confirm a reply. */
const CONFIRM_TIMEOUT_MS = 10_000;
/** The most of a failed command's standard error that goes into the x-error header. */
const MAX_ERROR_CHARS = 4000;
/** The most of a command's standard output that is kept for the reply. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

interface Answer {
  content: Buffer;
  properties: Options.Publish;
  /** Set when --command failed: what goes in x-error. */
  error?: string | undefined;
}

interface Stats {
  replied: number;
  errors: number;
  noReplyTo: number;
  returned: number;
}

type Stop =
  | { by: "count" }
  | { by: "interrupted" }
  | { by: "cancelled-by-broker" }
  | { by: "error"; error: unknown };

export async function runReply(ctx: Context, o: ReplyOptions): Promise<void> {
  const { io, theme } = ctx;
  const connection = await ctx.connect({ connectionName: "eventlab reply" });
  const stats: Stats = { replied: 0, errors: 0, noReplyTo: 0, returned: 0 };
  const started = performance.now();
  let stop: Stop | undefined;
  try {
    const channel = await openChannel(connection, o);
    let channelError: unknown;
    let resolveStop: (s: Stop) => void = () => {};
    const stopped = new Promise<Stop>((resolve) => {
      resolveStop = (s) => {
        stop ??= s;
        resolve(stop);
      };
    });
    channel.on("error", (err: unknown) => {
      channelError = err;
    });
    channel.on("close", () =>
      resolveStop({ by: "error", error: channelError ?? connection.closeReason }),
    );
    let returned = false;
    channel.on("return", () => {
      returned = true;
    });
    const onAbort = () => resolveStop({ by: "interrupted" });
    ctx.signal.addEventListener("abort", onAbort, { once: true });

    let tag: string | undefined;
    let chain: Promise<void> = Promise.resolve();
    const handle = async (request: ConsumeMessage): Promise<void> => {
      if (stop) return; // left unacked: back on the queue when the channel closes
      const { replyTo, correlationId } = request.properties as {
        replyTo?: string;
        correlationId?: string;
      };
      const n = stats.replied + stats.noReplyTo + 1;
      if (!replyTo) {
        channel.reject(request, false);
        stats.noReplyTo += 1;
        io.err(
          theme.warn(
            `! request ${n} has no reply-to: rejected (no one waits for its answer)${correlationId ? `, correlation id ${correlationId}` : ""}`,
          ),
        );
        return;
      }
      const t0 = performance.now();
      const answer = await answerOf(ctx, o.mode, request);
      // Interrupted while the command ran: no reply; the request goes back to the queue.
      if (stop) return;
      returned = false;
      const direct = replyTo.startsWith("amq.rabbitmq.reply-to");
      await publishConfirmed(channel, replyTo, answer, {
        ...(correlationId !== undefined ? { correlationId } : {}),
        // A direct reply-to reaches no queue: mandatory would have it returned even when delivered.
        mandatory: !direct,
      });
      const last = o.count !== undefined && stats.replied + 1 >= o.count;
      // Cancel before the last ack, so that no further request is delivered to this run.
      if (last && tag !== undefined) await channel.cancel(tag).catch(() => {});
      channel.ack(request);
      stats.replied += 1;
      if (answer.error !== undefined) stats.errors += 1;
      if (returned) stats.returned += 1;
      const ms = performance.now() - t0;
      const id = correlationId !== undefined ? ` · correlation id ${correlationId}` : "";
      io.err(
        answer.error !== undefined
          ? theme.warn(
              `✗ ${n} replied with x-error in ${elapsed(ms)}${id}: ${firstLine(answer.error)}`,
            )
          : returned
            ? theme.warn(`! ${n} reply returned: no queue named ${JSON.stringify(replyTo)}${id}`)
            : `${theme.ok("✓")} ${n} replied ${count(answer.content.length)} bytes in ${elapsed(ms)}${id}`,
      );
      if (last) resolveStop({ by: "count" });
    };

    try {
      const ok = await channel.consume(
        o.queue,
        (request) => {
          if (request === null) {
            resolveStop({ by: "cancelled-by-broker" });
            return;
          }
          chain = chain
            .then(() => handle(request))
            .catch((err: unknown) => resolveStop({ by: "error", error: err }));
        },
        { noAck: false },
      );
      tag = ok.consumerTag;
    } catch (err) {
      throw brokerError(err, { op: "consume", queue: o.queue }, connection);
    }
    const mode = o.mode.kind === "echo" ? "echoing" : `running ${o.mode.command}`;
    io.err(
      theme.dim(
        `answering requests from queue ${o.queue} (${mode})${o.count !== undefined ? `, ${o.count} then exit` : ""}; Ctrl-C to stop`,
      ),
    );
    const end = await stopped;
    ctx.signal.removeEventListener("abort", onAbort);
    if (end.by !== "error") {
      if (tag !== undefined && end.by !== "cancelled-by-broker")
        await channel.cancel(tag).catch(() => {});
      // Let the request in hand finish (its command is stopped on Ctrl-C), within bounds.
      await Promise.race([chain, new Promise((r) => setTimeout(r, 5000).unref())]);
    }
    printSummary(ctx, stats, performance.now() - started, end.by === "interrupted");
    switch (end.by) {
      case "interrupted":
        ctx.setExitCode(ExitCode.interrupted);
        return;
      case "cancelled-by-broker":
        io.err(theme.warn(`! the broker cancelled the consumer: queue ${o.queue} was deleted`));
        return;
      case "error":
        throw brokerError(end.error, { op: "consume", queue: o.queue }, connection);
      default:
        return;
    }
  } finally {
    await connection.close();
  }
}

/** A confirm channel on the queue: declared with --declare, else checked (404 says what to do). */
async function openChannel(
  connection: Awaited<ReturnType<Context["connect"]>>,
  o: ReplyOptions,
): Promise<ConfirmChannel> {
  let channel: ConfirmChannel;
  try {
    channel = await connection.model.createConfirmChannel();
  } catch (err) {
    throw brokerError(err, undefined, connection);
  }
  channel.on("error", () => {});
  try {
    if (o.declare) await channel.assertQueue(o.queue, { durable: true });
    else await channel.checkQueue(o.queue);
    await channel.prefetch(1);
  } catch (err) {
    if (!o.declare && isReply(err, 404)) {
      throw new EventlabError("not-found", `queue ${JSON.stringify(o.queue)} does not exist`, {
        hint: `declare it (eventlab declare queue ${o.queue}, and bind it to the request exchange), or add --declare`,
      });
    }
    throw brokerError(
      err,
      { op: "declare", kind: "queue", name: o.queue, passive: !o.declare },
      connection,
    );
  }
  return channel;
}

/** Publish the reply on the default exchange and wait for the broker's confirm. */
function publishConfirmed(
  channel: ConfirmChannel,
  replyTo: string,
  answer: Answer,
  extra: Options.Publish,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new EventlabError(
            "timeout",
            `the broker did not confirm a reply within ${elapsed(CONFIRM_TIMEOUT_MS)}`,
            {
              hint: "the broker may be blocked (memory or disk alarm); the request stays unacked",
            },
          ),
        ),
      CONFIRM_TIMEOUT_MS,
    );
    const headers = {
      ...(answer.properties.headers as Record<string, unknown> | undefined),
      ...(answer.error !== undefined ? { "x-error": answer.error } : {}),
    };
    try {
      channel.publish(
        "",
        replyTo,
        answer.content,
        { ...answer.properties, ...extra, headers },
        (err: unknown) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        },
      );
    } catch (err) {
      clearTimeout(timer);
      reject(err);
    }
  });
}

/** The reply to one request, by --echo or --command. */
async function answerOf(ctx: Context, mode: ReplyMode, request: Message): Promise<Answer> {
  const p = request.properties as { contentType?: string; contentEncoding?: string };
  if (mode.kind === "echo") {
    return {
      content: request.content,
      properties: {
        ...(p.contentType !== undefined ? { contentType: p.contentType } : {}),
        ...(p.contentEncoding !== undefined ? { contentEncoding: p.contentEncoding } : {}),
      },
    };
  }
  const r = await runCommand(ctx, mode.command, mode.timeoutMs, request);
  const properties: Options.Publish = { contentType: detectContentType(r.stdout) };
  if (r.ok) return { content: r.stdout, properties };
  return {
    content: r.stdout,
    properties: {
      ...properties,
      headers: r.exitCode !== undefined ? { "x-exit-code": r.exitCode } : {},
    },
    error: r.error,
  };
}

interface CommandResult {
  ok: boolean;
  stdout: Buffer;
  exitCode?: number | undefined;
  error?: string | undefined;
}

/**
 * Run `command` through the shell with the body on its standard input, in a process group of
 * its own, so that a timeout or Ctrl-C stops it and whatever it started.
 */
function runCommand(
  ctx: Context,
  command: string,
  timeoutMs: number,
  request: Message,
): Promise<CommandResult> {
  const p = request.properties as { correlationId?: string; replyTo?: string };
  return new Promise((resolve) => {
    const child = spawn(command, {
      shell: true,
      detached: process.platform !== "win32",
      stdio: ["pipe", "pipe", "pipe"],
      env: {
        ...ctx.env,
        EVENTLAB_CORRELATION_ID: p.correlationId ?? "",
        EVENTLAB_ROUTING_KEY: request.fields.routingKey,
        EVENTLAB_REPLY_TO: p.replyTo ?? "",
      },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let stoppedBy: string | undefined;
    const kill = (why: string) => {
      stoppedBy ??= why;
      try {
        if (child.pid !== undefined && process.platform !== "win32")
          process.kill(-child.pid, "SIGKILL");
        else child.kill("SIGKILL");
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => kill(`timed out after ${elapsed(timeoutMs)}`), timeoutMs);
    const onAbort = () => kill("interrupted");
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    child.stdout.on("data", (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > MAX_OUTPUT_BYTES) kill(`its output passed ${count(MAX_OUTPUT_BYTES)} bytes`);
      else out.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    // A command that does not read its input closes the pipe early: not an error of ours.
    child.stdin.on("error", () => {});
    child.stdin.end(request.content);
    const finish = (result: CommandResult) => {
      clearTimeout(timer);
      ctx.signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    child.on("error", (e) =>
      finish({ ok: false, stdout: Buffer.alloc(0), error: `cannot run the command: ${e.message}` }),
    );
    child.on("close", (code, signal) => {
      const stdout = Buffer.concat(out);
      const stderr = Buffer.concat(err).toString("utf8").trim();
      if (stoppedBy === undefined && code === 0) return finish({ ok: true, stdout });
      const why =
        stoppedBy !== undefined
          ? `the command was stopped: ${stoppedBy}`
          : code !== null
            ? `the command exited with code ${code}`
            : `the command was killed by ${signal}`;
      const text =
        stoppedBy !== undefined ? (stderr === "" ? why : `${why}: ${stderr}`) : stderr || why;
      finish({
        ok: false,
        stdout,
        exitCode: code ?? undefined,
        error: text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text,
      });
    });
  });
}

function firstLine(text: string): string {
  const [line = ""] = text.split("\n");
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}

function printSummary(ctx: Context, s: Stats, ms: number, interrupted: boolean): void {
  const { io, theme } = ctx;
  const parts = [`replied ${theme.bold(count(s.replied))}`];
  if (s.errors > 0) parts.push(theme.warn(`with x-error ${count(s.errors)}`));
  if (s.returned > 0) parts.push(theme.warn(`returned ${count(s.returned)}`));
  if (s.noReplyTo > 0) parts.push(theme.warn(`rejected without reply-to ${count(s.noReplyTo)}`));
  const bad = s.errors + s.returned + s.noReplyTo > 0;
  const why = interrupted ? theme.dim(" — interrupted") : "";
  io.err(`${bad ? theme.warn("!") : theme.ok("✓")} ${parts.join(" · ")} in ${elapsed(ms)}${why}`);
}

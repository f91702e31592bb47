/**
 * `consume --filter` and `consume --exec` as run/consume.ts uses them: the checks across
 * flags, the screen (client/consume-filter.ts) built from the options, and what the summary
 * says about it.
 */

import { MessageScreen } from "../../client/consume-filter.js";
import type { ConsumeResult } from "../../client/consume-session.js";
import { compileExpression } from "../../config/expression.js";
import type { Context } from "../../context.js";
import { ExitCode, UsageError } from "../../errors.js";
import { count } from "../../ui/format.js";
import type { ConsumeOptions } from "../consume.js";

/** What does not go with --filter or --exec; undefined when all is well. */
export function screenConflict(o: ConsumeOptions): UsageError | undefined {
  if (o.filter === undefined && o.exec === undefined) return undefined;
  const flag = o.exec !== undefined ? "--exec" : "--filter";
  if (o.behaviour)
    return new UsageError(
      `${flag} does not go with consumer behaviours`,
      `leave out the behaviour flags (or the profile's behaviours), or ${flag}`,
    );
  if (o.filter !== undefined && o.noAck && o.exchange === undefined)
    return new UsageError(
      "--filter on a queue needs acknowledgements: with --no-ack, messages that do not match would be lost",
      "leave out --no-ack (skipped messages are given back to the queue), or tap with --exchange",
    );
  if (o.exec === undefined) return undefined;
  if (o.noAck)
    return new UsageError(
      "--exec settles each message by the command's exit status: leave out --no-ack",
    );
  if (o.policy === "reject" || o.policy === "requeue")
    return new UsageError(
      "--exec settles each message by the command's exit status: leave out --reject and --requeue",
      "a failed run nacks the message (dead-lettered if the queue has a dead-letter exchange); --exec-requeue requeues it instead",
    );
  if (o.offset !== undefined)
    return new UsageError(
      "--exec does not read streams: a stream keeps every message and cannot nack a failed one",
      "leave out --offset",
    );
  return undefined;
}

/** The screen for these options, or undefined when there is neither --filter nor --exec. */
export function openScreen(
  ctx: Context,
  o: ConsumeOptions,
  prefetch: number,
): MessageScreen | undefined {
  if (o.filter === undefined && o.exec === undefined) return undefined;
  const { io, theme } = ctx;
  const exec = o.exec;
  return new MessageScreen({
    filter: o.filter === undefined ? undefined : compileExpression(o.filter, "--filter"),
    tap: o.exchange !== undefined,
    noAck: o.noAck === true,
    prefetch,
    signal: ctx.signal,
    onWindowFull: (held) =>
      io.err(
        theme.warn(
          `! --filter holds ${count(held)} skipped messages, the whole prefetch window: no more come until consume ends; a larger --prefetch lets more through`,
        ),
      ),
    exec:
      exec === undefined
        ? undefined
        : {
            ...exec,
            env: ctx.env,
            output: (chunk) => io.stderr.write(chunk),
            onFailure: (what, m) =>
              io.err(
                theme.warn(
                  `! --exec failed (${what}) for ${m.properties.messageId ?? `delivery ${m.fields.deliveryTag}`}: ${exec.requeue ? "requeued" : "nacked"}`,
                ),
              ),
          },
  });
}

/**
 * The session counts what it settled as its policy (ack); with --exec the command's exit
 * status settled them: the summary shows that instead.
 */
export function screenedResult(r: ConsumeResult, screen: MessageScreen | undefined): ConsumeResult {
  if (!screen?.execs) return r;
  const c = screen.counts;
  return { ...r, acked: c.execAcked, rejected: c.execNacked, requeued: c.execRequeued };
}

/** The filter's and the command's line of the summary; exit 1 when a run failed. */
export function concludeScreen(ctx: Context, screen: MessageScreen | undefined): void {
  if (!screen) return;
  const { io, theme } = ctx;
  const c = screen.counts;
  if (screen.filters) {
    const held = c.released > 0 ? ` (${count(c.released)} held and given back to the queue)` : "";
    io.err(theme.dim(`  filter: matched ${count(c.matched)} · skipped ${count(c.skipped)}${held}`));
  }
  if (screen.execs) {
    const parts = [
      `acked ${count(c.execAcked)}`,
      `nacked ${count(c.execNacked)}`,
      `requeued ${count(c.execRequeued)}`,
    ];
    if (c.execTimedOut > 0) parts.push(theme.warn(`timed out ${count(c.execTimedOut)}`));
    if (c.execNotRun > 0)
      parts.push(`not run ${count(c.execNotRun)} (interrupted: back in the queue)`);
    const failed = c.execNacked + c.execRequeued;
    io.err(`  exec: ${parts.join(" · ")}`);
    if (failed > 0) ctx.setExitCode(ExitCode.failure);
  }
}

/**
 * One run of `eventlab produce` past its templates: publish each template's messages, paced,
 * through a Publisher that reconnects, then wait for the last confirms and count everything.
 *
 *   new → run() → publishing (one loop per template) → settling → the summary
 *
 * Every message gets a stable message id (its template's own, or `<run>-<n>`), so that a
 * consumer can tell a republished duplicate from a new message.
 */
import { randomBytes } from "node:crypto";
import { Publisher } from "../../client/publisher.js";
import type { Link } from "../../client/reconnect.js";
import type { CompiledTemplate, RenderedMessage } from "../../config/templates.js";
import type { Context } from "../../context.js";
import { EventlabError, ExitCode } from "../../errors.js";
import { Pacer, paceOf, sleep } from "../../lab/pacer.js";
import { count, elapsed, rate } from "../../ui/format.js";
import { startProgress } from "../../ui/progress.js";
import type { ProduceOptions, ProduceSummary, TemplateSummary } from "../produce.js";

/** How long to wait for the last confirms after an error or Ctrl-C. */
const SHORT_SETTLE_MS = 5000;

export interface PublishOutcome {
  summary: ProduceSummary;
  /** What stopped publishing early, as thrown or as the publisher saw it. */
  error: unknown;
  /** Every confirm (or, without confirms, the last round trip) came back in time. */
  settled: boolean;
}

export class PublishRun {
  readonly perTemplate: TemplateSummary[];
  private readonly idPrefix = randomBytes(4).toString("hex");
  private seq = 0;
  private failure: unknown;
  private started = 0;

  constructor(
    private readonly ctx: Context,
    private readonly o: ProduceOptions,
    private readonly templates: readonly CompiledTemplate[],
    private readonly link: Link,
    /** Called with each template's first message before it is published (--explain). */
    private readonly first?: (template: string, message: RenderedMessage) => Promise<void>,
    /** Whether a rendered message goes out (produce --validate); a refused one is not published. */
    private readonly accept?: (template: string, message: RenderedMessage, id: string) => boolean,
  ) {
    this.perTemplate = templates.map((t) => ({ name: t.name, exchange: "", published: 0 }));
  }

  async run(): Promise<PublishOutcome> {
    const { ctx, o } = this;
    const publisher = await Publisher.open(this.link.connection, {
      confirm: o.confirm,
      mandatory: o.mandatory,
      window: o.window,
      link: this.link,
      onBlocked: (reason) =>
        ctx.io.err(
          reason === undefined
            ? ctx.theme.dim("the broker unblocked publishing")
            : ctx.theme.warn(
                `! the broker blocked publishing (${reason}); waiting until it unblocks`,
              ),
        ),
    });
    this.started = performance.now();
    const progress = await startProgress(ctx.io, () => this.progressLine(publisher));
    try {
      await Promise.all(this.templates.map((t, i) => this.publishAll(publisher, t, i)));
    } catch (err) {
      this.failure = err;
    } finally {
      progress.stop();
    }
    const publishMs = performance.now() - this.started;
    const settled = await this.settle(publisher);
    const elapsedMs = performance.now() - this.started;
    await publisher.close();
    return this.outcome(publisher, settled, publishMs, elapsedMs);
  }

  private async publishAll(
    publisher: Publisher,
    t: CompiledTemplate,
    index: number,
  ): Promise<void> {
    const { signal } = this.ctx;
    const pacer = new Pacer(paceOf(t.delayMs, t.rate));
    const mine = this.perTemplate[index]!;
    for (let i = 0; i < t.amount; i++) {
      if (signal.aborted || this.failure || publisher.error) return;
      const wait = pacer.waitFor(i);
      if (wait >= 1) await sleep(wait, signal);
      if (signal.aborted) return;
      const message = t.render();
      mine.exchange = message.exchange;
      if (i === 0 && this.first) await this.first(t.name, message);
      this.seq += 1;
      const id = `${this.idPrefix}-${this.seq}`;
      const refused =
        this.accept !== undefined &&
        !this.accept(t.name, message, message.properties.messageId ?? id);
      if (!refused) {
        if (!publisher.publish(message, id)) await publisher.ready(signal);
        mine.published += 1;
      }
      // Let confirms, returns and timers in between long synchronous bursts.
      if ((i & 1023) === 1023) await new Promise<void>((r) => setImmediate(r));
    }
  }

  /**
   * Wait for every confirm (or, without confirms, one round trip that brings back every
   * return) even after a failure: what was confirmed before it still counts. A reconnect
   * under way is waited for (it is bounded by its own policy), then the confirms again.
   */
  private async settle(publisher: Publisher): Promise<boolean> {
    const short = this.ctx.signal.aborted || this.failure !== undefined;
    const timeoutMs = short
      ? Math.min(this.o.settleTimeoutMs, SHORT_SETTLE_MS)
      : this.o.settleTimeoutMs;
    let settled = await publisher.settle(timeoutMs);
    while (!settled && publisher.reconnecting && !this.ctx.signal.aborted) {
      await publisher.recovered();
      settled = await publisher.settle(timeoutMs);
    }
    return settled;
  }

  private outcome(
    publisher: Publisher,
    settled: boolean,
    publishMs: number,
    elapsedMs: number,
  ): PublishOutcome {
    const { o } = this;
    const { summary, error } = publishSummary(this.ctx, publisher, {
      templates: this.perTemplate,
      link: this.link,
      confirm: o.confirm,
      mandatory: o.mandatory,
      failure: this.failure,
      publishMs,
      elapsedMs,
    });
    return { summary, error, settled };
  }

  private progressLine(publisher: Publisher): string {
    const s = publisher.stats;
    const total = this.templates.reduce((n, t) => n + t.amount, 0);
    const secs = (performance.now() - this.started) / 1000;
    const state = publisher.reconnecting ? " · reconnecting…" : "";
    return `publishing ${count(s.published)}/${count(total)} · confirmed ${count(s.confirmed)} · ${rate(s.published / Math.max(secs, 0.001))} msg/s${state}`;
  }
}

/**
 * The summary of a publish run, from its publisher's counters, as produce (and its --replay)
 * print it; and the error to raise after printing it, if any.
 */
export function publishSummary(
  ctx: Context,
  publisher: Publisher,
  r: {
    templates: TemplateSummary[];
    link: Link;
    confirm: boolean;
    mandatory: boolean;
    failure: unknown;
    publishMs: number;
    elapsedMs: number;
  },
): { summary: ProduceSummary; error: unknown } {
  const exchanges = new Set(r.templates.map((t) => t.exchange));
  // Ctrl-C while the connection was being recovered: the summary says interrupted, and
  // the lost connection is no error of its own.
  const interruptedRecovery = ctx.signal.aborted && publisher.lostConnection;
  const error =
    publisher.error && !interruptedRecovery
      ? publisher.describeFailure(exchanges.size === 1 ? [...exchanges][0] : undefined)
      : r.failure;
  const s = publisher.stats;
  const summary: ProduceSummary = {
    templates: r.templates,
    published: s.published,
    confirmed: s.confirmed,
    nacked: s.nacked,
    returned: s.returned,
    republished: s.republished,
    unconfirmed: s.unanswered + (r.confirm ? publisher.pending : 0),
    blocked: s.blocked,
    reconnects: r.link.reconnects.map((c, i) => {
      const firstConfirmMs = publisher.resumedAfterMs[i];
      return firstConfirmMs === undefined ? c : { ...c, firstConfirmMs };
    }),
    confirms: r.confirm,
    mandatory: r.mandatory,
    elapsedMs: Math.round(r.elapsedMs),
    ratePerSecond: Math.round((s.published / Math.max(r.publishMs, 1)) * 1000 * 10) / 10,
    interrupted: ctx.signal.aborted,
    returnedSamples: publisher.returnedSamples,
    ...(error !== undefined
      ? { error: error instanceof Error ? error.message : String(error) }
      : {}),
  };
  return { summary, error };
}

/**
 * The exit code of a publish run, once its summary is printed: 2 interrupted, a timeout error
 * when not all was answered, 1 when messages broke their contract, 3 nacked or returned.
 */
export function concludePublish(
  ctx: Context,
  o: { confirm: boolean; settleTimeoutMs: number },
  summary: ProduceSummary,
  settled: boolean,
): void {
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
  } else if (summary.invalid !== undefined && summary.invalid > 0)
    ctx.setExitCode(ExitCode.failure);
  else if (summary.nacked > 0 || summary.returned > 0) ctx.setExitCode(ExitCode.undelivered);
}

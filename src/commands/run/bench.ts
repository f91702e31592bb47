import { availableParallelism } from "node:os";
import path from "node:path";
import type { Worker } from "node:worker_threads";
import { startBroker } from "../../broker/index.js";
import type { ConnectOptions } from "../../client/connect.js";
import { maskSecrets } from "../../client/url.js";
import { compileTemplate } from "../../config/templates.js";
import type { Context } from "../../context.js";
import { EventlabError, ExitCode, UsageError } from "../../errors.js";
import { compareReports, compareText, readReport } from "../../lab/bench/compare.js";
import { type EngineResult, runEngine } from "../../lab/bench/engine.js";
import { benchHtml } from "../../lab/bench/html.js";
import {
  type BenchReport,
  type BenchSettings,
  buildReport,
  secondLine,
  secondsCsv,
  summaryText,
} from "../../lab/bench/report.js";
import { STAMP_BYTES } from "../../lab/bench/stamp.js";
import { startThread } from "../../lab/bench/threads.js";
import type { BenchPlan, BenchTemplate } from "../../lab/bench/types.js";
import type { BenchOptions } from "../bench.js";
import { writeOutputFile } from "./output-file.js";

export async function runBench(ctx: Context, o: BenchOptions): Promise<void> {
  if (o.compare) return compare(ctx, o.compare, o.json);
  const { io, theme } = ctx;
  const template = o.template === undefined ? undefined : await loadTemplate(ctx, o.template);
  const given = ctx.globals.url ?? [];
  const embedded = given.length === 0 ? await startEmbedded(o.embedded) : undefined;
  const urls = embedded ? [embedded.url] : given;
  let declared = false;
  try {
    await declareQueues(ctx, urls, o);
    declared = true;
    // One client thread per core left beside the embedded broker's thread, at least one.
    const threads =
      o.threads ??
      Math.max(
        1,
        Math.min(o.producers + o.consumers, availableParallelism() - (embedded?.threaded ? 1 : 0)),
      );
    if (o.template === undefined && o.size < STAMP_BYTES)
      io.err(theme.dim(`bodies are ${STAMP_BYTES} bytes, the least that holds the stamp`));
    // The embedded broker takes plain guest connections; a given broker, what --url and the
    // TLS and auth flags (or the config) say.
    const connect = embedded ? {} : await ctx.connectOptions();
    const plan = planOf(ctx, o, urls, template, connect);
    const broker = embedded
      ? `embedded (${embedded.threaded ? "own thread" : "main thread"})`
      : given.map(maskSecrets).join(", ");
    const ends =
      o.durationMs !== undefined || o.pmessages !== undefined || o.cmessages !== undefined
        ? ""
        : "; Ctrl-C stops it";
    io.err(
      theme.dim(
        `bench: ${o.producers} producer(s), ${o.consumers} consumer(s) on ${threads === 0 ? "the main thread" : `${threads} client thread(s)`}, broker ${broker}${ends}`,
      ),
    );
    const startedAt = new Date();
    const result = await engine(ctx, o, plan, threads, embedded !== undefined);
    const report = buildReport(settingsOf(o, plan, threads, broker), startedAt, result);
    await writeReports(ctx, o, report);
    if (result.interrupted) ctx.setExitCode(ExitCode.interrupted);
    else if (result.nacked > 0 || (result.missing ?? 0) > 0) ctx.setExitCode(ExitCode.undelivered);
  } finally {
    if (declared && !o.namedQueues) await deleteQueues(ctx, urls, o.queues);
    await embedded?.close();
  }
}

function planOf(
  ctx: Context,
  o: BenchOptions,
  urls: string[],
  template: BenchTemplate | undefined,
  connect: ConnectOptions,
): BenchPlan {
  return {
    runTag: (Math.random() * 0xffffffff) >>> 0,
    urls,
    queues: o.queues,
    producers: o.producers,
    consumers: o.consumers,
    size: Math.max(o.size, STAMP_BYTES),
    template,
    rate: o.rate,
    confirm: o.confirm,
    persistent: o.persistent,
    queueType: o.queueType,
    prefetch: o.prefetch,
    multiAck: o.multiAck,
    autoAck: o.autoAck,
    pmessages: o.pmessages,
    cmessages: o.cmessages,
    durationMs: o.durationMs,
    connect,
    env: { ...ctx.env },
  };
}

function settingsOf(
  o: BenchOptions,
  plan: BenchPlan,
  threads: number,
  broker: string,
): BenchSettings {
  return {
    producers: o.producers,
    consumers: o.consumers,
    queues: o.queues,
    queueType: o.queueType,
    size: o.template === undefined ? plan.size : undefined,
    template: o.template,
    rate: o.rate,
    confirm: o.confirm,
    persistent: o.persistent,
    prefetch: o.prefetch,
    multiAck: o.multiAck,
    autoAck: o.autoAck,
    pmessages: o.pmessages,
    cmessages: o.cmessages,
    durationMs: o.durationMs,
    threads,
    broker,
  };
}

/** Run the producers and consumers; a failure becomes an EventlabError with a hint. */
async function engine(
  ctx: Context,
  o: BenchOptions,
  plan: BenchPlan,
  threads: number,
  embedded: boolean,
): Promise<EngineResult> {
  try {
    return await runEngine({
      plan,
      threads,
      durationMs: o.durationMs,
      drainTimeoutMs: o.drainTimeoutMs,
      signal: ctx.signal,
      onSecond: (s) => ctx.io.err(secondLine(s, o.confirm > 0)),
    });
  } catch (err) {
    if (err instanceof EventlabError) throw err;
    if (ctx.signal.aborted)
      throw new EventlabError("interrupted", "interrupted before the run started");
    throw new EventlabError("broker", `bench failed: ${maskSecrets((err as Error).message)}`, {
      hint: embedded
        ? "run again with --verbose; if it persists, report it"
        : "check that the broker at --url is up and lets the URL's user publish and consume",
      cause: err,
    });
  }
}

/** The summary (or --json) on stdout, and the --csv and --html files. */
async function writeReports(ctx: Context, o: BenchOptions, report: BenchReport): Promise<void> {
  const { io, theme } = ctx;
  if (o.json) io.out(`${JSON.stringify(report)}\n`);
  else io.out(summaryText(report));
  if (o.csv !== undefined) await writeOut(ctx, o.csv, "--csv", secondsCsv(report.seconds));
  if (o.html !== undefined) {
    await writeOut(ctx, o.html, "--html", await benchHtml(report));
  }
  if (o.namedQueues)
    io.err(
      theme.dim(`queues kept: ${o.queues.join(", ")} (eventlab delete queue NAME removes one)`),
    );
}

async function writeOut(ctx: Context, file: string, flag: string, text: string): Promise<void> {
  await writeOutputFile(ctx, file, text, `${flag} ${file}`);
  ctx.io.err(ctx.theme.dim(`wrote ${file}`));
}

async function loadTemplate(ctx: Context, name: string): Promise<BenchTemplate> {
  const { config, file } = await ctx.loadConfig();
  const t = config.templates[name];
  if (t === undefined) {
    const names = Object.keys(config.templates);
    throw new UsageError(
      `--template ${name}: no such template${file ? ` in ${file}` : " (no config file)"}`,
      names.length > 0
        ? `templates: ${names.join(", ")}`
        : "add one under templates: in eventlab.config.yaml, or use --size",
    );
  }
  // Compile here once to report a bad placeholder before any thread starts.
  await compileTemplate(name, t, { env: ctx.env });
  return { name, config: t };
}

interface Embedded {
  url: string;
  threaded: boolean;
  close(): Promise<void>;
}

/** The embedded broker, on a thread of its own (default) or on the main thread. */
async function startEmbedded(where: "thread" | "main"): Promise<Embedded> {
  if (where === "main") {
    const b = await startBroker({ port: 0, host: "127.0.0.1" });
    return { url: b.url, threaded: false, close: () => b.close() };
  }
  const worker: Worker = startThread({ role: "broker" });
  const url = await new Promise<string>((resolve, reject) => {
    worker.once("error", reject);
    worker.once("message", (m: { type: string; url: string }) => resolve(m.url));
  });
  return {
    url,
    threaded: true,
    close: async () => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 3000);
        worker.once("message", () => {
          clearTimeout(timer);
          resolve();
        });
        worker.postMessage({ type: "close" });
      });
      await worker.terminate();
    },
  };
}

function queueArgs(o: BenchOptions): { durable: boolean; arguments?: Record<string, unknown> } {
  if (o.queueType === "classic") return { durable: o.persistent };
  return { durable: true, arguments: { "x-queue-type": o.queueType } };
}

async function declareQueues(ctx: Context, urls: string[], o: BenchOptions): Promise<void> {
  const connection = await ctx.connect({
    urls: [urls[0] as string],
    connectionName: "eventlab bench setup",
  });
  try {
    const ch = await connection.model.createChannel();
    ch.on("error", () => {});
    for (const q of o.queues) {
      try {
        await ch.assertQueue(q, queueArgs(o));
      } catch (err) {
        const code = (err as { code?: number }).code;
        throw new EventlabError(
          "precondition",
          `cannot declare queue ${q}: ${(err as Error).message}`,
          {
            hint:
              code === 406
                ? "the queue exists with other settings (type, durability): delete it, or pick another --queue-pattern"
                : "check the queue name and your permissions on the broker",
            cause: err,
          },
        );
      }
    }
    await ch.close().catch(() => {});
  } finally {
    await connection.close();
  }
}

async function deleteQueues(ctx: Context, urls: string[], queues: string[]): Promise<void> {
  if (urls.length === 0) return;
  try {
    const connection = await ctx.connect({
      urls: [urls[0] as string],
      connectionName: "eventlab bench cleanup",
    });
    try {
      const ch = await connection.model.createChannel();
      ch.on("error", () => {});
      for (const q of queues) await ch.deleteQueue(q).catch(() => {});
      await ch.close().catch(() => {});
    } finally {
      await connection.close();
    }
  } catch {
    ctx.io.err(ctx.theme.warn(`! could not delete the bench queues: ${queues.join(", ")}`));
  }
}

async function compare(ctx: Context, [a, b]: [string, string], json: boolean): Promise<void> {
  const [ra, rb] = await Promise.all([
    readReport(path.resolve(ctx.cwd, a)),
    readReport(path.resolve(ctx.cwd, b)),
  ]);
  const rows = compareReports(ra, rb);
  if (json) ctx.io.out(`${JSON.stringify({ a, b, rows })}\n`);
  else ctx.io.out(compareText(rows, path.basename(a), path.basename(b)));
}

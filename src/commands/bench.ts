/**
 * `eventlab bench`: a load test with RabbitMQ PerfTest's vocabulary (producers, consumers,
 * queues, size, rate, confirm, prefetch, multi-ack, …). This file is the command's definition
 * (flags, help, argv → options); the work is in run/bench.ts, loaded lazily.
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { durationArg, intArg, positiveNumberArg, type Run } from "./options.js";

export type QueueType = "classic" | "quorum" | "stream";

export interface BenchOptions {
  producers: number;
  consumers: number;
  /** The queues' names: generated (and deleted afterwards) unless --queue-pattern named them. */
  queues: string[];
  /** The names came from --queue-pattern: the queues are the user's and are kept. */
  namedQueues: boolean;
  size: number;
  template?: string | undefined;
  rate?: number | undefined;
  confirm: number;
  persistent: boolean;
  queueType: QueueType;
  prefetch: number;
  multiAck: number;
  autoAck: boolean;
  durationMs?: number | undefined;
  pmessages?: number | undefined;
  cmessages?: number | undefined;
  /** Client threads; 0: the clients share the main thread. */
  threads?: number | undefined;
  /** Where the embedded broker runs: a thread of its own, or the main thread. */
  embedded: "thread" | "main";
  drainTimeoutMs: number;
  json: boolean;
  csv?: string | undefined;
  html?: string | undefined;
  /** --compare a.json b.json: only compare two earlier runs. */
  compare?: [string, string] | undefined;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1_000_000,
  mb: 1_000_000,
  mib: 1024 * 1024,
};
/** The largest body bench sends: RabbitMQ's default max message size is 128 MiB. */
const MAX_SIZE = 128 * 1024 * 1024;

/** `--size 100` → 100, `1kb` → 1000, `1kib` → 1024, `1mb` → 1000000. */
export function sizeArg(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = SIZE_UNITS[(m?.[2] ?? "").toLowerCase()];
  const n = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_SIZE)
    throw new InvalidArgumentError(
      "Expected a size in bytes from 0 to 128mib, like 100, 1kb (1000) or 1kib (1024).",
    );
  return n;
}

/** `--queue-pattern 'perf-%d'`: a name with %d, filled with 1, 2, … */
export function queuePatternArg(raw: string): string {
  if (!raw.includes("%d") || raw.trim() === "")
    throw new InvalidArgumentError("Expected a queue name with %d, like 'perf-%d'.");
  return raw;
}

/** `--duration 30s` → 30000: above zero. */
function positiveDurationArg(raw: string): number {
  const ms = durationArg(raw);
  if (ms <= 0) throw new InvalidArgumentError("Expected a duration above zero, like 30s or 2m.");
  return ms;
}

export function benchCommand(ctx: Context, run: Run<BenchOptions>) {
  return new Command("bench")
    .description(
      "load test: producers and consumers on their own connections, rates, latency percentiles",
    )
    .option("-x, --producers <n>", "producers, each on its own connection", intArg(0, 10_000), 1)
    .option("-y, --consumers <n>", "consumers, each on its own connection", intArg(0, 10_000), 1)
    .option(
      "--queues <n>",
      "queues; producers and consumers are spread over them",
      intArg(1, 10_000),
    )
    .option(
      "--queue-pattern <pattern>",
      "queue names with %d (1, 2, …), e.g. 'perf-%d'; these queues are kept afterwards",
      queuePatternArg,
    )
    .option("-s, --size <bytes>", "body size, e.g. 100, 1kb, 1mib (default 100)", sizeArg)
    .option("--template <name>", "bodies from a template of the config (compiled once)")
    .option(
      "-r, --rate <msg/s>",
      "messages per second per producer (default: unlimited)",
      positiveNumberArg,
    )
    .option(
      "--confirm <window>",
      "publisher confirms, at most this many outstanding per producer (0: none)",
      intArg(0, 1_000_000),
    )
    .option("--persistent", "persistent messages (delivery mode 2)")
    .addOption(
      new Option("--queue-type <type>", "type of the queues bench declares")
        .choices(["classic", "quorum", "stream"] as const)
        .default("classic" as const),
    )
    .option(
      "-q, --prefetch <n>",
      "unacknowledged messages per consumer (0: no limit; streams: default 1000)",
      intArg(0, 65_535),
    )
    .option("-A, --multi-ack <n>", "acknowledge every n messages at once", intArg(1, 65_535))
    .option("-a, --autoack", "consumers do not acknowledge (no-ack mode)")
    .option("-z, --duration <time>", "run this long, e.g. 30s or 2m", positiveDurationArg)
    .option("-C, --pmessages <n>", "messages per producer, then it stops", intArg(1))
    .option("-D, --cmessages <n>", "messages per consumer, then it stops", intArg(1))
    .option(
      "--threads <n>",
      "client threads (default: one per CPU core left beside the broker; 0: the main thread)",
      intArg(0, 256),
    )
    .addOption(
      new Option("--embedded <where>", "where the embedded broker runs")
        .choices(["thread", "main"] as const)
        .default("thread" as const),
    )
    .addOption(
      new Option(
        "--drain-timeout <time>",
        "after the producers stop, how long consumers may take to receive the rest",
      )
        .argParser(durationArg)
        .default(10_000, "10s"),
    )
    .option("--json", "print the summary as one JSON object (the input of --compare)")
    .option("--csv <file>", "write one row per second to this CSV file")
    .option("--html <file>", "write a self-contained HTML report with plots (works offline)")
    .option("--compare <files...>", "compare two --json results side by side, with ratios")
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab bench --duration 30s                                 # 1 producer, 1 consumer, embedded broker
  $ eventlab bench -x 2 -y 2 --size 1kb --confirm 100 --duration 1m
  $ eventlab bench --rate 1000 --duration 30s --html report.html   # paced; plots in one file
  $ eventlab -u amqp://guest:guest@127.0.0.1:5672 bench --queue-type quorum --persistent --confirm 50 -z 30s
  $ eventlab bench --queues 4 --queue-pattern 'perf-%d' -x 4 -y 4 --pmessages 10000
  $ eventlab bench --template order-created --rate 200 --duration 20s
  $ eventlab bench -z 30s --json > a.json; eventlab bench -z 30s --prefetch 100 --json > b.json
  $ eventlab bench --compare a.json b.json

Without --url the run uses an embedded broker on a thread of its own; with --url it runs
against that broker (several --url: connections are spread over them in turn). Producer i
publishes to queue i mod queues through the default exchange; consumer j reads queue j mod
queues. Every message carries its send time and (producer, sequence), in its first 20 bytes
(or, with --template, in the x-eventlab-bench header): consumers measure publish-to-receive
latency and find missing and duplicated messages.

A line per second goes to stderr; the summary (or --json) to stdout. Without --duration,
--pmessages or --cmessages the run goes on until Ctrl-C. After the producers stop, consumers
receive what is still on its way (up to --drain-timeout).

Exit codes: 0 ok, 1 error, 2 interrupted, 3 some messages were nacked or missing`,
    )
    .action(async (flags) => {
      if (flags.compare !== undefined) {
        if (flags.compare.length !== 2)
          throw new UsageError(
            `--compare takes two files, got ${flags.compare.length}`,
            "eventlab bench --compare a.json b.json (each written by eventlab bench --json)",
          );
        await run(ctx, {
          ...defaults(),
          json: flags.json === true,
          compare: [flags.compare[0] as string, flags.compare[1] as string],
        });
        return;
      }
      checkClients(flags);
      const queueCount = flags.queues ?? 1;
      const queueType = flags.queueType;
      const { prefetch, multiAck } = ackSettings(flags);
      const pattern = flags.queuePattern;
      const tag = `${process.pid.toString(36)}.${Date.now().toString(36)}`;
      const queues = Array.from({ length: queueCount }, (_, i) =>
        pattern !== undefined
          ? pattern.replaceAll("%d", String(i + 1))
          : `eventlab-bench.${tag}.${i + 1}`,
      );
      await run(ctx, {
        producers: flags.producers,
        consumers: flags.consumers,
        queues,
        namedQueues: pattern !== undefined,
        size: flags.size ?? 100,
        template: flags.template,
        rate: flags.rate,
        confirm: flags.confirm ?? 0,
        persistent: flags.persistent === true,
        queueType,
        prefetch,
        multiAck,
        autoAck: flags.autoack === true,
        durationMs: flags.duration,
        pmessages: flags.pmessages,
        cmessages: flags.cmessages,
        threads: flags.threads,
        embedded: flags.embedded,
        drainTimeoutMs: flags.drainTimeout,
        json: flags.json === true,
        csv: flags.csv,
        html: flags.html,
      });
    });
}

interface ClientFlags {
  producers: number;
  consumers: number;
  queues?: number | undefined;
  size?: number | undefined;
  template?: string | undefined;
  pmessages?: number | undefined;
  cmessages?: number | undefined;
}

/** Checks of the producer, consumer and queue counts, and of the body. */
function checkClients(flags: ClientFlags): void {
  if (flags.size !== undefined && flags.template !== undefined)
    throw new UsageError(
      "give either --size or --template, not both",
      "--size sends bodies of that many bytes; --template sends a template's bodies",
    );
  if (flags.producers === 0 && flags.consumers === 0)
    throw new UsageError(
      "--producers and --consumers are both 0: nothing to run",
      "give --producers 1 or more, --consumers 1 or more, or both",
    );
  const queueCount = flags.queues ?? 1;
  if (flags.consumers > 0 && flags.consumers < queueCount)
    throw new UsageError(
      `--consumers ${flags.consumers} is fewer than --queues ${queueCount}: some queues would have no consumer`,
      `give --consumers ${queueCount} or more, or --consumers 0 to only publish`,
    );
  if (flags.pmessages !== undefined && flags.producers === 0)
    throw new UsageError("--pmessages needs producers", "give --producers 1 or more");
  if (flags.cmessages !== undefined && flags.consumers === 0)
    throw new UsageError("--cmessages needs consumers", "give --consumers 1 or more");
}

interface AckFlags {
  autoack?: true | undefined;
  multiAck?: number | undefined;
  prefetch?: number | undefined;
  queueType: QueueType;
}

/** The consumers' prefetch and multi-ack, checked against --autoack and the queue type. */
function ackSettings(flags: AckFlags): { prefetch: number; multiAck: number } {
  const { queueType } = flags;
  if (flags.autoack) {
    if (flags.multiAck !== undefined)
      throw new UsageError(
        "--multi-ack does not go with --autoack: nothing is acknowledged",
        "leave out --autoack to acknowledge in batches, or --multi-ack to not acknowledge",
      );
    if (queueType === "stream")
      throw new UsageError(
        "--autoack does not go with --queue-type stream",
        "stream consumers must acknowledge; leave out --autoack",
      );
    if (flags.prefetch !== undefined)
      throw new UsageError(
        "--prefetch does not go with --autoack",
        "the broker sends no-ack consumers as much as it can",
      );
  }
  const prefetch = flags.prefetch ?? (queueType === "stream" ? 1000 : 0);
  if (queueType === "stream" && prefetch === 0)
    throw new UsageError(
      "--queue-type stream needs a --prefetch above 0",
      "for example --prefetch 1000",
    );
  const multiAck = flags.multiAck ?? 1;
  if (prefetch > 0 && multiAck > prefetch)
    throw new UsageError(
      `--multi-ack ${multiAck} is above --prefetch ${prefetch}: consumers would wait forever`,
      `give --multi-ack ${prefetch} or less`,
    );
  return { prefetch, multiAck };
}

function defaults(): BenchOptions {
  return {
    producers: 0,
    consumers: 0,
    queues: [],
    namedQueues: false,
    size: 0,
    confirm: 0,
    persistent: false,
    queueType: "classic",
    prefetch: 0,
    multiAck: 1,
    autoAck: false,
    embedded: "thread",
    drainTimeoutMs: 0,
    json: false,
  };
}

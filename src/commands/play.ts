/**
 * `eventlab play [scenario|preset]`: the playground. Starts the embedded broker in this
 * process (or uses --url), runs a scenario — producers, consumer groups with their
 * behaviours, timed faults — with a live view on a terminal, and ends with a report that
 * accounts for every message. Without a scenario, a config's templates get a round trip.
 * This file is the command's definition (flags, help, argv → options); the work is in
 * run/play.ts, loaded only when the command runs. `eventlab test [scenario...]` is play --ci
 * over several scenarios: defined here too, run by run/play.ts.
 */
import { Command } from "@commander-js/extra-typings";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { WEB_HELP, type WebFlags } from "../web/flags.js";
import {
  collect,
  durationArg,
  intArg,
  RECONNECT_HELP,
  type ReconnectChoice,
  type Run,
  reconnectArg,
  reconnectChoice,
} from "./options.js";

export interface PlayOptions {
  /** A scenario of the config, or a preset. */
  name: string | undefined;
  templates: string[];
  amount: number | undefined;
  seed: number | undefined;
  durationMs: number | undefined;
  list: boolean;
  json: boolean;
  /** Messages already in the queues the run consumes: refuse (default), --purge or --keep. */
  leftovers: "refuse" | "purge" | "keep";
  reconnect: ReconnectChoice;
  /** The embedded broker keeps its data here (a broker restart fault keeps what it keeps). */
  dataDir: string | undefined;
  /** Where the cluster of node faults is (default: eventlab cluster up's directory). */
  clusterDir: string | undefined;
  /** Runs of an exploration of the scenario's explore: space. */
  explore: number | undefined;
  /** Where an exploration writes the scenario that replays its shrunk failure. */
  exploreOut: string | undefined;
  /** Write the run's record (its events, and the broker's per-message ledger) here. */
  record: string | undefined;
  /** --web: serve the live web view (and --web-port, --no-open). */
  web?: WebFlags | undefined;
  /** Serve the run's own Prometheus metrics on this port of 127.0.0.1 (0: a free one). */
  metricsPort?: number | undefined;
  /** --ci: no live view; check the scenario's expect: and thresholds:, exit 1 on a failure. */
  ci?: boolean | undefined;
  /** --junit FILE: the checks as JUnit XML (implies --ci). */
  junit?: string | undefined;
}

export const DEFAULT_PRESET = "orders";

export function playCommand(ctx: Context, run: Run<PlayOptions>) {
  return new Command("play")
    .description(
      "run a scenario on the embedded broker: producers, consumers, faults, a live view, a report",
    )
    .argument(
      "[scenario]",
      `a scenario of the config, or a preset (default: the config's first, else ${DEFAULT_PRESET})`,
    )
    .option("-l, --list", "list the scenarios and presets")
    .option(
      "-d, --duration <duration>",
      "stop after this long, whatever the scenario says",
      durationArg,
    )
    .option("-n, --amount <n>", "messages per producer, instead of the scenario's", intArg(0))
    .option(
      "--seed <n>",
      "seed generated fields and behaviours, for repeatable runs",
      intArg(0, 2 ** 32 - 1),
    )
    .option(
      "-t, --template <name>",
      "without a scenario: run only this template (repeatable)",
      collect,
    )
    .option("--purge", "delete messages already in the consumed queues first (default: refuse)")
    .option("--keep", "consume messages already in the queues, counted apart as preexisting")
    .option("--reconnect <attempts|forever>", RECONNECT_HELP.reconnect, reconnectArg)
    .option("--no-reconnect", RECONNECT_HELP.noReconnect)
    .option("--reconnect-timeout <duration>", RECONNECT_HELP.timeout, durationArg)
    .option(
      "--data-dir <dir>",
      "the embedded broker keeps durable queues and persistent messages here (through a broker restart fault)",
    )
    .option(
      "--cluster-dir <dir>",
      "the cluster that node faults stop and start (default: where `eventlab cluster up` puts it)",
    )
    .option(
      "--explore <runs>",
      "run up to this many variations with fault schedules drawn from the scenario's explore: space; stop at the first failure and shrink it",
      intArg(1, 10_000),
    )
    .option(
      "--explore-out <file>",
      "where --explore writes the scenario that replays the shrunk failure (default eventlab.explore.yaml)",
    )
    .option(
      "--record <file>",
      "write the run's events and every message's ledger (for `eventlab why`)",
    )
    .option(
      "--metrics-port <port>",
      "serve the run's counters and latency histogram as Prometheus metrics at http://127.0.0.1:<port>/metrics while it runs (0: a free port)",
      intArg(0, 65535),
    )
    .option("--web", WEB_HELP.web)
    .option("--web-port <port>", WEB_HELP.webPort, intArg(0, 65535))
    .option("--no-open", WEB_HELP.noOpen)
    .option(
      "--ci",
      "no live view; check the scenario's expect: and thresholds: and exit 1 on any failure",
    )
    .option("--junit <file>", "write the checks as JUnit XML, one test case each (implies --ci)")
    .option("--json", "print the report as one JSON object (with --ci, its checks too)")
    .addHelpText(
      "after",
      `
Without --url, play starts the embedded broker inside this process on a free port: nothing
needs to be installed, and nothing is left behind. With --url it runs against that broker
(for example RabbitMQ). On a terminal it shows a live view (queues, consumers, events);
otherwise a line every few seconds. It ends when every message is accounted for, at
--duration, or on Ctrl-C, always with a report; \`lost\` counts messages the broker confirmed
and nobody consumed, and is 0 unless the scenario loses them on purpose, and then it says so.

Faults (scenarios[].faults) hit consumers, producers, the embedded broker (restart, block),
the network (through a fault proxy, on any broker) or the nodes of a local cluster; the
delivery checker sorts every message into ok, lost, duplicated, unexpected, recovered and
unconfirmed-lost. --explore N draws fault schedules from the scenario's explore: space,
stops at the first failure and shrinks it to a scenario that replays it. --record FILE keeps
every message's story for \`eventlab why <id> --from FILE\`.

--ci (or \`eventlab test\`) runs without the live view and checks what the scenario promises:
expect: entries (a queue's count within a time, a consumer's counters, messages matching a
filter and valid against a JSON Schema) and thresholds: (lost, duplicated, p99, deadLettered,
…), besides no unintended loss and no nacks. It prints one line per check and exits 1 on any
failure; --junit FILE writes them as JUnit XML, one test case per check.

Before it starts, play looks at each queue it will consume (and the retry queues that lead
back to them). If one already holds messages, from an earlier run or another producer, it
refuses by default and names each queue and how many messages it holds. --purge deletes them
first and says how many; --keep consumes them too and counts them apart as \`preexisting\`,
never as this run's messages (processed, duplicates and lost count this run's only).

Examples:
  $ eventlab play                          # the ${DEFAULT_PRESET} preset
  $ eventlab play --list
  $ eventlab play work-queue --seed 7
  $ eventlab play duplicates-and-ordering --json | jq .lost
  $ eventlab play orders --duration 10s
  $ eventlab --url amqp://guest:guest@localhost:5672 play soccer
  $ eventlab --url amqp://guest:guest@localhost:5672 play soccer --purge
  $ eventlab play ack-before-work --explore 50 --seed 1
  $ eventlab play retries --record run.ndjson     # then: eventlab why <id> --from run.ndjson
  $ eventlab play orders --web                    # the live web view, in a browser
  $ eventlab play orders --metrics-port 9464      # then: curl http://127.0.0.1:9464/metrics
  $ eventlab play checkout --ci --junit junit.xml  # in CI: expect: and thresholds:, exit 1 on a miss`,
    )
    .action((name, f) =>
      run(ctx, {
        name,
        templates: f.template ?? [],
        amount: f.amount,
        seed: f.seed,
        durationMs: f.duration,
        list: f.list === true,
        json: f.json === true,
        leftovers: leftoverFlags(f.purge === true, f.keep === true),
        reconnect: reconnectChoice(f),
        dataDir: f.dataDir,
        clusterDir: f.clusterDir,
        explore: f.explore,
        exploreOut: f.exploreOut,
        record: f.record,
        web: { web: f.web === true, webPort: f.webPort ?? 0, open: f.open !== false },
        metricsPort: f.metricsPort,
        ci: f.ci === true || f.junit !== undefined,
        junit: f.junit,
      }),
    );
}

function leftoverFlags(purge: boolean, keep: boolean): PlayOptions["leftovers"] {
  if (purge && keep) {
    throw new UsageError(
      "--purge and --keep cannot be used together",
      "--purge deletes the messages already in the queues; --keep consumes them and counts them apart: choose one",
    );
  }
  return purge ? "purge" : keep ? "keep" : "refuse";
}

export interface TestOptions {
  /** Scenarios of the config, or presets; none: the config's scenarios that check something. */
  scenarios: string[];
  seed: number | undefined;
  junit: string | undefined;
  json: boolean;
  leftovers: "refuse" | "purge" | "keep";
}

export function testCommand(ctx: Context, run: Run<TestOptions>) {
  return new Command("test")
    .description("run scenarios as tests: check their expect: and thresholds:, for CI")
    .argument(
      "[scenario...]",
      "scenarios of the config, or presets (default: every scenario of the config with expect: or thresholds:)",
    )
    .option("--seed <n>", "seed generated fields and behaviours", intArg(0, 2 ** 32 - 1))
    .option("--junit <file>", "write JUnit XML: a test suite per scenario, a test case per check")
    .option("--purge", "delete messages already in the consumed queues first (default: refuse)")
    .option("--json", "print one JSON object: every scenario's report and checks")
    .addHelpText(
      "after",
      `
Each scenario runs as \`eventlab play <scenario> --ci\` does: on the embedded broker unless
--url names one, without the live view, and its checks are printed one per line: the
scenario's expect: entries and thresholds:, and what every run must show (it ends by itself,
nothing lost unintended, nothing nacked, message contracts kept). Exit code 1 when any fails.

Examples:
  $ eventlab test                              # every scenario of the config that checks something
  $ eventlab test checkout refunds --junit reports/eventlab.xml
  $ eventlab --url amqp://guest:guest@localhost:5672 test checkout --purge`,
    )
    .action((scenarios, f) =>
      run(ctx, {
        scenarios,
        seed: f.seed,
        junit: f.junit,
        json: f.json === true,
        leftovers: f.purge === true ? "purge" : "refuse",
      }),
    );
}

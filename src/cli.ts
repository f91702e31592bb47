/**
 * The command tree, the global flags, and the one place errors become exit codes.
 */
import {
  Command,
  CommanderError,
  type CommandUnknownOpts,
  Help,
  Option,
} from "@commander-js/extra-typings";
import { brokerError, replyOf } from "./client/errors.js";
import { maskSecrets } from "./client/url.js";
import { exportCommand, importCommand } from "./commands/asyncapi.js";
import { benchCommand } from "./commands/bench.js";
import { brokerCommand } from "./commands/broker.js";
import { clusterCommand } from "./commands/cluster.js";
import { consumeCommand } from "./commands/consume.js";
import { declareCommand } from "./commands/declare.js";
import { deleteCommand } from "./commands/delete.js";
import { dlqCommand } from "./commands/dlq.js";
import { initCommand } from "./commands/init.js";
import { listCommand, peekCommand, purgeCommand } from "./commands/inspect.js";
import { collect, intArg, type Run } from "./commands/options.js";
import { playCommand, testCommand } from "./commands/play.js";
import { produceCommand } from "./commands/produce.js";
import { replyCommand } from "./commands/reply.js";
import { requestCommand } from "./commands/request.js";
import { routeCommand } from "./commands/route.js";
import { setupCommand } from "./commands/setup.js";
import { topologyCommand } from "./commands/topology.js";
import { whyCommand } from "./commands/why.js";
import { type Context, type ContextDeps, createContext, type GlobalOptions } from "./context.js";
import { EventlabError, ExitCode } from "./errors.js";
import { flush } from "./ui/io.js";
import { VERSION } from "./version.js";

export function buildProgram(ctx: Context): Command {
  const program = new Command("eventlab")
    .description("A playground for event-driven messaging over AMQP 0-9-1 (RabbitMQ)")
    .version(VERSION, "-V, --version")
    .option(
      "-c, --config <file>",
      "config file (default: eventlab.config.yaml, or $EVENTLAB_CONFIG)",
    )
    .option(
      "-u, --url <amqp-url>",
      "broker URL; repeat it for the nodes of a cluster, tried in order (default: $EVENTLAB_URL, the config, or amqp://guest:guest@127.0.0.1:5672)",
      collect,
    )
    .option("--shuffle-urls", "try the --url nodes in a random order")
    .option(
      "--heartbeat <seconds>",
      "heartbeat interval; a silent broker is given up after two (default 10; 0: none)",
      intArg(0, 65535),
    )
    .option("--ca <file>", "amqps:// and https:// API: trust this CA's PEM file")
    .option("--cert <file>", "amqps:// and https:// API: client certificate (PEM)")
    .option(
      "--cert-key <file>",
      "amqps:// and https:// API: the client certificate's private key (PEM)",
    )
    .option("--passphrase <text>", "amqps:// and https:// API: the private key's passphrase")
    .option(
      "--servername <name>",
      "amqps:// and https:// API: the name to check the certificate against (SNI)",
    )
    .option("--insecure", "amqps:// and https:// API: do NOT verify the certificate (tests only)")
    .addOption(
      new Option(
        "--auth <mechanism>",
        "SASL: plain (user and password) or external (--cert)",
      ).choices(["plain", "external"] as const),
    )
    .option("-v, --verbose", "show stack traces and protocol details", false)
    .addOption(new Option("--no-color", "turn colours off (also NO_COLOR=1)"))
    .addOption(new Option("--color", "force colours").hideHelp())
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .addHelpText(
      "after",
      `
Examples:
  $ eventlab play                                  # the orders playground: live view, then a report
  $ eventlab setup                                 # questions (or flags) → eventlab.config.yaml
  $ eventlab init                                  # write a starter eventlab.config.yaml
  $ eventlab topology apply                        # declare the config's exchanges, queues, bindings
  $ eventlab produce order-created --amount 100    # publish from a template
  $ eventlab consume inventory --count 10 --json   # read 10 messages as NDJSON
  $ eventlab request rpc price.quote --body '{}'   # a request: its reply and the round trip
  $ eventlab route orders order.created.eu         # which queues get it, and why
  $ eventlab why order-42 --from run.ndjson        # what happened to one message, hop by hop
  $ eventlab declare exchange orders --type topic
  $ eventlab broker                                # the embedded broker on 127.0.0.1:5672
  $ eventlab bench -x 2 -y 2 --duration 30s        # a load test: rates, latency percentiles
  $ eventlab cluster up                            # a local 3-node RabbitMQ cluster (rabbitmq-server)

Exit codes: 0 ok, 1 error, 2 interrupted (Ctrl-C), 3 some messages were nacked or returned`,
    );

  program.hook("preAction", (_root, action) => {
    const g = action.optsWithGlobals() as Partial<GlobalOptions> & { color?: boolean };
    // commander sets color=true by default for --no-color; only an explicit choice counts.
    const colorSource = program.getOptionValueSource("color");
    ctx.globals = {
      config: g.config,
      url: g.url,
      shuffleUrls: g.shuffleUrls,
      heartbeat: g.heartbeat,
      ca: g.ca,
      cert: g.cert,
      certKey: g.certKey,
      passphrase: g.passphrase,
      servername: g.servername,
      insecure: g.insecure,
      auth: g.auth,
      verbose: g.verbose === true,
      color: colorSource === "cli" ? g.color : undefined,
    };
  });

  for (const make of [
    (c: Context) =>
      playCommand(
        c,
        lazy(() => import("./commands/run/play.js"), "runPlay"),
      ),
    (c: Context) =>
      testCommand(
        c,
        lazy(() => import("./commands/run/play.js"), "runTest"),
      ),
    (c: Context) =>
      produceCommand(
        c,
        lazy(() => import("./commands/run/produce.js"), "runProduce"),
      ),
    (c: Context) =>
      consumeCommand(
        c,
        lazy(() => import("./commands/run/consume.js"), "runConsume"),
      ),
    (c: Context) =>
      requestCommand(
        c,
        lazy(() => import("./commands/run/request.js"), "runRequest"),
      ),
    (c: Context) =>
      replyCommand(
        c,
        lazy(() => import("./commands/run/reply.js"), "runReply"),
      ),
    (c: Context) =>
      declareCommand(
        c,
        lazy(() => import("./commands/run/declare.js"), "runDeclare"),
      ),
    (c: Context) =>
      deleteCommand(
        c,
        lazy(() => import("./commands/run/delete.js"), "runDelete"),
      ),
    (c: Context) =>
      listCommand(
        c,
        lazy(() => import("./commands/run/inspect.js"), "runInspect"),
      ),
    (c: Context) =>
      peekCommand(
        c,
        lazy(() => import("./commands/run/inspect.js"), "runInspect"),
      ),
    (c: Context) =>
      purgeCommand(
        c,
        lazy(() => import("./commands/run/inspect.js"), "runInspect"),
      ),
    (c: Context) =>
      dlqCommand(
        c,
        lazy(() => import("./commands/run/dlq.js"), "runDlq"),
      ),
    (c: Context) =>
      topologyCommand(
        c,
        lazy(() => import("./commands/run/topology.js"), "runTopology"),
      ),
    (c: Context) =>
      routeCommand(
        c,
        lazy(() => import("./commands/run/route.js"), "runRoute"),
      ),
    (c: Context) =>
      whyCommand(
        c,
        lazy(() => import("./commands/run/why.js"), "runWhy"),
      ),
    (c: Context) =>
      setupCommand(
        c,
        lazy(() => import("./commands/run/setup.js"), "runSetup"),
      ),
    (c: Context) =>
      initCommand(
        c,
        lazy(() => import("./commands/run/init.js"), "runInit"),
      ),
    (c: Context) =>
      brokerCommand(
        c,
        lazy(() => import("./commands/run/broker.js"), "runBroker"),
      ),
    (c: Context) =>
      benchCommand(
        c,
        lazy(() => import("./commands/run/bench.js"), "runBench"),
      ),
    (c: Context) =>
      clusterCommand(
        c,
        lazy(() => import("./commands/run/cluster.js"), "runCluster"),
      ),
    (c: Context) =>
      importCommand(
        c,
        lazy(() => import("./commands/run/asyncapi.js"), "runAsyncApi"),
      ),
    (c: Context) =>
      exportCommand(
        c,
        lazy(() => import("./commands/run/asyncapi.js"), "runAsyncApi"),
      ),
  ]) {
    program.addCommand(make(ctx));
  }
  return program;
}

/**
 * A command's run function, loaded on first use: `--help` and the parsing of flags load
 * only the command definitions, never amqplib, the broker or the config machinery.
 */
function lazy<M, K extends keyof M>(
  load: () => Promise<M>,
  name: K,
): M[K] extends Run<infer O> ? Run<O> : never {
  const run: Run<unknown> = async (ctx, options) =>
    ((await load())[name] as Run<unknown>)(ctx, options);
  return run as M[K] extends Run<infer O> ? Run<O> : never;
}

/** Run the CLI. Never throws, never exits: returns the exit code. */
export async function main(argv: readonly string[], deps?: Partial<ContextDeps>): Promise<number> {
  const controller = new AbortController();
  const ctx = createContext({
    streams: deps?.streams ?? {
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
    },
    env: deps?.env ?? process.env,
    cwd: deps?.cwd ?? process.cwd(),
    signal: deps?.signal ?? controller.signal,
    ...(deps?.connect ? { connect: deps.connect } : {}),
    ...(deps?.prompter ? { prompter: deps.prompter } : {}),
  });
  const program = buildProgram(ctx);
  applyToTree(program, (cmd) => {
    cmd.exitOverride();
    // Every command's help also lists --url, --config, --verbose and --no-color.
    cmd.configureHelp({ showGlobalOptions: true, optionDescription: describeOption });
    cmd.configureOutput({
      writeOut: (s) => ctx.io.out(s),
      writeErr: (s) => ctx.io.stderr.write(s),
      outputError: (s, write) => write(ctx.theme.error(s)),
    });
  });
  let code: number;
  try {
    await program.parseAsync(argv as string[], { from: "user" });
    code = ctx.exitCode ?? ExitCode.ok;
  } catch (err) {
    code = report(ctx, err);
  }
  await flush(ctx.io.stdout);
  return code;
}

/** An option's help line; a flag that is simply off unless given does not say "(default: false)". */
function describeOption(this: Help, option: Option): string {
  return Help.prototype.optionDescription.call(this, option).replace(/ \(default: false\)$/, "");
}

function applyToTree(cmd: CommandUnknownOpts, fn: (c: CommandUnknownOpts) => void): void {
  fn(cmd);
  for (const sub of cmd.commands) applyToTree(sub, fn);
}

/** Print an error as `error: …` and `hint: …`; return its exit code. */
export function report(ctx: Context, err: unknown): number {
  if (err instanceof CommanderError) {
    // commander already printed its message (usage errors) or the help/version.
    if (
      err.code === "commander.helpDisplayed" ||
      err.code === "commander.version" ||
      err.code === "commander.help"
    ) {
      return ExitCode.ok;
    }
    if (err.code === "commander.executeSubCommandAsync") return ExitCode.failure;
    ctx.io.err(ctx.theme.dim("hint: run the command with --help to see its flags and examples"));
    return ExitCode.failure;
  }
  const e: EventlabError =
    err instanceof EventlabError
      ? err
      : replyOf(err)
        ? brokerError(err)
        : new EventlabError("internal", maskSecrets(String((err as Error)?.message ?? err)), {
            hint: "this is a bug in eventlab; run again with --verbose and report the stack trace",
            cause: err,
          });
  const { theme, io } = ctx;
  io.err(`${theme.error("error:")} ${maskSecrets(e.message)}`);
  if (e.hint) io.err(`${theme.dim("hint:")} ${maskSecrets(e.hint)}`);
  if (ctx.globals.verbose) {
    let cur: unknown = e;
    while (cur instanceof Error) {
      io.err(theme.dim(maskSecrets(cur.stack ?? String(cur))));
      cur = cur.cause;
    }
  }
  return e.exitCode;
}

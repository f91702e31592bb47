/**
 * What a command may use. `cli.ts` builds the real one; tests build their own with
 * in-memory streams, a scripted prompter or a fake connect().
 *
 * Heavy modules (amqplib, yaml, zod) load on first use so `eventlab --help` starts fast.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Connection, ConnectOptions } from "./client/connect.js";
import { type BrokerTarget, explicitBroker, resolveBroker } from "./config/broker-url.js";
import { CONFIG_FILE_NAMES, DEFAULT_URL } from "./config/constants.js";
import type { LoadedConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import type { ExitCode } from "./errors.js";
import { createIo, type Io, type IoStreams } from "./ui/io.js";
import type { Prompter } from "./ui/prompter.js";
import { createTheme, type Theme } from "./ui/theme.js";

/** Flags every command accepts. */
export interface GlobalOptions {
  config?: string | undefined;
  url?: string | undefined;
  verbose: boolean;
  color?: boolean | undefined;
}

export interface Context {
  readonly io: Io;
  readonly theme: Theme;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Aborted on Ctrl-C. Long-running commands watch it and wind down. */
  readonly signal: AbortSignal;
  /** Set by cli.ts before a command runs. */
  globals: GlobalOptions;
  /** The config file, loaded once per run. */
  loadConfig(): Promise<LoadedConfig>;
  /** The broker by precedence (--url, EVENTLAB_URL, the file, the default) and which one it is. */
  broker(): Promise<BrokerTarget>;
  /** Connect to the broker the flags, environment and config point at, or to `urls`. */
  connect(options?: ConnectOptions & { urls?: readonly string[] }): Promise<Connection>;
  /** Questions to a person (inquirer on a terminal); only ask when `io.stdinIsTTY`. */
  prompter(): Promise<Prompter>;
  /** A command's exit code when it is not 0 and nothing was thrown (e.g. undelivered messages). */
  setExitCode(code: ExitCode): void;
  readonly exitCode: ExitCode | undefined;
}

export interface ContextDeps {
  streams: IoStreams;
  env: NodeJS.ProcessEnv;
  cwd: string;
  signal: AbortSignal;
  /** Replace the prompter (tests answer questions by id). */
  prompter?: Prompter;
  /** Replace the AMQP connect (tests). */
  connect?: (urls: readonly string[], options: ConnectOptions) => Promise<Connection>;
}

export function createContext(deps: ContextDeps): Context {
  let loaded: Promise<LoadedConfig> | undefined;
  let exitCode: ExitCode | undefined;
  let theme: Theme | undefined;
  let io = createIo(deps.streams, deps.env);
  let globals: GlobalOptions = { verbose: false };
  const explicit = () => explicitBroker(globals.url, deps.env);

  const ctx: Context = {
    get io() {
      return io;
    },
    get theme() {
      theme ??= createTheme(io.color);
      return theme;
    },
    env: deps.env,
    cwd: deps.cwd,
    signal: deps.signal,
    get globals() {
      return globals;
    },
    set globals(g: GlobalOptions) {
      globals = g;
      // --color / --no-color decide colour after parsing: rebuild the Io then.
      if (g.color !== undefined) {
        const env = { ...deps.env };
        if (g.color) {
          env["FORCE_COLOR"] = "1";
          delete env["NO_COLOR"];
        } else env["NO_COLOR"] = "1";
        io = createIo(deps.streams, env);
        theme = undefined;
      }
    },
    loadConfig() {
      // No file to read: the defaults, without loading yaml and zod at all.
      if (
        !globals.config &&
        !deps.env["EVENTLAB_CONFIG"] &&
        !CONFIG_FILE_NAMES.some((n) => existsSync(join(deps.cwd, n)))
      ) {
        loaded ??= Promise.resolve({ config: emptyConfig(), file: undefined, source: "none" });
      }
      loaded ??= import("./config/load.js").then((m) =>
        m.loadConfig({ cwd: deps.cwd, env: deps.env, file: globals.config }),
      );
      return loaded;
    },
    async broker() {
      // --url or EVENTLAB_URL decide without the config file: a broken config must not
      // block them, and the loader (yaml, zod) need not load at all.
      return explicit() ?? resolveBroker(undefined, deps.env, (await ctx.loadConfig()).config);
    },
    async connect(options = {}) {
      const urls = options.urls ?? (await ctx.broker()).urls;
      const broker =
        explicit() || options.urls ? undefined : (await ctx.loadConfig()).config.broker;
      const connectImpl = deps.connect ?? (await import("./client/connect.js")).connect;
      return connectImpl(urls, {
        timeoutMs: options.timeoutMs ?? broker?.connectTimeout,
        heartbeat: options.heartbeat ?? broker?.heartbeat,
        connectionName: options.connectionName,
      });
    },
    async prompter() {
      if (deps.prompter) return deps.prompter;
      const { inquirerPrompter } = await import("./ui/prompter.js");
      return inquirerPrompter(io, deps.signal);
    },
    setExitCode(code) {
      exitCode = code;
    },
    get exitCode() {
      return exitCode;
    },
  };
  return ctx;
}

/** What the schema gives for an empty file; kept equal to it by a unit test. */
export function emptyConfig(): Config {
  return {
    broker: { url: DEFAULT_URL },
    topology: { exchanges: {}, queues: {}, bindings: [] },
    templates: {},
    consumers: {},
    scenarios: {},
  };
}

/**
 * What a command may use. `cli.ts` builds the real one; tests build their own with
 * in-memory streams, a scripted prompter or a fake connect().
 *
 * Heavy modules (amqplib, yaml, zod) load on first use so `eventlab --help` starts fast.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Connection, ConnectOptions } from "./client/connect.js";
import type { ManagementClient } from "./client/management.js";
import type { Link, LinkEvent, ReconnectPolicy } from "./client/reconnect.js";
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
  /** `--url`, repeatable: the nodes to try, in order. */
  url?: string[] | undefined;
  shuffleUrls?: boolean | undefined;
  heartbeat?: number | undefined;
  ca?: string | undefined;
  cert?: string | undefined;
  certKey?: string | undefined;
  passphrase?: string | undefined;
  servername?: string | undefined;
  insecure?: boolean | undefined;
  auth?: "plain" | "external" | undefined;
  verbose: boolean;
  color?: boolean | undefined;
}

/** A connection that comes back after a loss (see client/reconnect.ts). */
export interface LinkRequest {
  connectionName: string;
  /** Flags over the config's broker.reconnect over the defaults. */
  reconnect: Partial<ReconnectPolicy>;
  onEvent?(event: LinkEvent): void;
  /** Other URLs than the broker the flags, environment and config point at. */
  urls?: readonly string[] | undefined;
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
  /**
   * The broker's management API: --api (`apiFlag`) when given, else the config's broker.api
   * (unless --url or EVENTLAB_URL named another broker), else derived from the broker's first
   * URL; an https:// API trusts what the AMQP connection trusts (--ca, --cert, broker.tls).
   */
  management(apiFlag?: string): Promise<ManagementClient>;
  /**
   * How `connect` connects (TLS files read, SASL mechanism, heartbeat, timeout), as plain
   * data: for connections opened where the context is not, such as bench's worker threads.
   */
  connectOptions(): Promise<ConnectOptions>;
  /** Connect as `connect` does, and connect again when the connection is lost. */
  link(request: LinkRequest): Promise<Link>;
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
  /** The broker's URLs in the order of this run: shuffled once with --shuffle-urls. */
  let order: Promise<BrokerTarget> | undefined;
  const ordered = () => {
    order ??= (async () => {
      const target = await ctx.broker();
      const file = explicit() ? undefined : (await ctx.loadConfig()).config.broker;
      return globals.shuffleUrls || file?.shuffle
        ? { ...target, urls: shuffled(target.urls) }
        : target;
    })();
    return order;
  };
  /**
   * How to connect: the flags, and the config's broker section unless the flags or the
   * environment name the broker (then a broken config must not stand in the way). Read once.
   */
  const settings = new Map<boolean, Promise<ConnectOptions>>();
  const connectSettings = (otherUrls: boolean) => {
    const known = settings.get(otherUrls);
    if (known) return known;
    const read = (async (): Promise<ConnectOptions> => {
      const loaded = explicit() || otherUrls ? undefined : await ctx.loadConfig();
      const broker = loaded?.config.broker;
      const tlsFile = broker?.tls;
      const base = loaded?.file ? dirname(resolve(deps.cwd, loaded.file)) : deps.cwd;
      const pem = (flag: string | undefined, name: string, field: string | undefined) =>
        flag !== undefined
          ? { path: flag, from: name }
          : field !== undefined
            ? { path: field, from: `broker.tls.${name.replace(/^--(cert-)?/, "")}` }
            : undefined;
      const choice = {
        ca: pem(globals.ca, "--ca", tlsFile?.ca),
        cert: pem(globals.cert, "--cert", tlsFile?.cert),
        key: pem(globals.certKey, "--cert-key", tlsFile?.key),
        passphrase: globals.passphrase ?? tlsFile?.passphrase,
        servername: globals.servername ?? tlsFile?.servername,
        insecure: globals.insecure ?? tlsFile?.insecure,
      };
      const wanted = Object.values(choice).some((v) => v !== undefined);
      const tls = wanted
        ? await (await import("./client/tls-files.js")).readTls(choice, base)
        : undefined;
      return {
        timeoutMs: broker?.connectTimeout,
        heartbeat: globals.heartbeat ?? broker?.heartbeat,
        tls,
        auth: globals.auth ?? broker?.auth,
      };
    })();
    settings.set(otherUrls, read);
    return read;
  };
  /** Connect to `urls` with the settings; `otherUrls`: not the broker the config names. */
  const open = async (
    urls: readonly string[],
    options: ConnectOptions,
    otherUrls: boolean,
  ): Promise<Connection> => {
    const chosen = await connectSettings(otherUrls);
    const connectImpl = deps.connect ?? (await import("./client/connect.js")).connect;
    return connectImpl(urls, {
      ...chosen,
      timeoutMs: options.timeoutMs ?? chosen.timeoutMs,
      heartbeat: options.heartbeat ?? chosen.heartbeat,
      connectionName: options.connectionName,
    });
  };

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
    async management(apiFlag) {
      const target = await ctx.broker();
      const fromFile = explicit() ? undefined : (await ctx.loadConfig()).config.broker?.api;
      const [{ ManagementClient, managementTarget }, { tls }] = await Promise.all([
        import("./client/management.js"),
        connectSettings(false),
      ]);
      const api =
        apiFlag !== undefined
          ? { url: apiFlag, from: "--api" as const }
          : fromFile !== undefined
            ? { url: fromFile, from: "broker.api" as const }
            : undefined;
      return new ManagementClient(managementTarget(target.urls[0] as string, api), tls);
    },
    connectOptions() {
      return connectSettings(false);
    },
    async connect(options = {}) {
      const urls = options.urls ?? (await ordered()).urls;
      return open(urls, options, options.urls !== undefined);
    },
    async link(request) {
      const [{ Link, DEFAULT_RECONNECT }, target, file] = await Promise.all([
        import("./client/reconnect.js"),
        request.urls ? { urls: [...request.urls], reconnect: undefined } : ordered(),
        request.urls || explicit() ? undefined : ctx.loadConfig(),
      ]);
      const fromFile = file?.config.broker.reconnect;
      const policy: ReconnectPolicy = {
        attempts:
          request.reconnect.attempts ??
          (fromFile?.attempts === "forever" ? Number.POSITIVE_INFINITY : fromFile?.attempts) ??
          DEFAULT_RECONNECT.attempts,
        timeoutMs: request.reconnect.timeoutMs ?? fromFile?.timeout ?? DEFAULT_RECONNECT.timeoutMs,
      };
      return Link.open({
        open: (urls) =>
          open(urls, { connectionName: request.connectionName }, request.urls !== undefined),
        urls: target.urls,
        policy,
        signal: deps.signal,
        ...(request.onEvent ? { onEvent: request.onEvent } : {}),
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

/** A copy of `urls` in a random order (Fisher–Yates). */
function shuffled(urls: readonly string[]): string[] {
  const out = [...urls];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
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

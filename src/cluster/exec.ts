/**
 * Running the external tools the cluster needs (rabbitmq-server, rabbitmqctl, openssl):
 * always with a bound on how long they may take, never through a shell, and with what they
 * printed kept for the error message. Also where those tools are found: an explicit
 * override from the environment, else the PATH.
 */
import { execFile } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, realpathSync } from "node:fs";
import path from "node:path";

export interface ToolRun {
  stdout: string;
  stderr: string;
}

/** A tool that exited non-zero, timed out, or could not start. */
export class ToolError extends Error {
  readonly tool: string;
  readonly args: readonly string[];
  readonly stdout: string;
  readonly stderr: string;
  /** The exit code, when it exited. */
  readonly exitCode: number | undefined;
  readonly timedOut: boolean;
  /** The executable was not there (ENOENT). */
  readonly notFound: boolean;

  constructor(
    tool: string,
    args: readonly string[],
    detail: {
      stdout: string;
      stderr: string;
      exitCode: number | undefined;
      timedOut: boolean;
      notFound: boolean;
      timeoutMs: number;
    },
  ) {
    const what = `${path.basename(tool)} ${args.join(" ")}`;
    const why = detail.notFound
      ? "not found"
      : detail.timedOut
        ? `no answer within ${Math.round(detail.timeoutMs / 1000)} s`
        : `exit code ${detail.exitCode ?? "?"}`;
    super(`${what}: ${why}${lastLines(detail.stderr || detail.stdout)}`);
    this.name = "ToolError";
    this.tool = tool;
    this.args = args;
    this.stdout = detail.stdout;
    this.stderr = detail.stderr;
    this.exitCode = detail.exitCode;
    this.timedOut = detail.timedOut;
    this.notFound = detail.notFound;
  }
}

/** The last few meaningful lines a tool printed, for a one-paragraph error. */
export function lastLines(text: string, count = 3): string {
  const lines = text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "");
  if (lines.length === 0) return "";
  return `\n  ${lines.slice(-count).join("\n  ")}`;
}

export interface RunToolOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  cwd?: string;
  signal?: AbortSignal;
}

/** Run `file args…`; resolves with its output, rejects with a ToolError. */
export function runTool(
  file: string,
  args: readonly string[],
  o: RunToolOptions,
): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args as string[],
      {
        env: o.env,
        timeout: o.timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: 16 * 1024 * 1024,
        windowsHide: true,
        ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
        ...(o.signal !== undefined ? { signal: o.signal } : {}),
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
        reject(
          new ToolError(file, args, {
            stdout: String(stdout ?? ""),
            stderr: String(stderr ?? ""),
            exitCode: typeof e.code === "number" ? e.code : undefined,
            timedOut: e.killed === true && !o.signal?.aborted,
            notFound: e.code === "ENOENT",
            timeoutMs: o.timeoutMs,
          }),
        );
      },
    );
  });
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `name` as found on the PATH of `env`, or undefined. */
export function whichSync(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env["PATH"] ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export interface RabbitTools {
  server: string;
  ctl: string;
}

/**
 * Where rabbitmq-server and rabbitmqctl are: `EVENTLAB_RABBITMQ_SERVER` and
 * `EVENTLAB_RABBITMQCTL` when set, else the PATH. Distribution packages (Debian, RPM) put a
 * wrapper in /usr/sbin that switches to the `rabbitmq` user and its home; the scripts it
 * wraps, in /usr/lib/rabbitmq/bin, run as the calling user with the environment given, which
 * is what a cluster in a directory of one's own needs. Undefined names what is missing.
 */
export function findRabbitTools(
  env: NodeJS.ProcessEnv,
): { tools: RabbitTools } | { missing: "rabbitmq-server" | "rabbitmqctl"; tried: string } {
  const explicitServer = env["EVENTLAB_RABBITMQ_SERVER"];
  const explicitCtl = env["EVENTLAB_RABBITMQCTL"];
  const server = explicitServer
    ? isExecutable(explicitServer)
      ? explicitServer
      : undefined
    : whichSync("rabbitmq-server", env);
  if (!server)
    return {
      missing: "rabbitmq-server",
      tried: explicitServer ? `EVENTLAB_RABBITMQ_SERVER=${explicitServer}` : "the PATH",
    };
  const unwrapped = unwrap(server);
  const ctl = explicitCtl
    ? isExecutable(explicitCtl)
      ? explicitCtl
      : undefined
    : (sibling(unwrapped, "rabbitmqctl") ?? whichSync("rabbitmqctl", env));
  if (!ctl)
    return {
      missing: "rabbitmqctl",
      tried: explicitCtl ? `EVENTLAB_RABBITMQCTL=${explicitCtl}` : "the PATH",
    };
  return { tools: { server: unwrapped, ctl: unwrap(ctl) } };
}

/**
 * The script a distribution's /usr/sbin wrapper runs, when there is one: /usr/sbin/rabbitmqctl
 * is a link to /usr/lib/rabbitmq/bin/rabbitmq-script-wrapper, which runs
 * /usr/lib/rabbitmq/bin/rabbitmqctl as the `rabbitmq` user.
 */
function unwrap(file: string): string {
  const name = path.basename(file);
  let real: string;
  try {
    real = realpathSync(file);
    if (!/\bsu rabbitmq\b/.test(readFileSync(real, "latin1").slice(0, 8192))) return file;
  } catch {
    return file;
  }
  const candidates = [
    path.join(path.dirname(real), name),
    path.resolve(path.dirname(real), "../lib/rabbitmq/bin", name),
    path.resolve(path.dirname(file), "../lib/rabbitmq/bin", name),
  ];
  return candidates.find((c) => c !== real && existsSync(c) && isExecutable(c)) ?? file;
}

function sibling(file: string, name: string): string | undefined {
  const candidate = path.join(path.dirname(file), name);
  return isExecutable(candidate) ? candidate : undefined;
}

import { fstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { Readable, Writable } from "node:stream";

/**
 * All terminal I/O goes through an Io (data on stdout, everything else on stderr).
 * Tests build one over in-memory streams with `isTTY` set as they like.
 */
export interface Io {
  readonly stdin: Readable & { isTTY?: boolean };
  readonly stdout: Writable & { isTTY?: boolean; columns?: number };
  readonly stderr: Writable & { isTTY?: boolean; columns?: number };
  /** stdout is a terminal: pretty output is the default. */
  readonly stdoutIsTTY: boolean;
  /** stdout is a pipe or socket: a completed write may still wait there, unread. */
  readonly stdoutIsPipe: boolean;
  /** stderr is a terminal: spinners and progress lines may be drawn. */
  readonly stderrIsTTY: boolean;
  /** stdin is a terminal: prompts may be asked. */
  readonly stdinIsTTY: boolean;
  /** Colour is on: a TTY, no NO_COLOR, or FORCE_COLOR. Decided once. */
  readonly color: boolean;
  /** Write data (one call may hold several lines). False: the stream's buffer is full, wait for "drain". */
  out(text: string): boolean;
  /** Write data and call `done` once it is written through, or with the error (EPIPE). */
  write(text: string, done: (err?: Error | null) => void): void;
  /** Write a diagnostic line to stderr; a newline is added. */
  err(line: string): void;
}

export interface IoStreams {
  stdin: Io["stdin"];
  stdout: Io["stdout"];
  stderr: Io["stderr"];
}

export function colorEnabled(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (env["NO_COLOR"] !== undefined && env["NO_COLOR"] !== "") return false;
  if (env["FORCE_COLOR"] !== undefined)
    return env["FORCE_COLOR"] !== "0" && env["FORCE_COLOR"] !== "false";
  if (env["TERM"] === "dumb") return false;
  return isTTY;
}

/** Streams whose reader went away (`eventlab … | head`): writes to them are dropped. */
const closedStreams = new WeakSet<object>();

/**
 * A reader that leaves early (EPIPE) is normal for a CLI, not a crash: note it, drop
 * further output, and let commands that stream (consume) stop on the same event.
 */
function guard(stream: NodeJS.WritableStream & { listenerCount?(e: string): number }): void {
  if (
    closedStreams.has(stream) ||
    (stream as unknown as { __eventlabGuard?: boolean }).__eventlabGuard
  )
    return;
  (stream as unknown as { __eventlabGuard?: boolean }).__eventlabGuard = true;
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") closedStreams.add(stream);
  });
}

/** A stream over a pipe or socket file descriptor (`… | head`), not a file or terminal. */
function isPipe(stream: object): boolean {
  const fd = (stream as { fd?: unknown }).fd;
  if (typeof fd !== "number") return false;
  try {
    const st = fstatSync(fd);
    return st.isFIFO() || st.isSocket();
  } catch {
    return false;
  }
}

export function createIo(streams: IoStreams, env: NodeJS.ProcessEnv): Io {
  const stdoutIsTTY = streams.stdout.isTTY === true;
  const stderrIsTTY = streams.stderr.isTTY === true;
  guard(streams.stdout);
  guard(streams.stderr);
  return {
    ...streams,
    stdoutIsTTY,
    stdoutIsPipe: !stdoutIsTTY && isPipe(streams.stdout),
    stderrIsTTY,
    stdinIsTTY: streams.stdin.isTTY === true,
    color: colorEnabled(env, stderrIsTTY || stdoutIsTTY),
    out(text) {
      if (closedStreams.has(streams.stdout)) return true;
      return streams.stdout.write(text);
    },
    write(text, done) {
      if (closedStreams.has(streams.stdout)) {
        done(Object.assign(new Error("the output is closed"), { code: "EPIPE" }));
        return;
      }
      streams.stdout.write(text, done);
    },
    err(line) {
      if (closedStreams.has(streams.stderr)) return;
      streams.stderr.write(`${line}\n`);
    },
  };
}

/** Write to a stream and resolve once it has been flushed (or could not be). */
export function flush(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableEnded || stream.destroyed) return resolve();
    stream.write("", () => resolve());
  });
}

/**
 * Whether anyone still holds the reading end of the pipe on `fd` (Linux: the processes' open
 * files under /proc, as lsof reads them). A reader that exits (`| head -2`) is otherwise seen
 * only on the next write, and a consumer with nothing more to write would wait for it forever.
 * Undefined when it cannot tell: another system, not a pipe, or processes it may not inspect.
 */
export function pipeReaderAlive(fd: number): boolean | undefined {
  if (process.platform !== "linux") return undefined;
  let pipe: string;
  try {
    pipe = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
  if (!pipe.startsWith("pipe:")) return undefined;
  let unreadable = false;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      unreadable = true;
      continue;
    }
    for (const f of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${f}`) !== pipe) continue;
        const flags = /^flags:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${f}`, "utf8"));
        // O_ACCMODE 0 is O_RDONLY: the reading end.
        if (flags && (Number.parseInt(flags[1]!, 8) & 3) === 0) return true;
      } catch {
        // the process or descriptor went away meanwhile
      }
    }
  }
  return unreadable ? undefined : false;
}

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
  /** stderr is a terminal: spinners and progress lines may be drawn. */
  readonly stderrIsTTY: boolean;
  /** stdin is a terminal: prompts may be asked. */
  readonly stdinIsTTY: boolean;
  /** Colour is on: a TTY, no NO_COLOR, or FORCE_COLOR. Decided once. */
  readonly color: boolean;
  /** Write data (one call may hold several lines). False: the stream's buffer is full, wait for "drain". */
  out(text: string): boolean;
  /** Write a diagnostic line to stderr; a newline is added. */
  err(line: string): void;
}

export interface IoStreams {
  stdin: Io["stdin"];
  stdout: Io["stdout"];
  stderr: Io["stderr"];
}

export function colorEnabled(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false";
  if (env.TERM === "dumb") return false;
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

export function createIo(streams: IoStreams, env: NodeJS.ProcessEnv): Io {
  const stdoutIsTTY = streams.stdout.isTTY === true;
  const stderrIsTTY = streams.stderr.isTTY === true;
  guard(streams.stdout);
  guard(streams.stderr);
  return {
    ...streams,
    stdoutIsTTY,
    stderrIsTTY,
    stdinIsTTY: streams.stdin.isTTY === true,
    color: colorEnabled(env, stderrIsTTY || stdoutIsTTY),
    out(text) {
      if (closedStreams.has(streams.stdout)) return true;
      return streams.stdout.write(text);
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

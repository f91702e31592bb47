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

export function createIo(streams: IoStreams, env: NodeJS.ProcessEnv): Io {
  const stdoutIsTTY = streams.stdout.isTTY === true;
  const stderrIsTTY = streams.stderr.isTTY === true;
  return {
    ...streams,
    stdoutIsTTY,
    stderrIsTTY,
    stdinIsTTY: streams.stdin.isTTY === true,
    color: colorEnabled(env, stderrIsTTY || stdoutIsTTY),
    out(text) {
      return streams.stdout.write(text);
    },
    err(line) {
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

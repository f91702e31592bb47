// Spawning the processes under measurement. Wall time runs from just before spawn() to the
// child's "exit" event: node startup, module loading, connecting, the work, and closing.
import { spawn } from "node:child_process";

/** @import { ChildProcess } from "node:child_process" */

/**
 * @typedef {object} StartOptions
 * @property {string} [cwd]
 * @property {NodeJS.ProcessEnv} [env]
 * @property {number} timeoutMs past it, the process is killed
 * @property {"capture" | "ignore"} [stdout]
 * @property {boolean} [cpu] preload cpu-report.js, so the result carries `cpuMs`
 */

/**
 * How a process ended. `error` is set when it could not be started; `cpuMs` when it was
 * started with `cpu` and reported its CPU time.
 * @typedef {object} RunResult
 * @property {number} ms wall time, from just before spawn() to "exit"
 * @property {number | undefined} [cpuMs]
 * @property {number | null} code
 * @property {NodeJS.Signals | null} [signal]
 * @property {boolean} [timedOut]
 * @property {Error} [error]
 * @property {string} stdout
 * @property {string} stderr
 */

/**
 * @typedef {object} Started
 * @property {ChildProcess} child
 * @property {Promise<RunResult>} result
 * @property {(match: (line: string) => boolean, waitMs: number) => Promise<string>} waitForLine
 */

const STDERR_LIMIT = 16 * 1024;
const CPU_REPORT = new URL("./cpu-report.js", import.meta.url).href;
const CPU_LINE = /^eventlab-bench-cpu (.*)$/m;

/** Children still running, so an interrupted run can stop exactly the processes it started. */
/** @type {Set<ChildProcess>} */
export const running = new Set();

/**
 * Start a process. `stdout: "ignore"` sends it to /dev/null; "capture" keeps it (small
 * outputs only). Every process has a deadline: past it, it is killed and the result says
 * `timedOut`.
 * @param {string} command
 * @param {readonly string[]} args
 * @param {StartOptions} options
 * @returns {Started}
 */
export function start(command, args, { cwd, env, timeoutMs, stdout = "capture", cpu = false }) {
  /** @type {Array<{ check(): void; fail(error: Error): void }>} */
  const lineWaiters = [];
  let out = "";
  let err = "";
  let timedOut = false;
  /** @type {number | undefined} */
  let exitedAt;
  const startedAt = performance.now();
  const child = spawn(command, cpu ? ["--import", CPU_REPORT, ...args] : args, {
    cwd,
    env,
    stdio: ["ignore", stdout === "capture" ? "pipe" : "ignore", "pipe"],
  });
  running.add(child);
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (/** @type {string} */ chunk) => {
    out += chunk;
    for (const w of lineWaiters.slice()) w.check();
  });
  // stdio[2] is "pipe": stderr is always there.
  const stderr = /** @type {import("node:stream").Readable} */ (child.stderr);
  stderr.setEncoding("utf8");
  stderr.on("data", (/** @type {string} */ chunk) => {
    // Keep the head (errors) and always the tail (the CPU report comes last).
    err = err.length < STDERR_LIMIT ? err + chunk : err.slice(0, STDERR_LIMIT) + chunk.slice(-512);
  });
  child.on("exit", () => {
    exitedAt = performance.now();
    running.delete(child);
  });
  /** @type {Promise<RunResult>} */
  const result = new Promise((resolve) => {
    child.on("error", (error) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ ms: performance.now() - startedAt, code: null, error, stdout: out, stderr: err });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      for (const w of lineWaiters.slice()) w.fail(new Error("process ended"));
      const cpuLine = CPU_LINE.exec(err);
      /** @type {{ userMs: number; systemMs: number } | undefined} */
      const usage = cpuLine ? JSON.parse(cpuLine[1] ?? "") : undefined;
      resolve({
        ms: (exitedAt ?? performance.now()) - startedAt,
        cpuMs: usage ? usage.userMs + usage.systemMs : undefined,
        code,
        signal,
        timedOut,
        stdout: out,
        stderr: err,
      });
    });
  });

  /**
   * Resolve with the first whole stdout line that `match` accepts (bounded by `waitMs`).
   * @param {(line: string) => boolean} match
   * @param {number} waitMs
   * @returns {Promise<string>}
   */
  function waitForLine(match, waitMs) {
    return new Promise((resolve, reject) => {
      const waiter = {
        check() {
          for (const line of out.split("\n").slice(0, -1)) {
            if (match(line)) return done(() => resolve(line));
          }
        },
        /** @param {Error} error */
        fail(error) {
          done(() => reject(error));
        },
      };
      const t = setTimeout(
        () => waiter.fail(new Error(`no such line within ${waitMs} ms`)),
        waitMs,
      );
      /** @param {() => void} settle */
      const done = (settle) => {
        clearTimeout(t);
        const i = lineWaiters.indexOf(waiter);
        if (i >= 0) lineWaiters.splice(i, 1);
        settle();
      };
      lineWaiters.push(waiter);
      waiter.check();
    });
  }

  return { child, result, waitForLine };
}

/**
 * Run a process to the end; see start().
 * @param {string} command
 * @param {readonly string[]} args
 * @param {StartOptions} options
 * @returns {Promise<RunResult>}
 */
export function run(command, args, options) {
  return start(command, args, options).result;
}

/**
 * A one-line reason a run failed, or undefined when it exited 0.
 * @param {RunResult} r
 * @param {string} what
 * @returns {string | undefined}
 */
export function failure(r, what) {
  if (r.error) return `${what}: ${r.error.message}`;
  if (r.timedOut) return `${what}: timed out after ${Math.round(r.ms)} ms`;
  if (r.code !== 0) {
    const tail = r.stderr
      .trim()
      .split("\n")
      .filter((l) => l.trim() !== "" && !CPU_LINE.test(l))
      .slice(-3)
      .join(" | ");
    return `${what}: exit ${r.code ?? r.signal}${tail ? ` (${tail})` : ""}`;
  }
  return undefined;
}

/**
 * The last line of stdout that parses as a JSON object.
 * @param {string} stdout
 * @returns {any} the parsed object (its shape is the printing command's), or undefined
 */
export function lastJson(stdout) {
  const lines = stdout.trim().split("\n").reverse();
  for (const line of lines) {
    try {
      const v = JSON.parse(line);
      if (v && typeof v === "object") return v;
    } catch {
      // not JSON
    }
  }
  return undefined;
}

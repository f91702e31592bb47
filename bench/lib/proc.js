// Spawning the processes under measurement. Wall time runs from just before spawn() to the
// child's "exit" event: node startup, module loading, connecting, the work, and closing.
import { spawn } from "node:child_process";

const STDERR_LIMIT = 16 * 1024;
const CPU_REPORT = new URL("./cpu-report.js", import.meta.url).href;
const CPU_LINE = /^eventlab-bench-cpu (.*)$/m;

/** Children still running, so an interrupted run can stop exactly the processes it started. */
export const running = new Set();

/**
 * Start a process. `stdout: "ignore"` sends it to /dev/null; "capture" keeps it (small
 * outputs only). Every process has a deadline: past it, it is killed and the result says
 * `timedOut`.
 */
export function start(command, args, { cwd, env, timeoutMs, stdout = "capture", cpu = false }) {
  const lineWaiters = [];
  let out = "";
  let err = "";
  let timedOut = false;
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
  child.stdout?.on("data", (chunk) => {
    out += chunk;
    for (const w of lineWaiters.slice()) w.check();
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    // Keep the head (errors) and always the tail (the CPU report comes last).
    err = err.length < STDERR_LIMIT ? err + chunk : err.slice(0, STDERR_LIMIT) + chunk.slice(-512);
  });
  child.on("exit", () => {
    exitedAt = performance.now();
    running.delete(child);
  });
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
      const usage = cpuLine ? JSON.parse(cpuLine[1]) : undefined;
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

  /** Resolve with the first whole stdout line that `match` accepts (bounded by `waitMs`). */
  function waitForLine(match, waitMs) {
    return new Promise((resolve, reject) => {
      const waiter = {
        check() {
          for (const line of out.split("\n").slice(0, -1)) {
            if (match(line)) return done(() => resolve(line));
          }
        },
        fail(error) {
          done(() => reject(error));
        },
      };
      const t = setTimeout(
        () => waiter.fail(new Error(`no such line within ${waitMs} ms`)),
        waitMs,
      );
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

/** Run a process to the end; see start(). */
export function run(command, args, options) {
  return start(command, args, options).result;
}

/** A one-line reason a run failed, or undefined when it exited 0. */
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

/** The last line of stdout that parses as a JSON object. */
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

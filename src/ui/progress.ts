/**
 * A progress line on stderr: an ora spinner on a TTY, nothing otherwise. The text is
 * pulled from a function at most every `intervalMs`, so hot loops never format text.
 */
import type { Io } from "./io.js";

export interface Progress {
  /** Stop drawing; the spinner line is cleared. */
  stop(): void;
}

const NOOP: Progress = { stop() {} };

export async function startProgress(
  io: Io,
  text: () => string,
  intervalMs = 100,
): Promise<Progress> {
  if (!io.stderrIsTTY) return NOOP;
  const { default: ora } = await import("ora");
  const spinner = ora({
    text: text(),
    stream: io.stderr,
    color: "cyan",
    isEnabled: true,
    discardStdin: false,
  });
  if (!io.color) spinner.color = "white";
  spinner.start();
  const timer = setInterval(() => {
    spinner.text = text();
  }, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      spinner.stop();
    },
  };
}

/**
 * A program in a real pseudo-terminal (tmux), watched and answered like a person would:
 * for the tests that must see what a terminal shows. Every wait is bounded by time.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { vi } from "vitest";

export const BIN = path.resolve(import.meta.dirname, "../../bin/eventlab.cjs");

function hasTmux(): boolean {
  try {
    execFileSync("tmux", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** In CI a missing tmux is a failure, not a skip: the pseudo-terminal run must happen there. */
export const TMUX_AVAILABLE = hasTmux() || process.env["CI"] === "true";

export interface Terminal {
  /** What the screen shows now. */
  screen(): string;
  /** Everything: the lines scrolled off the top of the screen, then the screen. */
  history(): string;
  keys(...k: string[]): void;
  /** Wait until the screen satisfies `test` (or shows the text); returns the screen. */
  see(test: string | ((screen: string) => boolean), timeoutMs?: number): Promise<string>;
  close(): void;
}

/** Run `command` (a shell line) in a new detached tmux session of the given size. */
export function terminal(command: string, size = { columns: 100, rows: 40 }): Terminal {
  const session = `eventlab-${randomBytes(4).toString("hex")}`;
  const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
  tmux(
    "new-session",
    "-d",
    "-s",
    session,
    "-x",
    String(size.columns),
    "-y",
    String(size.rows),
    command,
  );
  const screen = () => tmux("capture-pane", "-p", "-t", session);
  return {
    screen,
    history: () => tmux("capture-pane", "-p", "-S", "-", "-t", session),
    keys: (...k) => {
      tmux("send-keys", "-t", session, ...k);
    },
    see(test, timeoutMs = 10_000) {
      const ok = typeof test === "string" ? (s: string) => s.includes(test) : test;
      const what = typeof test === "string" ? `"${test}"` : "the expected screen";
      return vi.waitFor(
        () => {
          const s = screen();
          if (!ok(s)) throw new Error(`${what} not seen within ${timeoutMs} ms:\n${s}`);
          return s;
        },
        { timeout: timeoutMs, interval: 50 },
      );
    },
    close() {
      try {
        tmux("kill-session", "-t", session);
      } catch {
        // already gone
      }
    },
  };
}

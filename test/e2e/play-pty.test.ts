/**
 * `eventlab play` in a real pseudo-terminal (tmux): the live view is drawn in place while
 * the scenario runs, then the report stays on the screen. Needs `npm run build` and tmux.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "bin/eventlab.js");

function hasTmux(): boolean {
  try {
    execFileSync("tmux", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// In CI a missing tmux is a failure, not a skip.
const available = hasTmux() || process.env.CI === "true";

describe.runIf(available)("eventlab play in a pseudo-terminal", () => {
  const session = `eventlab-play-${randomBytes(4).toString("hex")}`;
  let dir: string;
  const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
  const screen = () => tmux("capture-pane", "-p", "-t", session);

  async function see(
    test: (s: string) => boolean,
    what: string,
    timeoutMs: number,
  ): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = screen();
      if (test(s)) return s;
      if (Date.now() > deadline) throw new Error(`${what} not on screen:\n${s}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-play-pty-"));
    tmux(
      "new-session",
      "-d",
      "-s",
      session,
      "-x",
      "100",
      "-y",
      "40",
      `cd '${dir}' && NO_COLOR=1 EVENTLAB_URL= '${process.execPath}' '${bin}' play work-queue --seed 7; echo "EXIT:$?"; sleep 30`,
    );
  });

  afterAll(async () => {
    try {
      tmux("kill-session", "-t", session);
    } catch {
      // already gone
    }
    await rm(dir, { recursive: true, force: true });
  });

  it("shows the live view while running, then the report", async () => {
    // The live view: the queue and consumer tables, with the run still going (no report yet).
    const live = await see(
      (s) => /queue\s+depth\s+in\/s/.test(s) && /worker-1/.test(s) && !s.includes("lost 0"),
      "the live view",
      15_000,
    );
    expect(live).toMatch(/work-queue · [\d.]+ (ms|s)/);
    // Drawn in place: one header line, however many frames were drawn.
    expect(live.match(/queue\s+depth\s+in\/s/g)).toHaveLength(1);
    const end = await see((s) => s.includes("EXIT:"), "the end of the run", 30_000);
    expect(end).toContain("work-queue: done in");
    expect(end).toContain("✓ lost 0");
    expect(end).toContain("EXIT:0");
    expect(end.match(/queue\s+depth\s+in\/s/g)?.length ?? 0).toBeLessThanOrEqual(1);
  });
});

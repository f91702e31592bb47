/**
 * `eventlab play` in a real pseudo-terminal (tmux): the live view is drawn in place while
 * the scenario runs, then the report stays on the screen; on a terminal shorter than the view,
 * too. Needs `npm run build` and tmux.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, type Terminal, TMUX_AVAILABLE, terminal } from "../helpers/tmux.js";

describe.runIf(TMUX_AVAILABLE)("eventlab play in a pseudo-terminal", () => {
  let dir: string;
  let t: Terminal;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-play-pty-"));
    t = terminal(
      `cd '${dir}' && NO_COLOR=1 EVENTLAB_URL= '${process.execPath}' '${BIN}' play work-queue --seed 7; echo "EXIT:$?"; sleep 30`,
    );
  });

  afterAll(async () => {
    t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("shows the live view while running, then the report", async () => {
    // The live view: the queue and consumer tables, with the run still going (no report yet).
    const live = await t.see(
      (s) => /queue\s+depth\s+in\/s/.test(s) && /worker-1/.test(s) && !s.includes("lost 0"),
      15_000,
    );
    expect(live).toMatch(/work-queue · [\d.]+ (ms|s)/);
    // Drawn in place: one header line, however many frames were drawn.
    expect(live.match(/queue\s+depth\s+in\/s/g)).toHaveLength(1);
    const end = await t.see("EXIT:", 30_000);
    expect(end).toContain("work-queue: done in");
    expect(end).toContain("✓ lost 0");
    expect(end).toContain("EXIT:0");
    expect(end.match(/queue\s+depth\s+in\/s/g)?.length ?? 0).toBeLessThanOrEqual(1);
  });
});

describe.runIf(TMUX_AVAILABLE)("eventlab play in a pseudo-terminal of 120×12", () => {
  let dir: string;
  let t: Terminal;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "eventlab-play-pty-"));
    t = terminal(
      `cd '${dir}' && NO_COLOR=1 EVENTLAB_URL= '${process.execPath}' '${BIN}' play orders --seed 7; echo "EXIT:$?"; sleep 30`,
      { columns: 120, rows: 12 },
    );
  });

  afterAll(async () => {
    t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("fits the live view into the screen and leaves no copies in the history", async () => {
    // The orders view is 18 lines at full height: here, both tables fill the 11 lines above
    // the cursor, and the frame has been redrawn several times (at most 4 a second).
    const header = /^orders · /gm;
    const live = await t.see((s) => /^orders · [2-9][.\d]* s of/m.test(s), 15_000);
    expect(live).toMatch(/^queue +depth +in\/s/m);
    expect(live).toMatch(/^consumer +queue +inst/m);
    expect(live).toMatch(/^notification-se… /m);
    expect(live.match(header)).toHaveLength(1);
    expect(t.history().match(header)).toHaveLength(1);
    const end = await t.see("EXIT:", 30_000);
    expect(end).toContain("EXIT:0");
    const all = t.history();
    expect(all).toContain("orders: done in");
    expect(all).toContain("✓ lost 0");
    expect(all.match(header)).toHaveLength(1);
    expect(all.match(/^queue +depth +in\/s/gm)).toHaveLength(1);
  });
});

/**
 * `eventlab play`'s command definition: argv becomes one typed options object for its run,
 * and the program runs commands/run/play.ts (loaded on first use; test/unit/layering.test.ts
 * checks that the definition stays light).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { playCommand } from "../../src/commands/play.js";
import { optionsOf, usageErrorOf } from "../helpers/argv.js";
import { runCli } from "../helpers/cli.js";

const play = playCommand;

describe("eventlab play: argv → options", () => {
  it("gives the run every flag, typed", async () => {
    const o = await optionsOf(play, [
      "work-queue",
      "--seed",
      "7",
      "--amount",
      "40",
      "--duration",
      "10s",
      "--keep",
      "--json",
      "--reconnect",
      "3",
      "--reconnect-timeout",
      "5s",
    ]);
    expect(o).toEqual({
      name: "work-queue",
      templates: [],
      amount: 40,
      seed: 7,
      durationMs: 10_000,
      list: false,
      json: true,
      leftovers: "keep",
      reconnect: { attempts: 3, timeoutMs: 5000 },
      web: { web: false, webPort: 0, open: true },
      ci: false,
    });
  });

  it("--junit implies --ci", async () => {
    expect(await optionsOf(play, ["s", "--ci"])).toMatchObject({ ci: true, junit: undefined });
    expect(await optionsOf(play, ["s", "--junit", "out.xml"])).toMatchObject({
      ci: true,
      junit: "out.xml",
    });
  });

  it("defaults: no scenario named, refuse leftovers, repeatable --template", async () => {
    const o = await optionsOf(play, ["-t", "order", "-t", "refund", "--purge"]);
    expect(o).toMatchObject({
      name: undefined,
      templates: ["order", "refund"],
      leftovers: "purge",
      list: false,
      json: false,
    });
    expect((await optionsOf(play, [])).leftovers).toBe("refuse");
  });

  it.each([
    [["--purge", "--keep"], "--purge and --keep cannot be used together"],
    [["--amount", "many"], "--amount"],
    [["--duration", "soon"], "--duration"],
  ])("refuses %j", async (argv, text) => {
    expect(await usageErrorOf(play, argv)).toContain(text);
  });
});

describe("eventlab play through the whole program", () => {
  it("runs run/play.ts's runPlay: --list lists the presets", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "eventlab-play-list-"));
    try {
      const r = await runCli(["play", "--list", "--json"], {
        cwd: dir,
        env: { EVENTLAB_CONFIG: "" },
      });
      expect(r.code, r.stderr).toBe(0);
      const rows = JSON.parse(r.stdout) as Array<{ name: string; kind: string }>;
      expect(rows).toContainEqual(expect.objectContaining({ name: "orders", kind: "preset" }));
      expect(rows.every((row) => row.kind === "preset")).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

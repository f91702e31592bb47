/**
 * The CLI's start: a CommonJS bundle compiled with a code cache per command shape. The cache
 * may only save time: every way it can be missing, stale, corrupt, untrusted or unwritable
 * still runs the bundle.
 */

import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BUILD_LINE, cacheRoot, cacheShape, KEPT_BUILDS } from "../../src/launch.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

describe("cacheShape", () => {
  it.each([
    [[], "_"],
    [["--help"], "_-help"],
    [["-V"], "_"],
    [["produce", "--amount", "5"], "produce"],
    [["produce", "-h"], "produce-help"],
    [["--verbose", "consume", "q"], "consume"],
    [["amqp://x", "produce"], "_"],
    [["../etc/passwd"], "_"],
    [["Produce"], "_"],
  ])("%j → %s", (argv, shape) => {
    expect(cacheShape(argv)).toBe(shape);
  });
});

describe("cacheRoot", () => {
  it("prefers EVENTLAB_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache", () => {
    expect(cacheRoot({ EVENTLAB_CACHE_DIR: "/c", XDG_CACHE_HOME: "/x" })).toBe("/c");
    expect(cacheRoot({ XDG_CACHE_HOME: "/x" })).toBe(path.join("/x", "eventlab"));
    expect(cacheRoot({})).toMatch(/\.cache[/\\]eventlab$/);
  });
});

describe("loadBundle", () => {
  let dir: string;
  let bundle: string;
  let env: NodeJS.ProcessEnv;
  const cacheFiles = () => {
    const code = path.join(dir, "cache", "code");
    if (!existsSync(code)) return [];
    return readdirSync(code).flatMap((stamp) =>
      readdirSync(path.join(code, stamp)).map((f) => `${stamp}/${f}`),
    );
  };
  // A bundle that does what the CLI's does: requires a file beside it, loads a module lazily
  // (a require where the source had import()), and runs enough code for a cache to hold
  // something.
  const writeBundle = (extra = "", word = "plain ascii") => {
    writeFileSync(path.join(dir, "helper.cjs"), "module.exports = (n) => n * 2;\n");
    writeFileSync(
      bundle,
      [
        '"use strict";',
        'const double = require("./helper.cjs");',
        "function sum(n) { let s = 0; for (let i = 0; i < n; i++) s += double(i); return s; }",
        "module.exports = {",
        "  sum,",
        '  base: async (p) => require("node:path").basename(p),',
        "  where: () => __filename,",
        `  word: ${JSON.stringify(word)},`,
        "};",
        extra,
      ].join("\n"),
    );
  };
  // Same length, other text: V8's own check (the source's length) would accept the old cache.
  const sameLengthEdit = () =>
    writeFileSync(bundle, readFileSync(bundle, "utf8").replace("s += double(i)", "s -= double(i)"));

  // Each start is its own process, as the CLI's are: within one process V8 would compile the
  // same text once and never look at the cache again.
  const probe = [
    "const { loadBundle } = await import(process.env.PROBE_LAUNCH);",
    "const b = loadBundle(process.env.PROBE_BUNDLE, process.env.PROBE_SHAPE, process.env);",
    "const out = { cache: b.cache, sum: b.exports.sum(4), where: b.exports.where(), word: b.exports.word,",
    '  base: await b.exports.base("/a/b.txt") };',
    "b.save();",
    "console.log(JSON.stringify(out));",
  ].join("\n");
  const start = (shape: string, extraEnv: NodeJS.ProcessEnv = {}) => {
    const out = execFileSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", probe],
      {
        cwd: REPO,
        env: {
          PATH: process.env["PATH"],
          ...env,
          ...extraEnv,
          PROBE_LAUNCH: pathToFileURL(path.join(REPO, "src/launch.ts")).href,
          PROBE_BUNDLE: bundle,
          PROBE_SHAPE: shape,
        },
        encoding: "utf8",
        timeout: 20_000,
      },
    );
    return JSON.parse(out) as {
      cache: string;
      sum: number;
      where: string;
      base: string;
      word: string;
    };
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "eventlab-launch-"));
    bundle = path.join(dir, "cli.cjs");
    env = { EVENTLAB_CACHE_DIR: path.join(dir, "cache") };
    writeBundle();
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("compiles without a cache, saves one, and the next start uses it", () => {
    const first = start("produce");
    expect(first).toEqual({
      cache: "none",
      sum: 12,
      where: bundle,
      base: "b.txt",
      word: "plain ascii",
    });
    expect(cacheFiles()).toEqual([expect.stringMatching(/\/produce\.bin$/)]);

    const second = start("produce");
    expect(second).toMatchObject({ cache: "used", sum: 12, where: bundle, base: "b.txt" });
    expect(cacheFiles()).toHaveLength(1);

    // Another command shape has a cache of its own.
    expect(start("consume").cache).toBe("none");
    expect(start("consume").cache).toBe("used");
    expect(cacheFiles()).toHaveLength(2);
  });

  it("never reads a cache made from another build of the bundle", () => {
    start("produce");
    const before = cacheFiles();
    sameLengthEdit();
    // A rebuild changes the modification time (a file system's clock may not tick between
    // two writes in a test: set it).
    utimesSync(bundle, new Date(2030, 0, 1), new Date(2030, 0, 1));
    expect(start("produce")).toMatchObject({ cache: "none", sum: -12 });
    const after = cacheFiles();
    expect(after).toHaveLength(2);
    expect(after).toContain(before[0]);
    expect(start("produce")).toMatchObject({ cache: "used", sum: -12 });
  });

  it(`keeps the caches of the ${KEPT_BUILDS} newest builds only`, () => {
    const stamps = () => readdirSync(path.join(dir, "cache", "code"));
    const seen: string[] = [];
    for (let build = 0; build < KEPT_BUILDS + 2; build++) {
      writeBundle(`${BUILD_LINE}${String(build).repeat(12)}`);
      start("produce");
      const added = stamps().filter((s) => !seen.includes(s));
      expect(added).toHaveLength(1);
      seen.push(...added);
      // Directory times decide which are newest: make them distinct.
      const t = new Date(2020, 0, 1 + build);
      utimesSync(path.join(dir, "cache", "code", added[0] ?? ""), t, t);
    }
    expect(stamps().sort()).toEqual(seen.slice(-KEPT_BUILDS).sort());
  });

  it("tells builds apart by the hash line the build appends, whatever the file's time", () => {
    // Installed packages carry one fixed modification time: two versions of the same size
    // differ only in their text.
    const time = new Date(1985, 9, 26);
    writeBundle(`${BUILD_LINE}aaaaaaaaaaaaaaaaaaaa`);
    utimesSync(bundle, time, time);
    start("produce");
    expect(cacheFiles()).toEqual([expect.stringMatching(/-aaaaaaaaaaaaaaaaaaaa\/produce\.bin$/)]);
    expect(start("produce").cache).toBe("used");

    writeBundle(`${BUILD_LINE}bbbbbbbbbbbbbbbbbbbb`);
    sameLengthEdit();
    utimesSync(bundle, time, time);
    expect(start("produce")).toMatchObject({ cache: "none", sum: -12 });
  });

  it("reads a bundle that is not ASCII as UTF-8, with or without its cache", () => {
    writeBundle("", "café ✓ 🐇");
    expect(start("produce")).toMatchObject({ cache: "none", word: "café ✓ 🐇" });
    expect(start("produce")).toMatchObject({ cache: "used", word: "café ✓ 🐇" });
  });

  it("runs the bundle when the cache is corrupt, and replaces it", () => {
    start("produce");
    const file = path.join(dir, "cache", "code", cacheFiles()[0] ?? "");
    writeFileSync(file, Buffer.alloc(4096, 7));
    expect(start("produce")).toMatchObject({ cache: "rejected", sum: 12 });
    expect(start("produce")).toMatchObject({ cache: "used", sum: 12 });
  });

  it("EVENTLAB_NO_CODE_CACHE=1 neither reads nor writes a cache", () => {
    start("produce");
    const off = { EVENTLAB_NO_CODE_CACHE: "1" };
    expect(start("produce", off)).toMatchObject({ cache: "off", sum: 12 });
    expect(start("consume", off)).toMatchObject({ cache: "off", sum: 12 });
    expect(cacheFiles()).toEqual([expect.stringMatching(/\/produce\.bin$/)]);
  });

  it.skipIf(process.platform === "win32")(
    "ignores a cache directory that others may write to",
    () => {
      start("produce");
      chmodSync(path.join(dir, "cache"), 0o777);
      expect(start("produce")).toMatchObject({ cache: "none", sum: 12 });
      start("consume");
      expect(cacheFiles()).toEqual([expect.stringMatching(/\/produce\.bin$/)]);
    },
  );

  it("runs, and saves nothing, where the cache cannot be written", () => {
    writeFileSync(path.join(dir, "not-a-dir"), "");
    env = { EVENTLAB_CACHE_DIR: path.join(dir, "not-a-dir", "cache") };
    expect(start("produce")).toMatchObject({ cache: "none", sum: 12 });
    expect(start("produce")).toMatchObject({ cache: "none", sum: 12 });
  });
});

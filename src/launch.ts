/**
 * How the command line starts: the CLI is one CommonJS bundle (dist/cli.cjs) compiled with a
 * V8 code cache, kept per command shape in the user's cache directory.
 *
 * Node 20 has no module compile cache (`module.enableCompileCache` came with Node 22). Without
 * one, every start parses and compiles the command layer, and then each function it runs,
 * again: about 35 ms of a one-shot publish, a third of its time. A code cache made after a
 * successful run holds the functions that run compiled, so the next run of the same command
 * skips that work. One file of ES modules per chunk would also pay module resolution for each,
 * which a single bundle does not.
 *
 * The cache only ever saves time: a cache that is missing, rejected by V8 (another Node, other
 * flags) or unreadable means a plain compile, and a cache that cannot be written is skipped.
 * `EVENTLAB_NO_CODE_CACHE=1` turns it off; `EVENTLAB_CACHE_DIR` moves it.
 */
import { isAscii } from "node:buffer";
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import path from "node:path";
import vm from "node:vm";

export interface LoadedBundle<T> {
  /** The bundle's `module.exports`. */
  exports: T;
  /** How the bundle was compiled: from a cache V8 accepted, or not. */
  cache: "used" | "rejected" | "none" | "off";
  /**
   * Keep the functions compiled so far for the next start of this command shape, unless a
   * cache was used. Call it after a successful run; it never throws.
   */
  save(): void;
}

/**
 * The cache's name for a command line: the command (its first word, when it looks like one)
 * and whether help was asked for, so that `produce --help` and `produce` each keep their own.
 */
export function cacheShape(argv: readonly string[]): string {
  const first = argv.find((a) => !a.startsWith("-"));
  const word = first !== undefined && /^[a-z][a-z0-9-]{0,23}$/.test(first) ? first : "_";
  return argv.some((a) => a === "--help" || a === "-h") ? `${word}-help` : word;
}

/** Where code caches are kept: $EVENTLAB_CACHE_DIR, else the user's cache directory. */
export function cacheRoot(env: NodeJS.ProcessEnv): string | undefined {
  const own = env["EVENTLAB_CACHE_DIR"];
  if (own) return own;
  const xdg = env["XDG_CACHE_HOME"];
  if (xdg) return path.join(xdg, "eventlab");
  try {
    const home = homedir();
    return home ? path.join(home, ".cache", "eventlab") : undefined;
  } catch {
    return undefined; // no home directory: no cache
  }
}

/**
 * A cache directory is trusted only when it is the user's own and nobody else may write to it:
 * a code cache is compiled code, run as it is read.
 */
function trusted(dir: string): boolean {
  const s = statSync(dir);
  if (!s.isDirectory() || (s.mode & 0o022) !== 0) return false;
  return typeof process.getuid !== "function" || s.uid === process.getuid();
}

/** The line the build appends to a bundle: a hash of the rest of its text. */
export const BUILD_LINE = "// eventlab-build ";

/**
 * Which build a bundle is: the hash the build appended (installed packages all carry the same
 * modification time, so two versions of equal size would look alike), else its size,
 * modification time and inode.
 */
function buildOf(file: string, source: string): string {
  const tail = source.slice(-200);
  const at = tail.lastIndexOf(BUILD_LINE);
  if (at >= 0) {
    const id = /^[0-9a-f]{8,64}/.exec(tail.slice(at + BUILD_LINE.length));
    if (id) return id[0];
  }
  const s = statSync(file, { bigint: true });
  return `${s.size}-${s.mtimeNs}-${s.ino}`;
}

/** How many builds keep their caches: a few, for installs side by side (global and local). */
export const KEPT_BUILDS = 3;

/** Remove the caches of all but the newest builds: an upgrade leaves the old one unread. */
function pruneBuilds(codeDir: string): void {
  const builds = readdirSync(codeDir)
    .map((name) => ({ name, at: statSync(path.join(codeDir, name)).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const old of builds.slice(KEPT_BUILDS))
    rmSync(path.join(codeDir, old.name), { recursive: true, force: true });
}

/** Load a CommonJS bundle, with the code cache kept for `shape`. */
export function loadBundle<T>(
  file: string,
  shape: string,
  env: NodeJS.ProcessEnv = process.env,
): LoadedBundle<T> {
  // An ASCII bundle (the build makes it one) is read as one byte per character: several
  // times faster than decoding UTF-8, and V8 keeps it as a one-byte string.
  const bytes = readFileSync(file);
  const source = isAscii(bytes) ? bytes.toString("latin1") : bytes.toString("utf8");
  const off = ["1", "true"].includes(env["EVENTLAB_NO_CODE_CACHE"] ?? "");
  const root = off ? undefined : cacheRoot(env);
  // One directory per build of the bundle and per V8: a cache is only ever read by the
  // bundle it was made from (V8's own check compares the source's length, not its text).
  let dir: string | undefined;
  let cachedData: Buffer | undefined;
  if (root) {
    try {
      dir = path.join(
        root,
        "code",
        `${process.versions.v8}-${process.arch}-${buildOf(file, source)}`,
      );
      if (trusted(root)) cachedData = readFileSync(path.join(dir, `${shape}.bin`));
    } catch {
      // No cache yet, or none that may be used: compile as usual.
    }
  }
  // The CommonJS wrapper on the bundle's first line keeps its line numbers. No dynamic
  // import() callback: Node 20 loses it when the script comes from a cache, so a bundle
  // loaded here has none (the build turns them into lazy requires), and one that slipped in
  // fails on every start, not only on cached ones.
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname) {${source}\n})`,
    { filename: file, ...(cachedData ? { cachedData } : {}) },
  );
  const mod = { exports: {} as T };
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: { exports: T },
    filename: string,
    dirname: string,
  ) => void;
  wrapper(mod.exports, createRequire(file), mod, file, path.dirname(file));
  const cache = off
    ? "off"
    : cachedData === undefined
      ? "none"
      : script.cachedDataRejected
        ? "rejected"
        : "used";
  return {
    exports: mod.exports,
    cache,
    save() {
      if (!root || !dir || cache === "used") return;
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        if (!trusted(root)) return;
        const target = path.join(dir, `${shape}.bin`);
        // Written whole, then renamed: a start running alongside reads all of it or none.
        const tmp = `${target}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
        renameSync(tmp, target);
        pruneBuilds(path.dirname(dir));
      } catch {
        // A cache is an optimisation: a read-only or full disk costs only the next start's time.
      }
    },
  };
}

/**
 * The built binary, spawned as a user runs it: help, version, usage errors and a
 * connection error, with no stack traces. Needs `npm run build` first (CI builds).
 */

import { isAscii } from "node:buffer";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "bin/eventlab.cjs");

function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      {
        cwd: root,
        env: { ...process.env, NO_COLOR: "1", EVENTLAB_URL: "", EVENTLAB_CONFIG: "", ...env },
        timeout: 20_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A loopback port with nothing listening: bind port 0, note it, close. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe("the built eventlab binary", () => {
  it("has been built", () => {
    expect(existsSync(path.join(root, "dist/cli.cjs"))).toBe(true);
  });

  it("the CLI bundle is ASCII, ends with its build hash, and has no dynamic import()", () => {
    const bytes = readFileSync(path.join(root, "dist/cli.cjs"));
    expect(isAscii(bytes)).toBe(true);
    const text = bytes.toString("latin1");
    expect(text.slice(-100)).toMatch(/\/\/ eventlab-build [0-9a-f]{20}\n$/);
    // import() in code (not in the bench thread's boot text, a string) would fail on a cached start.
    const calls = text.split("\n").filter((l) => /(^|[^\w."'`])import\(/.test(l));
    expect(calls.every((l) => /^\s*"/.test(l))).toBe(true);
  });

  it("--help lists the commands", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    for (const cmd of ["produce", "consume", "declare", "delete", "topology", "init"]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, "m"));
    }
  });

  it("every command's --help shows examples", async () => {
    const commands = [
      ["produce"],
      ["consume"],
      ["declare", "exchange"],
      ["declare", "queue"],
      ["declare", "binding"],
      ["delete", "exchange"],
      ["delete", "queue"],
      ["delete", "binding"],
      ["topology", "apply"],
      ["init"],
    ];
    for (const c of commands) {
      const r = await run([...c, "--help"]);
      expect(r.code, c.join(" ")).toBe(0);
      expect(r.stdout, c.join(" ")).toMatch(/Examples:\n {2}\$ eventlab /);
      expect(r.stdout, c.join(" ")).toMatch(/Global Options:[\s\S]*--url <amqp-url>/);
    }
  });

  it("--version prints the package version", async () => {
    const r = await run(["--version"]);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("keeps a code cache per command after a successful run, and starts from it alike", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eventlab-cache-"));
    try {
      const env = { EVENTLAB_CACHE_DIR: dir };
      const first = await run(["route", "--help"], env);
      const cached = () => readdirSync(path.join(dir, "code"), { recursive: true }).map(String);
      expect(first.code).toBe(0);
      expect(cached()).toEqual(expect.arrayContaining([expect.stringMatching(/route-help\.bin$/)]));
      const second = await run(["route", "--help"], env);
      expect(second).toEqual(first);
      // A failed run leaves no cache of its own.
      expect((await run(["produce", "--amout", "3"], env)).code).toBe(1);
      expect(cached().some((f) => f.endsWith("produce.bin"))).toBe(false);
      // Turned off, the same output, and nothing more is written.
      const off = await run(["route", "--help"], { ...env, EVENTLAB_NO_CODE_CACHE: "1" });
      expect(off).toEqual(first);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an unknown flag is a usage error with a hint, exit 1, no stack", async () => {
    const r = await run(["produce", "--amout", "3"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown option '--amout'/);
    expect(r.stderr).toMatch(/--amount/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("a refused connection names the URL with the password masked, and hints at starting a broker", async () => {
    const port = await closedPort();
    const r = await run([
      "produce",
      "--url",
      `amqp://bob:s3cret@127.0.0.1:${port}`,
      "--key",
      "q",
      "--body",
      "x",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: cannot reach amqp://bob:***@127.0.0.1:${port} (connection refused)`,
    );
    expect(r.stderr).toMatch(/hint: start RabbitMQ/);
    expect(r.stderr + r.stdout).not.toContain("s3cret");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("--verbose adds the stack trace, still without the password", async () => {
    const port = await closedPort();
    const r = await run([
      "consume",
      "q",
      "--verbose",
      "--url",
      `amqp://bob:s3cret@127.0.0.1:${port}`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain("s3cret");
  });
});

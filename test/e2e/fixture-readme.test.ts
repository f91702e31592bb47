/**
 * The README's "eventlab in your unit tests" examples, run as a user would: each is copied
 * verbatim into a project of its own whose node_modules resolves `eventlab` to this package
 * (so `eventlab/broker` goes through package.json's exports to the built dist/broker.js), and
 * vitest runs it in a child process. Jest is not a dependency of this package: its example
 * runs under vitest with `@jest/globals` mapped to vitest's same-named functions, which checks
 * the example's code and assertions, not Jest itself. Needs `npm run build` first.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
let dir: string;

/** The fenced blocks of the README section, in order, with their language. */
async function examples(): Promise<{ lang: string; code: string }[]> {
  const readme = await readFile(join(root, "README.md"), "utf8");
  const start = readme.indexOf("\n## eventlab in your unit tests\n");
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end);
  return [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({
    lang: m[1] ?? "",
    code: m[2] ?? "",
  }));
}

/** Run vitest on one file of the project; resolves with its exit code and output. */
function vitest(file: string): Promise<{ code: number | null; output: string }> {
  const bin = join(root, "node_modules", "vitest", "vitest.mjs");
  return new Promise((done) => {
    execFile(
      process.execPath,
      [bin, "run", file, "--root", dir, "--reporter", "verbose", "--no-color"],
      { cwd: dir, timeout: 60_000, env: { ...process.env, NO_COLOR: "1", CI: "1" } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
        done({ code, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

beforeAll(async () => {
  if (!existsSync(join(root, "dist", "broker.js"))) {
    throw new Error("dist/broker.js is missing: run `npm run build` first");
  }
  dir = await mkdtemp(join(tmpdir(), "eventlab-fixture-readme-"));
  const modules = join(dir, "node_modules");
  await mkdir(join(modules, "@jest", "globals"), { recursive: true });
  await symlink(root, join(modules, "eventlab"), "dir");
  for (const name of ["amqplib", "vitest"]) {
    await symlink(join(root, "node_modules", name), join(modules, name), "dir");
  }
  await writeFile(
    join(modules, "@jest", "globals", "package.json"),
    JSON.stringify({ name: "@jest/globals", type: "module", exports: "./index.js" }),
  );
  await writeFile(
    join(modules, "@jest", "globals", "index.js"),
    'export { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "vitest";\n',
  );
  await writeFile(join(dir, "package.json"), JSON.stringify({ name: "app", type: "module" }));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("README: eventlab in your unit tests", () => {
  it("the vitest example passes as written", async () => {
    const [example] = (await examples()).filter((e) => e.lang === "ts");
    expect(example?.code).toContain('from "eventlab/broker"');
    await writeFile(join(dir, "orders.test.ts"), example?.code ?? "");
    const { code, output } = await vitest("orders.test.ts");
    expect(output).toMatch(/✓ orders\.test\.ts > an order reaches billing/);
    expect(output).toMatch(/✓ orders\.test\.ts > every test starts from an empty broker/);
    expect(output).toMatch(/Tests\s+2 passed \(2\)/);
    expect(code, output).toBe(0);
  });

  it("the Jest example's code and assertions hold (under vitest: jest is not installed)", async () => {
    const [example] = (await examples()).filter((e) => e.lang === "js");
    expect(example?.code).toContain('from "@jest/globals"');
    expect(example?.code).toContain('from "eventlab/broker"');
    await writeFile(join(dir, "orders.jest.test.js"), example?.code ?? "");
    const { code, output } = await vitest("orders.jest.test.js");
    expect(output).toMatch(/✓ orders\.jest\.test\.js > a published order is routed to billing/);
    expect(output).toMatch(/Tests\s+1 passed \(1\)/);
    expect(code, output).toBe(0);
  });
});

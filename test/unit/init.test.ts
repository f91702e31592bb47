/**
 * `eventlab init`: writes the starter config or a preset, never overwrites without --force,
 * and what it writes loads; `--list` lists the presets.
 */
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { packageRoot } from "../../src/config/presets.js";
import { PRESETS } from "../fixtures/presets.js";
import { runCli } from "../helpers/cli.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const EXAMPLE = path.join(REPO, "config/eventlab.example.yaml");

let root: string;
let n = 0;
async function freshDir(): Promise<string> {
  const dir = path.join(root, `case-${++n}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "eventlab-init-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("eventlab init", () => {
  it("writes eventlab.config.yaml in the working directory and says what to do next", async () => {
    const cwd = await freshDir();
    const r = await runCli(["init"], { cwd });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("wrote eventlab.config.yaml");
    expect(r.stdout).toContain("templates: match-goal, match-card, order-created");
    expect(r.stdout).toMatch(/^ {2}eventlab topology apply\s+# /m);
    expect(r.stdout).toMatch(/^ {2}eventlab produce order-created --amount 20\s+# /m);
    // The file is in the default place, so the next commands need no --config.
    expect(r.stdout).not.toContain("--config");

    const written = await readFile(path.join(cwd, "eventlab.config.yaml"), "utf8");
    const example = await readFile(EXAMPLE, "utf8");
    // The same text as the example, but for where the editor finds the schema.
    const body = (s: string) => s.split("\n").slice(1).join("\n");
    expect(body(written)).toBe(body(example));
    expect(written.split("\n")[0]).toMatch(/^# yaml-language-server: \$schema=\S+$/);
  });

  it("the file it writes loads, with the example's templates and topology", async () => {
    const cwd = await freshDir();
    expect((await runCli(["init"], { cwd })).code).toBe(0);
    const loaded = await loadConfig({ cwd, env: {} });
    expect(loaded).toMatchObject({ file: "eventlab.config.yaml", source: "cwd" });
    expect(Object.keys(loaded.config.templates)).toEqual(
      expect.arrayContaining(["match-goal", "match-card", "order-created"]),
    );
    expect(loaded.config.topology.exchanges["orders"]?.type).toBe("topic");
  });

  it("points the editor at a schema file that exists, or at the published one", async () => {
    const cwd = await freshDir();
    await runCli(["init"], { cwd });
    const first = (await readFile(path.join(cwd, "eventlab.config.yaml"), "utf8")).split("\n")[0];
    const ref = first?.replace("# yaml-language-server: $schema=", "") ?? "";
    if (/^https:\/\//.test(ref)) {
      expect(ref).toMatch(
        /^https:\/\/unpkg\.com\/eventlab@[\w.-]+\/config\/eventlab\.schema\.json$/,
      );
    } else {
      await expect(access(path.resolve(cwd, ref))).resolves.toBeUndefined();
    }
  });

  it("refuses to overwrite an existing file without --force", async () => {
    const cwd = await freshDir();
    const mine = "templates: {}\n# my own config\n";
    await writeFile(path.join(cwd, "eventlab.config.yaml"), mine);
    const r = await runCli(["init"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("error: eventlab.config.yaml already exists");
    expect(r.stderr).toMatch(/hint: .*--force/);
    expect(await readFile(path.join(cwd, "eventlab.config.yaml"), "utf8")).toBe(mine);
  });

  it("overwrites with --force", async () => {
    const cwd = await freshDir();
    await writeFile(path.join(cwd, "eventlab.config.yaml"), "templates: {}\n");
    const r = await runCli(["init", "--force"], { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("replaced eventlab.config.yaml");
    const loaded = await loadConfig({ cwd, env: {} });
    expect(loaded.config.templates).toHaveProperty("order-created");
  });

  it("--json prints one object: the file and created", async () => {
    const cwd = await freshDir();
    const r = await runCli(["init", "--json"], { cwd });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      file: "eventlab.config.yaml",
      created: true,
      overwritten: false,
    });
    expect(r.stdout.trim().split("\n")).toHaveLength(1);

    const again = await runCli(["init", "--json", "--force"], { cwd });
    expect(JSON.parse(again.stdout)).toMatchObject({ created: true, overwritten: true });
  });

  it("--file writes elsewhere, and the next commands carry --config", async () => {
    const cwd = await freshDir();
    await mkdir(path.join(cwd, "lab"));
    const r = await runCli(["init", "--file", "lab/orders.yaml"], { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`wrote ${path.join("lab", "orders.yaml")}`);
    expect(r.stdout).toContain(
      `eventlab topology apply --config ${path.join("lab", "orders.yaml")}`,
    );
    const loaded = await loadConfig({ cwd, env: {}, file: "lab/orders.yaml" });
    expect(loaded.config.templates).toHaveProperty("match-goal");
    await expect(access(path.join(cwd, "eventlab.config.yaml"))).rejects.toThrow();
  });

  it("the global --config names the file when --file is not given", async () => {
    const cwd = await freshDir();
    const r = await runCli(["--config", "mine.yaml", "init", "--json"], { cwd });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ file: "mine.yaml" });
    await expect(access(path.join(cwd, "mine.yaml"))).resolves.toBeUndefined();
  });

  it("a .json file gets JSON, which loads", async () => {
    const cwd = await freshDir();
    const r = await runCli(["init", "--file", "eventlab.config.json"], { cwd });
    expect(r.code).toBe(0);
    const text = await readFile(path.join(cwd, "eventlab.config.json"), "utf8");
    expect(JSON.parse(text)).toHaveProperty("$schema");
    const loaded = await loadConfig({ cwd, env: {} });
    expect(loaded.file).toBe("eventlab.config.json");
    expect(loaded.config.templates).toHaveProperty("order-created");
  });

  it("--file in a directory that does not exist is a clear error", async () => {
    const cwd = await freshDir();
    const r = await runCli(["init", "--file", "nowhere/x.yaml"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("its directory does not exist");
    expect(r.stderr).toContain("hint:");
  });

  it("an empty --file is a usage error", async () => {
    const cwd = await freshDir();
    const r = await runCli(["init", "--file", ""], { cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "error: option '-f, --file <path>' argument '' is invalid. Expected a path",
    );
  });

  it("says so when EVENTLAB_CONFIG points elsewhere", async () => {
    const cwd = await freshDir();
    const r = await runCli(["init"], { cwd, env: { EVENTLAB_CONFIG: "other.yaml" } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("EVENTLAB_CONFIG is set (other.yaml)");
    expect(r.stdout).toContain("eventlab topology apply --config eventlab.config.yaml");
  });

  it("has help with examples", async () => {
    const r = await runCli(["init", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--force");
    expect(r.stdout).toContain("Examples:\n  $ eventlab init");
  });

  it("its help names every preset there is, and says how many", async () => {
    const { readdir } = await import("node:fs/promises");
    const presets = (await readdir(path.join(REPO, "config", "presets")))
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => f.replace(/\.yaml$/, ""));
    const help = (await runCli(["init", "--help"])).stdout.replace(/\s+/g, " ");
    for (const name of presets) expect(help, name).toContain(`${name} (`);
    const words = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
    expect(help).toContain(`${words[presets.length]} in all`);
  });
});

const presetFile = (name: string) => path.join(REPO, "config", "presets", `${name}.yaml`);

describe("eventlab init --preset and --list", () => {
  it("--preset writes that preset, which loads, and says what to run next", async () => {
    const cwd = await freshDir();
    const r = await runCli(["init", "--preset", "soccer"], { cwd });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("wrote eventlab.config.yaml (preset soccer)");
    expect(r.stdout).toContain("templates: goal, card, substitution, whistle");
    expect(r.stdout).toMatch(/^ {2}eventlab topology apply\s+# /m);
    expect(r.stdout).toMatch(/^ {2}eventlab produce goal card substitution whistle\s+# /m);
    expect(r.stdout).toMatch(/^ {2}eventlab consume goal-ticker\s+# /m);
    expect(r.stdout).not.toContain("--config");

    const written = await readFile(path.join(cwd, "eventlab.config.yaml"), "utf8");
    const preset = await readFile(presetFile("soccer"), "utf8");
    const body = (s: string) => s.split("\n").slice(1).join("\n");
    expect(body(written)).toBe(body(preset));
    const ref = written.split("\n")[0]?.replace("# yaml-language-server: $schema=", "") ?? "";
    if (!/^https:\/\//.test(ref))
      await expect(access(path.resolve(cwd, ref))).resolves.toBeUndefined();

    const loaded = await loadConfig({ cwd, env: {} });
    expect(Object.keys(loaded.config.templates)).toEqual([
      "goal",
      "card",
      "substitution",
      "whistle",
    ]);
    expect(loaded.config.topology.exchanges["soccer.match"]?.type).toBe("direct");
  });

  it.each(PRESETS)("--preset %s writes a config that loads", async (name) => {
    const cwd = await freshDir();
    const r = await runCli(["init", "--preset", name, "--json"], { cwd });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      file: "eventlab.config.yaml",
      created: true,
      overwritten: false,
      preset: name,
    });
    const loaded = await loadConfig({ cwd, env: {} });
    expect(Object.keys(loaded.config.templates).length).toBeGreaterThan(0);
  });

  it("--preset refuses to overwrite without --force, and replaces with it", async () => {
    const cwd = await freshDir();
    const mine = "templates: {}\n# my own config\n";
    await writeFile(path.join(cwd, "eventlab.config.yaml"), mine);
    const r = await runCli(["init", "--preset", "orders"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("error: eventlab.config.yaml already exists");
    expect(r.stderr).toMatch(/hint: .*--force/);
    expect(await readFile(path.join(cwd, "eventlab.config.yaml"), "utf8")).toBe(mine);

    const forced = await runCli(["init", "--preset", "orders", "--force"], { cwd });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain("replaced eventlab.config.yaml (preset orders)");
    const loaded = await loadConfig({ cwd, env: {} });
    expect(loaded.config.templates).toHaveProperty("order-created");
    expect(loaded.config.topology.exchanges["shop.orders"]?.type).toBe("topic");
  });

  it("--preset with --file writes elsewhere (as JSON for .json), and the next commands carry --config", async () => {
    const cwd = await freshDir();
    const r = await runCli(["init", "--preset", "retries", "--file", "retries.json"], { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("eventlab topology apply --config retries.json");
    expect(r.stdout).toContain("eventlab produce job urgent-job --config retries.json");
    const text = await readFile(path.join(cwd, "retries.json"), "utf8");
    expect(JSON.parse(text)).toHaveProperty("$schema");
    const loaded = await loadConfig({ cwd, env: {}, file: "retries.json" });
    expect(loaded.config.topology.queues).toHaveProperty("jobs.parking-lot");
    await expect(access(path.join(cwd, "eventlab.config.yaml"))).rejects.toThrow();
  });

  it("an unknown preset is a usage error that names the presets, and writes nothing", async () => {
    const cwd = await freshDir();
    const r = await runCli(["init", "--preset", "socer"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain('error: unknown preset "socer"');
    for (const name of PRESETS) expect(r.stderr).toContain(name);
    expect(r.stderr).toContain("hint: `eventlab init --list`");
    await expect(access(path.join(cwd, "eventlab.config.yaml"))).rejects.toThrow();
  });

  it("a preset name cannot reach outside config/presets", async () => {
    const cwd = await freshDir();
    const r = await runCli(["init", "--preset", "../eventlab.example"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown preset "../eventlab.example"');
  });

  it("--preset with --list, or an empty --preset, is a usage error", async () => {
    const cwd = await freshDir();
    const both = await runCli(["init", "--preset", "soccer", "--list"], { cwd });
    expect(both.code).toBe(1);
    expect(both.stderr).toContain(
      "error: option '-p, --preset <name>' cannot be used with option '-l, --list'",
    );
    const empty = await runCli(["init", "--preset", ""], { cwd });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain(
      "error: option '-p, --preset <name>' argument '' is invalid. Expected a preset name",
    );
    await expect(access(path.join(cwd, "eventlab.config.yaml"))).rejects.toThrow();
  });

  it("--list lists the eight presets, a line each in 80 columns, and writes nothing", async () => {
    const cwd = await freshDir();
    const r = await runCli(["init", "--list"], { cwd });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    for (const name of PRESETS) {
      const line = lines.find((l) => l.startsWith(`${name} `));
      expect(line, name).toBeDefined();
      // The description is the first line of the preset's opening comment.
      const preset = await readFile(presetFile(name), "utf8");
      const description = preset.split("\n")[2]?.replace(/^# /, "");
      expect(line?.replace(/^\S+\s+/, "")).toBe(description);
      expect(line?.length ?? 0).toBeLessThanOrEqual(80);
    }
    expect(r.stdout).toContain("eventlab init --preset <name>");
    await expect(access(path.join(cwd, "eventlab.config.yaml"))).rejects.toThrow();
  });

  it("--list --json prints an array of {name, description}", async () => {
    const r = await runCli(["init", "--list", "--json"], { cwd: await freshDir() });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    const list = JSON.parse(r.stdout) as Array<{ name: string; description: string }>;
    expect(list.map((p) => p.name)).toEqual(PRESETS);
    for (const p of list) {
      expect(Object.keys(p).sort()).toEqual(["description", "name"]);
      expect(p.description).toMatch(/^[A-Z].{10,}\.$/);
    }
  });

  it("help shows --preset and --list with examples", async () => {
    const r = await runCli(["init", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--preset <name>/);
    expect(r.stdout).toMatch(/--list/);
    expect(r.stdout).toContain("$ eventlab init --list");
    expect(r.stdout).toMatch(/\$ eventlab init --preset \w+/);
  });
});

describe("packageRoot", () => {
  it("finds the package from the source tree and from the bundle in dist/", async () => {
    const expected = path.resolve(REPO);
    expect(await packageRoot()).toBe(expected);
    const fromDist = pathToFileURL(path.join(REPO, "dist", "chunk-abc.js")).href;
    expect(await packageRoot(fromDist)).toBe(expected);
  });

  it("fails clearly outside the package", async () => {
    const outside = pathToFileURL(path.join(root, "a", "b.js")).href;
    await expect(packageRoot(outside)).rejects.toThrow("cannot find eventlab's package directory");
  });
});

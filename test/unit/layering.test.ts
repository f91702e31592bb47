/**
 * The layering of DESIGN.md, checked on the source: a command's definition is light (its
 * work loads only when it runs, through cli.ts), no command imports another, the work below
 * the definitions imports statically, the broker imports nothing of the CLI, and ui/ knows
 * no AMQP client.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(path.join(root, dir), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) =>
      e.isDirectory()
        ? sources(`${dir}/${e.name}`)
        : Promise.resolve(e.name.endsWith(".ts") ? [`${dir}/${e.name}`] : []),
    ),
  );
  return nested.flat();
}

/** The module specifiers a file imports statically, and the ones it loads with import(). */
async function importsOf(file: string): Promise<{ statics: string[]; dynamics: string[] }> {
  const text = await readFile(path.join(root, file), "utf8");
  // Type-only imports cost nothing at run time: they do not count.
  const statics = [
    ...text.matchAll(/^\s*(?:import|export)\s(?!type\s)[^;]*?\sfrom\s+"([^"]+)"/gm),
  ].map((m) => m[1] as string);
  const dynamics = [...text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1] as string);
  return { statics, dynamics };
}

/** A specifier relative to `file`, resolved to a path from the repository root. */
function resolved(file: string, specifier: string): string {
  if (!specifier.startsWith(".")) return specifier;
  return path.posix.join(path.posix.dirname(file), specifier).replace(/\.js$/, ".ts");
}

const COMMAND_NAMES = [
  "play",
  "produce",
  "consume",
  "declare",
  "delete",
  "topology",
  "route",
  "setup",
  "init",
  "broker",
  "cluster",
  "why",
  "inspect",
  "request",
  "reply",
  "asyncapi",
  "dlq",
  "bench",
];

describe("layering", () => {
  it("every command's definition imports no playground, client, broker or amqplib, and nothing dynamically", async () => {
    for (const name of COMMAND_NAMES) {
      const file = `src/commands/${name}.ts`;
      // zod and the config schema load when flags are checked, not for --help.
      const { statics, dynamics } = await importsOf(file);
      const heavy = statics
        .map((s) => resolved(file, s))
        .filter((s) =>
          /^src\/(lab|client|broker)\/|^src\/config\/schema\.ts$|^(amqplib|inquirer|zod|yaml)$/.test(
            s,
          ),
        );
      expect(heavy, file).toEqual([]);
      expect(dynamics, file).toEqual([]);
    }
  });

  it("cli.ts loads each command's run module lazily, and flags load the config schema only when checked", async () => {
    const { dynamics } = await importsOf("src/cli.ts");
    // inspect.ts defines list, peek and purge: three commands, one run module.
    expect([...new Set(dynamics)].sort()).toEqual(
      COMMAND_NAMES.map((n) => `./commands/run/${n}.js`).sort(),
    );
    expect([...new Set((await importsOf("src/commands/schema-flags.ts")).dynamics)]).toEqual([
      "../config/schema.js",
    ]);
  });

  it("no command imports another command", async () => {
    const files = await sources("src/commands");
    for (const file of files) {
      const own = path.basename(file, ".ts");
      for (const s of (await importsOf(file)).statics.map((x) => resolved(file, x))) {
        const m = /^src\/commands\/(?:run\/)?([^/]+)\.ts$/.exec(s);
        if (!m || !COMMAND_NAMES.includes(m[1]!)) continue;
        expect(m[1], `${file} imports ${s}`).toBe(own);
      }
    }
  });

  it("below the definitions, modules import statically (heavy optional modules excepted)", async () => {
    // Heavy modules that only some runs need: faker, prompts, spinners, the probe of a port
    // that does not speak AMQP, the route explanation of produce --explain.
    const allowed = new Set([
      "@faker-js/faker",
      "inquirer",
      "ora",
      "./probe.js",
      "../../lab/explain.js",
      // The management HTTP API, only with --http-port: the eventlab/broker entry stays light.
      "./http/server.js",
    ]);
    const files = [
      ...(await sources("src/commands/run")),
      ...(await sources("src/lab")),
      ...(await sources("src/client")),
      ...(await sources("src/config")),
      ...(await sources("src/broker")),
      ...(await sources("src/ui")),
      ...(await sources("src/cluster")),
      ...(await sources("src/net")),
    ];
    for (const file of files) {
      const dynamic = (await importsOf(file)).dynamics.filter((d) => !allowed.has(d));
      expect(dynamic, file).toEqual([]);
    }
  });

  it("the cluster manager and the fault proxy import nothing of the CLI; the proxy only node:", async () => {
    for (const file of [...(await sources("src/cluster")), ...(await sources("src/net"))]) {
      const up = (await importsOf(file)).statics
        .map((s) => resolved(file, s))
        .filter((s) => /^src\/(commands|ui|cli|context|lab|broker)/.test(s));
      expect(up, file).toEqual([]);
    }
    for (const file of await sources("src/net")) {
      const outside = (await importsOf(file)).statics.filter((s) => !s.startsWith("node:"));
      expect(outside, file).toEqual([]);
    }
  });

  it("the broker imports nothing of the CLI, and ui/ imports no AMQP client", async () => {
    for (const file of await sources("src/broker")) {
      const up = (await importsOf(file)).statics
        .map((s) => resolved(file, s))
        .filter((s) => /^src\/(commands|ui|client|lab|config|cli|context)/.test(s));
      expect(up, file).toEqual([]);
    }
    for (const file of await sources("src/ui")) {
      const amqp = (await importsOf(file)).statics.filter((s) => /^amqplib|(^|\/)client\//.test(s));
      expect(amqp, file).toEqual([]);
    }
  });
});

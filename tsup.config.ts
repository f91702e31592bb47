import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build, defineConfig } from "tsup";
import { BUILD_LINE } from "./src/launch.js";

export default defineConfig({
  // broker: the `eventlab/broker` entry (the embedded broker alone, for unit-test fixtures).
  entry: { index: "src/index.ts", broker: "src/broker/entry.ts" },
  format: ["esm"],
  target: "node20",
  platform: "node",
  dts: { entry: { index: "src/index.ts", broker: "src/broker/entry.ts" } },
  sourcemap: true,
  clean: true,
  splitting: true,
  // Dependencies stay external (installed next to the package; lazy imports of amqplib,
  // yaml, zod, faker stay lazy), except the two every start needs: bundling commander
  // and chalk saves their module resolution and CommonJS wrapping on each run. The typings
  // package re-exports commander at run time: bundled too, so commander is loaded once.
  noExternal: ["commander", "@commander-js/extra-typings", "chalk"],
  // commander is CommonJS: give the bundle a real `require` for its node: built-ins.
  banner: {
    js: 'import { createRequire as __createRequire } from "node:module";\nconst require = __createRequire(import.meta.url);',
  },
  async onSuccess() {
    // The command line: one CommonJS bundle, so that it starts with one file to resolve and
    // a V8 code cache to compile from (src/launch.ts; Node 20's ES modules have neither).
    // Built after the library so that its `clean` cannot remove it. The bench's worker
    // threads start from their own bundle beside it.
    await build({
      config: false,
      // launch: what bin/eventlab.cjs loads the CLI's bundle with (a code cache).
      entry: {
        cli: "src/cli.ts",
        launch: "src/launch.ts",
        "bench-thread": "src/lab/bench/thread-entry.ts",
      },
      format: ["cjs"],
      target: "node20",
      platform: "node",
      sourcemap: true,
      splitting: false,
      // import.meta.url in CommonJS: the bundle's own file URL.
      shims: true,
      // No `import()` in the bundle: Node 20 loses a script's dynamic-import callback when
      // the script comes from a code cache. Lazy imports become lazy `require`s, so the
      // packages only published as ES modules (string-width, ora, inquirer) are bundled.
      // amqplib, which every command that talks to a broker loads: bundled, so its code is
      // cached with the rest (about 10 ms of each start otherwise).
      esbuildOptions(options) {
        options.supported = { ...options.supported, "dynamic-import": false };
      },
      noExternal: [
        "commander",
        "@commander-js/extra-typings",
        "chalk",
        "string-width",
        "ora",
        "inquirer",
        "amqplib",
      ],
      clean: false,
      dts: false,
      silent: true,
    });
    // ASCII only, so that it loads as one byte per character (src/launch.ts): esbuild escapes
    // the strings already, what is left is in comments. An escape means the same character in
    // a string, a regular expression or an identifier too.
    const cli = (await readFile("dist/cli.cjs", "utf8")).replace(
      /[^\x00-\x7f]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
    // The build's identity for the code cache (src/launch.ts): a hash of the bundle's text.
    const id = createHash("sha256").update(cli).digest("hex").slice(0, 20);
    await writeFile("dist/cli.cjs", `${cli}\n${BUILD_LINE}${id}\n`);
    // The web view's page script (src/web/client): one file for the browser, dagre bundled
    // in, served by src/web/server.ts from dist/web/ (no CDN, works offline).
    await build({
      config: false,
      entry: { app: "src/web/client/main.ts" },
      outDir: "dist/web",
      format: ["iife"],
      platform: "browser",
      target: "es2020",
      minify: true,
      noExternal: [/.*/],
      outExtension: () => ({ js: ".js" }),
      clean: false,
      dts: false,
      silent: true,
    });
    // The JSON Schema for editors is generated from the same zod schema that validates.
    const built = `${pathToFileURL(resolve("dist/index.js")).href}?t=${Date.now()}`;
    const mod = (await import(built)) as {
      configJsonSchema: () => unknown;
    };
    await writeFile(
      "config/eventlab.schema.json",
      `${JSON.stringify(mod.configJsonSchema(), null, 2)}\n`,
    );
  },
});

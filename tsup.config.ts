import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build, defineConfig } from "tsup";

export default defineConfig({
  // broker: the `eventlab/broker` entry (the embedded broker alone, for unit-test fixtures).
  entry: { cli: "src/cli.ts", index: "src/index.ts", broker: "src/broker/entry.ts" },
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

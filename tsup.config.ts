import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { defineConfig } from "tsup";

export default defineConfig({
  entry: { cli: "src/cli.ts", index: "src/index.ts" },
  format: ["esm"],
  target: "node20",
  platform: "node",
  dts: { entry: { index: "src/index.ts" } },
  sourcemap: true,
  clean: true,
  splitting: true,
  // Keep dependencies external: they are installed next to the package, and lazy
  // imports (inquirer, faker) must stay lazy so `eventlab --help` starts fast.
  skipNodeModulesBundle: true,
  async onSuccess() {
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

#!/usr/bin/env node
import { fileURLToPath } from "node:url";
import { cacheShape, loadBundle } from "../dist/launch.js";

// The CLI is one CommonJS bundle, compiled with a code cache (see src/launch.ts).
const argv = process.argv.slice(2);
const bundle = fileURLToPath(new URL("../dist/cli.cjs", import.meta.url));
const cli = loadBundle(bundle, cacheShape(argv));

// The first Ctrl-C asks the running command to wind down (it reports and exits 2);
// a second one stops at once.
const controller = new AbortController();
let interrupts = 0;
process.on("SIGINT", () => {
  interrupts += 1;
  if (interrupts > 1) process.exit(130);
  controller.abort();
});
process.on("SIGTERM", () => controller.abort());

process.exitCode = await cli.exports.main(argv, { signal: controller.signal });
if (process.exitCode === 0) cli.save();

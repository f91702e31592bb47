#!/usr/bin/env node
// CommonJS, as the bundle it loads: an ES-module entry would start Node's ES module loader on
// every run (about 6 ms). The CLI is one bundle, compiled with a code cache (src/launch.ts).
const path = require("node:path");
const { cacheShape, loadBundle } = require("../dist/launch.cjs");

const argv = process.argv.slice(2);
const cli = loadBundle(path.join(__dirname, "..", "dist", "cli.cjs"), cacheShape(argv));

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

cli.exports.main(argv, { signal: controller.signal }).then((code) => {
  process.exitCode = code;
  if (code === 0) cli.save();
});

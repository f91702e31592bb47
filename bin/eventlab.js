#!/usr/bin/env node
import { main } from "../dist/cli.js";

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

process.exitCode = await main(process.argv.slice(2), { signal: controller.signal });

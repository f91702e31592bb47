// The embedded broker of bench/broker.js, in a process of its own so that its RSS and CPU time
// can be read apart from the client's. Starts the broker from the built package on a free port,
// prints one JSON line {"url", "pid"} on stdout, and stays up until SIGTERM (or SIGINT), then
// closes the broker and exits.
//
//   node bench/lib/embedded-broker.js [--dist <path to dist/index.js>] [--data-dir DIR]
//
// With --data-dir the broker keeps its durable state there, and the JSON line also carries
// what it recovered at start ({"recovery": {...}}).
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { dist: { type: "string" }, "data-dir": { type: "string" } },
});
const dist = values.dist
  ? resolve(values.dist)
  : fileURLToPath(new URL("../../dist/index.js", import.meta.url));

/**
 * @param {string} message
 * @param {string} [hint]
 * @returns {never}
 */
function fail(message, hint) {
  process.stderr.write(`embedded-broker: ${message}\n${hint ? `hint: ${hint}\n` : ""}`);
  process.exit(2);
}

if (!existsSync(dist)) fail(`${dist} does not exist`, "run `npm run build` first");
/**
 * The part of the built package this script uses.
 * @typedef {{ url: string; close(): Promise<void>; store?: { recovery: unknown } }} RunningBroker
 * @type {{ startBroker?: (options: { port: number; dataDir?: string }) => Promise<RunningBroker> }}
 */
const api = await import(pathToFileURL(dist).href);
if (typeof api.startBroker !== "function") {
  fail(
    `${dist} does not export startBroker()`,
    "the embedded broker (src/broker/) is not built into dist yet: finish it, export startBroker from src/index.ts, and run `npm run build`",
  );
}

/** @type {RunningBroker} */
let broker;
try {
  const dataDir = values["data-dir"];
  broker = await api.startBroker({ port: 0, ...(dataDir ? { dataDir } : {}) });
} catch (err) {
  fail(`startBroker({ port: 0 }) failed: ${/** @type {Error | undefined} */ (err)?.stack ?? err}`);
}
process.stdout.write(
  `${JSON.stringify({ url: broker.url, pid: process.pid, recovery: broker.store?.recovery })}\n`,
);

let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  // Never hang on close: the harness waits for this process to end.
  const timer = setTimeout(() => {
    process.stderr.write("embedded-broker: close() did not finish within 5 s\n");
    process.exit(3);
  }, 5000);
  try {
    await broker.close();
  } catch (err) {
    process.stderr.write(
      `embedded-broker: close() failed: ${/** @type {Error | undefined} */ (err)?.message ?? err}\n`,
    );
    process.exitCode = 3;
  }
  clearTimeout(timer);
  process.exit();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Stay up even if the broker's server does not keep the event loop alive by itself.
setInterval(() => {}, 1 << 30);

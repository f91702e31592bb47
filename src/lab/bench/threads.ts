/**
 * The threads of a bench run. Each worker thread starts at thread-entry.ts (built into
 * dist/bench-thread.cjs), which calls `runThread`: a thread started with its marker runs either
 * the embedded broker or a client group.
 *
 * Why threads: one Node event loop tops out near the broker's own cost per message, so the
 * embedded broker gets a thread of its own, and the clients (encoding, publishing, decoding,
 * acking) run in client groups on other threads. `--threads 0` keeps the clients on the main
 * thread and `--embedded main` the broker, to measure the difference (see README, "Load testing").
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { startBroker } from "../../broker/index.js";
import { runGroup } from "./group.js";
import type { BenchPlan, GroupAssignment } from "./types.js";

const MARK = "eventlabBenchThread";

export type ThreadData =
  | { role: "broker" }
  | { role: "group"; plan: BenchPlan; assignment: GroupAssignment };

/** In a worker thread started by `startThread`, do the work it was given. */
export function runThread(): void {
  if (!isMainThread && parentPort && (workerData as Record<string, unknown> | null)?.[MARK])
    void threadMain(parentPort, workerData as ThreadData);
}

async function threadMain(port: NonNullable<typeof parentPort>, data: ThreadData): Promise<void> {
  if (data.role === "broker") {
    const broker = await startBroker({ port: 0, host: "127.0.0.1" });
    port.on("message", (m: { type: string }) => {
      if (m.type === "close")
        void broker.close().finally(() => port.postMessage({ type: "closed" }));
    });
    port.postMessage({ type: "broker", url: broker.url });
    return;
  }
  await runGroup(port, data.plan, data.assignment);
}

/** Start a thread running thread-entry with `data`. */
export function startThread(data: ThreadData): Worker {
  const self = import.meta.url;
  const marked = { ...data, [MARK]: true };
  // Built: the entry is its own bundle next to the CLI's (and the library's chunks).
  if (!self.endsWith(".ts"))
    return new Worker(new URL("./bench-thread.cjs", self), { workerData: marked });
  // Run from the TypeScript sources (the tests): the thread loads them through tsx.
  const req = createRequire(self);
  const tsx = pathToFileURL(req.resolve("tsx/esm/api")).href.replace(/\.cjs$/, ".mjs");
  const boot = [
    'import { workerData } from "node:worker_threads";',
    "const { register } = await import(workerData.tsxApi);",
    "register();",
    "await import(workerData.entry);",
  ].join("\n");
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), {
    workerData: { ...marked, tsxApi: tsx, entry: new URL("./thread-entry.ts", self).href },
  });
}

/** The entry point of a bench worker thread (see threads.ts); built as dist/bench-thread.cjs. */
import { runThread } from "./threads.js";

runThread();

/**
 * A broker in a process of its own, for tests that kill it: `node --import tsx
 * broker-child.ts DIR [segmentSize]` starts the embedded broker on a free port with DIR as its
 * data directory and prints one JSON line {url, recovery} when it is ready.
 */
import { startBroker } from "../../src/broker/index.js";

const [dir, segmentSize] = process.argv.slice(2);
if (!dir) {
  console.error("usage: broker-child.ts DIR [segmentSize]");
  process.exit(2);
}
const broker = await startBroker({
  port: 0,
  dataDir: dir,
  ...(segmentSize ? { segmentSize: Number(segmentSize) } : {}),
});
process.stdout.write(`${JSON.stringify({ url: broker.url, recovery: broker.store?.recovery })}\n`);
process.on("SIGTERM", () => {
  void broker.close().then(() => process.exit(0));
});

/**
 * RabbitMQ tier: the reply-code matrix through the CLI. The same suite runs on the embedded
 * broker in test/e2e/reply-codes.test.ts.
 *
 * 320 comes from `rabbitmqctl close_connection`, aimed at the consume's own connection by its
 * client port (other tests may run an "eventlab consume" at the same time).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, vi } from "vitest";
import { RABBITMQ_URL } from "../helpers/cli.js";
import { replyCodesSuite } from "../helpers/reply-codes-suite.js";

const run = promisify(execFile);
const REASON = "closed by the eventlab reply-code test";

/**
 * The pid RabbitMQ gives the connection whose client end is at `port`: `rabbitmqctl` asked
 * again (one call at a time) until it lists it, for at most 10 s.
 */
function connectionPid(port: number): Promise<string> {
  return vi.waitFor(
    async () => {
      const { stdout } = await run(
        "rabbitmqctl",
        ["list_connections", "pid", "peer_port", "-q", "--no-table-headers"],
        { timeout: 10_000 },
      );
      for (const line of stdout.split("\n")) {
        const [pid, peerPort] = line.trim().split("\t");
        if (pid && Number(peerPort) === port) return pid;
      }
      throw new Error(`no RabbitMQ connection from port ${port}`);
    },
    { timeout: 10_000, interval: 100 },
  );
}

describe.skipIf(!RABBITMQ_URL)("reply codes through the CLI, on RabbitMQ", () => {
  replyCodesSuite({
    url: () => RABBITMQ_URL ?? "",
    async forcedClose() {
      return {
        url: RABBITMQ_URL ?? "",
        async close(localPort) {
          const pid = await connectionPid(localPort);
          await run("rabbitmqctl", ["close_connection", pid, REASON], { timeout: 10_000 });
        },
        replyText: `CONNECTION_FORCED - ${REASON}`,
        dispose: async () => {},
      };
    },
  });
});

/**
 * RabbitMQ tier: `eventlab --url <rabbitmq> play --ci` and `eventlab test` (the suite:
 * test/helpers/play-ci-suite.ts), with unique names deleted afterwards.
 */
import amqp from "amqplib";
import { describe, expect } from "vitest";
import { RABBITMQ_URL, uniqueName } from "../helpers/cli.js";
import { exists } from "../helpers/exists.js";
import { playCiSuite } from "../helpers/play-ci-suite.js";

const url = RABBITMQ_URL ?? "";

describe.skipIf(!RABBITMQ_URL)("play --ci on RabbitMQ", () => {
  playCiSuite({
    urlFlags: ["--url", url],
    name: (base) => uniqueName(base),
    async cleanup({ queues, exchanges }) {
      const conn = await amqp.connect(url);
      conn.on("error", () => {});
      try {
        const ch = await conn.createChannel();
        for (const q of queues) await ch.deleteQueue(q);
        for (const x of exchanges) await ch.deleteExchange(x);
        const left: string[] = [];
        for (const q of queues) if (await exists(conn, "queue", q)) left.push(q);
        for (const x of exchanges) if (await exists(conn, "exchange", x)) left.push(x);
        expect(left).toEqual([]);
      } finally {
        await conn.close();
      }
    },
  });
});

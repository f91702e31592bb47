/**
 * The publisher's confirm window: never more than `window` messages unconfirmed, publishing
 * goes on as confirms come back, and every message is confirmed in the end.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { type Connection, connect } from "../../src/client/connect.js";
import { Publisher } from "../../src/client/publisher.js";
import type { RenderedMessage } from "../../src/config/templates.js";

let broker: RunningBroker;
let conn: Connection;
beforeAll(async () => {
  broker = await startBroker({ port: 0, host: "127.0.0.1" });
  conn = await connect([broker.url]);
});
afterAll(async () => {
  await conn?.close();
  await broker?.close();
});

const message = (queue: string, n: number): RenderedMessage => ({
  exchange: "",
  routingKey: queue,
  content: Buffer.from(`m${n}`),
  properties: { headers: {} },
});

describe("Publisher confirm window", () => {
  it.each([1, 100])(
    "window %i: at most that many unconfirmed, all 2,000 confirmed",
    async (window) => {
      const queue = `window.${window}`;
      const ch = await conn.model.createChannel();
      await ch.assertQueue(queue, { durable: false });
      const p = await Publisher.open(conn, { confirm: true, mandatory: true, window });
      let most = 0;
      let waits = 0;
      const signal = AbortSignal.timeout(10_000);
      for (let i = 0; i < 2000 && !signal.aborted; i++) {
        const goOn = p.publish(message(queue, i), `w-${i}`);
        most = Math.max(most, p.stats.outstanding);
        if (!goOn) {
          waits++;
          await p.ready(signal);
        }
      }
      expect(await p.settle(10_000)).toBe(true);
      await p.close();
      expect(most).toBe(window);
      expect(waits).toBeGreaterThan(0);
      expect(p.stats).toMatchObject({ published: 2000, confirmed: 2000, nacked: 0, returned: 0 });
      expect((await ch.checkQueue(queue)).messageCount).toBe(2000);
      await ch.close();
    },
  );
});

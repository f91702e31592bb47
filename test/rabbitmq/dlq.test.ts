/**
 * RabbitMQ tier: dlq list, show and replay (the same suite runs on the embedded broker in
 * test/e2e/dlq.test.ts), and the x-death header the embedded broker writes compared with
 * RabbitMQ's for the same three deaths.
 */
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker } from "../../src/broker/index.js";
import { RABBITMQ_URL, runCli } from "../helpers/cli.js";
import { type DlqWorld, deadLetterWorld, dlqTests, removeWorld } from "../helpers/dlq-suite.js";

describe.skipIf(!RABBITMQ_URL)("dlq on RabbitMQ", () => {
  dlqTests({ url: () => RABBITMQ_URL ?? "", prefix: "rmq" });
});

/** The dead-letter headers of each message, names of this run replaced, times checked and dropped. */
async function deathHeaders(url: string, prefix: string): Promise<unknown[]> {
  const conn = await amqp.connect(url);
  let world: DlqWorld | undefined;
  try {
    world = await deadLetterWorld(conn, prefix);
    const w = world;
    const ch = await conn.createChannel();
    // r1 goes back (as dlq replay sends it) and is rejected again: its x-death count becomes 2.
    const back = await runCli([
      "--url",
      url,
      "dlq",
      "replay",
      w.dlq,
      "--to-origin",
      "--filter",
      'properties.messageId == "r1"',
    ]);
    expect(back.code, back.stderr).toBe(0);
    const again = await ch.get(w.work, { noAck: false });
    if (again === false) throw new Error("r1 did not come back to its queue");
    ch.nack(again, false, false);
    await expect.poll(async () => (await ch.checkQueue(w.dlq)).messageCount).toBe(7);
    const out: unknown[] = [];
    for (;;) {
      const m = await ch.get(w.dlq, { noAck: true });
      if (m === false) break;
      const text = JSON.stringify(m.properties.headers, (_k, v: unknown) =>
        typeof v === "string"
          ? v
              .replace(w.work, "<work>")
              .replace(w.small, "<small>")
              .replace(w.exchange, "<exchange>")
              .replace(w.dlx, "<dlx>")
          : v,
      );
      const headers = JSON.parse(text) as Record<string, unknown>;
      for (const d of headers["x-death"] as Array<Record<string, unknown>>) {
        // amqplib reads an AMQP timestamp as {"!": "timestamp", value: seconds}.
        const time = d["time"] as { "!": string; value: number };
        expect(time["!"]).toBe("timestamp");
        expect(Math.abs(time.value * 1000 - Date.now())).toBeLessThan(120_000);
        d["time"] = "<time>";
      }
      out.push({
        exchange: m.fields.exchange === w.dlx ? "<dlx>" : m.fields.exchange,
        routingKey: m.fields.routingKey === w.work ? "<work>" : m.fields.routingKey,
        headers,
        properties: { ...m.properties, headers: undefined },
      });
    }
    await ch.close();
    return out;
  } finally {
    if (world) await removeWorld(conn, world);
    await conn.close();
  }
}

describe.skipIf(!RABBITMQ_URL)("x-death: the embedded broker against RabbitMQ", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ port: 0 });
  });
  afterAll(async () => {
    await broker?.close();
  });

  it("writes the same x-death and x-first-death-* for rejected, expired, maxlen and a second death after a replay", async () => {
    const rabbit = await deathHeaders(RABBITMQ_URL ?? "", "rmqxd");
    const embedded = await deathHeaders(broker.url, "embxd");
    expect(rabbit).toHaveLength(7);
    // r1 died twice in the same queue for the same reason: one entry, count 2, now last.
    const last = rabbit[6] as {
      headers: { "x-death": Array<{ count: number }> };
      properties: { messageId: string };
    };
    expect(last.properties.messageId).toBe("r1");
    expect(last.headers["x-death"].map((d) => d.count)).toEqual([2]);
    expect(embedded).toEqual(rabbit);
  });
});

/**
 * RabbitMQ tier: the routing cases run live on RabbitMQ, compared with the pure
 * matchers the embedded broker and `eventlab route` use.
 */
import amqp, { type ChannelModel, type ConfirmChannel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileBinding, explainRoute } from "../../src/broker/routing/index.js";
import {
  HEADER_BINDINGS,
  HEADER_MESSAGES,
  TOPIC_EXPECTED,
  TOPIC_KEYS,
} from "../fixtures/routing-cases.js";
import { SCENARIOS, type Scenario } from "../fixtures/routing-scenarios.js";
import { RABBITMQ_URL, uniqueName } from "../helpers/cli.js";
import { scenarioTable } from "../helpers/routing.js";

describe.skipIf(!RABBITMQ_URL)("routing conformance with RabbitMQ", () => {
  let conn: ChannelModel;
  let ch: ConfirmChannel;
  beforeAll(async () => {
    conn = await amqp.connect(RABBITMQ_URL ?? "");
    ch = await conn.createConfirmChannel();
  });
  afterAll(async () => {
    await conn.close();
  });

  /** Bind one exclusive queue per binding, publish every message, collect what each queue got. */
  async function live(
    type: "topic" | "headers",
    bindings: Array<[name: string, key: string, args?: Record<string, unknown>]>,
    messages: Array<[name: string, key: string, headers?: Record<string, unknown>]>,
  ): Promise<Record<string, string[]>> {
    const ex = uniqueName(`conformance-${type}`);
    await ch.assertExchange(ex, type, { durable: false, autoDelete: true });
    const queues: Record<string, string> = {};
    for (const [name, key, args] of bindings) {
      const { queue } = await ch.assertQueue("", { exclusive: true });
      await ch.bindQueue(queue, ex, key, args);
      queues[name] = queue;
    }
    for (const [name, key, headers] of messages)
      ch.publish(ex, key, Buffer.from(name), { headers });
    await ch.waitForConfirms();
    const out: Record<string, string[]> = {};
    for (const [name] of bindings) {
      const got: string[] = [];
      // Bounded: at most one get per published message, plus the empty one.
      for (let i = 0; i <= messages.length; i++) {
        const m = await ch.get(queues[name]!, { noAck: true });
        if (!m) break;
        got.push(m.content.toString());
      }
      out[name] = got;
      await ch.deleteQueue(queues[name]!);
    }
    await ch.deleteExchange(ex);
    return out;
  }

  it("topic: every pattern × key routes alike", async () => {
    const patterns = Object.keys(TOPIC_EXPECTED);
    const rabbit = await live(
      "topic",
      patterns.map((p) => [p, p]),
      TOPIC_KEYS.map((k) => [k, k]),
    );
    for (const p of patterns) {
      const match = compileBinding("topic", p);
      expect(
        TOPIC_KEYS.filter((k) => match({ routingKey: k })),
        `pattern ${JSON.stringify(p)}`,
      ).toEqual(rabbit[p]);
    }
  });

  it("headers: every binding × message routes alike, in all four modes", async () => {
    const rabbit = await live(
      "headers",
      Object.entries(HEADER_BINDINGS).map(([name, args]) => [name, "", args]),
      Object.entries(HEADER_MESSAGES).map(([name, headers]) => [name, "", headers]),
    );
    for (const [name, args] of Object.entries(HEADER_BINDINGS)) {
      const match = compileBinding("headers", "", args);
      const ours = Object.entries(HEADER_MESSAGES)
        .filter(([, headers]) => match({ routingKey: "", headers }))
        .map(([m]) => m);
      expect(ours, name).toEqual(rabbit[name]);
    }
  });

  describe("across exchanges", () => {
    /** A scenario's name as declared on RabbitMQ: prefixed to stay unique ("" stays the default). */
    type Named = (name: string) => string;

    /** Declare the scenario's exchanges (with their alternates), queues and bindings. */
    async function declareScenario(c: ConfirmChannel, s: Scenario, n: Named): Promise<void> {
      for (const x of s.exchanges) {
        const args = x.alternateExchange
          ? { "alternate-exchange": n(x.alternateExchange) }
          : undefined;
        await c.assertExchange(n(x.name), x.type, {
          durable: false,
          internal: x.internal === true,
          arguments: args,
        });
      }
      for (const queue of s.queues) await c.assertQueue(n(queue), { durable: false });
      for (const b of s.bindings) {
        if (b.destinationType === "queue")
          await c.bindQueue(n(b.destination), n(b.source), b.routingKey, b.arguments);
        else await c.bindExchange(n(b.destination), n(b.source), b.routingKey, b.arguments);
      }
    }

    /** The scenario's queues that got the message, sorted; none may hold more than one copy. */
    async function queuesHolding(c: ConfirmChannel, s: Scenario, n: Named): Promise<string[]> {
      const got: string[] = [];
      for (const queue of s.queues) {
        const { messageCount } = await c.checkQueue(n(queue));
        expect(messageCount, queue).toBeLessThanOrEqual(1);
        if (messageCount === 1) got.push(queue);
      }
      return got.sort();
    }

    for (const s of SCENARIOS) {
      it(s.name, async () => {
        const prefix = uniqueName("scenario");
        const n: Named = (name) => (name === "" ? "" : `${prefix}.${name}`);
        const c = await conn.createConfirmChannel();
        try {
          await declareScenario(c, s, n);
          const key = s.publish.exchange === "" ? n(s.publish.routingKey) : s.publish.routingKey;
          c.publish(n(s.publish.exchange), key, Buffer.from("m"), { headers: s.publish.headers });
          await c.waitForConfirms();
          const got = await queuesHolding(c, s, n);
          expect(got).toEqual(s.expected);
          // `eventlab route` explains with the same table: its queues are what RabbitMQ did.
          const explained = explainRoute(scenarioTable(s), s.publish.exchange, {
            routingKey: s.publish.routingKey,
            headers: s.publish.headers,
          });
          expect([...explained.queues].sort()).toEqual(got);
        } finally {
          for (const queue of s.queues) await c.deleteQueue(n(queue));
          for (const x of s.exchanges) await c.deleteExchange(n(x.name));
          await c.close();
        }
      });
    }
  });
});

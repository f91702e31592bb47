/**
 * Asking a running embedded broker where a message would go, from its live state: a
 * question to its `amq.eventlab.route` exchange, answered on a temporary reply queue (the
 * contract is the broker's route-contract.ts). RabbitMQ has no such exchange (and no way to
 * list bindings over AMQP).
 */

import { REPLY } from "../broker/errors.js";
import { ROUTE_EXCHANGE, type RouteAnswer, type RouteQuestion } from "../broker/route-contract.js";
import type { RouteExplanation } from "../broker/routing/index.js";
import { EventlabError } from "../errors.js";
import { elapsed } from "../ui/format.js";
import type { Connection } from "./connect.js";
import { isReply } from "./errors.js";

/** The broker has no amq.eventlab.route exchange: it is not eventlab's (RabbitMQ, say). */
export class NotEmbeddedError extends EventlabError {
  constructor(message: string, options: { hint: string }) {
    super("broker", message, options);
    this.name = "NotEmbeddedError";
  }
}

export interface LiveRoute {
  explanation: RouteExplanation;
  /** The exchange asked about exists on the broker. */
  exists: boolean;
}

export async function liveRoute(
  connection: Connection,
  q: RouteQuestion,
  timeoutMs = 5000,
): Promise<LiveRoute> {
  const ch = await connection.model.createChannel();
  ch.on("error", () => {});
  try {
    try {
      await ch.checkExchange(ROUTE_EXCHANGE);
    } catch (err) {
      if (!isReply(err, REPLY.NOT_FOUND)) throw err;
      throw new NotEmbeddedError(
        `${connection.address.display} is not eventlab's embedded broker: it cannot answer routing questions`,
        {
          hint: "RabbitMQ cannot list bindings over AMQP: enable its management plugin (rabbitmq-plugins enable rabbitmq_management) or pass --api, or run `eventlab route` without --url to work from the config's topology",
        },
      );
    }
    const { queue } = await ch.assertQueue("", { exclusive: true, autoDelete: true });
    const reply = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new EventlabError("timeout", `no answer from the broker in ${elapsed(timeoutMs)}`),
          ),
        timeoutMs,
      );
      void ch.consume(
        queue,
        (m) => {
          if (!m) return;
          clearTimeout(timer);
          resolve(m.content);
        },
        { noAck: true },
      );
    });
    const question: RouteQuestion = {
      exchange: q.exchange,
      routingKey: q.routingKey,
      headers: q.headers,
    };
    ch.publish(ROUTE_EXCHANGE, "", Buffer.from(JSON.stringify(question)), {
      replyTo: queue,
      correlationId: "route",
      contentType: "application/json",
    });
    const answer = JSON.parse((await reply).toString("utf8")) as RouteAnswer;
    if (!answer.ok)
      throw new EventlabError("broker", `the broker could not answer: ${answer.error}`);
    return { explanation: answer.explanation, exists: answer.exists };
  } finally {
    await ch.close().catch(() => {});
  }
}

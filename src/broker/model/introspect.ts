/**
 * Live routing questions, over AMQP itself: a message published to the exchange
 * `amq.eventlab.route` with a JSON body {exchange, routingKey, headers} and a reply-to
 * queue gets back the explanation of where such a message would go now (the same
 * explanation `eventlab route` prints offline). Nothing is routed. RabbitMQ has no such
 * exchange, so asking it gives a 404 that the CLI turns into a hint. The contract (exchange
 * name, question and answer shapes) is in ../route-contract.ts.
 */
import type { RouteAnswer, RouteQuestion } from "../route-contract.js";
import { explainRoute, type RoutingTable } from "../routing/index.js";
import { type Message, makeMessage } from "./message.js";

function question(body: Buffer): RouteQuestion | string {
  let q: unknown;
  try {
    q = JSON.parse(body.toString("utf8"));
  } catch {
    return "the body is not JSON";
  }
  const o = q as Partial<RouteQuestion> | null;
  if (!o || typeof o.exchange !== "string") return "expected {exchange, routingKey, headers}";
  const headers = o.headers && typeof o.headers === "object" ? o.headers : {};
  return { exchange: o.exchange, routingKey: String(o.routingKey ?? ""), headers };
}

/** The reply to a routing question, addressed to its reply-to queue; undefined without one. */
export function answerRoute(table: RoutingTable, m: Message): Message | undefined {
  const replyTo = m.properties.replyTo;
  if (!replyTo) return undefined;
  const q = question(m.body);
  let answer: RouteAnswer;
  if (typeof q === "string") answer = { ok: false, error: q };
  else {
    const exists = q.exchange === "" || table.exchange(q.exchange) !== undefined;
    answer = { ok: true, exists, explanation: explainRoute(table, q.exchange, q) };
  }
  const props = {
    contentType: "application/json",
    ...(m.properties.correlationId ? { correlationId: m.properties.correlationId } : {}),
  };
  return makeMessage("", replyTo, props, Buffer.from(JSON.stringify(answer)));
}

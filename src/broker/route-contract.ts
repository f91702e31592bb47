/**
 * The contract of the embedded broker's routing questions, shared by the broker (which
 * answers them, model/introspect.ts) and the client (which asks them): the exchange to
 * publish a question to, the question's JSON body and the answer's. Types and constants
 * only, so importing it loads nothing.
 *
 * A question is published to ROUTE_EXCHANGE with a reply-to queue (and optionally a
 * correlation id, which the answer carries back); the answer is a JSON RouteAnswer with
 * content type application/json. Nothing is routed. RabbitMQ has no such exchange.
 */
import type { RouteExplanation } from "./routing/explain.js";

/** The exchange a routing question is published to. */
export const ROUTE_EXCHANGE = "amq.eventlab.route";

/** The JSON body of a routing question: a message as it would be published. */
export interface RouteQuestion {
  exchange: string;
  routingKey: string;
  headers: Record<string, unknown>;
}

/** The JSON body of the answer. */
export type RouteAnswer =
  | {
      ok: true;
      /** Where such a message would go now, and why, hop by hop. */
      explanation: RouteExplanation;
      /** The exchange asked about exists on the broker. */
      exists: boolean;
    }
  | { ok: false; error: string };

/**
 * Broker refusals (reply codes 403, 404, 405, 406, 320, 530, 541, …) turned into messages
 * that name the cause and say what fixes it.
 *
 * A reply code alone does not say what went wrong: 406 is "exists with other settings" on a
 * declare, "too large" or "wrong user_id" on a publish, "not empty" on a delete. So the
 * caller says which operation failed (operation.ts), the code comes from the error amqplib
 * raised (its `code` field, never a pattern over the message), and the broker's reply text is
 * shown in full. Only the choice of hint looks at the text (refusal.ts, precondition.ts), and
 * every hint has a generic fallback.
 */
import { EventlabError } from "../errors.js";
import { attempt, type Operation } from "./operation.js";
import { classify, type Reply } from "./refusal.js";
import { maskSecrets } from "./url.js";

export { type Operation, shellQuote } from "./operation.js";
export type { Reply } from "./refusal.js";

interface AmqpError {
  code?: number | string;
  message?: string;
}

/**
 * The reply code and text of an amqplib channel/connection error, if it is one. amqplib sets
 * `code` to the reply code and quotes the reply text at the end of the message; the text may
 * itself hold quotes (`Invalid x-match field value <<"some">>`), so it runs to the last one.
 */
export function replyOf(err: unknown): Reply | undefined {
  const e = err as AmqpError;
  const message = String(e?.message ?? "");
  const quoted = /\d{3} \([A-Z_-]+\) with message "(.*)"$/s.exec(message);
  const code =
    typeof e?.code === "number"
      ? e.code
      : quoted
        ? Number(/(\d{3}) \([A-Z_-]+\) with message/.exec(message)?.[1])
        : undefined;
  if (code === undefined || !(code >= 300 && code < 600)) return undefined;
  return { code, text: quoted ? quoted[1]! : message };
}

export function isReply(err: unknown, code: number): boolean {
  return replyOf(err)?.code === code;
}

/**
 * Map a broker error during `op` to an EventlabError: the cause in words, the broker's full
 * reply text, and a hint that fixes it. Errors without a reply code (a lost socket) say that
 * the connection was lost.
 */
export function brokerError(
  err: unknown,
  op?: Operation,
  connection?: { readonly closeReason: Error | undefined },
): EventlabError {
  if (err instanceof EventlabError) return err;
  // When the broker closes the whole connection (320, 503, 541 …), amqplib fails the pending
  // operation with "Channel ended" and keeps the reply on the connection's close event.
  const reply = replyOf(err) ?? replyOf(connection?.closeReason);
  if (!reply) {
    const msg = maskSecrets(String((err as AmqpError)?.message ?? err));
    if (
      /Connection closed|Channel closed|channel ended|Socket closed|ECONNRESET|EPIPE|heartbeat timeout|Unexpected close/i.test(
        msg,
      )
    ) {
      return new EventlabError("connection", `the connection to the broker was lost (${msg})`, {
        hint: "check that the broker is still running; `eventlab --verbose` shows more",
        cause: err,
      });
    }
    return new EventlabError("broker", `${attempt(op)}: ${msg}`, { cause: err });
  }
  const c = classify(reply, op);
  // Names come from the user and the broker: mask the whole text, not just the reply.
  return new EventlabError(
    c.code,
    maskSecrets(`${c.cause} (${reply.code} ${reply.text})`),
    c.hint === undefined ? { cause: err } : { hint: maskSecrets(c.hint), cause: err },
  );
}

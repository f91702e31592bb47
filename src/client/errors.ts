/**
 * Broker reply codes (404, 405, 406, 403, …) from amqplib's channel errors, turned
 * into messages that name the object and say what to do.
 */
import { EventlabError } from "../errors.js";
import { maskSecrets } from "./url.js";

export interface Subject {
  kind: "exchange" | "queue" | "binding";
  name: string;
  /** For 406 on declare: what we asked for, shown beside what exists. */
  requested?: Record<string, unknown> | undefined;
}

interface AmqpError {
  code?: number | string;
  message?: string;
}

/** The reply code and text of an amqplib channel/connection error, if it is one. */
export function replyOf(err: unknown): { code: number; text: string } | undefined {
  const e = err as AmqpError;
  const message = String(e?.message ?? "");
  const m = /(\d{3}) \(([A-Z_-]+)\) with message "([^"]*)"/.exec(message);
  if (m) return { code: Number(m[1]), text: m[3]! };
  if (typeof e?.code === "number" && e.code >= 300 && e.code < 600)
    return { code: e.code, text: message };
  return undefined;
}

export function isReply(err: unknown, code: number): boolean {
  return replyOf(err)?.code === code;
}

/** Map a broker error about `subject` to an EventlabError with a hint. */
export function brokerError(err: unknown, subject?: Subject): EventlabError {
  if (err instanceof EventlabError) return err;
  const reply = replyOf(err);
  // The reply names the missing object exactly ("no exchange 'x' in vhost '/'"); trust it
  // over the caller's guess (a bind names two objects, either may be missing).
  const named = reply ? /no (exchange|queue) '([^']*)' in vhost/.exec(reply.text) : null;
  const subj: Subject | undefined = named
    ? { kind: named[1] as "exchange" | "queue", name: named[2]! }
    : subject;
  const what = subj ? `${subj.kind} "${subj.name}"` : "the object";
  if (!reply) {
    const msg = maskSecrets(String((err as AmqpError)?.message ?? err));
    if (/Connection closed|Channel closed|channel ended|Socket closed/i.test(msg)) {
      return new EventlabError("connection", `the connection to the broker was lost (${msg})`, {
        hint: "check that the broker is still running; `eventlab --verbose` shows more",
        cause: err,
      });
    }
    return new EventlabError("broker", msg, { cause: err });
  }
  const text = reply.text.replace(/^[A-Z_]+ - /, "");
  switch (reply.code) {
    case 404:
      return new EventlabError("not-found", `${what} does not exist (${text})`, {
        hint: subj ? declareHint(subj) : "declare it first, or check the name",
        cause: err,
      });
    case 405:
      return new EventlabError("resource-locked", `${what} is locked (${text})`, {
        hint: "an exclusive queue belongs to another connection; use another name or wait until that connection closes",
        cause: err,
      });
    case 406:
      return new EventlabError("precondition", `${what} exists with other settings (${text})`, {
        hint: "delete it first (`eventlab delete …`), or declare it with the same settings; see the side-by-side comparison above",
        cause: err,
      });
    case 403:
      return new EventlabError("access-refused", `access refused to ${what} (${text})`, {
        hint: /amq\./.test(text)
          ? "names starting with amq. are reserved for the broker; choose another name"
          : "the user lacks permission for this vhost or object; check `rabbitmqctl list_permissions`",
        cause: err,
      });
    case 320:
    case 541:
      return new EventlabError("connection", `the broker closed the connection: ${text}`, {
        hint: "the broker may be shutting down; try again",
        cause: err,
      });
    default:
      return new EventlabError(
        "broker",
        `the broker refused the operation on ${what}: ${reply.code} ${text}`,
        {
          cause: err,
        },
      );
  }
}

function declareHint(subject: Subject): string {
  switch (subject.kind) {
    case "exchange":
      return `declare it: eventlab declare exchange ${shellQuote(subject.name)} --type topic`;
    case "queue":
      return `declare it: eventlab declare queue ${shellQuote(subject.name)}`;
    default:
      return "declare the exchange and queue first, or check the names";
  }
}

export function shellQuote(s: string): string {
  return /^[\w.@%+=:,/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

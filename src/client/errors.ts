/**
 * Broker refusals (reply codes 403, 404, 405, 406, 320, 530, 541, …) turned into messages
 * that name the cause and say what fixes it.
 *
 * A reply code alone does not say what went wrong: 406 is "exists with other settings" on a
 * declare, "too large" or "wrong user_id" on a publish, "not empty" on a delete. So the
 * caller says which operation failed, the code comes from the error amqplib raised (its
 * `code` field, never a pattern over the message), and the broker's reply text is shown in
 * full. Only the choice of hint looks at the text, and every hint has a generic fallback.
 */
import { EventlabError } from "../errors.js";
import { maskSecrets } from "./url.js";

/** What eventlab was doing when the broker refused. */
export type Operation =
  | { op: "declare"; kind: "exchange" | "queue"; name: string; passive?: boolean }
  | { op: "delete"; kind: "exchange" | "queue"; name: string }
  | {
      op: "bind" | "unbind";
      source: string;
      destination: string;
      destinationKind: "exchange" | "queue";
    }
  | { op: "publish"; exchange?: string | undefined }
  | { op: "consume" | "purge" | "get"; queue: string }
  | { op: "settle"; queue: string };

/** The reply of a channel or connection close, as amqplib reports it. */
export interface Reply {
  code: number;
  /** The broker's reply text in full, e.g. `NOT_FOUND - no queue 'q' in vhost '/'`. */
  text: string;
}

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

/** What the operation was, as a person reads it: `cannot publish to exchange "orders"`. */
function attempt(op: Operation | undefined): string {
  if (!op) return "the broker refused the operation";
  switch (op.op) {
    case "declare":
      return `cannot ${op.passive ? "check" : "declare"} ${op.kind} ${quoteName(op.name)}`;
    case "delete":
      return `cannot delete ${op.kind} ${quoteName(op.name)}`;
    case "bind":
    case "unbind":
      return `cannot ${op.op} ${op.destinationKind} ${quoteName(op.destination)} ${op.op === "bind" ? "to" : "from"} exchange ${quoteName(op.source)}`;
    case "publish":
      return op.exchange === undefined
        ? "the broker refused a published message"
        : `cannot publish to ${op.exchange === "" ? "the default exchange" : `exchange ${quoteName(op.exchange)}`}`;
    case "consume":
      return `cannot consume from queue ${quoteName(op.queue)}`;
    case "purge":
      return `cannot purge queue ${quoteName(op.queue)}`;
    case "get":
      return `cannot get a message from queue ${quoteName(op.queue)}`;
    case "settle":
      return `cannot acknowledge a message from queue ${quoteName(op.queue)}`;
  }
}

function quoteName(name: string): string {
  return name === "" ? '""' : `"${name}"`;
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
    if (/Connection closed|Channel closed|channel ended|Socket closed|ECONNRESET/i.test(msg)) {
      return new EventlabError("connection", `the connection to the broker was lost (${msg})`, {
        hint: "check that the broker is still running; `eventlab --verbose` shows more",
        cause: err,
      });
    }
    return new EventlabError("broker", `${attempt(op)}: ${msg}`, { cause: err });
  }
  const c = classify(reply, op);
  return new EventlabError(
    c.code,
    `${c.cause} (${reply.code} ${maskSecrets(reply.text)})`,
    c.hint === undefined ? { cause: err } : { hint: c.hint, cause: err },
  );
}

interface Classified {
  code: EventlabError["code"];
  cause: string;
  hint?: string;
}

/** The object a 404 names: `no exchange 'x' in vhost '/'`; a bind names either end. */
function missingObject(text: string): { kind: "exchange" | "queue"; name: string } | undefined {
  const m = /no (exchange|queue) '(.*)' in vhost '[^']*'/.exec(text);
  return m ? { kind: m[1] as "exchange" | "queue", name: m[2]! } : undefined;
}

function classify(reply: Reply, op: Operation | undefined): Classified {
  const text = reply.text;
  const what = attempt(op);
  switch (reply.code) {
    case 404: {
      const missing = missingObject(text) ?? subjectOf(op);
      return {
        code: "not-found",
        cause: missing
          ? `${what}: ${missing.kind} ${quoteName(missing.name)} does not exist`
          : `${what}: it does not exist`,
        hint: missing ? declareHint(missing) : "declare it first, or check the name",
      };
    }
    case 405:
      return {
        code: "resource-locked",
        cause: `${what}: the queue is exclusive to another connection`,
        hint: "an exclusive queue belongs to the connection that declared it and goes away with it; use another name, or wait until that connection closes",
      };
    case 403:
      return { code: "access-refused", cause: `${what}: access refused`, hint: accessHint(text) };
    case 406:
      return precondition(text, op, what);
    case 320:
      return {
        code: "connection",
        cause: `the broker closed the connection (${what.replace(/^cannot /, "while trying to ")})`,
        hint: "the broker is shutting down or an operator closed the connection (rabbitmqctl close_connection); run again once it is back",
      };
    case 530:
      return {
        code: "access-refused",
        cause: `${what}: the broker does not allow it`,
        hint: /vhost/i.test(text)
          ? "the user may not use this vhost: grant it with `rabbitmqctl set_permissions -p <vhost> <user> '.*' '.*' '.*'`"
          : "the broker's reply says what is not allowed",
      };
    case 540:
      return {
        code: "broker",
        cause: `${what}: the broker does not implement it`,
        hint: /stream/i.test(text)
          ? "stream queues are read with a consumer (eventlab consume <queue> --prefetch 100), not with basic.get"
          : "the broker's reply names the operation it does not support",
      };
    case 541:
      return {
        code: "broker",
        cause: `${what}: the broker hit an internal error`,
        hint: "this is a fault in the broker, not in the request; its log says more (for `eventlab broker`, run it with --verbose)",
      };
    default:
      return { code: "broker", cause: `${what}: the broker refused it` };
  }
}

/** The object the operation was about, when the reply does not name one. */
function subjectOf(
  op: Operation | undefined,
): { kind: "exchange" | "queue"; name: string } | undefined {
  if (!op) return undefined;
  switch (op.op) {
    case "declare":
    case "delete":
      return { kind: op.kind, name: op.name };
    case "publish":
      return op.exchange === undefined ? undefined : { kind: "exchange", name: op.exchange };
    case "consume":
    case "purge":
    case "get":
    case "settle":
      return { kind: "queue", name: op.queue };
    default:
      return undefined;
  }
}

function accessHint(text: string): string {
  if (/reserved prefix 'amq\./.test(text) || /system exchange/.test(text))
    return "names starting with amq. are reserved for the broker; choose another name";
  if (/default exchange/.test(text))
    return "the default exchange ('') routes by queue name and can be neither bound nor deleted; use a named exchange";
  if (/internal exchange/.test(text))
    return "an internal exchange takes messages only from other exchanges; publish to an exchange bound to it";
  if (/in exclusive use/.test(text))
    return "another consumer reads this queue exclusively; stop it, or wait until it cancels";
  if (/refused for user/.test(text))
    return "the user lacks permission for this object; check `rabbitmqctl list_permissions` and grant it with `rabbitmqctl set_permissions`";
  return "the user lacks permission for this vhost or object; check `rabbitmqctl list_permissions`";
}

/** 406 PRECONDITION_FAILED: what failed depends on the operation. */
function precondition(text: string, op: Operation | undefined, what: string): Classified {
  const code = "precondition" as const;
  if (op?.op === "publish") {
    if (/message size \d+ is larger than/.test(text))
      return {
        code,
        cause: `${what}: the message is larger than the broker accepts`,
        hint: "send a smaller body, or raise max_message_size in the broker's configuration",
      };
    if (/user_id property/.test(text)) {
      const user = /authenticated user was '([^']*)'/.exec(text)?.[1];
      return {
        code,
        cause: `${what}: the message's userId is not the user the connection logged in as`,
        hint: `the broker checks userId against the login${user ? ` (${user})` : ""}: drop the userId property, or set it to that user`,
      };
    }
    if (/invalid expiration/.test(text))
      return {
        code,
        cause: `${what}: the message's expiration is not valid`,
        hint: "expiration is a whole number of milliseconds ≥ 0, e.g. --property expiration=60000",
      };
    return { code, cause: `${what}: the broker refused the message` };
  }
  if (op?.op === "declare") {
    if (/inequivalent arg/.test(text))
      return {
        code,
        cause: `${what}: it already exists with other settings`,
        hint: `delete it first (eventlab delete ${op.kind} ${shellQuote(op.name)}), or declare it with the settings it has`,
      };
    if (/non-durable/.test(text))
      return {
        code,
        cause: `${what}: the broker refused its settings`,
        hint: "quorum and stream queues must be durable; leave out --no-durable (durable: false)",
      };
    return {
      code,
      cause: `${what}: the broker refused its settings`,
      hint: /stream queues are not supported/.test(text)
        ? "the embedded broker has no stream queues; use a classic or quorum queue, or a RabbitMQ URL"
        : `check its arguments against \`eventlab declare ${op.kind} --help\``,
    };
  }
  if (op?.op === "bind" || op?.op === "unbind")
    return {
      code,
      cause: `${what}: the broker refused the binding's arguments`,
      hint: /x-match/.test(text)
        ? "--match takes all, any, all-with-x or any-with-x"
        : "check the binding's arguments",
    };
  if (op?.op === "delete")
    return {
      code,
      cause: /not empty/.test(text)
        ? `${what}: it is not empty`
        : /in use/.test(text)
          ? `${what}: it is in use`
          : `${what}: the broker refused it`,
      hint: "leave out --if-empty / --if-unused to delete it anyway",
    };
  if (op?.op === "consume")
    return {
      code,
      cause: `${what}: the broker refused the consumer`,
      hint: /prefetch count is not set/.test(text)
        ? "stream queues need acknowledgements and a prefetch: leave out --no-ack and pass --prefetch 100"
        : "check the consumer's settings (prefetch, no-ack, exclusive)",
    };
  if (op?.op === "settle" || /unknown delivery tag/.test(text))
    return {
      code: "internal",
      cause: `${what}: the broker did not know the delivery tag`,
      hint: "this is a bug in eventlab; run again with --verbose and report it",
    };
  return { code, cause: `${what}: a precondition failed` };
}

function declareHint(subject: { kind: "exchange" | "queue"; name: string }): string {
  return subject.kind === "exchange"
    ? `declare it: eventlab declare exchange ${shellQuote(subject.name)} --type topic`
    : `declare it: eventlab declare queue ${shellQuote(subject.name)}`;
}

export function shellQuote(s: string): string {
  return /^[\w.@%+=:,/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

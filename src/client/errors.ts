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
  | {
      op: "declare";
      kind: "exchange" | "queue";
      name: string;
      passive?: boolean;
      /** For a queue: whether the declare asked for an exclusive queue, when known. */
      exclusive?: boolean;
    }
  | { op: "delete"; kind: "exchange" | "queue"; name: string }
  | {
      op: "bind" | "unbind";
      source: string;
      destination: string;
      destinationKind: "exchange" | "queue";
    }
  /** `consume --exchange`: binding the temporary queue `queue` to `exchange`. */
  | { op: "tap"; exchange: string; queue: string }
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

/** An operation in words: its verb, the verb under way, and what it acts on. */
function phrase(op: Operation): { verb: string; ing: string; object: string } {
  const queue = (name: string) => `queue ${quoteName(name)}`;
  switch (op.op) {
    case "declare":
      return op.passive
        ? { verb: "check", ing: "checking", object: `${op.kind} ${quoteName(op.name)}` }
        : { verb: "declare", ing: "declaring", object: `${op.kind} ${quoteName(op.name)}` };
    case "delete":
      return { verb: "delete", ing: "deleting", object: `${op.kind} ${quoteName(op.name)}` };
    case "bind":
    case "unbind": {
      const object = `${op.destinationKind} ${quoteName(op.destination)} ${op.op === "bind" ? "to" : "from"} exchange ${quoteName(op.source)}`;
      return { verb: op.op, ing: `${op.op}ing`, object };
    }
    case "tap":
      return { verb: "tap", ing: "tapping", object: exchangeName(op.exchange) };
    case "publish":
      return {
        verb: "publish",
        ing: "publishing",
        object: `to ${exchangeName(op.exchange ?? "")}`,
      };
    case "consume":
      return { verb: "consume", ing: "consuming", object: `from ${queue(op.queue)}` };
    case "purge":
      return { verb: "purge", ing: "purging", object: queue(op.queue) };
    case "get":
      return { verb: "get", ing: "getting", object: `a message from ${queue(op.queue)}` };
    case "settle":
      return {
        verb: "acknowledge",
        ing: "acknowledging",
        object: `a message from ${queue(op.queue)}`,
      };
  }
}

/** What the operation was, as a person reads it: `cannot publish to exchange "orders"`. */
function attempt(op: Operation | undefined): string {
  if (!op) return "the broker refused the operation";
  if (op.op === "publish" && op.exchange === undefined)
    return "the broker refused a published message";
  const p = phrase(op);
  return `cannot ${p.verb} ${p.object}`;
}

/** The same operation as something under way: ` while consuming from queue "jobs"`. */
function during(op: Operation | undefined): string {
  if (!op) return "";
  if (op.op === "publish" && op.exchange === undefined) return " while publishing";
  const p = phrase(op);
  return ` while ${p.ing} ${p.object}`;
}

function quoteName(name: string): string {
  return name === "" ? '""' : `"${name}"`;
}

function exchangeName(name: string): string {
  return name === "" ? "the default exchange" : `exchange ${quoteName(name)}`;
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
  // Names come from the user and the broker: mask the whole text, not just the reply.
  return new EventlabError(
    c.code,
    maskSecrets(`${c.cause} (${reply.code} ${reply.text})`),
    c.hint === undefined ? { cause: err } : { hint: maskSecrets(c.hint), cause: err },
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
      return locked(op, what);
    case 403:
      return refused(text, op, what);
    case 406:
      return precondition(text, op, what);
    case 320:
      return {
        code: "connection",
        cause: `the broker closed the connection${during(op)}`,
        hint: /reason 'shutdown'/.test(text)
          ? "the broker is shutting down; run the command again once it is back up"
          : "the broker closed it on purpose, for the reason in the reply (an operator's rabbitmqctl close_connection, a deleted vhost, …); run the command again once that is dealt with",
      };
    case 530:
      return /vhost/i.test(text)
        ? {
            code: "vhost",
            cause: `${what}: the broker does not allow this vhost`,
            hint: "the vhost does not exist or the user may not use it: create it with `rabbitmqctl add_vhost <vhost>`, or grant it with `rabbitmqctl set_permissions -p <vhost> <user> '.*' '.*' '.*'`",
          }
        : /consumer tag/.test(text)
          ? {
              code: "internal",
              cause: `${what}: the broker refused a consumer tag eventlab sent`,
              hint: "this is a bug in eventlab; run again with --verbose and report it",
            }
          : {
              code: "broker",
              cause: `${what}: the broker does not allow it`,
              hint: "the broker's reply says what is not allowed",
            };
    case 503:
      return /unknown exchange type/.test(text)
        ? {
            code: "broker",
            cause: `${what}: the broker does not know the exchange type`,
            hint: "--type takes direct, topic, fanout or headers (plugin types need their plugin enabled)",
          }
        : protocolFault(what);
    case 501:
    case 502:
    case 504:
    case 505:
      return protocolFault(what);
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

/** 501–505: the broker saw a frame or method it could not accept, which eventlab should never send. */
function protocolFault(what: string): Classified {
  return {
    code: "internal",
    cause: `${what}: the broker closed the connection for a protocol error`,
    hint: "this is a bug in eventlab; run again with --verbose and report it",
  };
}

/**
 * 405 RESOURCE_LOCKED: an exclusive queue of another connection, or, on a declare that asks
 * for an exclusive queue, a queue that already exists without being exclusive to us.
 */
function locked(op: Operation | undefined, what: string): Classified {
  const code = "resource-locked" as const;
  const name = op?.op === "declare" ? op.name : "";
  if (op?.op === "declare" && !op.passive && op.exclusive !== false) {
    const again = `eventlab delete queue ${shellQuote(name)}`;
    if (op.exclusive === true)
      return {
        code,
        cause: `${what}: it already exists, and not as an exclusive queue of this connection`,
        hint: `an existing queue cannot become exclusive: declare it without --exclusive, or delete it first (${again}); if another connection declared it exclusive, use another name`,
      };
    return {
      code,
      cause: `${what}: it is exclusive to another connection, or it exists and this declare's exclusive flag does not match`,
      hint: `if another connection declared it exclusive, use another name or wait until that connection closes; otherwise declare it with the exclusive setting it has, or delete it first (${again})`,
    };
  }
  const base = "the queue is exclusive to another connection";
  const owned =
    "an exclusive queue belongs to the connection that declared it and goes away when that connection closes";
  const fix =
    op?.op === "delete"
      ? `${owned}; only that connection can delete it before then`
      : op?.op === "declare" && op.passive
        ? `${owned}; until then only that connection can use or delete it: use another queue, or wait`
        : op?.op === "declare"
          ? `${owned}; use another name, or wait until that connection closes`
          : `${owned}; use a queue of your own (declared without --exclusive), or wait until that connection closes`;
  return { code, cause: `${what}: ${base}`, hint: fix };
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
    case "tap":
      return { kind: "exchange", name: op.exchange };
    case "consume":
    case "purge":
    case "get":
    case "settle":
      return { kind: "queue", name: op.queue };
    default:
      return undefined;
  }
}

/** 403 ACCESS_REFUSED: a name or exchange the broker keeps to itself, or a missing permission. */
function refused(text: string, op: Operation | undefined, what: string): Classified {
  const code = "access-refused" as const;
  if (/system exchange/.test(text) || (op?.op === "delete" && /reserved prefix/.test(text))) {
    const x = op?.op === "delete" ? shellQuote(op.name) : "<exchange>";
    return {
      code,
      cause: `${what}: it is one of the broker's own exchanges`,
      hint: `exchanges named amq.* belong to the broker and cannot be deleted; to stop what it routes to a queue, delete that binding instead (eventlab delete binding ${x} <queue> --key <key>)`,
    };
  }
  if (/reserved prefix 'amq\./.test(text))
    return {
      code,
      cause: `${what}: the amq. prefix belongs to the broker`,
      hint: "names starting with amq. are reserved for the broker; choose another name",
    };
  if (/default exchange/.test(text)) {
    if (op?.op === "tap")
      return {
        code,
        cause: `${what}: it takes no bindings`,
        hint: "the default exchange delivers each message to the queue its routing key names: consume that queue instead (eventlab consume <queue>)",
      };
    if (op?.op === "bind" || op?.op === "unbind")
      return {
        code,
        cause: `${what}: the default exchange takes no bindings`,
        hint: "the default exchange ('') delivers each message to the queue its routing key names; bind to a named exchange (e.g. amq.direct) instead",
      };
    return {
      code,
      cause: `${what}: the default exchange is built in`,
      hint: "the default exchange ('') cannot be declared, checked, bound or deleted; publish to it with --exchange '' --key <queue>, or use a named exchange",
    };
  }
  if (/internal exchange/.test(text))
    return {
      code,
      cause: `${what}: it is an internal exchange`,
      hint: "an internal exchange takes messages only from other exchanges; publish to an exchange bound to it",
    };
  if (/in exclusive use/.test(text))
    return {
      code,
      cause: `${what}: another consumer reads it exclusively`,
      hint: "stop that consumer, or wait until it cancels",
    };
  const user = /refused for user '([^']*)'/.exec(text)?.[1];
  if (/access to topic .* refused for user/.test(text))
    return {
      code,
      cause: `${what}: user ${quoteName(user ?? "")} may not use this routing key`,
      hint: "check `rabbitmqctl list_topic_permissions` and grant it with `rabbitmqctl set_topic_permissions`",
    };
  if (user !== undefined)
    return {
      code,
      cause: `${what}: user ${quoteName(user)} has no permission for it`,
      hint: "check `rabbitmqctl list_permissions` and grant it with `rabbitmqctl set_permissions`",
    };
  return {
    code,
    cause: `${what}: access refused`,
    hint: "the user lacks permission for this vhost or object; check `rabbitmqctl list_permissions`",
  };
}

/** Erlang reasons in RabbitMQ's `invalid arg` replies, in words. */
const ARG_REASONS: ReadonlyArray<[RegExp, string]> = [
  [/^\{value_negative,/, "it must not be negative"],
  [/^\{value_zero,/, "it must be greater than 0"],
  [
    /^\{unacceptable_type,/,
    "it has the wrong type (a number where a string is expected, or the reverse)",
  ],
  [/^\{value_too_large,/, "it is too large"],
  [/unsupported queue type/, "the queue type must be classic, quorum or stream"],
];

/** RabbitMQ's `invalid property` replies for quorum and stream queues: the cause, the fix. */
const QUEUE_TYPE_PROPERTIES: Readonly<Record<string, [string, string]>> = {
  "non-durable": [
    "quorum and stream queues must be durable",
    "leave out --no-durable (durable: false)",
  ],
  "exclusive-owner": [
    "quorum and stream queues cannot be exclusive",
    "leave out --exclusive (exclusive: true)",
  ],
  "auto-delete": [
    "quorum and stream queues cannot be auto-delete",
    "leave out --auto-delete (autoDelete: true)",
  ],
};

/** 406 PRECONDITION_FAILED: what failed depends on the operation. */
function precondition(text: string, op: Operation | undefined, what: string): Classified {
  const code = "precondition" as const;
  // Replies that mean the same whatever eventlab was doing at the time.
  if (/unknown delivery tag/.test(text))
    return {
      code: "internal",
      cause: `${what}: the broker did not know the delivery tag`,
      hint: "this is a bug in eventlab; run again with --verbose and report it",
    };
  if (/delivery acknowledgement on channel \d+ timed out/.test(text))
    return {
      code,
      cause: `the broker closed the channel${during(op)}: a message was not acknowledged within its consumer timeout`,
      hint: "acknowledge sooner (a shorter --work-time, a smaller --prefetch), or raise consumer_timeout in the broker's configuration",
    };
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
    const property = /invalid property '([^']*)'/.exec(text)?.[1];
    if (property) {
      const known = QUEUE_TYPE_PROPERTIES[property];
      return {
        code,
        cause: `${what}: ${known?.[0] ?? `its queue type does not allow ${property}`}`,
        hint:
          known?.[1] ??
          "quorum and stream queues are durable, shared and kept: leave out the setting the reply names",
      };
    }
    // The embedded broker names the queue type it lacks; RabbitMQ has it.
    if (/stream queues are not supported/.test(text))
      return {
        code,
        cause: `${what}: this broker has no stream queues`,
        hint: "the embedded broker has no stream queues; use a classic or quorum queue, or a RabbitMQ URL",
      };
    const arg = /invalid arg '([^']*)' for [^:]*: (.*)$/s.exec(text);
    if (arg) {
      const why = ARG_REASONS.find(([re]) => re.test(arg[2]!))?.[1];
      return {
        code,
        cause: `${what}: the broker refused the value of its argument ${arg[1]}${why ? ` (${why})` : ""}`,
        hint: `give ${arg[1]} a valid value; \`eventlab declare ${op.kind} --help\` lists the arguments and their values`,
      };
    }
    return {
      code,
      cause: `${what}: the broker refused its settings`,
      hint: `check its arguments against \`eventlab declare ${op.kind} --help\``,
    };
  }
  if (op?.op === "bind" || op?.op === "unbind" || op?.op === "tap")
    return {
      code,
      cause: `${what}: the broker refused the binding's arguments`,
      hint: /x-match/.test(text)
        ? "--match takes all, any, all-with-x or any-with-x"
        : "check the binding's arguments",
    };
  if (op?.op === "delete") {
    const subject = `${op.kind} ${quoteName(op.name)}`;
    if (/not empty/.test(text))
      return {
        code,
        cause: `${subject} is not empty, so --if-empty kept it`,
        hint: `drain it first (eventlab consume ${shellQuote(op.name)} --idle-timeout 1s), or delete it without --if-empty`,
      };
    if (/in use/.test(text))
      return op.kind === "queue"
        ? {
            code,
            cause: `${subject} has consumers, so --if-unused kept it`,
            hint: "stop its consumers first, or delete it without --if-unused",
          }
        : {
            code,
            cause: `${subject} is in use (it has bindings), so --if-unused kept it`,
            hint: `remove its bindings first, or delete it without --if-unused: eventlab delete exchange ${shellQuote(op.name)}`,
          };
    return {
      code,
      cause: `${what}: the broker refused it`,
      hint: "leave out --if-empty / --if-unused to delete it anyway",
    };
  }
  if (op?.op === "consume")
    return {
      code,
      cause: `${what}: the broker refused the consumer`,
      hint: /prefetch count is not set/.test(text)
        ? "stream queues need acknowledgements and a prefetch: leave out --no-ack and pass --prefetch 100"
        : "check the consumer's settings (prefetch, no-ack, exclusive)",
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

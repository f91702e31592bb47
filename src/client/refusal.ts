/**
 * A broker's reply code and text, and the operation it refused, classified: the error code,
 * the cause in words and the hint that fixes it. One function per reply code that needs more
 * than a sentence; 406 has a file of its own (precondition.ts).
 */
import { REPLY } from "../broker/errors.js";
import type { EventlabError } from "../errors.js";
import {
  attempt,
  during,
  type Operation,
  quoteName,
  type Subject,
  shellQuote,
  subjectOf,
} from "./operation.js";
import { precondition } from "./precondition.js";

/** The reply of a channel or connection close, as amqplib reports it. */
export interface Reply {
  code: number;
  /** The broker's reply text in full, e.g. `NOT_FOUND - no queue 'q' in vhost '/'`. */
  text: string;
}

export interface Refusal {
  code: EventlabError["code"];
  cause: string;
  hint?: string;
}

const BUG_HINT = "this is a bug in eventlab; run again with --verbose and report it";

/** What a stream queue does not do (540, which closes the connection), and what to do instead. */
const STREAM_HINTS: ReadonlyArray<[RegExp, string]> = [
  [
    /basic\.get not supported by stream/,
    "stream queues are read with a consumer (eventlab consume <queue> --prefetch 100), not with basic.get",
  ],
  [
    /automatic acknowledgement not supported by stream/,
    "a stream needs acknowledgements: leave out --no-ack",
  ],
  [
    /basic\.nack and basic\.reject not supported by stream/,
    "a stream keeps every message: leave out --reject and --requeue",
  ],
  [
    /queue\.purge not supported by stream/,
    "a stream's messages go only by its retention (x-max-age, x-max-length-bytes); delete the stream to empty it",
  ],
];

export function classify(reply: Reply, op: Operation | undefined): Refusal {
  const text = reply.text;
  const what = attempt(op);
  switch (reply.code) {
    case REPLY.NOT_FOUND:
      return notFound(text, op, what);
    case REPLY.RESOURCE_LOCKED:
      return locked(op, what);
    case REPLY.ACCESS_REFUSED:
      return refused(text, op, what);
    case REPLY.PRECONDITION_FAILED:
      return precondition(text, op, what);
    case REPLY.CONNECTION_FORCED:
      return {
        code: "connection",
        cause: `the broker closed the connection${during(op)}`,
        hint: /reason 'shutdown'/.test(text)
          ? "the broker is shutting down; run the command again once it is back up"
          : "the broker closed it on purpose, for the reason in the reply (an operator's rabbitmqctl close_connection, a deleted vhost, …); run the command again once that is dealt with",
      };
    case REPLY.NOT_ALLOWED:
      return notAllowed(text, what);
    case REPLY.COMMAND_INVALID:
      return /unknown exchange type/.test(text)
        ? {
            code: "broker",
            cause: `${what}: the broker does not know the exchange type`,
            hint: "--type takes direct, topic, fanout or headers (plugin types need their plugin enabled)",
          }
        : protocolFault(what);
    case REPLY.FRAME_ERROR:
    case REPLY.SYNTAX_ERROR:
    case REPLY.CHANNEL_ERROR:
    case REPLY.UNEXPECTED_FRAME:
      return protocolFault(what);
    case REPLY.NOT_IMPLEMENTED:
      return {
        code: "broker",
        cause: `${what}: the broker does not implement it`,
        hint:
          STREAM_HINTS.find(([re]) => re.test(text))?.[1] ??
          "the broker's reply names the operation it does not support",
      };
    case REPLY.INTERNAL_ERROR:
      return {
        code: "broker",
        cause: `${what}: the broker hit an internal error`,
        hint: "this is a fault in the broker, not in the request; its log says more (for `eventlab broker`, run it with --verbose)",
      };
    default:
      return { code: "broker", cause: `${what}: the broker refused it` };
  }
}

/** 404 NOT_FOUND: the object the reply names (a bind names either end), or the one acted on. */
function notFound(text: string, op: Operation | undefined, what: string): Refusal {
  const named = /no (exchange|queue) '(.*)' in vhost '[^']*'/.exec(text);
  const missing: Subject | undefined = named
    ? { kind: named[1] as Subject["kind"], name: named[2]! }
    : subjectOf(op);
  return {
    code: "not-found",
    cause: missing
      ? `${what}: ${missing.kind} ${quoteName(missing.name)} does not exist`
      : `${what}: it does not exist`,
    hint: missing ? declareHint(missing) : "declare it first, or check the name",
  };
}

function declareHint(subject: Subject): string {
  return subject.kind === "exchange"
    ? `declare it: eventlab declare exchange ${shellQuote(subject.name)} --type topic`
    : `declare it: eventlab declare queue ${shellQuote(subject.name)}`;
}

/** 530 NOT_ALLOWED: a vhost the user may not use, or something eventlab sent wrong. */
function notAllowed(text: string, what: string): Refusal {
  if (/vhost/i.test(text))
    return {
      code: "vhost",
      cause: `${what}: the broker does not allow this vhost`,
      hint: "the vhost does not exist or the user may not use it: create it with `rabbitmqctl add_vhost <vhost>`, or grant it with `rabbitmqctl set_permissions -p <vhost> <user> '.*' '.*' '.*'`",
    };
  if (/consumer tag/.test(text))
    return {
      code: "internal",
      cause: `${what}: the broker refused a consumer tag eventlab sent`,
      hint: BUG_HINT,
    };
  return {
    code: "broker",
    cause: `${what}: the broker does not allow it`,
    hint: "the broker's reply says what is not allowed",
  };
}

/** 501–505: the broker saw a frame or method it could not accept, which eventlab should never send. */
function protocolFault(what: string): Refusal {
  return {
    code: "internal",
    cause: `${what}: the broker closed the connection for a protocol error`,
    hint: BUG_HINT,
  };
}

/**
 * 405 RESOURCE_LOCKED: an exclusive queue of another connection, or, on a declare that asks
 * for an exclusive queue, a queue that already exists without being exclusive to us.
 */
function locked(op: Operation | undefined, what: string): Refusal {
  const code = "resource-locked" as const;
  if (op?.op === "declare" && !op.passive && op.exclusive !== false) {
    const again = `eventlab delete queue ${shellQuote(op.name)}`;
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
  return { code, cause: `${what}: the queue is exclusive to another connection`, hint: fix };
}

/** 403 ACCESS_REFUSED: a name or exchange the broker keeps to itself, or a missing permission. */
function refused(text: string, op: Operation | undefined, what: string): Refusal {
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
  if (/default exchange/.test(text)) return defaultExchange(op, what);
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
  return permission(text, what);
}

/** 403 for the default exchange: it cannot be declared, bound or tapped. */
function defaultExchange(op: Operation | undefined, what: string): Refusal {
  const code = "access-refused" as const;
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

/** 403 for a user without the permission, on a vhost, an object or a topic routing key. */
function permission(text: string, what: string): Refusal {
  const code = "access-refused" as const;
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

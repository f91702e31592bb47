/**
 * 406 PRECONDITION_FAILED in words. The same code means "exists with other settings" on a
 * declare, "too large" or "wrong user_id" on a publish, "not empty" on a delete: the operation
 * picks the reading, the broker's reply text picks the hint, and every hint has a fallback.
 */

import { during, type Operation, quoteName, shellQuote } from "./operation.js";
import type { Refusal } from "./refusal.js";

const code = "precondition" as const;

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
export function precondition(text: string, op: Operation | undefined, what: string): Refusal {
  const any = anyOperation(text, op, what);
  if (any) return any;
  switch (op?.op) {
    case "publish":
      return publishing(text, what);
    case "declare":
      return declaring(text, op, what);
    case "bind":
    case "unbind":
    case "tap":
      return {
        code,
        cause: `${what}: the broker refused the binding's arguments`,
        hint: /x-match/.test(text)
          ? "--match takes all, any, all-with-x or any-with-x"
          : "check the binding's arguments",
      };
    case "delete":
      return deleting(text, op, what);
    case "consume":
      return {
        code,
        cause: `${what}: the broker refused the consumer`,
        hint: /prefetch count is not set/.test(text)
          ? "stream queues need acknowledgements and a prefetch: leave out --no-ack and pass --prefetch 100"
          : "check the consumer's settings (prefetch, no-ack, exclusive)",
      };
    default:
      return { code, cause: `${what}: a precondition failed` };
  }
}

/** Replies that mean the same whatever eventlab was doing at the time. */
function anyOperation(text: string, op: Operation | undefined, what: string): Refusal | undefined {
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
  return undefined;
}

function publishing(text: string, what: string): Refusal {
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

function declaring(text: string, op: Extract<Operation, { op: "declare" }>, what: string): Refusal {
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

function deleting(text: string, op: Extract<Operation, { op: "delete" }>, what: string): Refusal {
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

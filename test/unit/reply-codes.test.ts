/**
 * The reply-code matrix: for every reply code a channel or connection close can bring (320, 403,
 * 404, 405, 406, 530, 541), in each operation where it can occur, the error names the cause,
 * ends with the broker's full reply, and carries the hint that fixes it. (312 NO_ROUTE comes
 * back as basic.return and produce counts it: test/helpers/reply-codes-suite.ts covers it.)
 *
 * The reply texts are RabbitMQ 3.10's, recorded from a live node (the conformance fixture holds
 * most of them); each error is shaped the way amqplib shapes it: a failed RPC, a channel closed
 * by the server, or a connection closed by the server while an operation was pending.
 */
import { describe, expect, it } from "vitest";
import { connectionError } from "../../src/client/connect.js";
import { brokerError, type Operation, replyOf } from "../../src/client/errors.js";
import { parseBrokerUrl } from "../../src/client/url.js";
import type { ErrorCode } from "../../src/errors.js";

/** amqplib's names for the reply codes (defs.constant_strs). */
const NAMES: Record<number, string> = {
  320: "CONNECTION-FORCED",
  403: "ACCESS-REFUSED",
  404: "NOT-FOUND",
  405: "RESOURCE-LOCKED",
  406: "PRECONDITION-FAILED",
  503: "COMMAND-INVALID",
  530: "NOT-ALLOWED",
  541: "INTERNAL-ERROR",
};

type Shape =
  /** The RPC the broker refused: `Operation failed: QueueDeclare; 404 (NOT-FOUND) with message "…"`. */
  | { rpc: string }
  /** An asynchronous refusal (publish, ack): `Channel closed by server: …`. */
  | "channel"
  /** The connection closed under a pending RPC: "Channel ended", the reply on the connection. */
  | "connection";

interface AmqplibError extends Error {
  code: number;
  classId: number;
  methodId: number;
}

function amqplibError(prefix: string, code: number, text: string): AmqplibError {
  const e = new Error(`${prefix}${code} (${NAMES[code]}) with message "${text}"`) as AmqplibError;
  e.code = code;
  e.classId = 0;
  e.methodId = 0;
  return e;
}

/** brokerError, fed an error the way amqplib raises it. */
function refuse(shape: Shape, code: number, text: string, op: Operation | undefined) {
  if (shape === "connection") {
    const closeReason = amqplibError("Connection closed: ", code, text);
    return brokerError(new Error("Channel ended, no reply will be forthcoming"), op, {
      closeReason,
    });
  }
  const prefix =
    shape === "channel" ? "Channel closed by server: " : `Operation failed: ${shape.rpc}; `;
  return brokerError(amqplibError(prefix, code, text), op);
}

interface Case {
  /** The reply code and the operation, as the test names them. */
  what: string;
  code: number;
  op: Operation | undefined;
  shape: Shape;
  /** RabbitMQ 3.10's reply text, in full. */
  text: string;
  errorCode: ErrorCode;
  /** The message before ` (<code> <text>)`. */
  cause: string;
  hint: string;
}

const LOCKED =
  "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'jobs' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.";
const OWNED =
  "an exclusive queue belongs to the connection that declared it and goes away when that connection closes";
const DEFAULT_X = "ACCESS_REFUSED - operation not permitted on the default exchange";
const BUG = "this is a bug in eventlab; run again with --verbose and report it";

const q = (queue: string) => ({ queue });

const CASES: Case[] = [
  // ------------------------------------------------------------------------------------ 403
  {
    what: "403 declare: an amq.* exchange name",
    code: 403,
    op: { op: "declare", kind: "exchange", name: "amq.foo" },
    shape: { rpc: "ExchangeDeclare" },
    text: "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'",
    errorCode: "access-refused",
    cause: 'cannot declare exchange "amq.foo": the amq. prefix belongs to the broker',
    hint: "names starting with amq. are reserved for the broker; choose another name",
  },
  {
    what: "403 declare: an amq.* queue name",
    code: 403,
    op: { op: "declare", kind: "queue", name: "amq.jobs" },
    shape: { rpc: "QueueDeclare" },
    text: "ACCESS_REFUSED - queue name 'amq.jobs' contains reserved prefix 'amq.*'",
    errorCode: "access-refused",
    cause: 'cannot declare queue "amq.jobs": the amq. prefix belongs to the broker',
    hint: "names starting with amq. are reserved for the broker; choose another name",
  },
  {
    what: "403 delete: a system exchange",
    code: 403,
    op: { op: "delete", kind: "exchange", name: "amq.topic" },
    shape: { rpc: "ExchangeDelete" },
    text: "ACCESS_REFUSED - deletion of system exchange 'amq.topic' in vhost '/' not allowed",
    errorCode: "access-refused",
    cause: `cannot delete exchange "amq.topic": it is one of the broker's own exchanges`,
    hint: "exchanges named amq.* belong to the broker and cannot be deleted; to stop what it routes to a queue, delete that binding instead (eventlab delete binding amq.topic <queue> --key <key>)",
  },
  {
    what: "403 check: the default exchange",
    code: 403,
    op: { op: "declare", kind: "exchange", name: "", passive: true },
    shape: { rpc: "ExchangeDeclare" },
    text: DEFAULT_X,
    errorCode: "access-refused",
    cause: 'cannot check exchange "": the default exchange is built in',
    hint: "the default exchange ('') cannot be declared, checked, bound or deleted; publish to it with --exchange '' --key <queue>, or use a named exchange",
  },
  {
    what: "403 bind: to the default exchange",
    code: 403,
    op: { op: "bind", source: "", destination: "jobs", destinationKind: "queue" },
    shape: { rpc: "QueueBind" },
    text: DEFAULT_X,
    errorCode: "access-refused",
    cause: 'cannot bind queue "jobs" to exchange "": the default exchange takes no bindings',
    hint: "the default exchange ('') delivers each message to the queue its routing key names; bind to a named exchange (e.g. amq.direct) instead",
  },
  {
    what: "403 unbind: from the default exchange",
    code: 403,
    op: { op: "unbind", source: "", destination: "jobs", destinationKind: "queue" },
    shape: { rpc: "QueueUnbind" },
    text: DEFAULT_X,
    errorCode: "access-refused",
    cause: 'cannot unbind queue "jobs" from exchange "": the default exchange takes no bindings',
    hint: "the default exchange ('') delivers each message to the queue its routing key names; bind to a named exchange (e.g. amq.direct) instead",
  },
  {
    what: "403 tap: the default exchange",
    code: 403,
    op: { op: "tap", exchange: "", queue: "amq.gen-JVjBiNpAD0o96M8uwEiysQ" },
    shape: { rpc: "QueueBind" },
    text: DEFAULT_X,
    errorCode: "access-refused",
    cause: "cannot tap the default exchange: it takes no bindings",
    hint: "the default exchange delivers each message to the queue its routing key names: consume that queue instead (eventlab consume <queue>)",
  },
  {
    what: "403 publish: an internal exchange",
    code: 403,
    op: { op: "publish", exchange: "audit" },
    shape: "channel",
    text: "ACCESS_REFUSED - cannot publish to internal exchange 'audit' in vhost '/'",
    errorCode: "access-refused",
    cause: 'cannot publish to exchange "audit": it is an internal exchange',
    hint: "an internal exchange takes messages only from other exchanges; publish to an exchange bound to it",
  },
  {
    what: "403 consume: a queue with an exclusive consumer",
    code: 403,
    op: { op: "consume", ...q("jobs") },
    shape: { rpc: "BasicConsume" },
    text: "ACCESS_REFUSED - queue 'jobs' in vhost '/' in exclusive use",
    errorCode: "access-refused",
    cause: 'cannot consume from queue "jobs": another consumer reads it exclusively',
    hint: "stop that consumer, or wait until it cancels",
  },
  {
    what: "403 declare: no configure permission",
    code: 403,
    op: { op: "declare", kind: "queue", name: "jobs" },
    shape: { rpc: "QueueDeclare" },
    text: "ACCESS_REFUSED - access to queue 'jobs' in vhost '/' refused for user 'bob'",
    errorCode: "access-refused",
    cause: 'cannot declare queue "jobs": user "bob" has no permission for it',
    hint: "check `rabbitmqctl list_permissions` and grant it with `rabbitmqctl set_permissions`",
  },
  {
    what: "403 publish: no write permission",
    code: 403,
    op: { op: "publish", exchange: "amq.direct" },
    shape: "channel",
    text: "ACCESS_REFUSED - access to exchange 'amq.direct' in vhost '/' refused for user 'bob'",
    errorCode: "access-refused",
    cause: 'cannot publish to exchange "amq.direct": user "bob" has no permission for it',
    hint: "check `rabbitmqctl list_permissions` and grant it with `rabbitmqctl set_permissions`",
  },
  {
    what: "403 publish: no topic permission for the routing key",
    code: 403,
    op: { op: "publish", exchange: "amq.topic" },
    shape: "channel",
    text: "ACCESS_REFUSED - access to topic 'forbidden' in exchange 'amq.topic' in vhost '/' refused for user 'bob'",
    errorCode: "access-refused",
    cause: 'cannot publish to exchange "amq.topic": user "bob" may not use this routing key',
    hint: "check `rabbitmqctl list_topic_permissions` and grant it with `rabbitmqctl set_topic_permissions`",
  },
  // ------------------------------------------------------------------------------------ 404
  {
    what: "404 check: a missing queue",
    code: 404,
    op: { op: "declare", kind: "queue", name: "jobs", passive: true },
    shape: { rpc: "QueueDeclare" },
    text: "NOT_FOUND - no queue 'jobs' in vhost '/'",
    errorCode: "not-found",
    cause: 'cannot check queue "jobs": queue "jobs" does not exist',
    hint: "declare it: eventlab declare queue jobs",
  },
  {
    what: "404 check: a missing exchange",
    code: 404,
    op: { op: "declare", kind: "exchange", name: "orders", passive: true },
    shape: { rpc: "ExchangeDeclare" },
    text: "NOT_FOUND - no exchange 'orders' in vhost '/'",
    errorCode: "not-found",
    cause: 'cannot check exchange "orders": exchange "orders" does not exist',
    hint: "declare it: eventlab declare exchange orders --type topic",
  },
  {
    what: "404 bind: the source exchange is missing",
    code: 404,
    op: { op: "bind", source: "orders", destination: "jobs", destinationKind: "queue" },
    shape: { rpc: "QueueBind" },
    text: "NOT_FOUND - no exchange 'orders' in vhost '/'",
    errorCode: "not-found",
    cause: 'cannot bind queue "jobs" to exchange "orders": exchange "orders" does not exist',
    hint: "declare it: eventlab declare exchange orders --type topic",
  },
  {
    what: "404 bind: the destination queue is missing",
    code: 404,
    op: { op: "bind", source: "orders", destination: "jobs", destinationKind: "queue" },
    shape: { rpc: "QueueBind" },
    text: "NOT_FOUND - no queue 'jobs' in vhost '/'",
    errorCode: "not-found",
    cause: 'cannot bind queue "jobs" to exchange "orders": queue "jobs" does not exist',
    hint: "declare it: eventlab declare queue jobs",
  },
  {
    what: "404 bind: the destination exchange is missing",
    code: 404,
    op: { op: "bind", source: "orders", destination: "eu", destinationKind: "exchange" },
    shape: { rpc: "ExchangeBind" },
    text: "NOT_FOUND - no exchange 'eu' in vhost '/'",
    errorCode: "not-found",
    cause: 'cannot bind exchange "eu" to exchange "orders": exchange "eu" does not exist',
    hint: "declare it: eventlab declare exchange eu --type topic",
  },
  {
    what: "404 tap: a missing exchange",
    code: 404,
    op: { op: "tap", exchange: "orders", queue: "amq.gen-JVjBiNpAD0o96M8uwEiysQ" },
    shape: { rpc: "QueueBind" },
    text: "NOT_FOUND - no exchange 'orders' in vhost '/'",
    errorCode: "not-found",
    cause: 'cannot tap exchange "orders": exchange "orders" does not exist',
    hint: "declare it: eventlab declare exchange orders --type topic",
  },
  {
    what: "404 publish: a missing exchange",
    code: 404,
    op: { op: "publish", exchange: "orders" },
    shape: "channel",
    text: "NOT_FOUND - no exchange 'orders' in vhost '/'",
    errorCode: "not-found",
    cause: 'cannot publish to exchange "orders": exchange "orders" does not exist',
    hint: "declare it: eventlab declare exchange orders --type topic",
  },
  {
    what: "404 publish: several templates, the reply names the exchange",
    code: 404,
    op: { op: "publish", exchange: undefined },
    shape: "channel",
    text: "NOT_FOUND - no exchange 'orders' in vhost '/'",
    errorCode: "not-found",
    cause: 'the broker refused a published message: exchange "orders" does not exist',
    hint: "declare it: eventlab declare exchange orders --type topic",
  },
  {
    what: "404 consume: a missing queue",
    code: 404,
    op: { op: "consume", ...q("jobs") },
    shape: { rpc: "BasicConsume" },
    text: "NOT_FOUND - no queue 'jobs' in vhost '/'",
    errorCode: "not-found",
    cause: 'cannot consume from queue "jobs": queue "jobs" does not exist',
    hint: "declare it: eventlab declare queue jobs",
  },
  {
    what: "404 get: a missing queue",
    code: 404,
    op: { op: "get", ...q("jobs") },
    shape: { rpc: "BasicGet" },
    text: "NOT_FOUND - no queue 'jobs' in vhost '/'",
    errorCode: "not-found",
    cause: 'cannot get a message from queue "jobs": queue "jobs" does not exist',
    hint: "declare it: eventlab declare queue jobs",
  },
  {
    what: "404 purge: a missing queue",
    code: 404,
    op: { op: "purge", ...q("jobs") },
    shape: { rpc: "QueuePurge" },
    text: "NOT_FOUND - no queue 'jobs' in vhost '/'",
    errorCode: "not-found",
    cause: 'cannot purge queue "jobs": queue "jobs" does not exist',
    hint: "declare it: eventlab declare queue jobs",
  },
  {
    what: "404 consume: a name with a space and a quote is quoted for the shell",
    code: 404,
    op: { op: "consume", ...q("bob's jobs") },
    shape: { rpc: "BasicConsume" },
    text: "NOT_FOUND - no queue 'bob's jobs' in vhost '/'",
    errorCode: "not-found",
    cause: `cannot consume from queue "bob's jobs": queue "bob's jobs" does not exist`,
    hint: `declare it: eventlab declare queue 'bob'\\''s jobs'`,
  },
  // ------------------------------------------------------------------------------------ 405
  {
    what: "405 declare: an exclusive queue of another connection",
    code: 405,
    op: { op: "declare", kind: "queue", name: "jobs", exclusive: false },
    shape: { rpc: "QueueDeclare" },
    text: LOCKED,
    errorCode: "resource-locked",
    cause: 'cannot declare queue "jobs": the queue is exclusive to another connection',
    hint: `${OWNED}; use another name, or wait until that connection closes`,
  },
  {
    what: "405 declare --exclusive: a queue that exists and is not exclusive",
    code: 405,
    op: { op: "declare", kind: "queue", name: "jobs", exclusive: true },
    shape: { rpc: "QueueDeclare" },
    text: LOCKED,
    errorCode: "resource-locked",
    cause:
      'cannot declare queue "jobs": it already exists, and not as an exclusive queue of this connection',
    hint: "an existing queue cannot become exclusive: declare it without --exclusive, or delete it first (eventlab delete queue jobs); if another connection declared it exclusive, use another name",
  },
  {
    what: "405 declare: exclusive flag not known, both causes named",
    code: 405,
    op: { op: "declare", kind: "queue", name: "jobs" },
    shape: { rpc: "QueueDeclare" },
    text: LOCKED,
    errorCode: "resource-locked",
    cause:
      'cannot declare queue "jobs": it is exclusive to another connection, or it exists and this declare\'s exclusive flag does not match',
    hint: "if another connection declared it exclusive, use another name or wait until that connection closes; otherwise declare it with the exclusive setting it has, or delete it first (eventlab delete queue jobs)",
  },
  {
    what: "405 check: an exclusive queue of another connection",
    code: 405,
    op: { op: "declare", kind: "queue", name: "jobs", passive: true },
    shape: { rpc: "QueueDeclare" },
    text: LOCKED,
    errorCode: "resource-locked",
    cause: 'cannot check queue "jobs": the queue is exclusive to another connection',
    hint: `${OWNED}; until then only that connection can use or delete it: use another queue, or wait`,
  },
  {
    what: "405 bind: an exclusive queue of another connection",
    code: 405,
    op: { op: "bind", source: "orders", destination: "jobs", destinationKind: "queue" },
    shape: { rpc: "QueueBind" },
    text: LOCKED,
    errorCode: "resource-locked",
    cause:
      'cannot bind queue "jobs" to exchange "orders": the queue is exclusive to another connection',
    hint: `${OWNED}; use a queue of your own (declared without --exclusive), or wait until that connection closes`,
  },
  {
    what: "405 consume: an exclusive queue of another connection",
    code: 405,
    op: { op: "consume", ...q("jobs") },
    shape: { rpc: "BasicConsume" },
    text: LOCKED,
    errorCode: "resource-locked",
    cause: 'cannot consume from queue "jobs": the queue is exclusive to another connection',
    hint: `${OWNED}; use a queue of your own (declared without --exclusive), or wait until that connection closes`,
  },
  {
    what: "405 get: an exclusive queue of another connection",
    code: 405,
    op: { op: "get", ...q("jobs") },
    shape: { rpc: "BasicGet" },
    text: LOCKED,
    errorCode: "resource-locked",
    cause: 'cannot get a message from queue "jobs": the queue is exclusive to another connection',
    hint: `${OWNED}; use a queue of your own (declared without --exclusive), or wait until that connection closes`,
  },
  {
    what: "405 purge: an exclusive queue of another connection",
    code: 405,
    op: { op: "purge", ...q("jobs") },
    shape: { rpc: "QueuePurge" },
    text: LOCKED,
    errorCode: "resource-locked",
    cause: 'cannot purge queue "jobs": the queue is exclusive to another connection',
    hint: `${OWNED}; use a queue of your own (declared without --exclusive), or wait until that connection closes`,
  },
  {
    what: "405 delete: an exclusive queue of another connection",
    code: 405,
    op: { op: "delete", kind: "queue", name: "jobs" },
    shape: { rpc: "QueueDelete" },
    text: LOCKED,
    errorCode: "resource-locked",
    cause: 'cannot delete queue "jobs": the queue is exclusive to another connection',
    hint: `${OWNED}; only that connection can delete it before then`,
  },
  // ------------------------------------------------------------------------------------ 406
  {
    what: "406 declare: exists with other settings",
    code: 406,
    op: { op: "declare", kind: "queue", name: "jobs" },
    shape: { rpc: "QueueDeclare" },
    text: "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'jobs' in vhost '/': received 'true' but current is 'false'",
    errorCode: "precondition",
    cause: 'cannot declare queue "jobs": it already exists with other settings',
    hint: "delete it first (eventlab delete queue jobs), or declare it with the settings it has",
  },
  {
    what: "406 declare: exchange of another type",
    code: 406,
    op: { op: "declare", kind: "exchange", name: "orders" },
    shape: { rpc: "ExchangeDeclare" },
    text: "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'orders' in vhost '/': received 'fanout' but current is 'direct'",
    errorCode: "precondition",
    cause: 'cannot declare exchange "orders": it already exists with other settings',
    hint: "delete it first (eventlab delete exchange orders), or declare it with the settings it has",
  },
  {
    what: "406 declare: a negative x-max-length",
    code: 406,
    op: { op: "declare", kind: "queue", name: "jobs" },
    shape: { rpc: "QueueDeclare" },
    text: "PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'jobs' in vhost '/': {value_negative,-1}",
    errorCode: "precondition",
    cause:
      'cannot declare queue "jobs": the broker refused the value of its argument x-max-length (it must not be negative)',
    hint: "give x-max-length a valid value; `eventlab declare queue --help` lists the arguments and their values",
  },
  {
    what: "406 declare: x-expires 0",
    code: 406,
    op: { op: "declare", kind: "queue", name: "jobs" },
    shape: { rpc: "QueueDeclare" },
    text: "PRECONDITION_FAILED - invalid arg 'x-expires' for queue 'jobs' in vhost '/': {value_zero,0}",
    errorCode: "precondition",
    cause:
      'cannot declare queue "jobs": the broker refused the value of its argument x-expires (it must be greater than 0)',
    hint: "give x-expires a valid value; `eventlab declare queue --help` lists the arguments and their values",
  },
  {
    what: "406 declare: an unknown queue type (double quotes in the reply)",
    code: 406,
    op: { op: "declare", kind: "queue", name: "jobs" },
    shape: { rpc: "QueueDeclare" },
    text: `PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'jobs' in vhost '/': "unsupported queue type 'nope'"`,
    errorCode: "precondition",
    cause:
      'cannot declare queue "jobs": the broker refused the value of its argument x-queue-type (the queue type must be classic, quorum or stream)',
    hint: "give x-queue-type a valid value; `eventlab declare queue --help` lists the arguments and their values",
  },
  {
    what: "406 declare: a stream queue on the embedded broker, which has none",
    code: 406,
    op: { op: "declare", kind: "queue", name: "jobs" },
    shape: { rpc: "QueueDeclare" },
    text: "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'jobs' in vhost '/': stream queues are not supported by the embedded broker; use a classic or quorum queue, or RabbitMQ",
    errorCode: "precondition",
    cause: 'cannot declare queue "jobs": this broker has no stream queues',
    hint: "the embedded broker has no stream queues; use a classic or quorum queue, or a RabbitMQ URL",
  },
  {
    what: "406 declare: a non-durable quorum queue",
    code: 406,
    op: { op: "declare", kind: "queue", name: "jobs" },
    shape: { rpc: "QueueDeclare" },
    text: "PRECONDITION_FAILED - invalid property 'non-durable' for queue 'jobs' in vhost '/'",
    errorCode: "precondition",
    cause: 'cannot declare queue "jobs": quorum and stream queues must be durable',
    hint: "leave out --no-durable (durable: false)",
  },
  {
    what: "406 declare: an exclusive quorum queue",
    code: 406,
    op: { op: "declare", kind: "queue", name: "jobs" },
    shape: { rpc: "QueueDeclare" },
    text: "PRECONDITION_FAILED - invalid property 'exclusive-owner' for queue 'jobs' in vhost '/'",
    errorCode: "precondition",
    cause: 'cannot declare queue "jobs": quorum and stream queues cannot be exclusive',
    hint: "leave out --exclusive (exclusive: true)",
  },
  {
    what: "406 declare: an auto-delete quorum queue",
    code: 406,
    op: { op: "declare", kind: "queue", name: "jobs" },
    shape: { rpc: "QueueDeclare" },
    text: "PRECONDITION_FAILED - invalid property 'auto-delete' for queue 'jobs' in vhost '/'",
    errorCode: "precondition",
    cause: 'cannot declare queue "jobs": quorum and stream queues cannot be auto-delete',
    hint: "leave out --auto-delete (autoDelete: true)",
  },
  {
    what: "406 bind: a bad x-match (quotes in the reply)",
    code: 406,
    op: { op: "bind", source: "alerts", destination: "jobs", destinationKind: "queue" },
    shape: { rpc: "QueueBind" },
    text: 'PRECONDITION_FAILED - Invalid x-match field value <<"some">>; expected all, any, all-with-x, or any-with-x',
    errorCode: "precondition",
    cause: `cannot bind queue "jobs" to exchange "alerts": the broker refused the binding's arguments`,
    hint: "--match takes all, any, all-with-x or any-with-x",
  },
  {
    what: "406 tap: a bad x-match",
    code: 406,
    op: { op: "tap", exchange: "alerts", queue: "amq.gen-JVjBiNpAD0o96M8uwEiysQ" },
    shape: { rpc: "QueueBind" },
    text: 'PRECONDITION_FAILED - Invalid x-match field value <<"some">>; expected all, any, all-with-x, or any-with-x',
    errorCode: "precondition",
    cause: `cannot tap exchange "alerts": the broker refused the binding's arguments`,
    hint: "--match takes all, any, all-with-x or any-with-x",
  },
  {
    what: "406 publish: a userId that is not the login",
    code: 406,
    op: { op: "publish", exchange: "" },
    shape: "channel",
    text: "PRECONDITION_FAILED - user_id property set to 'bob' but authenticated user was 'guest'",
    errorCode: "precondition",
    cause:
      "cannot publish to the default exchange: the message's userId is not the user the connection logged in as",
    hint: "the broker checks userId against the login (guest): drop the userId property, or set it to that user",
  },
  {
    what: "406 publish: larger than max_message_size",
    code: 406,
    op: { op: "publish", exchange: "orders" },
    shape: "channel",
    text: "PRECONDITION_FAILED - message size 134217729 is larger than configured max size 134217728",
    errorCode: "precondition",
    cause: 'cannot publish to exchange "orders": the message is larger than the broker accepts',
    hint: "send a smaller body, or raise max_message_size in the broker's configuration",
  },
  {
    what: "406 publish: an expiration that is not a number",
    code: 406,
    op: { op: "publish", exchange: "orders" },
    shape: "channel",
    text: "PRECONDITION_FAILED - invalid expiration 'abc': no_integer",
    errorCode: "precondition",
    cause: `cannot publish to exchange "orders": the message's expiration is not valid`,
    hint: "expiration is a whole number of milliseconds ≥ 0, e.g. --property expiration=60000",
  },
  {
    what: "406 publish: a fractional expiration (quotes in the reply)",
    code: 406,
    op: { op: "publish", exchange: "orders" },
    shape: "channel",
    text: `PRECONDITION_FAILED - invalid expiration '1.5': {leftover_string,".5"}`,
    errorCode: "precondition",
    cause: `cannot publish to exchange "orders": the message's expiration is not valid`,
    hint: "expiration is a whole number of milliseconds ≥ 0, e.g. --property expiration=60000",
  },
  {
    what: "406 delete --if-empty: a queue that holds messages",
    code: 406,
    op: { op: "delete", kind: "queue", name: "jobs" },
    shape: { rpc: "QueueDelete" },
    text: "PRECONDITION_FAILED - queue 'jobs' in vhost '/' not empty",
    errorCode: "precondition",
    cause: 'queue "jobs" is not empty, so --if-empty kept it',
    hint: "drain it first (eventlab consume jobs --idle-timeout 1s), or delete it without --if-empty",
  },
  {
    what: "406 delete --if-unused: a queue with consumers",
    code: 406,
    op: { op: "delete", kind: "queue", name: "jobs" },
    shape: { rpc: "QueueDelete" },
    text: "PRECONDITION_FAILED - queue 'jobs' in vhost '/' in use",
    errorCode: "precondition",
    cause: 'queue "jobs" has consumers, so --if-unused kept it',
    hint: "stop its consumers first, or delete it without --if-unused",
  },
  {
    what: "406 delete --if-unused: an exchange with bindings",
    code: 406,
    op: { op: "delete", kind: "exchange", name: "orders" },
    shape: { rpc: "ExchangeDelete" },
    text: "PRECONDITION_FAILED - exchange 'orders' in vhost '/' in use",
    errorCode: "precondition",
    cause: 'exchange "orders" is in use (it has bindings), so --if-unused kept it',
    hint: "remove its bindings first, or delete it without --if-unused: eventlab delete exchange orders",
  },
  {
    what: "406 consume: a stream queue without a prefetch",
    code: 406,
    op: { op: "consume", ...q("events") },
    shape: { rpc: "BasicConsume" },
    text: "PRECONDITION_FAILED - consumer prefetch count is not set for 'queue 'events' in vhost '/''",
    errorCode: "precondition",
    cause: 'cannot consume from queue "events": the broker refused the consumer',
    hint: "stream queues need acknowledgements and a prefetch: leave out --no-ack and pass --prefetch 100",
  },
  {
    what: "406 consume: a delivery not acknowledged within consumer_timeout",
    code: 406,
    op: { op: "consume", ...q("jobs") },
    shape: "channel",
    text: "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: 1800000 ms. This timeout value can be configured, see consumers doc guide to learn more",
    errorCode: "precondition",
    cause:
      'the broker closed the channel while consuming from queue "jobs": a message was not acknowledged within its consumer timeout',
    hint: "acknowledge sooner (a shorter --work-time, a smaller --prefetch), or raise consumer_timeout in the broker's configuration",
  },
  {
    what: "406 settle: an unknown delivery tag",
    code: 406,
    op: { op: "settle", ...q("jobs") },
    shape: "channel",
    text: "PRECONDITION_FAILED - unknown delivery tag 1",
    errorCode: "internal",
    cause:
      'cannot acknowledge a message from queue "jobs": the broker did not know the delivery tag',
    hint: BUG,
  },
  {
    what: "406 consume: an unknown delivery tag closes the consumer's channel",
    code: 406,
    op: { op: "consume", ...q("jobs") },
    shape: "channel",
    text: "PRECONDITION_FAILED - unknown delivery tag 7",
    errorCode: "internal",
    cause: 'cannot consume from queue "jobs": the broker did not know the delivery tag',
    hint: BUG,
  },
  // ------------------------------------------------------------------------------------ 320
  {
    what: "320 consume: an operator closed the connection",
    code: 320,
    op: { op: "consume", ...q("jobs") },
    shape: "connection",
    text: "CONNECTION_FORCED - closed by the operator",
    errorCode: "connection",
    cause: 'the broker closed the connection while consuming from queue "jobs"',
    hint: "the broker closed it on purpose, for the reason in the reply (an operator's rabbitmqctl close_connection, a deleted vhost, …); run the command again once that is dealt with",
  },
  {
    what: "320 consume: the broker shuts down",
    code: 320,
    op: { op: "consume", ...q("jobs") },
    shape: "connection",
    text: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'",
    errorCode: "connection",
    cause: 'the broker closed the connection while consuming from queue "jobs"',
    hint: "the broker is shutting down; run the command again once it is back up",
  },
  {
    what: "320 publish: the broker shuts down",
    code: 320,
    op: { op: "publish", exchange: "orders" },
    shape: "connection",
    text: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'",
    errorCode: "connection",
    cause: 'the broker closed the connection while publishing to exchange "orders"',
    hint: "the broker is shutting down; run the command again once it is back up",
  },
  {
    what: "320 declare: the broker shuts down",
    code: 320,
    op: { op: "declare", kind: "queue", name: "jobs" },
    shape: "connection",
    text: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'",
    errorCode: "connection",
    cause: 'the broker closed the connection while declaring queue "jobs"',
    hint: "the broker is shutting down; run the command again once it is back up",
  },
  // ------------------------------------------------------------------------------------ 530
  {
    what: "530 any operation: the vhost went away",
    code: 530,
    op: { op: "declare", kind: "queue", name: "jobs" },
    shape: "connection",
    text: "NOT_ALLOWED - vhost staging not found",
    errorCode: "vhost",
    cause: 'cannot declare queue "jobs": the broker does not allow this vhost',
    hint: "the vhost does not exist or the user may not use it: create it with `rabbitmqctl add_vhost <vhost>`, or grant it with `rabbitmqctl set_permissions -p <vhost> <user> '.*' '.*' '.*'`",
  },
  {
    what: "530 consume: a consumer tag used twice",
    code: 530,
    op: { op: "consume", ...q("jobs") },
    shape: "connection",
    text: "NOT_ALLOWED - attempt to reuse consumer tag 'amq.ctag-1'",
    errorCode: "internal",
    cause: 'cannot consume from queue "jobs": the broker refused a consumer tag eventlab sent',
    hint: BUG,
  },
  // ------------------------------------------------------------------------------------ 541
  {
    what: "541 consume: RabbitMQ's bare internal error",
    code: 541,
    op: { op: "consume", ...q("jobs") },
    shape: "connection",
    text: "INTERNAL_ERROR",
    errorCode: "broker",
    cause: 'cannot consume from queue "jobs": the broker hit an internal error',
    hint: "this is a fault in the broker, not in the request; its log says more (for `eventlab broker`, run it with --verbose)",
  },
  {
    what: "541 publish: an internal error with a detail",
    code: 541,
    op: { op: "publish", exchange: "orders" },
    shape: "connection",
    text: "INTERNAL_ERROR - Cannot read properties of undefined (reading 'length')",
    errorCode: "broker",
    cause: 'cannot publish to exchange "orders": the broker hit an internal error',
    hint: "this is a fault in the broker, not in the request; its log says more (for `eventlab broker`, run it with --verbose)",
  },
];

/** The names an operation is about: each must appear in the message. */
function namesOf(op: Operation | undefined): string[] {
  if (!op) return [];
  switch (op.op) {
    case "declare":
    case "delete":
      return [op.name];
    case "bind":
    case "unbind":
      return [op.source, op.destination];
    case "tap":
      return [op.exchange];
    case "publish":
      return op.exchange === undefined ? [] : [op.exchange];
    default:
      return [op.queue];
  }
}

describe("the reply-code matrix: cause, full reply and the hint that fixes it", () => {
  it.each(CASES.map((c) => [c.what, c] as const))("%s", (_, c) => {
    const e = refuse(c.shape, c.code, c.text, c.op);
    expect(e.code).toBe(c.errorCode);
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe(`${c.cause} (${c.code} ${c.text})`);
    expect(e.hint).toBe(c.hint);
    // The full reply text survives, quotes and all, and the object is named.
    expect(e.message.endsWith(`(${c.code} ${c.text})`)).toBe(true);
    for (const name of namesOf(c.op).filter((n) => n !== "" && !n.startsWith("amq.gen-")))
      expect(e.message).toContain(`"${name}"`);
  });

  it("covers each reply code eventlab can get from a channel or connection close", () => {
    expect([...new Set(CASES.map((c) => c.code))].sort()).toEqual([
      320, 403, 404, 405, 406, 530, 541,
    ]);
  });

  it("the cause depends on the operation: the same 406 reads differently on a declare, a publish and a delete", () => {
    const causes = new Set(
      CASES.filter((c) => c.code === 406).map((c) => c.cause.replace(/^[^:]*: /, "")),
    );
    expect(causes.size).toBeGreaterThanOrEqual(12);
  });
});

describe("reply texts with quotes survive whole", () => {
  it.each([
    'PRECONDITION_FAILED - Invalid x-match field value <<"some">>; expected all, any, all-with-x, or any-with-x',
    `PRECONDITION_FAILED - invalid expiration '1.5': {leftover_string,".5"}`,
    `PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'q' in vhost '/': "unsupported queue type 'nope'"`,
    "NOT_FOUND - no queue 'say \"hi\"' in vhost '/'",
  ])("%s", (text) => {
    for (const prefix of ["Operation failed: QueueBind; ", "Channel closed by server: "]) {
      const code = Number(text.startsWith("NOT_FOUND") ? 404 : 406);
      expect(replyOf(amqplibError(prefix, code, text))).toEqual({ code, text });
    }
  });

  it("the code comes from amqplib's code field, not from the words of the message", () => {
    // A reply text that mentions another code must not change the classification.
    const e = amqplibError(
      "Channel closed by server: ",
      404,
      "NOT_FOUND - no queue '406 (PRECONDITION-FAILED) with message' in vhost '/'",
    );
    expect(replyOf(e)?.code).toBe(404);
    expect(brokerError(e, { op: "consume", queue: "x" }).code).toBe("not-found");
  });

  it("a reply that arrives only on the connection is used when the operation failed with 'Channel ended'", () => {
    const e = brokerError(new Error("Channel ended, no reply will be forthcoming"), undefined, {
      closeReason: undefined,
    });
    expect(e.code).toBe("connection");
    expect(e.message).toBe(
      "the connection to the broker was lost (Channel ended, no reply will be forthcoming)",
    );
  });

  it("passwords in a reply text are masked", () => {
    const e = brokerError(
      amqplibError(
        "Channel closed by server: ",
        404,
        "NOT_FOUND - no exchange 'amqp://bob:secret@host' in vhost '/'",
      ),
      { op: "publish", exchange: "x" },
    );
    expect(e.message).not.toContain("secret");
    expect(e.message).toContain("bob:***@host");
  });
});

describe("530 on connect: amqplib loses the reply, the vhost is still named", () => {
  it("connection.close in answer to connection.open is a vhost problem with the fix", () => {
    const address = parseBrokerUrl("amqp://guest:guest@127.0.0.1:5672/staging");
    const e = connectionError(
      new Error("Expected ConnectionOpenOk; got <ConnectionClose channel:0>"),
      address,
      5000,
    );
    expect(e.code).toBe("vhost");
    expect(e.message).toContain('cannot open vhost "staging"');
    expect(e.hint).toContain("rabbitmqctl add_vhost staging");
  });
});

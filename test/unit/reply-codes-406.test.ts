/**
 * The reply-code matrix for 406 PRECONDITION_FAILED, in each operation where it occurs: the
 * same code reads differently on a declare, a publish, a bind, a delete and a consume. The
 * cases' shapes and the test they go through are in reply-codes-matrix.ts.
 */
import { describe, expect, it } from "vitest";
import { BUG, type Case, codesOf, matrix, q } from "./reply-codes-matrix.js";

const CASES: Case[] = [
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
];

describe("406: cause, full reply and the hint that fixes it", () => {
  matrix(CASES);

  it("covers 406 only", () => {
    expect(codesOf(CASES)).toEqual([406]);
  });

  it("the cause depends on the operation: the same 406 reads differently on a declare, a publish and a delete", () => {
    const causes = new Set(CASES.map((c) => c.cause.replace(/^[^:]*: /, "")));
    expect(causes.size).toBeGreaterThanOrEqual(12);
  });
});

/**
 * The reply-code matrix: for every reply code a channel or connection close can bring (320, 403,
 * 404, 405, 406, 530, 541), in each operation where it can occur, the error names the cause,
 * ends with the broker's full reply, and carries the hint that fixes it. (312 NO_ROUTE comes
 * back as basic.return and produce counts it: test/helpers/reply-codes-suite.ts covers it.)
 *
 * The reply texts are RabbitMQ 3.10's, recorded from a live node (the conformance fixture holds
 * most of them); each error is shaped the way amqplib shapes it: a failed RPC, a channel closed
 * by the server, or a connection closed by the server while an operation was pending. This file
 * holds 320, 530 and 541; reply-codes-refused.test.ts 403, 404 and 405; reply-codes-406.test.ts
 * 406; reply-codes-matrix.ts the cases' shapes and the test they go through.
 */
import { describe, expect, it } from "vitest";
import { connectionError } from "../../src/client/connect.js";
import { brokerError, replyOf } from "../../src/client/errors.js";
import { parseBrokerUrl } from "../../src/client/url.js";
import { amqplibError, BUG, type Case, codesOf, matrix, q } from "./reply-codes-matrix.js";

const CASES: Case[] = [
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

describe("the reply-code matrix: cause, full reply and the hint that fixes it", () => {
  matrix(CASES);

  it("covers the codes that close the connection: 320, 530, 541", () => {
    expect(codesOf(CASES)).toEqual([320, 530, 541]);
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

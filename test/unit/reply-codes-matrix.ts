/**
 * The reply-code matrix, shared by the reply-codes*.test.ts files: brokerError fed errors shaped
 * the way amqplib raises them (a failed RPC, a channel closed by the server, or a connection
 * closed by the server while an operation was pending), and the test every case goes through:
 * the error names the cause and the objects, ends with the broker's full reply, and carries
 * the hint that fixes it.
 *
 * The reply texts are RabbitMQ 3.10's, recorded from a live node (the conformance fixture holds
 * most of them).
 */
import { expect, it } from "vitest";
import { brokerError, type Operation } from "../../src/client/errors.js";
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

export type Shape =
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

export function amqplibError(prefix: string, code: number, text: string): AmqplibError {
  const e = new Error(`${prefix}${code} (${NAMES[code]}) with message "${text}"`) as AmqplibError;
  e.code = code;
  e.classId = 0;
  e.methodId = 0;
  return e;
}

/** brokerError, fed an error the way amqplib raises it. */
export function refuse(shape: Shape, code: number, text: string, op: Operation | undefined) {
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

export interface Case {
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

export const LOCKED =
  "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'jobs' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.";
export const OWNED =
  "an exclusive queue belongs to the connection that declared it and goes away when that connection closes";
export const DEFAULT_X = "ACCESS_REFUSED - operation not permitted on the default exchange";
export const BUG = "this is a bug in eventlab; run again with --verbose and report it";

export const q = (queue: string) => ({ queue });

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

/** One test per case: cause, full reply, hint, and every name the operation is about. */
export function matrix(cases: readonly Case[]): void {
  it.each(cases.map((c) => [c.what, c] as const))("%s", (_, c) => {
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
}

/** The reply codes the cases cover, in order. */
export const codesOf = (cases: readonly Case[]): number[] =>
  [...new Set(cases.map((c) => c.code))].sort();

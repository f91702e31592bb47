/**
 * Errors the broker's model and protocol raise. Each carries an AMQP reply code and
 * RabbitMQ's reply text ("NOT_FOUND - no queue 'q' in vhost '/'"); whether it closes the
 * channel (soft) or the connection (hard) follows from the code, as in the spec. Only the
 * protocol layer turns one into channel.close or connection.close.
 */

export const REPLY = {
  CONNECTION_FORCED: 320,
  INVALID_PATH: 402,
  ACCESS_REFUSED: 403,
  NOT_FOUND: 404,
  RESOURCE_LOCKED: 405,
  PRECONDITION_FAILED: 406,
  FRAME_ERROR: 501,
  SYNTAX_ERROR: 502,
  COMMAND_INVALID: 503,
  CHANNEL_ERROR: 504,
  UNEXPECTED_FRAME: 505,
  RESOURCE_ERROR: 506,
  NOT_ALLOWED: 530,
  NOT_IMPLEMENTED: 540,
  INTERNAL_ERROR: 541,
} as const;

export type ReplyName = keyof typeof REPLY;

/** Codes that close only the channel; every other error code closes the connection. */
const SOFT = new Set<number>([311, 312, 313, 403, 404, 405, 406]);

const NAMES = new Map<number, string>(Object.entries(REPLY).map(([k, v]) => [v, k]));

export class AmqpError extends Error {
  readonly replyCode: number;
  /** The reply text as sent: "<NAME> - <detail>". */
  readonly replyText: string;
  readonly hard: boolean;
  constructor(replyCode: number, detail: string) {
    const name = NAMES.get(replyCode) ?? String(replyCode);
    super(`${name} - ${detail}`);
    this.name = "AmqpError";
    this.replyCode = replyCode;
    this.replyText = `${name} - ${detail}`.slice(0, 255);
    this.hard = !SOFT.has(replyCode);
  }
}

export const amqpError = (name: ReplyName, detail: string): AmqpError =>
  new AmqpError(REPLY[name], detail);

/** "queue 'q' in vhost '/'", the way RabbitMQ names a resource. */
export const resource = (kind: "queue" | "exchange", name: string, vhost = "/"): string =>
  `${kind} '${name}' in vhost '${vhost}'`;

export const notFound = (kind: "queue" | "exchange", name: string): AmqpError =>
  amqpError("NOT_FOUND", `no ${resource(kind, name)}`);

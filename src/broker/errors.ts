/**
 * Errors the broker's model and protocol raise. Each carries an AMQP reply code and
 * RabbitMQ's reply text ("NOT_FOUND - no queue 'q' in vhost '/'"); whether it closes the
 * channel (soft) or the connection (hard) follows from the code, as in the spec. Only the
 * protocol layer turns one into channel.close or connection.close.
 */

/**
 * Every AMQP 0-9-1 reply code by its name in the spec ("-" written "_"), for the broker and
 * for the client side that explains refusals. The spec test checks it against the spec file.
 */
export const REPLY = {
  REPLY_SUCCESS: 200,
  CONTENT_TOO_LARGE: 311,
  NO_ROUTE: 312,
  NO_CONSUMERS: 313,
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
export type ReplyCode = (typeof REPLY)[ReplyName];

/** Codes that close only the channel (the spec's soft errors); every other closes the connection. */
export const SOFT_ERRORS: ReadonlySet<number> = new Set<ReplyCode>([
  REPLY.CONTENT_TOO_LARGE,
  REPLY.NO_ROUTE,
  REPLY.NO_CONSUMERS,
  REPLY.ACCESS_REFUSED,
  REPLY.NOT_FOUND,
  REPLY.RESOURCE_LOCKED,
  REPLY.PRECONDITION_FAILED,
]);

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
    this.replyText = replyText(`${name} - ${detail}`);
    this.hard = !SOFT_ERRORS.has(replyCode);
  }
}

/**
 * A reply text fits a shortstr (255 bytes). As RabbitMQ does, a longer one is cut to 252 bytes
 * and "..." is added; the cut is made at a character boundary so the text stays valid UTF-8.
 */
export function replyText(text: string): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= 255) return text;
  let end = 252;
  // Back up over UTF-8 continuation bytes (10xxxxxx) to the start of a character.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return `${bytes.subarray(0, end).toString("utf8")}...`;
}

export const amqpError = (name: ReplyName, detail: string): AmqpError =>
  new AmqpError(REPLY[name], detail);

/** "queue 'q' in vhost '/'", the way RabbitMQ names a resource. */
export const resource = (kind: "queue" | "exchange", name: string, vhost = "/"): string =>
  `${kind} '${name}' in vhost '${vhost}'`;

export const notFound = (kind: "queue" | "exchange", name: string): AmqpError =>
  amqpError("NOT_FOUND", `no ${resource(kind, name)}`);

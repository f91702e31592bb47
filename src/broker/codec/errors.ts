/** AMQP reply codes the codec reports; all are connection-level (hard) errors. */
export const FRAME_ERROR = 501;
export const SYNTAX_ERROR = 502;
export const COMMAND_INVALID = 503;

export type CodecReplyCode = typeof FRAME_ERROR | typeof SYNTAX_ERROR | typeof COMMAND_INVALID;

/**
 * Malformed input from the wire. The codec never closes anything itself: the protocol layer
 * turns this into connection.close with `replyCode` and the message as reply text.
 */
export class CodecError extends Error {
  readonly replyCode: CodecReplyCode;
  constructor(replyCode: CodecReplyCode, message: string) {
    super(message);
    this.name = "CodecError";
    this.replyCode = replyCode;
  }
}

export const frameError = (message: string) => new CodecError(FRAME_ERROR, message);
export const syntaxError = (message: string) => new CodecError(SYNTAX_ERROR, message);

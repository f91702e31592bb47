/**
 * The connection handshake's rules, apart from the connection's state machine: what the
 * broker offers in connection.start, what it reads from the client's start-ok (features,
 * credentials for PLAIN and AMQPLAIN), and how tune-ok's limits are checked and settled.
 */
import {
  decodeTableBody,
  type FieldTable,
  type FieldValue,
  FRAME_MIN_SIZE,
  type MethodParams,
  tableField,
} from "../codec/index.js";
import { amqpError } from "../errors.js";

export interface ProtocolSettings {
  /** Largest frame offered in connection.tune, header and frame-end included. */
  frameMax: number;
  channelMax: number;
  /** Heartbeat offered in connection.tune, seconds; 0 offers none. */
  heartbeat: number;
  maxMessageSize: number;
  /** Time allowed from accept to connection.open-ok, ms. */
  handshakeTimeout: number;
  /** Delivery acknowledgement timeout (RabbitMQ's consumer_timeout), ms; false for none. */
  consumerTimeout: number | false;
  productVersion: string;
}

const CAPABILITIES: FieldTable = {
  publisher_confirms: true,
  exchange_exchange_bindings: true,
  "basic.nack": true,
  consumer_cancel_notify: true,
  "connection.blocked": true,
  consumer_priorities: true,
  authentication_failure_close: true,
  per_consumer_qos: true,
  direct_reply_to: false,
};

/** connection.start: who the broker is and the mechanisms it takes. */
export function startArgs(settings: ProtocolSettings): MethodParams["connection.start"] {
  return {
    versionMajor: 0,
    versionMinor: 9,
    serverProperties: {
      product: "eventlab embedded broker",
      version: settings.productVersion,
      platform: `Node.js ${process.version}`,
      copyright: "eventlab contributors",
      information: "An in-memory AMQP 0-9-1 broker for learning, demos and tests",
      capabilities: CAPABILITIES,
    },
    mechanisms: Buffer.from("PLAIN AMQPLAIN"),
    locales: Buffer.from("en_US"),
  };
}

function text(v: FieldValue | undefined): string {
  return typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("utf8") : "";
}

/** The optional notifications a client asks for in its capabilities. */
export interface ClientFeatures {
  /** basic.cancel when the queue of a consumer is deleted. */
  consumerCancelNotify: boolean;
  /** connection.blocked and unblocked around the memory alarm. */
  blockedNotify: boolean;
}

export function clientFeatures(clientProperties: FieldTable): ClientFeatures {
  const caps = tableField(clientProperties, "capabilities");
  return {
    consumerCancelNotify: tableField(caps, "consumer_cancel_notify") === true,
    blockedNotify: tableField(caps, "connection.blocked") === true,
  };
}

/** The user name and password of a start-ok; 503 for a mechanism the broker does not offer. */
export function credentials(
  mechanism: string,
  response: Buffer,
): { user: string; password: string } {
  if (mechanism === "PLAIN") {
    const parts = response.toString("utf8").split("\u0000");
    return { user: parts[1] ?? "", password: parts[2] ?? "" };
  }
  if (mechanism === "AMQPLAIN") {
    const t = decodeTableBody(response);
    return { user: text(tableField(t, "LOGIN")), password: text(tableField(t, "PASSWORD")) };
  }
  throw amqpError("COMMAND_INVALID", `unknown authentication mechanism '${mechanism}'`);
}

/**
 * The limits a connection runs with after tune-ok; 530 for values beyond what was offered,
 * with RabbitMQ's texts (rabbit_reader's validate_negotiated_integer_value). As RabbitMQ,
 * 0 ("no limit") for channel_max or frame_max is refused when the broker has a limit: it is
 * higher than any offer. Frame size is checked first, as RabbitMQ does.
 */
export function negotiate(
  tuneOk: MethodParams["connection.tune-ok"],
  s: ProtocolSettings,
): { channelMax: number; frameMax: number; heartbeat: number } {
  const { channelMax, frameMax, heartbeat } = tuneOk;
  checkNegotiated("frame_max", frameMax, FRAME_MIN_SIZE, s.frameMax);
  checkNegotiated("channel_max", channelMax, 1, s.channelMax);
  return {
    channelMax: channelMax === 0 ? s.channelMax : channelMax,
    frameMax: frameMax === 0 ? s.frameMax : frameMax,
    heartbeat,
  };
}

function checkNegotiated(field: string, value: number, min: number, max: number): void {
  const detail = field === "channel_max" && value === 0 ? " (no limit)" : "";
  if (value !== 0 && value < min) {
    throw amqpError(
      "NOT_ALLOWED",
      `negotiated ${field} = ${value}${detail} is lower than the minimum allowed value (${min})`,
    );
  }
  if (max !== 0 && (value === 0 || value > max)) {
    throw amqpError(
      "NOT_ALLOWED",
      `negotiated ${field} = ${value}${detail} is higher than the maximum allowed value (${max})`,
    );
  }
}

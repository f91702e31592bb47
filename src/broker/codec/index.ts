/**
 * The AMQP 0-9-1 wire codec of the embedded broker: frames (FrameReader, encode*Frame),
 * field tables (table.ts), methods and content headers (methods.ts) driven by one
 * declarative table (spec.ts), and the argument types derived from that table (params.ts). Malformed input throws CodecError with the reply code the
 * protocol layer puts in connection.close; misuse when encoding throws TypeError/RangeError.
 * Nothing here does I/O.
 */
export {
  COMMAND_INVALID,
  CodecError,
  type CodecReplyCode,
  FRAME_ERROR,
  SYNTAX_ERROR,
} from "./errors.js";
export {
  encodeBodyFrame,
  encodeFrame,
  encodeHeaderFrame,
  encodeMethodFrame,
  encodeMethodFrameByName,
  type Frame,
  FrameReader,
  type FrameReaderOptions,
  type FrameType,
  HEARTBEAT_FRAME,
  PROTOCOL_HEADER,
  type ReadEvent,
} from "./frames.js";
export {
  type ArgValue,
  type ContentHeader,
  type ContentHeaderInput,
  decodeContentHeader,
  decodeMethod,
  encodeContentHeader,
  encodeMethod,
  encodeMethodByName,
  type MethodArgs,
  methodSpec,
} from "./methods.js";
export type {
  ArgsParam,
  BasicProperties,
  ContentMethodName,
  DecodedMethod,
  DecodedTypes,
  EncodableTypes,
  MethodInput,
  MethodName,
  MethodOf,
  MethodParams,
} from "./params.js";
export {
  type AmqpType,
  type ArgSpec,
  BASIC_CLASS_ID,
  BASIC_PROPERTIES,
  BASIC_PROPERTY_NAMES,
  type BasicPropertyName,
  type BasicPropertyNames,
  type CamelCase,
  CLASSES,
  type ClassSpec,
  camelCase,
  DOMAINS,
  type Domain,
  FRAME_BODY,
  FRAME_END,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  FRAME_OVERHEAD,
  METHODS,
  type MethodSpec,
  methodById,
  methodByName,
  type PropertySpec,
} from "./spec.js";
export {
  Decimal,
  decodeTableBody,
  encodeTable,
  type FieldTable,
  type FieldValue,
  type NumericTag,
  Timestamp,
  Typed,
  tableField,
} from "./table.js";

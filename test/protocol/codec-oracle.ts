import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, whatever the working directory. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** RabbitMQ's machine-readable spec, kept beside the project (../shared/spec). */
export const specPath = path.resolve(repoRoot, "../shared/spec/amqp-rabbitmq-0.9.1.json");

/** The parts of the spec file the tests read. */
export interface JsonArg {
  name: string;
  type?: string;
  domain?: string;
  "default-value"?: unknown;
}
export interface JsonMethod {
  id: number;
  name: string;
  synchronous?: boolean;
  content?: boolean;
  arguments: JsonArg[];
}
export interface JsonClass {
  id: number;
  name: string;
  methods: JsonMethod[];
  properties?: { name: string; type: string }[];
}
export interface JsonSpec {
  domains: [string, string][];
  constants: { name: string; value: number; class?: string }[];
  classes: JsonClass[];
}

const require = createRequire(import.meta.url);
// amqplib's package exports hide lib/, so resolve its files by path. Used only as an oracle.
const amqplibDir = path.dirname(require.resolve("amqplib"));

export interface AmqplibDefs {
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  encodeProperties(
    id: number,
    channel: number,
    size: number,
    fields: Record<string, unknown>,
  ): Buffer;
  decode(id: number, buf: Buffer): Record<string, unknown>;
}
export interface AmqplibCodec {
  encodeTable(buf: Buffer, val: Record<string, unknown>, offset: number): number;
  decodeFields(slice: Buffer): Record<string, unknown>;
}

export const amqplibDefs = require(path.join(amqplibDir, "lib/defs.js")) as AmqplibDefs;
export const amqplibCodec = require(path.join(amqplibDir, "lib/codec.js")) as AmqplibCodec;

/** amqplib's encoding of a table, length prefix included. */
export function amqplibTable(val: Record<string, unknown>): Buffer {
  const buf = Buffer.alloc(1 << 16);
  const n = amqplibCodec.encodeTable(buf, val, 0);
  return Buffer.from(buf.subarray(0, n));
}

/** Small helpers shared by the codec tests. */
import { CodecError } from "../../src/broker/codec/index.js";

/** Bytes from hex text; white space is ignored. */
export const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

/** The CodecError that `fn` throws; fails the test if it throws nothing or something else. */
export function codecError(fn: () => unknown): CodecError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CodecError) return err;
    throw err;
  }
  throw new Error("expected a CodecError");
}

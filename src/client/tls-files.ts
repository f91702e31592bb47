/**
 * The PEM files of an amqps:// connection, read once, with errors that name the flag (or the
 * config field) and the path, and say what to do.
 */
import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { EventlabError, UsageError } from "../errors.js";
import type { TlsSettings } from "./connect.js";

/** A file to read, and where its path came from (`--ca`, `broker.tls.ca`) for messages. */
export interface PemSource {
  path: string;
  from: string;
}

export interface TlsChoice {
  ca?: PemSource | undefined;
  cert?: PemSource | undefined;
  key?: PemSource | undefined;
  passphrase?: string | undefined;
  servername?: string | undefined;
  insecure?: boolean | undefined;
}

/** Read the files of `choice`; relative paths are from `base`. */
export async function readTls(choice: TlsChoice, base: string): Promise<TlsSettings> {
  const read = async (source: PemSource | undefined): Promise<string | undefined> => {
    if (!source) return undefined;
    const path = isAbsolute(source.path) ? source.path : resolve(base, source.path);
    try {
      return await readFile(path, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new EventlabError("io", `cannot read ${source.from} ${source.path} (${code})`, {
        hint: `give the path of a PEM file to ${source.from}${isAbsolute(source.path) ? "" : ` (relative to ${base})`}`,
      });
    }
  };
  if ((choice.cert === undefined) !== (choice.key === undefined)) {
    const missing = choice.cert === undefined ? "--cert" : "--cert-key";
    throw new UsageError(
      "a client certificate needs both --cert and --cert-key",
      `add ${missing} (or broker.tls.${missing === "--cert" ? "cert" : "key"} in the config)`,
    );
  }
  const [ca, cert, key] = await Promise.all([read(choice.ca), read(choice.cert), read(choice.key)]);
  return {
    ca,
    cert,
    key,
    passphrase: choice.passphrase,
    servername: choice.servername,
    insecure: choice.insecure,
  };
}

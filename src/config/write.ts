/**
 * Writing a config file: the only file I/O of src/config besides load.ts. Reads the current
 * text (undefined when there is none), lets the caller compute the new text, and replaces the
 * file atomically (a temporary file renamed over it), so a failed write leaves the old file.
 */
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { EventlabError } from "../errors.js";

export async function readConfigIfAny(full: string, shown: string): Promise<string | undefined> {
  try {
    return await readFile(full, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw writeError(err, shown, "read");
  }
}

export async function writeConfigText(full: string, shown: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(full), `.${path.basename(full)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, text, "utf8");
    await rename(tmp, full);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw writeError(err, shown, "write");
  }
}

function writeError(err: unknown, shown: string, what: "read" | "write"): EventlabError {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return new EventlabError("io", `cannot ${what} config file ${shown} (${code})`, {
    hint:
      code === "EISDIR"
        ? "name a .yaml or .json file, not a directory"
        : "check that the directory exists and is writable",
    cause: err,
  });
}

/**
 * The data directory's lock: one broker per directory (a second one would corrupt the log),
 * held as a LOCK file with the process id; a file left by a process that is gone (a crash)
 * is taken over. And the words for a directory that cannot be used at all.
 */
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StoreError } from "./recover.js";

const LOCK = "LOCK";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A file-system error at start, in words that name the directory and the problem. */
export function storeError(dir: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const e = err as NodeJS.ErrnoException;
  const why =
    e.code === "EEXIST" || e.code === "ENOTDIR"
      ? "it is a file, not a directory"
      : e.code === "EACCES" || e.code === "EPERM"
        ? "permission denied"
        : e.code === "ENOSPC"
          ? "the disk is full"
          : e.message;
  return new StoreError(`cannot use data directory ${dir}: ${why}`);
}

/** One broker per directory: a second one would corrupt the log. */
export function lock(dir: string): void {
  const path = join(dir, LOCK);
  let holder: number | undefined;
  try {
    holder = Number(readFileSync(path, "utf8").trim());
  } catch {
    holder = undefined;
  }
  if (holder && holder !== process.pid && alive(holder)) {
    throw new StoreError(
      `data directory ${dir} is in use by process ${holder}: stop that broker, or give another directory`,
    );
  }
  writeFileSync(path, `${process.pid}\n`);
}

/** Give the directory back (a clean stop). */
export function unlock(dir: string): void {
  try {
    unlinkSync(join(dir, LOCK));
  } catch {
    // already gone
  }
}

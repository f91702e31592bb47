/**
 * A file a command writes for the user (--out, --junit, --csv, --html, schemas): its directory
 * made when missing, and an error that names the flag, the path and what went wrong.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Context } from "../../context.js";
import { EventlabError } from "../../errors.js";

/** Write `text` to `file` (relative to the working directory); `what` names it in errors. */
export async function writeOutputFile(
  ctx: Context,
  file: string,
  text: string,
  what = file,
): Promise<void> {
  const target = path.resolve(ctx.cwd, file);
  try {
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, text, "utf8");
  } catch (err) {
    throw new EventlabError(
      "io",
      `cannot write ${what} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      { hint: "give a path you may write to", cause: err },
    );
  }
}

/**
 * The presets shipped in config/presets/: complete configs for one scenario each, which
 * `eventlab init --preset` writes and `eventlab play <preset>` runs. Also where the
 * package's own directory is found, since the presets and the example config live there.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EventlabError, UsageError } from "../errors.js";

/** A preset shipped in config/presets/. */
export interface PresetInfo {
  name: string;
  /** The first line of the file's opening comment. */
  description: string;
}

/** The presets' directory, relative to the package directory. */
export const PRESETS_DIR = "config/presets";

/** The line that points an editor at the JSON Schema; not part of a preset's description. */
export const SCHEMA_MODELINE = /^# yaml-language-server: \$schema=.*$/m;

/**
 * The presets shipped in config/presets/, by name, each with the first line of its opening
 * comment (the yaml-language-server line and empty comment lines are skipped).
 */
export async function listPresets(root?: string): Promise<PresetInfo[]> {
  const dir = path.join(root ?? (await packageRoot()), PRESETS_DIR);
  let files: string[];
  try {
    files = await readdir(dir);
  } catch (err) {
    throw new EventlabError("internal", `cannot read eventlab's presets (${PRESETS_DIR})`, {
      hint: "reinstall eventlab; its config/presets/ directory holds the presets",
      cause: err,
    });
  }
  const names = files
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => f.slice(0, -".yaml".length))
    .sort();
  return Promise.all(
    names.map(async (name) => ({
      name,
      description: presetDescription(await readFile(path.join(dir, `${name}.yaml`), "utf8")),
    })),
  );
}

/** The first comment line of a preset that says something: its one-line description. */
export function presetDescription(text: string): string {
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith("#")) break;
    if (SCHEMA_MODELINE.test(line)) continue;
    const said = line.replace(/^#+\s*/, "").trim();
    if (said !== "") return said;
  }
  return "";
}

/** A preset's text; an unknown name is a usage error that names the presets there are. */
export async function readPreset(name: string, root?: string): Promise<string> {
  const base = root ?? (await packageRoot());
  const presets = await listPresets(base);
  // Only listed names are read, so a name cannot reach outside config/presets.
  if (!presets.some((p) => p.name === name)) {
    const known = presets.map((p) => p.name).join(", ");
    throw new UsageError(
      `unknown preset ${JSON.stringify(name)}; the presets are: ${known}`,
      "`eventlab init --list` says what each one shows",
    );
  }
  return readFile(path.join(base, PRESETS_DIR, `${name}.yaml`), "utf8");
}

/** eventlab's package directory: the nearest package.json named eventlab above this module. */
export async function packageRoot(from: string = import.meta.url): Promise<string> {
  let dir = path.dirname(fileURLToPath(from));
  for (let i = 0; i < 20; i++) {
    try {
      const pkg = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as {
        name?: unknown;
      };
      if (pkg.name === "eventlab") return dir;
    } catch {
      // no package.json here, or not readable: keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new EventlabError("internal", "cannot find eventlab's package directory", {
    hint: "reinstall eventlab; its config/ directory holds the starter config",
  });
}

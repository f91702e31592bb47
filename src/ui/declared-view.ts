/**
 * Printers for declared objects: what `declare` and `topology apply` did to each one, what
 * `topology apply --dry-run` would do, and how `topology diff` found each one on the broker.
 * Each returns one line (ending in a newline) of human text or, with json, one NDJSON object.
 * They get plain records (a kind, a name, a status, a settings record), never a channel.
 */
import type { Theme } from "./theme.js";

/** An object and the settings it was declared with (x- arguments under `arguments`). */
export interface Declared {
  kind: string;
  name: string;
  /** created, exists (the same settings were already there) or bound. */
  status: string;
  settings: Record<string, unknown>;
}

/** An object as `topology diff` found it on the broker. */
export interface Compared {
  kind: string;
  name: string;
  status: "same" | "missing" | "different" | "unchecked";
  differences?: Array<{ setting: string; config: string; broker: string }> | undefined;
  note?: string | undefined;
}

/** Settings shown to people: only what differs from the defaults, plus the type. */
export function describeSettings(settings: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(settings)) {
    if (k === "arguments" && v && typeof v === "object") {
      for (const [ak, av] of Object.entries(v))
        parts.push(`${ak}=${typeof av === "string" ? av : JSON.stringify(av)}`);
    } else if (v === true) parts.push(k === "autoDelete" ? "auto-delete" : k);
    else if (k === "durable" && v === false) parts.push("transient");
    else if (k === "type") parts.push(String(v));
  }
  return parts.join(", ");
}

function settingsSuffix(settings: Record<string, unknown>, theme: Theme): string {
  const details = describeSettings(settings);
  return details ? theme.dim(` (${details})`) : "";
}

/** `✓ created queue jobs (x-max-length=10)`, `• exchange orders already exists`, `✓ bound …`. */
export function declaredLine(r: Declared, json: boolean, theme: Theme): string {
  if (json)
    return `${JSON.stringify({ kind: r.kind, name: r.name, status: r.status, ...r.settings })}\n`;
  const suffix = settingsSuffix(r.settings, theme);
  if (r.status === "exists")
    return `${theme.dim("•")} ${r.kind} ${theme.bold(r.name)} already exists${suffix}\n`;
  if (r.status === "bound") return `${theme.ok("✓")} bound ${theme.bold(r.name)}${suffix}\n`;
  return `${theme.ok("✓")} created ${r.kind} ${theme.bold(r.name)}${suffix}\n`;
}

/** `○ would declare queue jobs (transient)`: an object of a dry run. */
export function plannedLine(p: Omit<Declared, "status">, json: boolean, theme: Theme): string {
  if (json) return `${JSON.stringify({ ...p, status: "planned" })}\n`;
  return `${theme.dim("○")} would declare ${p.kind} ${theme.bold(p.name)}${settingsSuffix(p.settings, theme)}\n`;
}

/** The last line of an apply: how many objects were created, already there, bound. */
export function appliedSummary(
  counts: { created: number; exists: number; bound: number },
  file: string | undefined,
  theme: Theme,
): string {
  const bindings = `${counts.bound} binding${counts.bound === 1 ? "" : "s"}`;
  return `${theme.ok("✓")} ${counts.created} created, ${counts.exists} already there, ${bindings} in place${file ? theme.dim(` (from ${file})`) : ""}\n`;
}

/** `✓ queue jobs`, `✗ exchange x  missing`, `≠ queue q  x-max-length: config 10, broker 20`. */
export function comparedLine(e: Compared, theme: Theme): string {
  const name = `${e.kind} ${theme.bold(e.name)}`;
  switch (e.status) {
    case "same":
      return `${theme.ok("✓")} ${name}\n`;
    case "missing":
      return `${theme.error("✗")} ${name}  ${theme.error("missing")}${e.note ? theme.dim(` (${e.note})`) : ""}\n`;
    case "unchecked":
      return `${theme.dim("?")} ${name}  ${theme.dim(`unchecked${e.note ? ` (${e.note})` : ""}`)}\n`;
    default:
      return `${theme.warn("≠")} ${name}  ${(e.differences ?? [])
        .map((d) => `${theme.key(d.setting)}: config ${d.config}, broker ${d.broker}`)
        .join("; ")}\n`;
  }
}

/** How many objects of a diff were found in each state. */
export type ComparedCounts = Record<Compared["status"], number>;

export function countCompared(entries: readonly Compared[]): ComparedCounts {
  const counts: ComparedCounts = { same: 0, missing: 0, different: 0, unchecked: 0 };
  for (const e of entries) counts[e.status] += 1;
  return counts;
}

/** The last line of a diff: `✗ 3 same, 1 missing, 0 different, 2 bindings unchecked (F against the broker)`. */
export function comparedSummary(
  counts: ComparedCounts,
  file: string | undefined,
  theme: Theme,
): string {
  const parts = [
    `${counts.same} same`,
    `${counts.missing} missing`,
    `${counts.different} different`,
    ...(counts.unchecked > 0
      ? [`${counts.unchecked} binding${counts.unchecked === 1 ? "" : "s"} unchecked`]
      : []),
  ];
  const ok = counts.missing === 0 && counts.different === 0;
  return `${ok ? theme.ok("✓") : theme.error("✗")} ${parts.join(", ")}${file ? theme.dim(` (${file} against the broker)`) : ""}\n`;
}

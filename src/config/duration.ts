/** Durations as people write them: `250ms`, `1.5s`, `2m`, `1h`, or a bare number of milliseconds. */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/;
/** The units a duration is written in, largest first (milliseconds stay a bare number). */
const WHOLE_UNITS = [
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
] as const;

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === "number") return Number.isFinite(input) && input >= 0 ? input : undefined;
  const m = DURATION.exec(input);
  if (!m) return undefined;
  const value = Number(m[1]) * (UNITS[m[2] ?? "ms"] ?? 1);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * 3600000 → "1h", 90000 → "90s": milliseconds in the largest unit that holds them whole, as a
 * person writes them in the config; undefined when no unit does (then the number is the way to
 * write it). parseDuration reads the text back as the same number.
 */
export function durationInUnits(ms: number): string | undefined {
  for (const [unit, size] of WHOLE_UNITS) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return undefined;
}

/** A duration as the config writes it: `1h`, `90s`, or `250ms` when no larger unit holds it whole. */
export function durationText(ms: number): string {
  return durationInUnits(ms) ?? `${ms}ms`;
}

export const DURATION_HINT = "a duration like 250ms, 1s, 2m or a number of milliseconds";

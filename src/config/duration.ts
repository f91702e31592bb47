/** Durations as people write them: `250ms`, `1.5s`, `2m`, `1h`, or a bare number of milliseconds. */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/;

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === "number") return Number.isFinite(input) && input >= 0 ? input : undefined;
  const m = DURATION.exec(input);
  if (!m) return undefined;
  const value = Number(m[1]) * (UNITS[m[2] ?? "ms"] ?? 1);
  return Number.isFinite(value) ? value : undefined;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${Math.round((ms % 60_000) / 1000)}s`;
}

export const DURATION_HINT = "a duration like 250ms, 1s, 2m or a number of milliseconds";

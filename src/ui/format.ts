/** Number and rate formatting for people. Knows nothing of AMQP. */

const grouped = new Intl.NumberFormat("en-US");

export function count(n: number): string {
  return grouped.format(n);
}

export function rate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return "–";
  return perSecond >= 100 ? grouped.format(Math.round(perSecond)) : perSecond.toFixed(1);
}

export function elapsed(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${((ms % 60_000) / 1000).toFixed(0)} s`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

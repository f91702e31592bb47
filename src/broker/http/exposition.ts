/**
 * A writer of Prometheus' text exposition format 0.0.4: metric families with their `# TYPE`
 * and `# HELP` lines (in that order, as rabbitmq_prometheus writes them), samples with
 * escaped label values, and histograms (cumulative `_bucket{le}` series ending in `+Inf`,
 * then `_sum` and `_count`). Shared by the broker's /metrics (metrics.ts) and the
 * playground's (lab/metrics.ts). Names are checked, since a bad one breaks the whole scrape.
 */

export type MetricType = "counter" | "gauge" | "histogram" | "untyped";

/** Label names to values, written in insertion order. */
export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

/** One labelled series of a histogram: counts per bucket (not cumulative), then the sum. */
export interface HistogramSeries {
  readonly labels?: Labels;
  /** counts[i] observations fell at or below bounds[i] and above bounds[i-1]; one more for +Inf. */
  readonly counts: readonly number[];
  readonly sum: number;
}

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** HELP text: backslash and newline escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A label value: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** A sample value as Go's ParseFloat reads it: +Inf, -Inf, NaN, or a plain number. */
export function formatValue(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "+Inf";
  if (n === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(n);
}

function labelText(labels: Labels | undefined, extra?: [string, string]): string {
  const parts: string[] = [];
  if (labels) {
    for (const [k, v] of Object.entries(labels)) {
      if (!LABEL_NAME.test(k) || k.startsWith("__")) throw new Error(`bad label name '${k}'`);
      parts.push(`${k}="${escapeLabelValue(v)}"`);
    }
  }
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

export class Exposition {
  private readonly lines: string[] = [];
  private readonly names = new Set<string>();

  private header(name: string, type: MetricType, help: string): void {
    if (!METRIC_NAME.test(name)) throw new Error(`bad metric name '${name}'`);
    if (this.names.has(name)) throw new Error(`metric family '${name}' written twice`);
    this.names.add(name);
    this.lines.push(`# TYPE ${name} ${type}`, `# HELP ${name} ${escapeHelp(help)}`);
  }

  /** A counter, gauge or untyped family and its samples (none is fine: the family is known). */
  family(name: string, type: Exclude<MetricType, "histogram">, help: string, samples: Sample[]) {
    this.header(name, type, help);
    for (const s of samples)
      this.lines.push(`${name}${labelText(s.labels)} ${formatValue(s.value)}`);
    return this;
  }

  /** A histogram over ascending upper `bounds` (+Inf is added); each series counts per bucket. */
  histogram(name: string, help: string, bounds: readonly number[], series: HistogramSeries[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!((bounds[i] as number) > (bounds[i - 1] as number)))
        throw new Error(`histogram '${name}': bounds must ascend`);
    }
    this.header(name, "histogram", help);
    for (const s of series) {
      if (s.counts.length !== bounds.length + 1) {
        throw new Error(
          `histogram '${name}': ${s.counts.length} counts for ${bounds.length} bounds`,
        );
      }
      if (s.labels && "le" in s.labels) throw new Error(`histogram '${name}': 'le' is reserved`);
      let cumulative = 0;
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += s.counts[i] as number;
        const le = i < bounds.length ? formatValue(bounds[i] as number) : "+Inf";
        this.lines.push(`${name}_bucket${labelText(s.labels, ["le", le])} ${cumulative}`);
      }
      const labels = labelText(s.labels);
      this.lines.push(`${name}_sum${labels} ${formatValue(s.sum)}`);
      this.lines.push(`${name}_count${labels} ${cumulative}`);
    }
    return this;
  }

  /** The exposition: every line ends in a newline. */
  text(): string {
    return this.lines.length === 0 ? "" : `${this.lines.join("\n")}\n`;
  }
}

/** Per-bucket counts for a histogram: `observe` finds the bucket by binary search. */
export class Buckets {
  readonly counts: number[];
  sum = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let lo = 0;
    let hi = this.bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (value <= (this.bounds[mid] as number)) hi = mid;
      else lo = mid + 1;
    }
    this.counts[lo] = (this.counts[lo] as number) + 1;
    this.sum += value;
  }

  get count(): number {
    let n = 0;
    for (const c of this.counts) n += c;
    return n;
  }
}

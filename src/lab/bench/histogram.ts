/**
 * HDR histograms of latencies in microseconds (hdr-histogram-js): recorded in each thread,
 * sent to the coordinator compressed once a second, and added up there.
 */
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from "hdr-histogram-js";

export type { Histogram };

export function newHistogram(): Histogram {
  return build({ bitBucketSize: 32, numberOfSignificantValueDigits: 3, autoResize: true });
}

/** The histogram compressed for another thread, or null when it holds nothing. */
export function encodeHistogram(h: Histogram): string | null {
  return h.totalCount === 0 ? null : encodeIntoCompressedBase64(h);
}

export function decodeHistogram(text: string): Histogram {
  return decodeFromCompressedBase64(text, 32);
}

/** Latency figures in milliseconds, as reports show them. */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p75: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

const ms = (us: number) => Math.round(us) / 1000;

export function summarize(h: Histogram): LatencySummary | null {
  if (h.totalCount === 0) return null;
  return {
    count: h.totalCount,
    min: ms(h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue),
    mean: ms(h.mean),
    p50: ms(h.getValueAtPercentile(50)),
    p75: ms(h.getValueAtPercentile(75)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
  };
}

/** The percentiles the percentile plot shows (x: percentile, y: milliseconds). */
export const PLOT_PERCENTILES = [
  0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100,
] as const;

export function percentileCurve(h: Histogram): Array<{ percentile: number; ms: number }> {
  if (h.totalCount === 0) return [];
  return PLOT_PERCENTILES.map((p) => ({
    percentile: p,
    ms: ms(p === 100 ? h.maxValue : h.getValueAtPercentile(p)),
  }));
}

/**
 * HDR histograms of latencies in microseconds (hdr-histogram-js), kept by the coordinator.
 * Client threads do not encode histograms: a compressed encoding takes 0.3 to 3 ms, a stall
 * that delays the messages behind it and shows in the latency it measures. They collect
 * the raw values (LatencySamples) and hand them over at each poll.
 */
import { build, type Histogram } from "hdr-histogram-js";

export type { Histogram };

/** The largest latency a sample holds, in µs (about 71 minutes): older backlogs read as this. */
export const MAX_SAMPLE_US = 0xffff_ffff;

/** Latencies (µs) recorded since the last take(): a growable array, one store per value. */
export class LatencySamples {
  private values = new Uint32Array(1024);
  private length = 0;

  record(us: number): void {
    if (this.length === this.values.length) {
      const grown = new Uint32Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    // A Uint32Array would keep only the low 32 bits of a larger value.
    this.values[this.length++] = Math.min(us, MAX_SAMPLE_US);
  }

  /** The values recorded since the last take (a copy), or null when there were none. */
  take(): Uint32Array | null {
    if (this.length === 0) return null;
    const out = this.values.slice(0, this.length);
    this.length = 0;
    return out;
  }
}

export function newHistogram(): Histogram {
  return build({ bitBucketSize: 32, numberOfSignificantValueDigits: 3, autoResize: true });
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

/**
 * Pacing for producers: a fixed delay between messages or a rate in messages per second.
 * Due times are absolute (start + i × interval), so timer lateness does not accumulate
 * and the achieved rate stays within a fraction of a percent of the asked one.
 */
export interface Pace {
  /** Milliseconds between consecutive messages; 0 means as fast as possible. */
  intervalMs: number;
}

export function paceOf(delayMs: number | undefined, rate: number | undefined): Pace {
  if (rate !== undefined && rate > 0) return { intervalMs: 1000 / rate };
  return { intervalMs: delayMs ?? 0 };
}

/** Resolve after `ms`, or at once when the signal aborts. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

export class Pacer {
  private start: number;

  constructor(
    private readonly pace: Pace,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.start = now();
  }

  /** The producer stood still for `ms` (a pause, a crash): later messages are due that much later. */
  shift(ms: number): void {
    this.start += ms;
  }

  /** Milliseconds to wait before message `index` (0-based) is due; 0 when it is due now. */
  waitFor(index: number): number {
    if (this.pace.intervalMs <= 0) return 0;
    return Math.max(0, this.start + index * this.pace.intervalMs - this.now());
  }
}

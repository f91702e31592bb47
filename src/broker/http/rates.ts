/**
 * Message rates for the management API's `*_details.rate` fields: counters are sampled once a
 * second (RabbitMQ samples every 5 s) and a rate is the change over the last interval, per
 * second. Counters nobody asks about cost nothing: only those read since the last sample are
 * kept.
 */
export class Rates {
  private previous = new Map<string, number>();
  private current = new Map<string, number>();
  private readonly rates = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private last = Date.now();

  constructor(
    /** Every counter's value now, by key ("queue:orders:publish", "totals:publish"). */
    private readonly read: () => Map<string, number>,
    intervalMs = 1000,
  ) {
    this.current = read();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    const now = Date.now();
    const seconds = (now - this.last) / 1000;
    this.last = now;
    this.previous = this.current;
    this.current = this.read();
    this.rates.clear();
    if (seconds <= 0) return;
    for (const [key, value] of this.current) {
      const before = this.previous.get(key);
      if (before !== undefined) this.rates.set(key, Math.max(0, (value - before) / seconds));
    }
  }

  /** Per second over the last interval; 0 for a counter not seen twice yet. */
  rate(key: string): number {
    return Math.round((this.rates.get(key) ?? 0) * 10) / 10;
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/**
 * A token bucket per key (tenant): `rate` tokens per second, up to `burst`. `take` answers at once:
 * allowed, or how long until a token is there (for `Retry-After`). Bounded: idle buckets (full again)
 * are dropped on the next sweep. Pure but for the clock.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number; rate: number; burst: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** 0 when a token was taken; else the milliseconds until one will be there. */
  take(key: string, rate: number, burst: number): number {
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: burst, at: now, rate, burst };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    b.rate = rate;
    b.burst = burst;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / rate) * 1000);
  }

  /** Drop buckets that have refilled: they hold nothing a new bucket would not. */
  sweep(): void {
    const now = this.now();
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * b.rate >= b.burst) this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}

/**
 * Counts requests in flight that are expected to end (POST and DELETE; GET streams are open-ended) so
 * that shutdown can wait for them, then close the streams.
 */
export class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];

  enter(): void {
    this.count++;
  }

  leave(): void {
    this.count--;
    if (this.count === 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }
  }

  get size(): number {
    return this.count;
  }

  /** Resolves when nothing is in flight (at once if nothing is). */
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

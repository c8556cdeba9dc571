import type { SessionRecord } from "./store.js";

interface Entry {
  record: SessionRecord;
  /** When the shared store last confirmed (and renewed) the session. */
  confirmedAt: number;
}

/**
 * What this process knows of a shared store's sessions (Redis, or the primary under `--workers`): a
 * session confirmed less than `refreshMs` ago is answered from here with no round trip; older ones are
 * asked again. Least recently confirmed first out beyond `size`.
 */
export class ConfirmedCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly refreshMs: number,
    private readonly size = 100_000,
  ) {}

  /** The record if confirmed within `refreshMs` (its `lastSeenAt` renewed), else undefined. */
  fresh(key: string, now: number): SessionRecord | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || now - entry.confirmedAt >= this.refreshMs) return undefined;
    entry.record.lastSeenAt = now;
    return entry.record;
  }

  /** The record whatever its age (for when the shared store cannot be asked). */
  held(key: string): SessionRecord | undefined {
    return this.entries.get(key)?.record;
  }

  remember(key: string, record: SessionRecord, now: number): void {
    this.entries.delete(key);
    this.entries.set(key, { record, confirmedAt: now });
    if (this.entries.size > this.size) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

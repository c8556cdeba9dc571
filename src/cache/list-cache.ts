/** One kept answer: the result's JSON without its `ttlMs`, and until when it is fresh. */
export interface CachedResult {
  /** `JSON.stringify(result minus ttlMs)` without its opening brace: `"tools":[...]}`, or `}`. */
  tail: string;
  expiresAt: number;
  bytes: number;
}

/**
 * The list-result cache: key → answer, least recently used first out, bounded by entries and bytes;
 * an entry past its TTL is never served and is dropped when met.
 */
export class ListCache {
  private readonly map = new Map<string, CachedResult>();
  private total = 0;
  /** The most recently used entry: a run of hits on it reorders nothing. */
  private newest: CachedResult | undefined;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): CachedResult | undefined {
    const entry = this.map.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.delete(key, entry);
      return undefined;
    }
    if (entry !== this.newest) {
      this.map.delete(key);
      this.map.set(key, entry);
      this.newest = entry;
    }
    return entry;
  }

  set(key: string, tail: string, ttlMs: number): void {
    const bytes = key.length + tail.length;
    if (bytes > this.maxBytes) return;
    const old = this.map.get(key);
    if (old) this.delete(key, old);
    this.newest = { tail, expiresAt: this.now() + ttlMs, bytes };
    this.map.set(key, this.newest);
    this.total += bytes;
    for (const [k, e] of this.map) {
      if (this.map.size <= this.maxEntries && this.total <= this.maxBytes) break;
      this.delete(k, e);
    }
  }

  private delete(key: string, entry: CachedResult): void {
    this.map.delete(key);
    this.total -= entry.bytes;
  }

  get entries(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.total;
  }
}

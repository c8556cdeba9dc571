import { hash } from "node:crypto";

/** A listed session's name: the hash a shared store keys it by (`redis-store.ts`), never the id. */
export function sessionName(sessionId: string): string {
  return hash("sha256", sessionId, "base64url");
}

/** The name of a revoked id: a hash of route and id together (a raw id is never kept). */
export function revocationKey(route: string, sessionId: string): string {
  return hash("sha256", `${route}\u0000${sessionId}`, "base64url");
}

/**
 * Revoked signed session ids, held in memory so that routing checks them with no round trip: name →
 * until when (epoch ms; after that the token has expired by itself and the entry is dropped). The list
 * is as long as the number of sessions deleted within `tokens.maxAge`, about 70 bytes each.
 */
export class Revocations {
  private readonly until = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  add(key: string, until: number): void {
    if (until > this.now() && (this.until.get(key) ?? 0) < until) this.until.set(key, until);
  }

  has(key: string): boolean {
    const until = this.until.get(key);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.until.delete(key);
    return false;
  }

  /** Whether this route's id is revoked (no hashing at all while the list is empty). */
  hasId(route: string, sessionId: string): boolean {
    return this.until.size > 0 && this.has(revocationKey(route, sessionId));
  }

  get size(): number {
    return this.until.size;
  }

  /** The revocations in force: key → until when. */
  live(): Array<[string, number]> {
    const now = this.now();
    return [...this.until].filter(([, until]) => until > now);
  }

  sweep(): void {
    const now = this.now();
    for (const [key, until] of this.until) if (until <= now) this.until.delete(key);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.until.clear();
  }
}

import { Revocations, revocationKey, sessionName } from "./revocations.js";
import type { ListedSession, RevokedSession, SessionRecord, SessionStore } from "./store.js";

/** Re-ordering the LRU on every hit costs; within this window a hit only updates the timestamp. */
const TOUCH_REORDER_MS = 1000;

/**
 * In-process session store: a Map kept in least-recently-used order, with a sliding idle TTL
 * (checked on read and swept in the background) and a cap on the number of sessions.
 */
export class MemorySessionStore implements SessionStore {
  private readonly map = new Map<string, SessionRecord>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly revocations: Revocations;

  constructor(private readonly options: { idleTtlMs: number; maxSessions: number; now?: () => number }) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(options.idleTtlMs, 60_000));
    this.sweeper.unref();
    this.revocations = new Revocations(() => this.now());
  }

  private now(): number {
    return this.options.now ? this.options.now() : Date.now();
  }

  private key(route: string, sessionId: string): string {
    return `${route}\u0000${sessionId}`;
  }

  async get(route: string, sessionId: string): Promise<SessionRecord | undefined> {
    return this.peek(route, sessionId);
  }

  peek(route: string, sessionId: string): SessionRecord | undefined {
    const key = this.key(route, sessionId);
    const record = this.map.get(key);
    if (!record) return undefined;
    const now = this.now();
    if (now - record.lastSeenAt >= this.options.idleTtlMs) {
      this.map.delete(key);
      return undefined;
    }
    if (now - record.lastSeenAt >= TOUCH_REORDER_MS) {
      this.map.delete(key);
      this.map.set(key, record);
    }
    record.lastSeenAt = now;
    return record;
  }

  async has(route: string, sessionId: string): Promise<boolean> {
    return this.peekLive(route, sessionId) !== undefined;
  }

  /** The record if the session is live, without renewing its idle TTL. */
  private peekLive(route: string, sessionId: string): SessionRecord | undefined {
    const record = this.map.get(this.key(route, sessionId));
    return record !== undefined && this.now() - record.lastSeenAt < this.options.idleTtlMs ? record : undefined;
  }

  async learn(route: string, sessionId: string, record: SessionRecord): Promise<boolean> {
    const key = this.key(route, sessionId);
    const existing = this.map.get(key);
    if (existing && this.now() - existing.lastSeenAt < this.options.idleTtlMs) return false;
    this.map.delete(key);
    this.map.set(key, { ...record, lastSeenAt: this.now() });
    while (this.map.size > this.options.maxSessions) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.map.delete(oldest.value);
    }
    return true;
  }

  async forget(route: string, sessionId: string): Promise<void> {
    this.map.delete(this.key(route, sessionId));
  }

  async revoke(route: string, sessionId: string, until: number): Promise<void> {
    this.revocations.add(revocationKey(route, sessionId), until);
  }

  async revokeKey(key: string, until: number): Promise<void> {
    this.revocations.add(key, until);
  }

  /** The revocations in force (for a worker that starts: `workers/shared-store.ts`). */
  revocationList(): Array<[string, number]> {
    return this.revocations.live();
  }

  isRevoked(route: string, sessionId: string): boolean {
    return this.revocations.hasId(route, sessionId);
  }

  async size(): Promise<number> {
    return this.map.size;
  }

  async reachable(): Promise<boolean> {
    return true;
  }

  async list(route: string | undefined, limit: number): Promise<{ sessions: ListedSession[]; truncated: boolean }> {
    const now = this.now();
    const sessions: ListedSession[] = [];
    // Most recently used last in the map: walked backwards.
    const entries = [...this.map].reverse();
    for (const [key, record] of entries) {
      if (now - record.lastSeenAt >= this.options.idleTtlMs) break;
      const [keyRoute, sid] = splitKey(key);
      if (route !== undefined && keyRoute !== route) continue;
      if (sessions.length === limit) return { sessions, truncated: true };
      sessions.push({ name: sessionName(sid), record: { ...record } });
    }
    return { sessions, truncated: false };
  }

  /** The id of the route's session named `name` (a scan: for operators). */
  findListed(route: string, name: string): string | undefined {
    for (const key of this.map.keys()) {
      const [keyRoute, sid] = splitKey(key);
      if (keyRoute === route && sessionName(sid) === name) return sid;
    }
    return undefined;
  }

  async revokeListed(route: string, name: string, until: number): Promise<RevokedSession | undefined> {
    const sid = this.findListed(route, name);
    return sid === undefined ? undefined : this.revokeId(route, sid, until);
  }

  /** Revoke the route's session `sid` (one `findListed` found): forgotten, and its id refused until `until`. */
  async revokeId(route: string, sid: string, until: number): Promise<RevokedSession | undefined> {
    const record = this.peekLive(route, sid);
    if (!record) return undefined;
    await this.forget(route, sid);
    await this.revoke(route, sid, until);
    return { revocation: revocationKey(route, sid), replica: record.replica };
  }

  /** Drop expired sessions; the map is in LRU order, so stop at the first live one. */
  sweep(): void {
    const now = this.now();
    for (const [key, record] of this.map) {
      if (now - record.lastSeenAt < this.options.idleTtlMs) break;
      this.map.delete(key);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.map.clear();
    this.revocations.close();
  }
}

function splitKey(key: string): [string, string] {
  const at = key.indexOf("\u0000");
  return [key.slice(0, at), key.slice(at + 1)];
}

import type { PrimaryChannel } from "../workers/ipc.js";
import { ConfirmedCache } from "./confirmed-cache.js";
import { Revocations, revocationKey } from "./revocations.js";
import type { ListedSession, RevokedSession, SessionRecord, SessionStore } from "./store.js";

/**
 * A worker's view of the gateway's embedded store, which the primary holds (`workers/shared-store.ts`):
 * the same design as the Redis store, with the primary in Redis' place. A session confirmed less than
 * `idleTtl / 10` (at most 10 s) ago is answered from this worker's memory, no question asked; older ones
 * are asked again (one IPC round trip, which also renews the TTL). A forget or a revocation is told to
 * every worker by the primary at once; revocations are all held in memory.
 */
export class WorkerSessionStore implements SessionStore {
  private readonly cache: ConfirmedCache;
  private readonly revocations = new Revocations();

  constructor(
    private readonly primary: PrimaryChannel,
    options: { idleTtlMs: number; cacheSize?: number },
  ) {
    this.cache = new ConfirmedCache(Math.min(options.idleTtlMs / 10, 10_000), options.cacheSize);
    primary.onTell((tell) => {
      if (tell.op === "store.forgotten") this.cache.delete(this.key(tell.route, tell.sid));
      else if (tell.op === "store.revoked") this.revocations.add(tell.key, tell.until);
    });
  }

  /** Load what the primary holds (revocations made before this worker started). */
  async start(): Promise<this> {
    for (const [key, until] of await this.primary.ask<Array<[string, number]>>({ op: "store.revocations" })) {
      this.revocations.add(key, until);
    }
    return this;
  }

  private key(route: string, sid: string): string {
    return `${route}\u0000${sid}`;
  }

  peek(route: string, sessionId: string): SessionRecord | undefined {
    return this.cache.fresh(this.key(route, sessionId), Date.now());
  }

  async get(route: string, sessionId: string): Promise<SessionRecord | undefined> {
    const held = this.peek(route, sessionId);
    if (held) return held;
    const key = this.key(route, sessionId);
    const record = await this.primary.ask<SessionRecord | null>({ op: "store.get", route, sid: sessionId });
    if (record === null) {
      this.cache.delete(key);
      return undefined;
    }
    this.cache.remember(key, record, Date.now());
    return record;
  }

  has(route: string, sessionId: string): Promise<boolean> {
    return this.primary.ask<boolean>({ op: "store.has", route, sid: sessionId });
  }

  async learn(route: string, sessionId: string, record: SessionRecord): Promise<boolean> {
    const stored = await this.primary.ask<boolean>({ op: "store.learn", route, sid: sessionId, record });
    if (stored) this.cache.remember(this.key(route, sessionId), { ...record, lastSeenAt: Date.now() }, Date.now());
    return stored;
  }

  async forget(route: string, sessionId: string): Promise<void> {
    this.cache.delete(this.key(route, sessionId));
    await this.primary.ask({ op: "store.forget", route, sid: sessionId });
  }

  revoke(route: string, sessionId: string, until: number): Promise<void> {
    return this.revokeKey(revocationKey(route, sessionId), until);
  }

  async revokeKey(key: string, until: number): Promise<void> {
    this.revocations.add(key, until);
    await this.primary.ask({ op: "store.revokeKey", key, until });
  }

  isRevoked(route: string, sessionId: string): boolean {
    return this.revocations.hasId(route, sessionId);
  }

  /** The primary answers: the store is there as long as the gateway is. */
  async reachable(): Promise<boolean> {
    return this.primary.ask<number>({ op: "store.size" }).then(
      () => true,
      () => false,
    );
  }

  size(): Promise<number> {
    return this.primary.ask<number>({ op: "store.size" });
  }

  list(route: string | undefined, limit: number): Promise<{ sessions: ListedSession[]; truncated: boolean }> {
    return this.primary.ask({ op: "store.list", route, limit });
  }

  async revokeListed(route: string, name: string, until: number): Promise<RevokedSession | undefined> {
    // The primary tells every worker (this one too) to forget the session and refuse its id.
    return (
      (await this.primary.ask<RevokedSession | null>({ op: "store.revokeListed", route, name, until })) ?? undefined
    );
  }

  async close(): Promise<void> {
    this.cache.clear();
    this.revocations.close();
  }
}

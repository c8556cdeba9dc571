/** One session of a tenant, as the admin API shows it. Never the session id itself. */
export interface LedgerEntry {
  /** A hash of route and session id (the name under which the session is revoked). */
  id: string;
  /** The tenant's server. */
  server: string;
  replica: string;
  /** `key:<key id>` or `jwt:<hash>`. */
  principal: string;
  era: "legacy" | "sse";
  createdAt: number;
  lastSeenAt: number;
}

/**
 * The sessions of each tenant: for the admin API (list, revoke) and for the `sessions` quota. A session
 * counts until it ends (DELETE, the upstream's 404, revoked) or stays unused for the idle TTL. Two
 * implementations: in memory (one gateway) and in Redis (all of them).
 */
export interface SessionLedger {
  add(tenant: string, entry: LedgerEntry): Promise<void>;
  /** The session was used just now (callers throttle: at most every tenth of the idle TTL). */
  touch(tenant: string, id: string): void;
  remove(tenant: string, id: string): Promise<void>;
  /** The tenant's live sessions. */
  list(tenant: string): Promise<LedgerEntry[]>;
  count(tenant: string): Promise<number>;
  close(): Promise<void>;
}

/** In memory, for a gateway on its own. */
export class MemorySessionLedger implements SessionLedger {
  private readonly tenants = new Map<string, Map<string, LedgerEntry>>();

  constructor(
    private readonly idleTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async add(tenant: string, entry: LedgerEntry): Promise<void> {
    const sessions = this.tenants.get(tenant) ?? new Map<string, LedgerEntry>();
    this.tenants.set(tenant, sessions);
    sessions.set(entry.id, entry);
  }

  touch(tenant: string, id: string): void {
    const entry = this.tenants.get(tenant)?.get(id);
    if (entry) entry.lastSeenAt = this.now();
  }

  async remove(tenant: string, id: string): Promise<void> {
    this.tenants.get(tenant)?.delete(id);
  }

  async list(tenant: string): Promise<LedgerEntry[]> {
    const sessions = this.tenants.get(tenant);
    if (!sessions) return [];
    const now = this.now();
    for (const [id, e] of sessions) if (now - e.lastSeenAt >= this.idleTtlMs) sessions.delete(id);
    if (sessions.size === 0) this.tenants.delete(tenant);
    return [...sessions.values()];
  }

  async count(tenant: string): Promise<number> {
    return (await this.list(tenant)).length;
  }

  async close(): Promise<void> {
    this.tenants.clear();
  }
}

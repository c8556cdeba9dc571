import { publish } from "../observability/events.js";
import { connectSoon, newRedisClient, type RedisClient, type RedisOptions } from "../redis/client.js";
import type { LedgerEntry, SessionLedger } from "./session-ledger.js";

/**
 * The tenants' sessions in Redis, shared by every gateway: one hash per tenant (`<prefix>ts:<tenant>`:
 * session hash → entry) and one of last uses (`<prefix>ts:<tenant>:seen`: session hash → epoch ms).
 * Entries idle past the TTL are dropped when the tenant's sessions are read. Renewals (throttled by the
 * caller) are written without waiting.
 */
export class RedisSessionLedger implements SessionLedger {
  private constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
    private readonly idleTtlMs: number,
  ) {}

  static async connect(options: RedisOptions, idleTtlMs: number): Promise<RedisSessionLedger> {
    const ledger = new RedisSessionLedger(newRedisClient(options), options.prefix ?? "swy:", idleTtlMs);
    await connectSoon(ledger.client.connect());
    return ledger;
  }

  private key(tenant: string): string {
    return `${this.prefix}ts:${tenant}`;
  }

  async add(tenant: string, entry: LedgerEntry): Promise<void> {
    await this.client.hSet(this.key(tenant), entry.id, JSON.stringify(entry));
  }

  touch(tenant: string, id: string): void {
    this.client
      .hSet(`${this.key(tenant)}:seen`, id, String(Date.now()))
      .catch((err: Error) => publish("fault", { where: "ledger", code: "SWY_STORE_ERROR", message: err.message }));
  }

  async remove(tenant: string, id: string): Promise<void> {
    // Two keys, two commands (in a Cluster they may live on different nodes): a renewal left behind is
    // dropped by `list`.
    const key = this.key(tenant);
    await Promise.all([this.client.hDel(key, id), this.client.hDel(`${key}:seen`, id)]);
  }

  async list(tenant: string): Promise<LedgerEntry[]> {
    const key = this.key(tenant);
    const [all, seen] = await Promise.all([this.client.hGetAll(key), this.client.hGetAll(`${key}:seen`)]);
    const now = Date.now();
    const live: LedgerEntry[] = [];
    const idle: string[] = [];
    for (const [id, text] of Object.entries(all)) {
      const entry = JSON.parse(String(text)) as LedgerEntry;
      entry.lastSeenAt = Math.max(entry.lastSeenAt, Number(seen[id] ?? 0));
      if (now - entry.lastSeenAt >= this.idleTtlMs) idle.push(id);
      else live.push(entry);
    }
    // Renewals that raced a removal leave a stray entry in the `seen` hash: dropped here.
    const stray = Object.keys(seen).filter((id) => !Object.hasOwn(all, id));
    await Promise.all([
      idle.length > 0 ? this.client.hDel(key, idle) : undefined,
      idle.length + stray.length > 0 ? this.client.hDel(`${key}:seen`, [...idle, ...stray]) : undefined,
    ]);
    return live;
  }

  async count(tenant: string): Promise<number> {
    return (await this.list(tenant)).length;
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close().catch(() => {});
  }
}

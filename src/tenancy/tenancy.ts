import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { SwitchyardError } from "../errors.js";
import { LocalSlots, type SlotCounter } from "../gateway/streams.js";
import { publish } from "../observability/events.js";
import type { RedisOptions } from "../redis/client.js";
import type { AddressPolicy } from "../security/address-policy.js";
import { revocationKey } from "../sessions/revocations.js";
import type { Resolver } from "../upstream/connector.js";
import type { UpstreamPool } from "../upstream/pool.js";
import type { ReplicaOptions } from "../upstream/replica.js";
import { Authenticator } from "./authenticate.js";
import { FileDocument } from "./file-document.js";
import { MemoryRateLimiter, type RateLimiter, RedisRateLimiter } from "./rate-limiter.js";
import { RedisDocument } from "./redis-document.js";
import { RedisSessionLedger } from "./redis-session-ledger.js";
import { emptyTenancy, type Quotas, TenantRegistry } from "./registry.js";
import { MemorySessionLedger, type SessionLedger } from "./session-ledger.js";
import { TenantPools } from "./tenant-pools.js";

/** Where the tenancy data lives: on local disk for one gateway, or in Redis for all of them. */
export interface TenancyParts {
  registry: TenantRegistry;
  ledger: SessionLedger;
  limiter: RateLimiter;
}

/** The embedded default: tenants in `admin.dataDir/tenants.json`, sessions and rates in memory. */
export function localTenancy(config: Config): TenancyParts {
  return {
    registry: new TenantRegistry(new FileDocument(join(config.admin.dataDir, "tenants.json"), emptyTenancy)),
    ledger: new MemorySessionLedger(config.sessions.idleTtl),
    limiter: new MemoryRateLimiter(),
  };
}

/** With a Redis store: tenants, their sessions and their rates shared by every gateway replica. */
export async function sharedTenancy(config: Config, redis: RedisOptions): Promise<TenancyParts> {
  const [document, ledger, limiter] = await Promise.all([
    RedisDocument.connect(redis, emptyTenancy),
    RedisSessionLedger.connect(redis, config.sessions.idleTtl),
    RedisRateLimiter.connect(redis),
  ]);
  return { registry: new TenantRegistry(document), ledger, limiter };
}

/**
 * Hosting for many tenants: who may call (keys, JWTs), which servers they reach (`/TENANT/NAME/mcp`,
 * guarded pools), how much they may use (quotas), and which sessions they hold.
 */
export class Tenancy {
  readonly registry: TenantRegistry;
  readonly ledger: SessionLedger;
  readonly limiter: RateLimiter;
  readonly pools: TenantPools;
  readonly auth: Authenticator;
  /** When this gateway last renewed each session in the ledger. */
  private readonly touched = new Map<string, number>();
  private readonly touchEveryMs: number;

  constructor(
    parts: TenancyParts,
    private config: Config,
    poolOptions: Omit<ReplicaOptions, "connections" | "guard"> & {
      policy: AddressPolicy;
      resolve?: Resolver | undefined;
    },
    private readonly slots: SlotCounter = new LocalSlots(),
  ) {
    this.registry = parts.registry;
    this.ledger = parts.ledger;
    this.limiter = parts.limiter;
    this.pools = new TenantPools(parts.registry, poolOptions);
    this.auth = new Authenticator(parts.registry, config.tenants.jwt);
    this.touchEveryMs = Math.min(config.sessions.idleTtl / 10, 60_000);
  }

  /** A reload: the operator's default quotas follow it (the admin API's own settings stay). */
  reconfigure(config: Config): void {
    this.config = config;
  }

  /** The tenant's quotas: its own where the admin API set them, the operator's defaults elsewhere. */
  quotas(tenant: string): Quotas {
    return { ...this.config.tenants.quotas, ...this.registry.get(tenant)?.quotas };
  }

  /** One request's worth of the tenant's rate, or 429 with `Retry-After` (a promise only for shared buckets). */
  takeRequest(tenant: string, quotas: Quotas): Promise<void> | undefined {
    const wait = this.limiter.take(tenant, quotas.rps, quotas.burst);
    if (typeof wait !== "number") return wait.then((ms) => this.admitAfter(ms));
    this.admitAfter(wait);
    return undefined;
  }

  private admitAfter(waitMs: number): void {
    if (waitMs > 0) throw this.refuse("SWY_RATE_LIMITED", "rps", Math.ceil(waitMs / 1000));
  }

  /** A new session, if the tenant's quota leaves room. */
  async admitSession(tenant: string, quotas: Quotas): Promise<void> {
    if ((await this.ledger.count(tenant)) >= quotas.sessions) {
      throw this.refuse("SWY_TENANT_SESSIONS_EXCEEDED", "sessions", 5);
    }
  }

  /** One of the tenant's long-lived streams on this gateway (counted by `slots`: every worker's). */
  async takeStream(tenant: string, quotas: Quotas): Promise<void> {
    // A quota of 0 refuses every stream (for the slot counter, 0 means unbounded).
    const taken = quotas.streams > 0 && (await this.slots.take(`tenant:${tenant}`, quotas.streams));
    if (!taken) throw this.refuse("SWY_TENANT_STREAMS_EXCEEDED", "streams", 5);
  }

  giveStream(tenant: string): void {
    this.slots.give(`tenant:${tenant}`);
  }

  private refuse(
    code: "SWY_RATE_LIMITED" | "SWY_TENANT_SESSIONS_EXCEEDED" | "SWY_TENANT_STREAMS_EXCEEDED",
    quota: string,
    retryAfter: number,
  ) {
    publish("quota", { quota });
    return new SwitchyardError(code, { headers: { "retry-after": String(Math.max(1, retryAfter)) } });
  }

  /** A tenant server's session began (learned, or an HTTP+SSE stream announced). */
  sessionOpened(
    pool: UpstreamPool,
    sessionId: string,
    replica: string,
    principal: string,
    era: "legacy" | "sse",
  ): Promise<void> {
    const tenant = pool.tenant as string;
    const now = Date.now();
    return this.ledger.add(tenant, {
      id: revocationKey(pool.name, sessionId),
      server: pool.name.slice(tenant.length + 1),
      replica,
      principal,
      era,
      createdAt: now,
      lastSeenAt: now,
    });
  }

  /**
   * A session of a tenant's server was used: renew it in the ledger, at most every tenth of the idle TTL
   * (the hot path pays one map lookup, not a hash and a write, on every request).
   */
  sessionUsed(pool: UpstreamPool, sessionId: string): void {
    const now = Date.now();
    const key = `${pool.name}\u0000${sessionId}`;
    if (now - (this.touched.get(key) ?? 0) < this.touchEveryMs) return;
    if (this.touched.size >= 100_000) this.touched.clear();
    this.touched.set(key, now);
    this.ledger.touch(pool.tenant as string, revocationKey(pool.name, sessionId));
  }

  /** A session of a tenant's server (route `TENANT/NAME`) ended. */
  sessionEnded(route: string, sessionId: string): Promise<void> {
    return this.ledger.remove(route.slice(0, route.indexOf("/")), revocationKey(route, sessionId));
  }

  async close(): Promise<void> {
    await Promise.all([this.pools.close(), this.ledger.close(), this.limiter.close(), this.registry.close()]);
  }
}

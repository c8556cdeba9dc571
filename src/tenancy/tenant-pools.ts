import { upstreamSchema } from "../config/schema.js";
import { type AddressPolicy, withAllowList } from "../security/address-policy.js";
import type { Resolver } from "../upstream/connector.js";
import { UpstreamPool } from "../upstream/pool.js";
import type { ReplicaOptions } from "../upstream/replica.js";
import type { TenantRegistry, TenantServer } from "./registry.js";

interface Built {
  pool: UpstreamPool;
  /** What the pool was built from: a change of any of it builds a new pool. */
  fingerprint: string;
  /** The registry's version it was last checked against (no check at all while nothing changed). */
  version: number;
}

/**
 * The upstream pools of tenant-registered servers (route `TENANT/NAME`), built on first use from the
 * registry and rebuilt when the server or the tenant's allowlist changes. Every one is guarded: the SSRF
 * policy (with the tenant's allowlist added) is checked at every connection, DNS pinned. Not actively
 * health-checked (a tenant's server is not the operator's to probe); a failed connection marks its
 * replica down until the cooldown passes.
 */
export class TenantPools {
  private readonly builtPools = new Map<string, Built>();
  /** Bumped on every change of the registry. */
  private version = 0;

  constructor(
    private readonly registry: TenantRegistry,
    private readonly options: Omit<ReplicaOptions, "connections" | "guard"> & {
      policy: AddressPolicy;
      resolve?: Resolver | undefined;
    },
  ) {
    registry.onChange(() => {
      this.version++;
      this.prune();
    });
  }

  /** The pool of the tenant's server, or undefined when it has none by that name. */
  get(tenant: string, name: string): UpstreamPool | undefined {
    const route = `${tenant}/${name}`;
    const existing = this.builtPools.get(route);
    if (existing?.version === this.version) return existing.pool;
    const server = this.registry.server(tenant, name);
    if (!server) return undefined;
    const allow = this.registry.get(tenant)?.allow ?? [];
    const fingerprint = JSON.stringify([server.url, server.transport, server.headers, allow]);
    if (existing?.fingerprint === fingerprint) {
      existing.version = this.version;
      return existing.pool;
    }
    if (existing) void existing.pool.close();
    const pool = this.build(route, tenant, server, allow);
    this.builtPools.set(route, { pool, fingerprint, version: this.version });
    return pool;
  }

  private build(route: string, tenant: string, server: TenantServer, allow: readonly string[]): UpstreamPool {
    const { policy, resolve, ...replicaOptions } = this.options;
    const config = upstreamSchema.parse({ replicas: [server.url], transport: server.transport, guard: true });
    return new UpstreamPool(
      route,
      config,
      {
        ...replicaOptions,
        guard: { policy: withAllowList(policy, allow), ...(resolve ? { resolve } : {}) },
      },
      { id: tenant, headers: server.headers },
    );
  }

  /** Close the pools of servers that are gone (deleted, or their tenant deleted). */
  private prune(): void {
    for (const [route, { pool }] of this.builtPools) {
      const slash = route.indexOf("/");
      if (!this.registry.server(route.slice(0, slash), route.slice(slash + 1))) {
        this.builtPools.delete(route);
        void pool.close();
      }
    }
  }

  /** Every pool built so far (for metrics and shutdown). */
  pools(): UpstreamPool[] {
    return [...this.builtPools.values()].map((b) => b.pool);
  }

  async close(): Promise<void> {
    await Promise.all(this.pools().map((p) => p.close()));
    this.builtPools.clear();
  }
}

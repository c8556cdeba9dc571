import { isDeepStrictEqual } from "node:util";
import { routeAuth, virtualAuth } from "../auth/route-auth.js";
import type { ListCache } from "../cache/list-cache.js";
import type { Config } from "../config/schema.js";
import { UpstreamInfoCache } from "../discovery/upstream-info.js";
import { VirtualServer } from "../federation/virtual-server.js";
import { type AddressPolicy, parseCidrs } from "../security/address-policy.js";
import { isLoopbackAddress, type OriginHostPolicy } from "../security/origin-host.js";
import type { SessionStore } from "../sessions/store.js";
import { TokenOpener } from "../sessions/token.js";
import type { Resolver } from "../upstream/connector.js";
import type { HealthChecker } from "../upstream/health.js";
import { UpstreamPool } from "../upstream/pool.js";
import type { Replica } from "../upstream/replica.js";
import { createListCache } from "./list-cache-stage.js";

/**
 * What one configuration builds: routes and their pools, policies, caches. A reload builds the next
 * snapshot beside the running one and swaps one reference; a request keeps the snapshot it started with.
 */
export interface Snapshot {
  readonly config: Config;
  readonly pools: ReadonlyMap<string, UpstreamPool>;
  /** Virtual servers (federation) by name: the other kind of route, served by the gateway itself. */
  readonly virtuals: ReadonlyMap<string, VirtualServer>;
  readonly policy: OriginHostPolicy;
  /** The shared list-result cache (`cache.enabled`). */
  readonly cache: ListCache | undefined;
  /** What the upstreams say about themselves, for the discovery documents (`discovery.enabled`). */
  readonly discovery: UpstreamInfoCache | undefined;
  /** What guarded connections may reach (`security.ssrf`). */
  readonly ssrf: AddressPolicy;
  /** Set with `affinity: token`: signed session ids instead of store lookups. */
  readonly tokens: { opener: TokenOpener; maxAgeMs: number } | undefined;
}

/** The listener's host (a loopback listener accepts loopback Hosts only), and DNS for guarded routes. */
export interface SnapshotContext {
  listenHost: string;
  resolve?: Resolver | undefined;
  health: HealthChecker;
  /** Where virtual servers keep their sessions. */
  store: SessionStore;
}

/**
 * Build the snapshot of `config`. With `previous`, what did not change is carried over: a route whose
 * options are the same keeps its pool (replicas, health, connections, DNS sources); a changed route's new
 * pool takes over the replicas it still names; an unchanged cache keeps its entries.
 */
export function buildSnapshot(config: Config, context: SnapshotContext, previous?: Snapshot): Snapshot {
  const ssrf = { allow: parseCidrs(config.security.ssrf.allow), deny: parseCidrs(config.security.ssrf.deny) };
  const options = {
    connectTimeoutMs: config.timeouts.upstreamConnect,
    headersTimeoutMs: config.timeouts.upstreamHeaders,
    guard: { policy: ssrf, ...(context.resolve ? { resolve: context.resolve } : {}) },
    healthChecks: config.health.enabled,
    resolver: {
      servers: config.resolver.servers,
      intervalMs: config.resolver.interval,
      removeAfterMs: config.resolver.removeAfter,
    },
  };
  // Pool options that are not the route's own: a change rebuilds every pool.
  const shared = (c: Config) => [
    c.timeouts.upstreamConnect,
    c.timeouts.upstreamHeaders,
    c.security.ssrf,
    c.resolver,
    c.health.enabled,
  ];
  const sameShared = previous !== undefined && isDeepStrictEqual(shared(previous.config), shared(config));
  const pools = new Map<string, UpstreamPool>();
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const old = previous?.pools.get(name);
    if (old && sameShared && isDeepStrictEqual(previous?.config.upstreams[name], upstream)) {
      pools.set(name, old);
      continue;
    }
    const inherit = new Map((old?.replicas ?? []).map((r) => [r.id, r]));
    const pool = new UpstreamPool(name, upstream, { ...options, inherit, auth: routeAuth(config, name) });
    pool.onJoin = (replica) => context.health.add(replica);
    pool.onGone = (replica) => context.health.remove(replica);
    pools.set(name, pool);
  }
  // A virtual server whose options and member pools stay is carried over (its catalog with it).
  const virtuals = new Map<string, VirtualServer>();
  for (const [name, v] of Object.entries(config.virtual)) {
    const old = previous?.virtuals.get(name);
    const auth = virtualAuth(config, name);
    const same =
      old !== undefined &&
      isDeepStrictEqual(previous?.config.virtual[name], v) &&
      isDeepStrictEqual(old.auth, auth) &&
      v.members.every((m) => previous?.pools.get(m) === pools.get(m));
    const options = { headersTimeoutMs: config.timeouts.upstreamHeaders, idleTtlMs: config.sessions.idleTtl, auth };
    virtuals.set(name, same ? old : new VirtualServer(name, v, pools, context.store, options));
  }
  const cache =
    previous && isDeepStrictEqual(previous.config.cache, config.cache) ? previous.cache : createListCache(config);
  return {
    config,
    pools,
    virtuals,
    policy: {
      loopbackListener: isLoopbackAddress(context.listenHost),
      allowedHosts: config.security.allowedHosts,
      allowedOrigins: config.security.allowedOrigins,
    },
    cache,
    discovery: config.discovery.enabled
      ? new UpstreamInfoCache(
          pools,
          (route) => config.upstreams[route]?.discovery.tools ?? false,
          config.discovery.refresh,
        )
      : undefined,
    ssrf,
    tokens:
      config.affinity === "token"
        ? {
            opener: new TokenOpener(
              config.tokens.keys.map((k) => ({ id: k.id, secret: Buffer.from(k.secret, "base64") })),
            ),
            maxAgeMs: config.tokens.maxAge,
          }
        : undefined,
  };
}

/** Every replica of a snapshot's pools. */
export function replicasOf(snapshot: Snapshot): Set<Replica> {
  return new Set([...snapshot.pools.values()].flatMap((p) => p.replicas));
}

/** The pools of `old` that `next` no longer uses (removed or rebuilt routes). */
export function retiredPools(old: Snapshot, next: Snapshot): UpstreamPool[] {
  const kept = new Set(next.pools.values());
  return [...old.pools.values()].filter((p) => !kept.has(p));
}

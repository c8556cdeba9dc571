import type { ListCache } from "../cache/list-cache.js";
import type { Config } from "../config/schema.js";
import type { UpstreamInfoCache } from "../discovery/upstream-info.js";
import type { Metrics } from "../observability/metrics.js";
import type { AddressPolicy } from "../security/address-policy.js";
import type { OriginHostPolicy } from "../security/origin-host.js";
import type { SessionStore } from "../sessions/store.js";
import type { TokenOpener } from "../sessions/token.js";
import type { Tenancy } from "../tenancy/tenancy.js";
import type { HealthChecker } from "../upstream/health.js";
import type { UpstreamPool } from "../upstream/pool.js";
import type { InFlight } from "./drain.js";
import type { StreamSlots } from "./streams.js";

/** What the stages share: configuration, routes, the session store, health. */
export interface GatewayState {
  readonly config: Config;
  readonly pools: ReadonlyMap<string, UpstreamPool>;
  readonly store: SessionStore;
  readonly health: HealthChecker;
  readonly policy: OriginHostPolicy;
  /** Requests that are expected to end (not GET streams), for graceful shutdown. */
  readonly inFlight: InFlight;
  /** Long-lived streams open, against `limits.maxStreams`. */
  readonly streams: StreamSlots;
  /** Diagnostic streams of `switchyard check` open at once (a few: the endpoint needs no credential). */
  readonly diagnosticStreams: StreamSlots;
  /** The shared list-result cache (`cache.enabled`). */
  readonly cache: ListCache | undefined;
  /** What the upstreams say about themselves, for the discovery documents (`discovery.enabled`). */
  readonly discovery: UpstreamInfoCache | undefined;
  /** What guarded connections may reach (`security.ssrf`). */
  readonly ssrf: AddressPolicy;
  /** Tenants, their keys, servers, quotas and sessions, when the admin API is enabled (`admin.token`). */
  readonly tenancy: Tenancy | undefined;
  /** Prometheus metrics (`metrics.enabled`). */
  readonly metrics: Metrics | undefined;
  /** Set with `affinity: token`: signed session ids instead of store lookups. */
  readonly tokens: { opener: TokenOpener; maxAgeMs: number } | undefined;
  draining: boolean;
}

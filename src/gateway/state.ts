import type { TokenExchanger } from "../auth/token-exchange.js";
import type { BearerVerifier } from "../auth/verifier.js";
import type { Metrics } from "../observability/metrics.js";
import type { TrafficWindow } from "../observability/traffic-window.js";
import type { SessionStore } from "../sessions/store.js";
import type { Tenancy } from "../tenancy/tenancy.js";
import type { HealthChecker } from "../upstream/health.js";
import type { OverviewPart } from "./admin-operator.js";
import type { ConfigHistory } from "./config-history.js";
import type { InFlight } from "./drain.js";
import type { Snapshot } from "./snapshot.js";
import type { StreamSlots } from "./streams.js";

/** What outlives a reload: the process's listener, store, counters and streams. */
export interface Runtime {
  readonly store: SessionStore;
  readonly health: HealthChecker;
  /** Requests that are expected to end (not GET streams), for graceful shutdown. */
  readonly inFlight: InFlight;
  /** Long-lived streams open, against `limits.maxStreams`. */
  readonly streams: StreamSlots;
  /** Diagnostic streams of `switchyard check` open at once (a few: the endpoint needs no credential). */
  readonly diagnosticStreams: StreamSlots;
  /** Tenants, their keys, servers, quotas and sessions, when the admin API is enabled (`admin.token`). */
  readonly tenancy: Tenancy | undefined;
  /** Prometheus metrics (`metrics.enabled`). */
  readonly metrics: Metrics | undefined;
  /** Bearer tokens of protected routes, verified and remembered. */
  readonly verifier: BearerVerifier;
  /** Upstream tokens obtained by token exchange, kept until they expire. */
  readonly exchanger: TokenExchanger;
  /** Requests and errors per route over the last minutes (the console's charts). */
  readonly traffic: TrafficWindow;
  /** How the overview is collected: this process's share, or (under `--workers`) every worker's. */
  readonly collect: { overview?: () => Promise<OverviewPart> };
  /** The public listener's base URL once it listens (`http://HOST:PORT`, the port it got). */
  readonly self: { base: string | undefined };
  /** When the configuration was loaded, and the last reload refused. */
  readonly history: ConfigHistory;
  /** Where the gateway is in its life: unready (SIGTERM, before draining), then draining. */
  readonly phase: { unready: boolean; draining: boolean };
}

/** What the stages share: one configuration's snapshot (routes, policies) and the runtime. */
export type GatewayState = Snapshot & Runtime;

import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { type ReplicaState, subscribe } from "./events.js";

/** What the metrics read when scraped, rather than counting events. */
export interface MetricSources {
  /** Open long-lived streams (GET streams, HTTP+SSE streams, subscriptions). */
  streams(): number;
  /** Entries and bytes held by the list-result cache. */
  cache(): { entries: number; bytes: number };
  /** Each replica's health and state in its pool: route, replica URL, healthy, state. */
  replicas(): Array<{ route: string; replica: string; healthy: boolean; state: ReplicaState }>;
  /** Sessions the session store holds (with Redis: counted at scrape time). */
  sessions(): Promise<number>;
}

/** Tenant servers (`TENANT/NAME`) count under one label: tenants come and go, labels must stay bounded. */
export function routeLabel(route: string | undefined): string {
  if (route === undefined) return "";
  return route.includes("/") ? "tenant" : route;
}

export interface Metrics {
  /**
   * One finished request. Called by the pipeline itself rather than through the `request` event: that
   * event's payload is built only when a log wants it, and counting must not pay for it.
   */
  requestDone(
    route: string | undefined,
    method: string,
    status: number,
    seconds: number,
    code: string | undefined,
    upstreamSeconds: number | undefined,
  ): void;
  /** Prometheus text exposition. */
  render(): Promise<string>;
  readonly contentType: string;
  detach(): void;
}

/**
 * Every metric of the gateway, in this one file, fed by the gateway's events and by `requestDone` (and
 * read from `sources` at scrape time). Labels are bounded: route names and replica URLs come from configuration
 * or DNS answers (a replica that left its pool is no longer reported), never from the request; unknown paths
 * count under the route "".
 */
export function createMetrics(sources: MetricSources): Metrics {
  const registry = new Registry();
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
    new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });
  const requests = counter("switchyard_requests_total", "Requests answered, by route, HTTP method and status.", [
    "route",
    "method",
    "status",
  ]);
  const duration = histogram(
    "switchyard_request_duration_seconds",
    "Time to the end of the response (streams included), by route.",
    ["route"],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
  );
  const refusals = counter("switchyard_refusals_total", "Requests the gateway refused itself, by SWY_* code.", [
    "code",
  ]);
  const sessions = counter("switchyard_sessions_total", "Session events: learned, forgotten, revoked.", [
    "route",
    "action",
  ]);
  const cacheLookups = counter(
    "switchyard_cache_lookups_total",
    "List-result cache lookups by route, method and result (hit, miss, bypass).",
    ["route", "method", "result"],
  );
  const faults = counter(
    "switchyard_faults_total",
    "Faults (upstream protocol errors, store errors, slow clients), by where and code.",
    ["where", "code"],
  );
  const upstream = histogram(
    "switchyard_upstream_duration_seconds",
    "Time from sending a request upstream to the upstream's response headers, by route.",
    ["route"],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
  );
  const storeDuration = histogram(
    "switchyard_store_duration_seconds",
    "Session store operations (get, learn, forget, revoke), by operation.",
    ["op"],
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
  );
  const storeErrors = counter(
    "switchyard_store_errors_total",
    "Session store operations that failed (Redis unreachable, timed out), by operation.",
    ["op"],
  );
  const ssrf = counter(
    "switchyard_ssrf_refusals_total",
    "SSRF refusals: tenant server URLs refused at registration, addresses refused at connect time.",
    ["stage"],
  );
  const quotas = counter(
    "switchyard_quota_rejections_total",
    "Requests refused by a tenant quota (rps, sessions, streams), by quota.",
    ["quota"],
  );
  const gauge = (name: string, help: string, read: () => number | Promise<number>) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(await Promise.resolve(read()).catch(() => Number.NaN));
      },
    });
  gauge("switchyard_sessions_active", "Sessions held by the session store.", sources.sessions);
  gauge(
    "switchyard_streams_open",
    "Long-lived streams open (GET streams, HTTP+SSE streams, subscriptions).",
    sources.streams,
  );
  gauge("switchyard_cache_entries", "Entries held by the list-result cache.", () => sources.cache().entries);
  gauge("switchyard_cache_bytes", "Bytes held by the list-result cache.", () => sources.cache().bytes);
  new Gauge({
    name: "switchyard_replica_healthy",
    help: "1 while a replica is healthy, 0 while it is down.",
    labelNames: ["route", "replica"] as const,
    registers: [registry],
    collect() {
      // Replicas come and go (DNS): one that left is no longer reported.
      this.reset();
      for (const r of sources.replicas()) this.set({ route: r.route, replica: r.replica }, r.healthy ? 1 : 0);
    },
  });
  new Gauge({
    name: "switchyard_replica_state",
    help: "1 for each replica's state in its pool: joining (being checked), serving, draining (left the DNS answer).",
    labelNames: ["route", "replica", "state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const r of sources.replicas()) this.set({ route: r.route, replica: r.replica, state: r.state }, 1);
    },
  });
  const resolutions = counter(
    "switchyard_dns_resolutions_total",
    "DNS resolutions of `dns+` replica entries, by route and outcome (ok, gone: NXDOMAIN or no records, failed: the resolver).",
    ["route", "outcome"],
  );
  const reloads = counter(
    "switchyard_config_reloads_total",
    "Configuration reloads (SIGHUP, --watch), by outcome: applied, or refused (the running configuration stays).",
    ["outcome"],
  );
  const membership = counter(
    "switchyard_replica_transitions_total",
    "Replicas entering a state in their pool (joining, serving, draining, gone), by route.",
    ["route", "state"],
  );

  const offs = [
    subscribe("session", (e) => sessions.inc({ route: routeLabel(e.route), action: e.action })),
    subscribe("cache", (e) => cacheLookups.inc({ route: routeLabel(e.route), method: e.method, result: e.result })),
    subscribe("fault", (e) => faults.inc({ where: e.where, code: e.code })),
    subscribe("store", (e) => {
      storeDuration.observe({ op: e.op }, e.durationMs / 1000);
      if (!e.ok) storeErrors.inc({ op: e.op });
    }),
    subscribe("ssrf", (e) => ssrf.inc({ stage: e.stage })),
    subscribe("quota", (e) => quotas.inc({ quota: e.quota })),
    subscribe("resolution", (e) => resolutions.inc({ route: routeLabel(e.route), outcome: e.outcome })),
    subscribe("config", (e) => reloads.inc({ outcome: e.outcome })),
    subscribe("membership", (e) => membership.inc({ route: routeLabel(e.route), state: e.state })),
  ];
  return {
    requestDone(r, method, status, seconds, code, upstreamSeconds) {
      const route = routeLabel(r);
      requests.inc({ route, method, status });
      duration.observe({ route }, seconds);
      if (upstreamSeconds !== undefined) upstream.observe({ route }, upstreamSeconds);
      if (code !== undefined) refusals.inc({ code });
    },
    render: () => registry.metrics(),
    contentType: registry.contentType,
    detach: () => {
      for (const off of offs) off();
    },
  };
}

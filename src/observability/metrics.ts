import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { subscribe } from "./events.js";

/** What the metrics read when scraped, rather than counting events. */
export interface MetricSources {
  /** Open long-lived streams (GET streams, HTTP+SSE streams, subscriptions). */
  streams(): number;
  /** Entries and bytes held by the list-result cache. */
  cache(): { entries: number; bytes: number };
  /** Each replica's health: route, replica URL, healthy. */
  replicas(): Array<{ route: string; replica: string; healthy: boolean }>;
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
 * read from `sources` at scrape time). Labels are bounded: route names and replica URLs come from configuration,
 * never from the request; unknown paths count under the route "".
 */
export function createMetrics(sources: MetricSources): Metrics {
  const registry = new Registry();
  const requests = new Counter({
    name: "switchyard_requests_total",
    help: "Requests answered, by route, HTTP method and status.",
    labelNames: ["route", "method", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "switchyard_request_duration_seconds",
    help: "Time to the end of the response (streams included), by route.",
    labelNames: ["route"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers: [registry],
  });
  const refusals = new Counter({
    name: "switchyard_refusals_total",
    help: "Requests the gateway refused itself, by SWY_* code.",
    labelNames: ["code"] as const,
    registers: [registry],
  });
  const sessions = new Counter({
    name: "switchyard_sessions_total",
    help: "Session events: learned, forgotten, revoked.",
    labelNames: ["route", "action"] as const,
    registers: [registry],
  });
  const cacheLookups = new Counter({
    name: "switchyard_cache_lookups_total",
    help: "List-result cache lookups by route, method and result (hit, miss, bypass).",
    labelNames: ["route", "method", "result"] as const,
    registers: [registry],
  });
  const faults = new Counter({
    name: "switchyard_faults_total",
    help: "Faults (upstream protocol errors, store errors, slow clients), by where and code.",
    labelNames: ["where", "code"] as const,
    registers: [registry],
  });
  const upstream = new Histogram({
    name: "switchyard_upstream_duration_seconds",
    help: "Time from sending a request upstream to the upstream's response headers, by route.",
    labelNames: ["route"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const storeDuration = new Histogram({
    name: "switchyard_store_duration_seconds",
    help: "Session store operations (get, learn, forget, revoke), by operation.",
    labelNames: ["op"] as const,
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
    registers: [registry],
  });
  const storeErrors = new Counter({
    name: "switchyard_store_errors_total",
    help: "Session store operations that failed (Redis unreachable, timed out), by operation.",
    labelNames: ["op"] as const,
    registers: [registry],
  });
  const ssrf = new Counter({
    name: "switchyard_ssrf_refusals_total",
    help: "SSRF refusals: tenant server URLs refused at registration, addresses refused at connect time.",
    labelNames: ["stage"] as const,
    registers: [registry],
  });
  const quotas = new Counter({
    name: "switchyard_quota_rejections_total",
    help: "Requests refused by a tenant quota (rps, sessions, streams), by quota.",
    labelNames: ["quota"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "switchyard_sessions_active",
    help: "Sessions held by the session store.",
    registers: [registry],
    async collect() {
      this.set(await sources.sessions().catch(() => Number.NaN));
    },
  });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
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
      for (const r of sources.replicas()) this.set({ route: r.route, replica: r.replica }, r.healthy ? 1 : 0);
    },
  });

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

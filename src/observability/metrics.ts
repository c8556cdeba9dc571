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

/**
 * A counter of the request path: a few map lookups per increment, read by prom-client only at scrape time
 * (prom-client's own counters hash their labels on every increment). Up to three labels, in order.
 */
class HotCounter {
  readonly type = "counter";
  readonly aggregator = "sum";
  private readonly root = new Map<string, Map<string, Map<string, { n: number }>>>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  inc(a: string, b = "", c = ""): void {
    let second = this.root.get(a);
    if (second === undefined) {
      second = new Map();
      this.root.set(a, second);
    }
    let third = second.get(b);
    if (third === undefined) {
      third = new Map();
      second.set(b, third);
    }
    const cell = third.get(c);
    if (cell === undefined) third.set(c, { n: 1 });
    else cell.n++;
  }

  get() {
    const values: Array<{ labels: Record<string, string>; value: number }> = [];
    const names = this.labelNames;
    for (const [a, second] of this.root) {
      for (const [b, third] of second) {
        for (const [c, cell] of third) {
          const labels: Record<string, string> = {};
          [a, b, c].forEach((v, i) => {
            if (i < names.length) labels[names[i] as string] = v;
          });
          values.push({ labels, value: cell.n });
        }
      }
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** A histogram of the request path with one label: an array write per observation, cumulated at scrape time. */
class HotHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly byLabel = new Map<string, { counts: Float64Array; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  observe(label: string, value: number): void {
    let h = this.byLabel.get(label);
    if (h === undefined) {
      h = { counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 };
      this.byLabel.set(label, h);
    }
    const buckets = this.buckets;
    let i = 0;
    while (i < buckets.length && value > (buckets[i] as number)) i++;
    h.counts[i] = (h.counts[i] as number) + 1;
    h.sum += value;
    h.count++;
  }

  get() {
    const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
    for (const [label, h] of this.byLabel) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += h.counts[i] as number;
        values.push({ metricName: `${this.name}_bucket`, labels: { [this.labelName]: label, le }, value: cumulative });
      });
      values.push({
        metricName: `${this.name}_bucket`,
        labels: { [this.labelName]: label, le: "+Inf" },
        value: h.count,
      });
      values.push({ metricName: `${this.name}_sum`, labels: { [this.labelName]: label }, value: h.sum });
      values.push({ metricName: `${this.name}_count`, labels: { [this.labelName]: label }, value: h.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** Tenant servers (`TENANT/NAME`) count under one label: tenants come and go, labels must stay bounded. */
export function routeLabel(route: string | undefined): string {
  if (route === undefined) return "";
  return route.includes("/") ? "tenant" : route;
}

/** The metrics as prom-client's JSON (what a worker hands its primary to sum with the others'). */
export type MetricsJson = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

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
  /**
   * Prometheus text exposition. Under `--workers` it is replaced by the whole gateway's
   * (`workers/gather.ts`).
   */
  render(): Promise<string>;
  /** This process's own metrics, as JSON. */
  json(): Promise<MetricsJson>;
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
  // Counted on every request: the hot kinds.
  const requests = new HotCounter(
    "switchyard_requests_total",
    "Requests answered, by route, HTTP method and status.",
    ["route", "method", "status"],
    registry,
  );
  const duration = new HotHistogram(
    "switchyard_request_duration_seconds",
    "Time to the end of the response (streams included), by route.",
    "route",
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registry,
  );
  const refusals = counter("switchyard_refusals_total", "Requests the gateway refused itself, by SWY_* code.", [
    "code",
  ]);
  const sessions = counter("switchyard_sessions_total", "Session events: learned, forgotten, revoked.", [
    "route",
    "action",
  ]);
  const cacheLookups = new HotCounter(
    "switchyard_cache_lookups_total",
    "List-result cache lookups by route, method and result (hit, miss, bypass).",
    ["route", "method", "result"],
    registry,
  );
  const faults = counter(
    "switchyard_faults_total",
    "Faults (upstream protocol errors, store errors, slow clients), by where and code.",
    ["where", "code"],
  );
  const upstream = new HotHistogram(
    "switchyard_upstream_duration_seconds",
    "Time from sending a request upstream to the upstream's response headers, by route.",
    "route",
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registry,
  );
  const storeDuration = histogram(
    "switchyard_store_duration_seconds",
    "Session store operations (get, learn, forget, revoke), by operation; a session held fresh in memory is answered without one.",
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
  // Across `--workers`: counters and histograms are summed; each gauge says how its values combine.
  const gauge = (name: string, help: string, read: () => number | Promise<number>, aggregator: "sum" | "first") =>
    new Gauge({
      name,
      help,
      aggregator,
      registers: [registry],
      async collect() {
        this.set(await Promise.resolve(read()).catch(() => Number.NaN));
      },
    });
  // The store is the gateway's (the workers ask their primary's): every worker reports the same count.
  gauge("switchyard_sessions_active", "Sessions held by the session store.", sources.sessions, "first");
  gauge(
    "switchyard_streams_open",
    "Long-lived streams open (GET streams, HTTP+SSE streams, subscriptions).",
    sources.streams,
    "sum",
  );
  gauge("switchyard_cache_entries", "Entries held by the list-result cache.", () => sources.cache().entries, "sum");
  gauge("switchyard_cache_bytes", "Bytes held by the list-result cache.", () => sources.cache().bytes, "sum");
  // Replica health is one view across workers (`workers/shared-replicas.ts`); `min`: down if any sees it down.
  new Gauge({
    name: "switchyard_replica_healthy",
    aggregator: "min",
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
    aggregator: "first",
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
    subscribe("cache", (e) => cacheLookups.inc(routeLabel(e.route), e.method, e.result)),
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
      requests.inc(route, method, String(status));
      duration.observe(route, seconds);
      if (upstreamSeconds !== undefined) upstream.observe(route, upstreamSeconds);
      if (code !== undefined) refusals.inc({ code });
    },
    render: () => registry.metrics(),
    json: () => registry.getMetricsAsJSON(),
    contentType: registry.contentType,
    detach: () => {
      for (const off of offs) off();
    },
  };
}

/** What `switchyard host`'s metrics read when scraped. */
export interface HostMetricSources {
  /** Processes running now, by what they serve (a session, the modern pool, the spare). */
  processes(): { session: number; pool: number; spare: number };
  /** Sessions open (legacy Streamable HTTP and HTTP+SSE). */
  sessions(): number;
}

/**
 * `switchyard host`'s metrics: its processes (running, started, crashed, start-up time) and its requests,
 * fed by the `process` events and `requestDone`. Labels are bounded (roles, methods, statuses).
 */
export function createHostMetrics(sources: HostMetricSources): Metrics {
  const registry = new Registry();
  const requests = new HotCounter(
    "switchyard_host_requests_total",
    "Requests answered, by HTTP method and status.",
    ["method", "status"],
    registry,
  );
  const refusals = new Counter({
    name: "switchyard_host_refusals_total",
    help: "Requests refused by host itself, by SWY_* code.",
    labelNames: ["code"] as const,
    registers: [registry],
  });
  const starts = new Counter({
    name: "switchyard_host_process_starts_total",
    help: "Processes started, by what they were started for (session, pool, spare).",
    labelNames: ["role"] as const,
    registers: [registry],
  });
  const exits = new Counter({
    name: "switchyard_host_process_exits_total",
    help: "Processes that exited, by role and how: ended (by host) or crashed (on their own).",
    labelNames: ["role", "how"] as const,
    registers: [registry],
  });
  const startup = new Histogram({
    name: "switchyard_host_process_startup_seconds",
    help: "Time from a process put to work (a new session, the pool) — or from its start, if later — to its first answer: what a new session waits.",
    labelNames: ["role"] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: "switchyard_host_processes",
    help: "Processes running, by role.",
    labelNames: ["role"] as const,
    registers: [registry],
    collect() {
      for (const [role, n] of Object.entries(sources.processes())) this.set({ role }, n);
    },
  });
  new Gauge({
    name: "switchyard_host_sessions_active",
    help: "Sessions open, each with its own process.",
    registers: [registry],
    collect() {
      this.set(sources.sessions());
    },
  });
  const off = subscribe("process", (e) => {
    if (e.event === "started") starts.inc({ role: e.role });
    else if (e.event === "exited") exits.inc({ role: e.role, how: e.crashed ? "crashed" : "ended" });
    else if (e.event === "ready" && e.startupMs !== undefined) startup.observe({ role: e.role }, e.startupMs / 1000);
  });
  return {
    requestDone(_route, method, status, _seconds, code) {
      requests.inc(method, String(status));
      if (code !== undefined) refusals.inc({ code });
    },
    render: () => registry.metrics(),
    json: () => registry.getMetricsAsJSON(),
    contentType: registry.contentType,
    detach: off,
  };
}

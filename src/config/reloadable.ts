import { isDeepStrictEqual } from "node:util";
import type { Config } from "./schema.js";

/**
 * Options that cannot change while the gateway runs: the listener, the session store, whether the admin
 * API, metrics and active health checks are on, the tenants' identity provider, the stream limit.
 * Everything else (routes, replicas, balancers, guards, discovery, resolver, quotas, cache, security
 * lists, timeouts, tokens) is applied by a reload.
 */
const FIXED: Array<[string, (c: Config) => unknown]> = [
  ["listen", (c) => c.listen],
  ["workers", (c) => c.workers],
  ["ops.listen", (c) => c.ops.listen],
  // The Redis password is read when connecting: a rotated one is not a change to refuse (it applies at
  // the next start), or a rotated mounted secret would make every later reload fail.
  [
    "store",
    (c) => ({
      ...c.store,
      password: undefined,
      passwordFile: undefined,
      sentinel: c.store.sentinel && { ...c.store.sentinel, password: undefined, passwordFile: undefined },
    }),
  ],
  ["sessions", (c) => c.sessions],
  ["admin.token (on or off)", (c) => c.admin.token === undefined],
  ["admin.dataDir", (c) => c.admin.dataDir],
  ["metrics.enabled", (c) => c.metrics.enabled],
  ["health.enabled", (c) => c.health.enabled],
  ["tenants.jwt", (c) => c.tenants.jwt],
  ["limits.maxStreams", (c) => c.limits.maxStreams],
  // The OpenTelemetry SDK is started once; its exporter's headers may rotate (read at the next start).
  [
    "tracing.otlp",
    (c) => (c.tracing.otlp ? { ...c.tracing.otlp, headers: undefined, headerFiles: undefined } : undefined),
  ],
];

/** The fixed options that `next` changes (pure): a reload that names any is refused. */
export function fixedChanges(current: Config, next: Config): string[] {
  return FIXED.filter(([, read]) => !isDeepStrictEqual(read(current), read(next))).map(([name]) => name);
}

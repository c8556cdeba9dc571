import { METADATA_PREFIX, resourceMetadata } from "../auth/metadata.js";
import { serveDiscovery } from "../discovery/serve.js";
import { SwitchyardError } from "../errors.js";
import { bearerMatches } from "../security/bearer.js";
import { serveAdmin } from "../tenancy/admin-api.js";
import { serveConsole } from "./console.js";
import type { RequestContext } from "./context.js";
import { serveDiagnostics } from "./diagnostics.js";
import { respondError, respondJson } from "./respond.js";
import type { GatewayState } from "./state.js";

/**
 * The gateway's own endpoints on its public listener: the discovery documents (`discovery/serve.ts`),
 * each protected route's resource metadata, the diagnostic stream of `switchyard check` when enabled,
 * `/healthz` (the process is alive) and `/readyz` (this gateway can serve, see `readiness`; in detail
 * only for an operator). Without an operations listener also the admin API and its console, and
 * `/metrics` — which names every replica's address, so on a listener that is not loopback only with
 * `metrics.token`. Neither touches sessions.
 */
export function serveOwnEndpoints(ctx: RequestContext, gw: GatewayState): boolean {
  if (ctx.path.startsWith(METADATA_PREFIX) && serveResourceMetadata(ctx, gw)) return true;
  if (serveDiscovery(ctx, gw)) return true;
  if (serveDiagnostics(ctx, gw)) return true;
  if (ctx.path === "/healthz") {
    respondJson(ctx, 200, { status: "ok" });
    return true;
  }
  // With an operations listener, the public one tells load balancers ready or not, and nothing more.
  const ops = gw.config.ops.listen !== undefined;
  if (ctx.path === "/readyz") {
    serveReadiness(ctx, gw, !ops && operator(ctx, gw));
    return true;
  }
  if (ops) return false;
  if (serveAdmin(ctx, gw)) return true;
  if (serveConsole(ctx, gw)) return true;
  // Metrics name every replica's address: on a public listener, only for the metrics token.
  if (ctx.path === "/metrics" && (gw.policy.loopbackListener || gw.config.metrics.token !== undefined)) {
    return serveMetrics(ctx, gw);
  }
  return false;
}

/**
 * The operations listener (`ops.listen`): `/healthz`, `/readyz` in detail, `/metrics`, the admin API and
 * its console. Anything else is 404 there.
 */
export function serveOpsEndpoints(ctx: RequestContext, gw: GatewayState): boolean {
  if (ctx.path === "/healthz") {
    respondJson(ctx, 200, { status: "ok" });
    return true;
  }
  if (ctx.path === "/readyz") {
    serveReadiness(ctx, gw, true);
    return true;
  }
  if (serveAdmin(ctx, gw)) return true;
  if (serveConsole(ctx, gw)) return true;
  if (ctx.path === "/metrics") return serveMetrics(ctx, gw);
  return false;
}

/** The console's own listener (`console.listen`): the console and the admin API it calls. */
export function serveConsoleEndpoints(ctx: RequestContext, gw: GatewayState): boolean {
  return serveAdmin(ctx, gw) || serveConsole(ctx, gw, true);
}

/** Whether the asker may see operational detail: on a loopback listener, or with the metrics token. */
function operator(ctx: RequestContext, gw: GatewayState): boolean {
  const token = gw.config.metrics.token;
  return gw.policy.loopbackListener || (token !== undefined && bearerMatches(ctx.req.headers.authorization, token));
}

/** `/readyz`: 200 or 503; with `detail`, why, and each route's healthy replicas. */
function serveReadiness(ctx: RequestContext, gw: GatewayState, detail: boolean): void {
  void readiness(gw).then(
    (ready) => respondJson(ctx, ready.status === "ready" ? 200 : 503, detail ? ready : { status: ready.status }),
    () => respondJson(ctx, 503, { status: "unready" }),
  );
}

function serveMetrics(ctx: RequestContext, gw: GatewayState): boolean {
  const metrics = gw.metrics;
  if (!metrics) return false;
  const token = gw.config.metrics.token;
  if (token !== undefined && !bearerMatches(ctx.req.headers.authorization, token)) {
    respondError(
      ctx,
      new SwitchyardError("SWY_METRICS_UNAUTHORIZED", {
        headers: { "www-authenticate": 'Bearer realm="switchyard-metrics"' },
      }),
    );
    return true;
  }
  metrics.render().then(
    (text) => {
      ctx.res.writeHead(200, { "content-type": metrics.contentType, "cache-control": "no-store" });
      ctx.res.end(text);
    },
    () => respondJson(ctx, 500, { status: "error" }),
  );
  return true;
}

/**
 * Whether this gateway can serve: its configuration is loaded, it is not shutting down (SIGTERM turns it
 * unready first), its session store answers, and each of `health.readyRoutes` has a healthy replica.
 * Other routes' replicas are reported, and do not decide: one dead pool must not take every gateway out
 * of its load balancer.
 */
async function readiness(gw: GatewayState) {
  const routes: Record<string, { healthy: number; replicas: number }> = {};
  for (const [name, pool] of gw.pools) {
    routes[name] = { healthy: pool.replicas.filter((r) => r.healthy).length, replicas: pool.replicas.length };
  }
  if (gw.phase.draining) return { status: "draining", routes };
  if (gw.phase.unready) return { status: "unready", reason: "shutting down", routes };
  const store = await gw.store.reachable();
  if (!store) return { status: "unready", reason: "session store unreachable", routes };
  const missing = gw.config.health.readyRoutes.filter((r) => (routes[r]?.healthy ?? 0) === 0);
  if (missing.length > 0) return { status: "unready", reason: `no healthy replica: ${missing.join(", ")}`, routes };
  return { status: "ready", routes };
}

/**
 * `GET /.well-known/oauth-protected-resource/NAME/mcp`: a protected route's metadata (RFC 9728), for
 * any origin (clients fetch it from browsers too); without a path, the host's one protected route's.
 */
function serveResourceMetadata(ctx: RequestContext, gw: GatewayState): boolean {
  const rest = ctx.path.slice(METADATA_PREFIX.length);
  // Routes of both kinds: proxied pools and virtual servers.
  const protectedRoutes = [...gw.pools.values(), ...gw.virtuals.values()].filter((r) => r.auth !== undefined);
  const route =
    rest === "" || rest === "/"
      ? protectedRoutes.length === 1
        ? protectedRoutes[0]
        : undefined
      : protectedRoutes.find((r) => rest === new URL(r.auth?.audience as string).pathname);
  if (!route?.auth) return false;
  if (ctx.req.method === "OPTIONS") {
    ctx.res.writeHead(204, {
      "access-control-allow-origin": "*",
      "access-control-allow-methods": "GET",
      "access-control-max-age": "86400",
    });
    ctx.res.end();
    return true;
  }
  respondJson(ctx, 200, resourceMetadata(route.auth), {
    "access-control-allow-origin": "*",
    "cache-control": "max-age=300",
  });
  return true;
}

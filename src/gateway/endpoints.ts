import { serveDiscovery } from "../discovery/serve.js";
import { SwitchyardError } from "../errors.js";
import { bearerMatches } from "../security/bearer.js";
import { serveAdmin } from "../tenancy/admin-api.js";
import type { RequestContext } from "./context.js";
import { serveDiagnostics } from "./diagnostics.js";
import { respondError, respondJson } from "./respond.js";
import type { GatewayState } from "./state.js";

/**
 * The gateway's own endpoints. `/healthz`: the process is alive. `/readyz`: every route has at least
 * one healthy replica (and the gateway is not draining). Neither touches sessions. `/metrics`:
 * Prometheus metrics. The discovery documents (`discovery/serve.ts`), the admin API, and the diagnostic
 * stream of `switchyard check` (`diagnostics.ts`).
 */
export function serveOwnEndpoints(ctx: RequestContext, gw: GatewayState): boolean {
  if (serveDiscovery(ctx, gw)) return true;
  if (serveAdmin(ctx, gw)) return true;
  if (serveDiagnostics(ctx, gw)) return true;
  if (ctx.path === "/healthz") {
    respondJson(ctx, 200, { status: "ok" });
    return true;
  }
  if (ctx.path === "/readyz") {
    const routes: Record<string, { healthy: number; replicas: number }> = {};
    let ready = !gw.phase.draining;
    for (const [name, pool] of gw.pools) {
      const healthy = pool.replicas.filter((r) => r.healthy).length;
      routes[name] = { healthy, replicas: pool.replicas.length };
      if (healthy === 0) ready = false;
    }
    respondJson(ctx, ready ? 200 : 503, {
      status: ready ? "ready" : gw.phase.draining ? "draining" : "unready",
      routes,
    });
    return true;
  }
  if (ctx.path === "/metrics" && gw.metrics) {
    const metrics = gw.metrics;
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
  return false;
}

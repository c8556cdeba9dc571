import { maskSecrets } from "../config/mask.js";
import { SwitchyardError } from "../errors.js";
import type { RequestContext } from "./context.js";
import { respondJson } from "./respond.js";
import type { GatewayState } from "./state.js";

/**
 * The admin API's view of the gateway itself, for operators and their console (`/admin/v1/config`,
 * `/admin/v1/overview`; GET, with the admin or the read-only token). True when `collection` is one.
 */
export function serveOperator(ctx: RequestContext, gw: GatewayState, collection: string): boolean {
  const serve = collection === "config" ? serveConfig : collection === "overview" ? serveOverview : undefined;
  if (!serve) return false;
  if ((ctx.req.method ?? "GET") !== "GET") {
    throw new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow: "GET" } });
  }
  serve(ctx, gw);
  return true;
}

/**
 * The running configuration with every secret masked, when it was loaded, and the last reload refused
 * (its trigger and errors), if any since.
 */
function serveConfig(ctx: RequestContext, gw: GatewayState): void {
  const { loadedAt, lastRefused } = gw.history;
  respondJson(ctx, 200, {
    config: maskSecrets(gw.config),
    loadedAt: new Date(loadedAt).toISOString(),
    lastRefused: lastRefused && { ...lastRefused, at: new Date(lastRefused.at).toISOString() },
  });
}

/**
 * What runs now: each route (and virtual server) with its replicas' state, health and requests in
 * flight, and its requests and errors (5xx) per 10 s over the last 15 minutes; the gateway's requests in
 * flight, open streams and sessions; where it is in its life.
 */
function serveOverview(ctx: RequestContext, gw: GatewayState): void {
  void gw.store.size().then(
    (sessions) => overview(ctx, gw, sessions),
    () => overview(ctx, gw, null),
  );
}

function overview(ctx: RequestContext, gw: GatewayState, sessions: number | null): void {
  const routes = [...gw.pools.values()].map((pool) => ({
    name: pool.name,
    kind: pool.tenant === undefined ? "route" : "tenant server",
    transport: pool.transport,
    replicas: pool.replicas.map((r) => ({ id: r.id, state: r.state, healthy: r.healthy, inFlight: r.inFlight })),
    traffic: gw.traffic.series(pool.name),
  }));
  const virtuals = [...gw.virtuals.values()].map((v) => ({
    name: v.name,
    kind: "virtual server",
    traffic: gw.traffic.series(v.name),
  }));
  respondJson(ctx, 200, {
    routes: [...routes, ...virtuals],
    inFlight: gw.inFlight.size,
    streams: gw.streams.size,
    sessions,
    phase: gw.phase,
    bucketSeconds: gw.traffic.bucketMs / 1000,
  });
}

import { maskSecrets } from "../config/mask.js";
import { SwitchyardError } from "../errors.js";
import type { RequestContext } from "./context.js";
import { respondError, respondJson } from "./respond.js";
import type { GatewayState } from "./state.js";

/**
 * The admin API's view of the gateway itself, for operators and their console (`/admin/v1/me`,
 * `/admin/v1/config`, `/admin/v1/overview`, `/admin/v1/check`; GET, with the admin or the read-only
 * token). True when `collection` is one.
 */
export function serveOperator(ctx: RequestContext, gw: GatewayState, collection: string, readOnly: boolean): boolean {
  const serve = Object.hasOwn(OPERATOR, collection) ? OPERATOR[collection] : undefined;
  if (!serve) return false;
  if ((ctx.req.method ?? "GET") !== "GET") {
    throw new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow: "GET" } });
  }
  serve(ctx, gw, readOnly);
  return true;
}

/** What the caller's token may do: the console shows the buttons that would work. */
function serveMe(ctx: RequestContext, _gw: GatewayState, readOnly: boolean): void {
  respondJson(ctx, 200, { access: readOnly ? "read" : "admin" });
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

/** A replica as the overview shows it. */
interface ReplicaView {
  id: string;
  state: string;
  healthy: boolean;
  inFlight: number;
}

/** A route (or virtual server) as the overview shows it. */
interface RouteView {
  name: string;
  kind: "route" | "tenant server" | "virtual server";
  transport?: string;
  replicas?: ReplicaView[];
  traffic: Array<{ at: number; requests: number; errors: number }>;
}

/** What one process holds of the overview (under `--workers`, one worker's share; `mergeOverviews` sums them). */
export interface OverviewPart {
  routes: RouteView[];
  inFlight: number;
  streams: number;
  phase: { unready: boolean; draining: boolean };
}

/** This process's share: its routes, replicas and traffic, its requests in flight and streams. */
export function localOverview(gw: GatewayState): OverviewPart {
  const routes: RouteView[] = [...gw.pools.values()].map((pool) => ({
    name: pool.name,
    kind: pool.tenant === undefined ? "route" : "tenant server",
    transport: pool.transport,
    replicas: pool.replicas.map((r) => ({ id: r.id, state: r.state, healthy: r.healthy, inFlight: r.inFlight })),
    traffic: gw.traffic.series(pool.name),
  }));
  for (const v of gw.virtuals.values()) {
    routes.push({ name: v.name, kind: "virtual server", traffic: gw.traffic.series(v.name) });
  }
  return { routes, inFlight: gw.inFlight.size, streams: gw.streams.size, phase: { ...gw.phase } };
}

/**
 * Every worker's share as one gateway (pure): traffic, requests in flight and streams summed; a replica
 * down if any worker sees it down; a route or replica only one worker knows yet is shown.
 */
export function mergeOverviews(parts: OverviewPart[]): OverviewPart {
  const routes = new Map<string, RouteView>();
  for (const part of parts) {
    for (const r of part.routes) {
      const held = routes.get(r.name);
      if (!held) {
        routes.set(r.name, structuredClone(r));
        continue;
      }
      // Every worker's buckets start on the same 10 s boundaries (one clock): summed by start time.
      const theirs = new Map(r.traffic.map((b) => [b.at, b]));
      held.traffic = held.traffic.map((b) => {
        const other = theirs.get(b.at);
        return other ? { at: b.at, requests: b.requests + other.requests, errors: b.errors + other.errors } : b;
      });
      for (const replica of r.replicas ?? []) {
        const same = held.replicas?.find((x) => x.id === replica.id);
        if (!same) held.replicas?.push({ ...replica });
        else {
          same.inFlight += replica.inFlight;
          same.healthy &&= replica.healthy;
        }
      }
    }
  }
  return {
    routes: [...routes.values()],
    inFlight: parts.reduce((n, p) => n + p.inFlight, 0),
    streams: parts.reduce((n, p) => n + p.streams, 0),
    phase: {
      unready: parts.some((p) => p.phase.unready),
      draining: parts.some((p) => p.phase.draining),
    },
  };
}

/**
 * What runs now: each route (and virtual server) with its replicas' state, health and requests in
 * flight, and its requests and errors (5xx) per 10 s over the last 15 minutes; the gateway's requests in
 * flight, open streams and sessions; where it is in its life. Under `--workers`, every worker's share.
 */
function serveOverview(ctx: RequestContext, gw: GatewayState): void {
  const part = gw.collect.overview?.() ?? Promise.resolve(localOverview(gw));
  Promise.all([part, gw.store.size().catch(() => null)]).then(
    ([overview, sessions]) =>
      respondJson(ctx, 200, { ...overview, sessions, bucketSeconds: gw.traffic.bucketMs / 1000, now: Date.now() }),
    (err: unknown) => respondError(ctx, new SwitchyardError("SWY_STORE_UNAVAILABLE", { cause: err })),
  );
}

/** One `switchyard check` at a time per gateway process (each is a dozen requests or more). */
let checking = false;

/**
 * `GET /admin/v1/check?route=NAME[&repeat=N]`: `switchyard check` run by the gateway against one of its
 * routes, through `publicUrl` when it is set (so the proxies in front are audited too), else its own
 * listener; the report as `switchyard check --json` prints it.
 */
function serveCheck(ctx: RequestContext, gw: GatewayState): void {
  const query = new URLSearchParams(ctx.query);
  const route = query.get("route") ?? "";
  if (!gw.pools.has(route) && !gw.virtuals.has(route)) {
    throw new SwitchyardError("SWY_ADMIN_NOT_FOUND", { detail: `no route ${route}` });
  }
  const repeat = Number(query.get("repeat") ?? "10");
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 50) {
    throw new SwitchyardError("SWY_ADMIN_INVALID", { detail: "repeat: 1 to 50" });
  }
  if (checking)
    throw new SwitchyardError("SWY_ADMIN_CONFLICT", { detail: "a check is running: try again when it ends" });
  checking = true;
  const url = `${selfBase(gw)}/${route.split("/").map(encodeURIComponent).join("/")}/mcp`;
  import("../doctor/check.js")
    .then(({ runCheck }) => runCheck(url, { repeat, idleMs: 0, headers: {}, timeoutMs: 10_000 }))
    .then(
      (report) => respondJson(ctx, 200, report),
      (err: unknown) => respondError(ctx, new SwitchyardError("SWY_ADMIN_INVALID", { cause: err })),
    )
    .finally(() => {
      checking = false;
    });
}

/** Where the gateway's routes are reached: `publicUrl`, else its own listener. */
function selfBase(gw: GatewayState): string {
  return (gw.config.publicUrl ?? gw.self.base ?? `http://${gw.config.listen}`).replace(/\/+$/, "");
}

const OPERATOR: Record<string, (ctx: RequestContext, gw: GatewayState, readOnly: boolean) => void> = {
  me: serveMe,
  config: serveConfig,
  overview: serveOverview,
  check: serveCheck,
};

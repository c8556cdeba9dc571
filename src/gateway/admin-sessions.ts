import { SwitchyardError } from "../errors.js";
import { publish } from "../observability/events.js";
import type { ListedSession } from "../sessions/store.js";
import type { RequestContext } from "./context.js";
import { respondJson } from "./respond.js";
import type { GatewayState } from "./state.js";

/** Sessions one listing shows at most (a scan of the store each time). */
const LIST_LIMIT = 500;

const methods = (allow: string) => new SwitchyardError("SWY_METHOD_NOT_ALLOWED", { headers: { allow } });

/**
 * The admin API's sessions, every route's (`/admin/v1/sessions`), as the session store holds them:
 *   GET /sessions[?route=NAME] — each named by a hash of its id, with its replica, age and idle time;
 *   DELETE /sessions/ROUTE/NAME — revoke one (ROUTE URL-encoded: a tenant's `t/server` is `t%2Fserver`);
 *   DELETE /sessions?route=NAME — revoke all of a route's.
 * A revoked session is forgotten by every gateway and its id refused: its client's next request gets 404
 * and it initializes again. Signed session ids (`sessions.affinity: token`) are held by no store: not listed.
 */
export async function serveSessions(ctx: RequestContext, gw: GatewayState, rest: string[]): Promise<void> {
  const method = ctx.req.method ?? "GET";
  const [route, name, ...more] = rest;
  if (more.length > 0) throw new SwitchyardError("SWY_ADMIN_NOT_FOUND");
  if (route !== undefined) {
    if (name === undefined) throw new SwitchyardError("SWY_ADMIN_NOT_FOUND");
    if (method !== "DELETE") throw methods("DELETE");
    if (!(await revoke(gw, route, name))) {
      throw new SwitchyardError("SWY_ADMIN_NOT_FOUND", { detail: `no session ${name} on ${route}` });
    }
    return respondJson(ctx, 200, { revoked: 1 });
  }
  const only = new URLSearchParams(ctx.query).get("route") ?? undefined;
  if (method === "GET") {
    const { sessions, truncated } = await gw.store.list(only, LIST_LIMIT);
    const now = Date.now();
    return respondJson(ctx, 200, {
      sessions: sessions.map((s) => view(s, now)),
      truncated,
      signedIds: gw.tokens !== undefined,
    });
  }
  if (method !== "DELETE") throw methods("GET, DELETE");
  if (only === undefined) {
    throw new SwitchyardError("SWY_ADMIN_INVALID", { detail: "route: whose sessions to revoke (?route=NAME)" });
  }
  // A listing at a time, until one comes back short (or a pass revokes nothing: the rest went meanwhile).
  let revoked = 0;
  for (;;) {
    const { sessions } = await gw.store.list(only, LIST_LIMIT);
    let pass = 0;
    for (const s of sessions) if (await revoke(gw, only, s.name)) pass++;
    revoked += pass;
    if (sessions.length < LIST_LIMIT || pass === 0) break;
  }
  return respondJson(ctx, 200, { revoked });
}

function view(s: ListedSession, now: number) {
  const r = s.record;
  return { route: r.route, id: s.name, replica: r.replica, principal: r.principal, ...sessionTimes(r, now) };
}

/** A session's transport, creation and age as the admin API shows them (every route's, or a tenant's). */
export function sessionTimes(s: { era: string; createdAt: number; lastSeenAt: number }, now: number) {
  return {
    transport: s.era === "sse" ? "sse" : "streamable-http",
    createdAt: new Date(s.createdAt).toISOString(),
    ageSeconds: Math.max(0, Math.floor((now - s.createdAt) / 1000)),
    idleSeconds: Math.max(0, Math.floor((now - s.lastSeenAt) / 1000)),
  };
}

/** How long a revocation lasts: past this, an id is refused anyway (idle past the TTL, or signed and too old). */
export function revokedUntil(gw: GatewayState): number {
  return Date.now() + Math.max(gw.config.sessions.idleTtl, gw.tokens?.maxAgeMs ?? 0);
}

/** Revoke one session; a tenant's leaves its quota too. False when the store holds no such session. */
async function revoke(gw: GatewayState, route: string, name: string): Promise<boolean> {
  const revoked = await gw.store.revokeListed(route, name, revokedUntil(gw));
  if (!revoked) return false;
  const tenant = gw.pools.get(route)?.tenant;
  if (tenant !== undefined && revoked.revocation !== undefined) {
    await gw.tenancy?.ledger.remove(tenant, revoked.revocation);
  }
  publish("session", {
    route,
    session: name.slice(0, 12),
    replica: revoked.replica,
    action: "revoked",
    reason: "admin",
  });
  return true;
}

import { SwitchyardError } from "../errors.js";
import { hasEnvelope, routingHeaderMismatch, targetName } from "../protocol/routing-headers.js";
import type { SessionRecord } from "../sessions/store.js";
import type { UpstreamPool } from "../upstream/pool.js";
import type { Replica } from "../upstream/replica.js";
import { ANONYMOUS, type RequestContext } from "./context.js";
import { forgetSession } from "./learn.js";
import type { GatewayState } from "./state.js";

export function storeUnavailable(cause: unknown): SwitchyardError {
  return new SwitchyardError("SWY_STORE_UNAVAILABLE", { headers: { "retry-after": "1" }, cause });
}

/** Retry-After for "no healthy replica": about one health-check interval. */
export function retryAfter(gw: GatewayState): Record<string, string> {
  return { "retry-after": String(Math.max(1, Math.ceil(gw.config.health.interval / 1000))) };
}

/**
 * A session → the replica that created it, or 404 (unknown, another principal's, or its replica gone:
 * never a silent move). No session → the balancer's pick among healthy replicas. Synchronous on the hot
 * paths (no session, a session held fresh in memory or signed, its replica serving): a promise only when
 * the store or DNS must be asked, or a replica checked.
 */
export function routeRequest(ctx: RequestContext, gw: GatewayState): Promise<void> | undefined {
  const pool = ctx.pool;
  const info = ctx.info;
  if (!pool || !info) throw new Error("routeRequest before matchRoute/classify");
  // The modern protocol (2026-07-28) has no sessions: balanced freely, no store on its path.
  const sid = info.era === "modern" && ctx.endpoint === "mcp" ? undefined : info.sessionId;
  if (sid !== undefined && gw.tokens) return routeSigned(ctx, gw, pool, sid, gw.tokens);
  if (sid !== undefined) {
    const held = gw.store.peek(pool.name, sid);
    if (held !== undefined) return routeSession(ctx, gw, pool, sid, held);
    // The store is asked: a round trip to its database is a span of its own when traced.
    const db = gw.store.dbSystem;
    const lookup =
      db === undefined
        ? undefined
        : ctx.trace?.child("session store get", { "db.system.name": db, "db.operation.name": "get" });
    return gw.store.get(pool.name, sid).then(
      (record) => {
        lookup?.end();
        return routeSession(ctx, gw, pool, sid, record);
      },
      (err: unknown) => {
        lookup?.fail("store_unavailable");
        // Redis unreachable (a failover under way): a shared pool's replicas still know their sessions.
        if (!theirsToAnswer(ctx, gw, pool, sid)) throw storeUnavailable(err);
        ctx.replica = sharedFallback(pool, gw, sid);
      },
    );
  }
  const target = info.era === "modern" && pool.toolRoutes.size > 0 ? toolRoute(ctx, gw) : undefined;
  if (target) ctx.pool = target;
  const replica = (target ?? pool).pick();
  if (!replica) throw new SwitchyardError("SWY_NO_HEALTHY_UPSTREAM", { headers: retryAfter(gw) });
  ctx.replica = replica;
  return undefined;
}

/** Signed session id: everything routing needs is in the token; the store's revocations are in memory. */
function routeSigned(
  ctx: RequestContext,
  gw: GatewayState,
  pool: UpstreamPool,
  sid: string,
  tokens: NonNullable<GatewayState["tokens"]>,
): Promise<void> | undefined {
  const claims = tokens.opener.open(sid, pool.name, ctx.principal);
  const createdAt = (claims?.createdAt ?? 0) * 1000;
  if (!claims || Date.now() - createdAt > tokens.maxAgeMs || gw.store.isRevoked(pool.name, sid)) {
    throw new SwitchyardError("SWY_SESSION_NOT_FOUND");
  }
  if (pool.tenant !== undefined) gw.tenancy?.sessionUsed(pool, sid);
  const place = (replica: Replica | undefined) => {
    // The token dates the session to the second (its end, to be safe): a replica that fell within the
    // session's first second is not seen here, and then answers 404 itself.
    ctx.replica = replica?.holds(createdAt + 999) ? replica : sharedFallback(pool, gw, claims.upstreamSessionId);
    // An HTTP+SSE session's token carries the message path the replica announced, in the same place.
    if (ctx.endpoint === "messages") ctx.upstreamPath = claims.upstreamSessionId;
    else ctx.upstreamSessionId = claims.upstreamSessionId;
  };
  const found = pool.byTokenHash(claims.replica);
  if (found?.state === "serving") {
    place(found);
    return undefined;
  }
  return known(pool, gw, found, (p) => p.byTokenHash(claims.replica)).then(place);
}

/** A session as the store knows it (or not) → its replica, or the refusal. */
function routeSession(
  ctx: RequestContext,
  gw: GatewayState,
  pool: UpstreamPool,
  sid: string,
  record: SessionRecord | undefined,
): Promise<void> | undefined {
  // A shared pool's replicas know their sessions (and the hint names the owner): a session this
  // gateway never saw (its memory store restarted, or another gateway's) is theirs to answer — when
  // there is no principal to bind it to.
  if (!record && theirsToAnswer(ctx, gw, pool, sid)) {
    ctx.replica = sharedFallback(pool, gw, sid);
    return undefined;
  }
  // Revoked sessions (an admin revokes by hash, never holding the id) are refused like unknown ones;
  // the check hashes nothing while nothing is revoked.
  if (
    !record ||
    record.principal !== ctx.principal ||
    (record.era === "sse") !== (ctx.endpoint === "messages") ||
    gw.store.isRevoked(pool.name, sid)
  ) {
    throw new SwitchyardError("SWY_SESSION_NOT_FOUND");
  }
  if (pool.tenant !== undefined) gw.tenancy?.sessionUsed(pool, sid);
  if (ctx.trace) ctx.trace.sessionCreatedAt = record.createdAt;
  const place = (replica: Replica | undefined): Promise<void> | undefined => {
    if (!replica?.holds(record.createdAt) && !pool.sharedSessions) {
      return forgetSession(gw, pool.name, sid, record.replica, "replica gone")
        .catch(() => {})
        .then(() => {
          throw new SwitchyardError("SWY_SESSION_REPLICA_GONE");
        });
    }
    ctx.replica = replica?.holds(record.createdAt) ? replica : sharedFallback(pool, gw, sid);
    ctx.upstreamPath = record.endpoint;
    return undefined;
  };
  const found = pool.get(record.replica);
  if (found?.state === "serving") return place(found);
  return known(pool, gw, found, (p) => p.get(record.replica)).then(place);
}

/**
 * A session's replica (`found`, not serving), as this gateway knows it. One it has not resolved yet
 * (another gateway saw it join first) is looked up in DNS again before the session is refused; one still
 * joining is checked now.
 */
async function known(
  pool: UpstreamPool,
  gw: GatewayState,
  found: Replica | undefined,
  find: (pool: UpstreamPool) => Replica | undefined,
): Promise<Replica | undefined> {
  let replica = found;
  if (!replica && pool.discovers) {
    await pool.refresh();
    replica = find(pool);
  }
  if (replica?.state === "joining") await gw.health.checkNow(replica);
  return replica;
}

/** A session of a shared pool, bound to no principal, not revoked: its replicas can answer it. */
function theirsToAnswer(ctx: RequestContext, gw: GatewayState, pool: UpstreamPool, sid: string): boolean {
  return (
    pool.sharedSessions && ctx.principal === ANONYMOUS && ctx.endpoint === "mcp" && !gw.store.isRevoked(pool.name, sid)
  );
}

/**
 * The session's replica is gone (or unknown here). With `sessions: shared` its replicas share session
 * state: the node its id names, else another healthy one serves it (and takes it over). Otherwise: 404,
 * the client re-initializes.
 */
function sharedFallback(pool: UpstreamPool, gw: GatewayState, upstreamSessionId: string): Replica {
  if (!pool.sharedSessions) throw new SwitchyardError("SWY_SESSION_REPLICA_GONE");
  const other = pool.forSharedSession(upstreamSessionId);
  if (!other) throw new SwitchyardError("SWY_NO_HEALTHY_UPSTREAM", { headers: retryAfter(gw) });
  return other;
}

/**
 * A modern `tools/call` of a tool that `toolRoutes` sends elsewhere → that route's pool. The gateway
 * acts on `Mcp-Name` here, so the routing headers must match the body first (else 400, -32020).
 */
function toolRoute(ctx: RequestContext, gw: GatewayState): UpstreamPool | undefined {
  const message = ctx.messages[0];
  if (!message || ctx.messages.length !== 1 || message.method !== "tools/call") return undefined;
  const name = targetName(message);
  const to = name === undefined ? undefined : ctx.pool?.toolRoutes.get(name);
  if (to === undefined || !hasEnvelope(message)) return undefined;
  const mismatch = routingHeaderMismatch(ctx.req.headers, message);
  if (mismatch !== undefined) throw new SwitchyardError("SWY_HEADER_MISMATCH", { detail: mismatch });
  return gw.pools.get(to);
}

import { publish } from "../observability/events.js";
import { hashId } from "../observability/hash.js";
import { H, isValidSessionId } from "../protocol/headers.js";
import { MAX_SEALED_SESSION_ID_BYTES, replicaHash, sealToken, type TokenKey } from "../sessions/token.js";
import type { RequestContext } from "./context.js";
import type { GatewayState } from "./state.js";

export async function forgetSession(
  gw: GatewayState,
  route: string,
  sessionId: string,
  replica: string,
  reason: string,
): Promise<void> {
  await gw.store.forget(route, sessionId);
  publish("session", { route, session: hashId(sessionId), replica, action: "forgotten", reason });
  await tenantSessionEnded(gw, route, sessionId);
}

const ledgerFault = (err: Error) =>
  publish("fault", { where: "ledger", code: "SWY_STORE_ERROR", message: err.message });

/** A tenant server's session began: counted against the tenant's quota, listed for its admin. */
export function tenantSessionOpened(
  ctx: RequestContext,
  gw: GatewayState,
  sessionId: string,
  era: "legacy" | "sse",
): Promise<void> {
  const pool = ctx.pool;
  if (!gw.tenancy || pool?.tenant === undefined || !ctx.replica) return Promise.resolve();
  return gw.tenancy.sessionOpened(pool, sessionId, ctx.replica.id, ctx.principal, era).catch(ledgerFault);
}

/** A tenant server's session ended. */
export function tenantSessionEnded(gw: GatewayState, route: string, sessionId: string): Promise<void> {
  if (!gw.tenancy || !route.includes("/")) return Promise.resolve();
  return gw.tenancy.sessionEnded(route, sessionId).catch(ledgerFault);
}

/**
 * Signed session ids: the client sees a token in place of the upstream's id, on every response; a
 * session that ended (DELETE accepted, or the upstream's 404) is revoked for every gateway.
 */
function learnWithTokens(
  ctx: RequestContext,
  gw: GatewayState,
  tokens: NonNullable<GatewayState["tokens"]>,
  status: number,
  headers: Record<string, string | string[] | undefined>,
): Promise<void> | undefined {
  const pool = ctx.pool as NonNullable<RequestContext["pool"]>;
  const replica = ctx.replica as NonNullable<RequestContext["replica"]>;
  const sid = ctx.info?.sessionId;
  const upstreamSid = headers[H.sessionId];
  if (typeof upstreamSid === "string") {
    if (sid !== undefined) {
      headers[H.sessionId] = sid;
    } else if (status >= 200 && status < 300 && isValidSessionId(upstreamSid)) {
      const claims = {
        replica: replicaHash(replica.id),
        createdAt: Math.floor(Date.now() / 1000),
        upstreamSessionId: upstreamSid,
      };
      const token = sealToken(tokens.opener.keys[0] as TokenKey, claims, pool.name, ctx.principal);
      if (token === undefined) {
        // Too long to carry in a signed id: the client gets no id rather than one every gateway refuses (400).
        publish("fault", {
          where: "learn",
          code: "SWY_UPSTREAM_PROTOCOL_ERROR",
          message: `upstream session id longer than ${MAX_SEALED_SESSION_ID_BYTES} bytes: not carried with affinity: token`,
        });
        delete headers[H.sessionId];
        return undefined;
      }
      headers[H.sessionId] = token;
      if (pool.tenant !== undefined) return tenantSessionOpened(ctx, gw, token, "legacy");
    } else {
      delete headers[H.sessionId];
    }
  }
  const ended = status === 404 || (ctx.req.method === "DELETE" && status >= 200 && status < 300);
  if (sid === undefined || !ended) return undefined;
  const claims = tokens.opener.open(sid, pool.name, ctx.principal);
  if (!claims) return undefined;
  // Until the token would expire anyway; past that it is refused without a list.
  const until = claims.createdAt * 1000 + 999 + tokens.maxAgeMs;
  return gw.store.revoke(pool.name, sid, until).then(
    () => {
      publish("session", {
        route: pool.name,
        session: hashId(sid),
        replica: replica.id,
        action: "revoked",
        reason: "deleted",
      });
      return tenantSessionEnded(gw, pool.name, sid);
    },
    // Not shared: this gateway refuses the id, the others still route it, and the upstream has ended it.
    (err: Error) => publish("fault", { where: "revoke", code: "SWY_STORE_ERROR", message: err.message }),
  );
}

/**
 * What the response teaches (rejects only when a new session could not be stored: the gateway could not
 * route it, so the answer must not reach the client), before the client sees it (so that its next request, on any gateway,
 * already routes): a new `Mcp-Session-Id` → session learned on this replica; DELETE accepted or the
 * upstream's own 404 for a session → forgotten. Returns undefined when there is nothing to do.
 */
export function learnFromResponse(
  ctx: RequestContext,
  gw: GatewayState,
  status: number,
  headers: Record<string, string | string[] | undefined>,
): Promise<void> | undefined {
  const pool = ctx.pool;
  const replica = ctx.replica;
  const sid = ctx.info?.sessionId;
  // A `switchyard/ha` replica names its node on every answer: a shared pool routes sessions by it.
  if (pool?.sharedSessions) replica?.learnNode(headers);
  // An HTTP+SSE stream's session is learned from its endpoint event (see sse-session.ts).
  // The modern protocol has no sessions to learn.
  if (!pool || !replica || ctx.endpoint === "sse" || ctx.info?.era === "modern") return undefined;
  if (gw.tokens) return learnWithTokens(ctx, gw, gw.tokens, status, headers);
  if (sid === undefined) {
    const learned = headers[H.sessionId];
    if (status < 200 || status >= 300 || typeof learned !== "string" || !isValidSessionId(learned)) return undefined;
    const now = Date.now();
    return gw.store
      .learn(pool.name, learned, {
        route: pool.name,
        replica: replica.id,
        principal: ctx.principal,
        era: "legacy",
        createdAt: now,
        lastSeenAt: now,
      })
      .then((stored) => {
        if (!stored) return;
        publish("session", {
          route: pool.name,
          session: hashId(learned),
          replica: replica.id,
          action: "learned",
          reason: ctx.info?.rpcMethod ?? "response",
        });
        return tenantSessionOpened(ctx, gw, learned, "legacy");
      });
  }
  // A session the store fails to forget expires by itself: the answer passes regardless.
  const unreported = (err: Error) =>
    publish("fault", { where: "learn", code: "SWY_STORE_ERROR", message: err.message });
  if (status === 404) return forgetSession(gw, pool.name, sid, replica.id, "upstream 404").catch(unreported);
  if (ctx.req.method === "DELETE" && status >= 200 && status < 300) {
    return forgetSession(gw, pool.name, sid, replica.id, "deleted").catch(unreported);
  }
  return undefined;
}

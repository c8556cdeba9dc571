import { randomBytes } from "node:crypto";
import { SwitchyardError } from "../errors.js";
import { publish } from "../observability/events.js";
import { hashId } from "../observability/hash.js";
import { replicaHash, sealToken, type TokenKey } from "../sessions/token.js";
import type { RequestContext } from "./context.js";
import { forgetSession, tenantSessionEnded, tenantSessionOpened } from "./learn.js";
import { publicBase } from "./public-url.js";
import type { GatewayState } from "./state.js";

/** An HTTP+SSE session while its stream is open on this gateway. */
export interface SseSession {
  /** The message URL announced to the client, on the gateway. */
  readonly url: string;
  /** The stream closed (either side): the session is forgotten (or its signed id revoked) everywhere. */
  end(): void;
}

const unreported = (err: Error) =>
  publish("fault", { where: "sse-session", code: "SWY_STORE_ERROR", message: err.message });

/**
 * The replica announced `endpoint` (path and query) for the stream that `ctx` opened: give the session
 * an id of the gateway's own and make it routable from every gateway before the client learns it —
 * a store record (id → replica, endpoint), kept alive while the stream is open; or, with
 * `affinity: token`, a signed id that carries both. Rejects when the store cannot take it.
 */
export async function openSseSession(ctx: RequestContext, gw: GatewayState, endpoint: string): Promise<SseSession> {
  const pool = ctx.pool;
  const replica = ctx.replica;
  if (!pool || !replica) throw new Error("openSseSession before route");
  const now = Date.now();
  const route = pool.name;
  let id: string;
  let end: () => Promise<void>;
  if (gw.tokens) {
    const createdAt = Math.floor(now / 1000);
    const key = gw.tokens.opener.keys[0] as TokenKey;
    const token = sealToken(
      key,
      { replica: replicaHash(replica.id), createdAt, upstreamSessionId: endpoint },
      route,
      ctx.principal,
    );
    if (token === undefined) {
      throw new SwitchyardError("SWY_UPSTREAM_PROTOCOL_ERROR", {
        detail: "endpoint URL too long for a signed session id",
      });
    }
    id = token;
    const until = createdAt * 1000 + 999 + gw.tokens.maxAgeMs;
    end = () => gw.store.revoke(route, id, until).then(() => tenantSessionEnded(gw, route, id));
  } else {
    id = randomBytes(18).toString("base64url");
    const record = {
      route,
      replica: replica.id,
      principal: ctx.principal,
      era: "sse" as const,
      createdAt: now,
      lastSeenAt: now,
      endpoint,
    };
    if (!(await gw.store.learn(route, id, record))) throw new Error("session id already taken");
    // An open stream may go quiet for longer than the idle TTL: renew the record while it is open.
    const renew = setInterval(() => gw.store.get(route, id).catch(() => {}), gw.config.sessions.idleTtl / 2);
    renew.unref();
    end = () => {
      clearInterval(renew);
      return forgetSession(gw, route, id, replica.id, "stream closed");
    };
  }
  publish("session", { route, session: hashId(id), replica: replica.id, action: "learned", reason: "endpoint" });
  await tenantSessionOpened(ctx, gw, id, "sse");
  let ended = false;
  return {
    url: `${publicBase(ctx, gw)}/${route}/messages?sessionId=${id}`,
    end: () => {
      if (ended) return;
      ended = true;
      end().catch(unreported);
    },
  };
}

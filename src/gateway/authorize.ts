import { hash } from "node:crypto";
import { bearerChallenge } from "../auth/challenge.js";
import { listFilter } from "../auth/list-filter.js";
import type { ExchangeConfig, RouteAuth } from "../auth/route-auth.js";
import { requiredScopes } from "../auth/scopes.js";
import { ExchangeFailed } from "../auth/token-exchange.js";
import { InvalidToken } from "../auth/verifier.js";
import { SwitchyardError } from "../errors.js";
import type { RequestContext } from "./context.js";
import type { GatewayState } from "./state.js";

/** `Authorization: Bearer TOKEN` (RFC 6750 §2.1, the only method a protected route accepts). */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
/** A token in the query string (RFC 6750 §2.3): never read, always refused. */
const ACCESS_TOKEN_PARAM = /[?&]access_token=/;

function refuse(code: "SWY_AUTH_REQUIRED" | "SWY_INVALID_TOKEN", auth: RouteAuth, presented: boolean) {
  const challenge = bearerChallenge({
    resourceMetadata: auth.metadata,
    scopes: auth.config.scopes,
    ...(presented ? { error: "invalid_token" as const } : {}),
  });
  return new SwitchyardError(code, { headers: { "www-authenticate": challenge } });
}

/**
 * A protected route (`auth`): the request must carry a bearer token that this route's authorization
 * servers issued for it (`BearerVerifier`). The principal — what sessions are bound to — becomes the
 * token's issuer and subject. No token → 401 with the metadata's URL; a bad one (or one in the query
 * string, which is never read) → 401 `invalid_token`. Nothing about why is said.
 */
export async function authenticateBearer(ctx: RequestContext, gw: GatewayState, auth: RouteAuth): Promise<void> {
  const header = ctx.req.headers.authorization;
  if (ctx.query !== "" && ACCESS_TOKEN_PARAM.test(ctx.query)) throw refuse("SWY_INVALID_TOKEN", auth, true);
  if (header === undefined) throw refuse("SWY_AUTH_REQUIRED", auth, false);
  const token = BEARER.exec(header)?.[1];
  if (token === undefined) throw refuse("SWY_INVALID_TOKEN", auth, true);
  try {
    ctx.token = await gw.verifier.verify(token, auth.config, auth.audience);
    ctx.bearer = token;
  } catch (err) {
    if (err instanceof InvalidToken) throw refuse("SWY_INVALID_TOKEN", auth, true);
    throw err;
  }
  ctx.principal = `oauth:${hash("sha256", `${ctx.token.issuer}\u0000${ctx.token.subject}`, "base64url").slice(0, 22)}`;
}

/**
 * Once the body is read: every scope the request needs (the route's, and its tool's, prompt's or
 * resource's) must be in the token, else 403 `insufficient_scope` naming all of them (step-up). A list
 * request is given the filter that keeps what the token may use.
 */
export function checkScopes(ctx: RequestContext, auth: RouteAuth): void {
  const granted = ctx.token?.scopes;
  const needed = requiredScopes(auth.config, ctx.messages);
  if (granted && needed.every((s) => granted.has(s))) {
    // A list shows only what the token may use.
    ctx.listFilter = listFilter(auth.config, ctx.messages, granted);
    return;
  }
  const challenge = bearerChallenge({ resourceMetadata: auth.metadata, scopes: needed, error: "insufficient_scope" });
  throw new SwitchyardError("SWY_INSUFFICIENT_SCOPE", { headers: { "www-authenticate": challenge } });
}

/**
 * `upstreamAuth: { exchange }`: the upstream gets a token of its own for the same subject (RFC 8693),
 * never the client's. An exchange the issuer refuses, or cannot answer, fails the request (502).
 */
export async function exchangeForUpstream(ctx: RequestContext, gw: GatewayState, auth: RouteAuth): Promise<void> {
  if (!auth.exchange) return;
  ctx.upstreamAuthorization = await upstreamAuthorization(ctx, gw, auth.exchange);
}

/**
 * The `Authorization` an upstream with `upstreamAuth: { exchange }` gets for this request's token (a
 * federation member gets its own the same way); undefined without a token.
 */
export async function upstreamAuthorization(
  ctx: RequestContext,
  gw: GatewayState,
  exchange: ExchangeConfig,
): Promise<string | undefined> {
  if (!ctx.token || ctx.bearer === undefined) return undefined;
  try {
    return `Bearer ${await gw.exchanger.upstreamToken(ctx.bearer, ctx.token, exchange)}`;
  } catch (err) {
    if (err instanceof ExchangeFailed) throw new SwitchyardError("SWY_TOKEN_EXCHANGE_FAILED", { cause: err });
    throw err;
  }
}

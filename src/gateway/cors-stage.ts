import { SwitchyardError } from "../errors.js";
import { corsHeaders, preflightHeaders } from "../security/cors.js";
import { originAllowed } from "../security/origin-host.js";
import { ALLOW } from "./admit.js";
import type { RequestContext } from "./context.js";
import type { GatewayState } from "./state.js";

/**
 * Stage (before authentication: a preflight carries no credential): a request with an allowed `Origin`
 * gets the CORS headers on whatever it is answered; its preflight (`OPTIONS` with
 * `Access-Control-Request-Method`) is answered here, 204. A refused origin's preflight → 403; its other
 * requests are refused by `admit`.
 */
export function cors(ctx: RequestContext, gw: GatewayState): boolean {
  const { origin, host } = ctx.req.headers;
  if (origin === undefined) return false;
  const preflight = ctx.req.method === "OPTIONS" && ctx.req.headers["access-control-request-method"] !== undefined;
  if (!originAllowed(origin, host, gw.policy)) {
    if (preflight) throw new SwitchyardError("SWY_ORIGIN_FORBIDDEN");
    return false;
  }
  if (!preflight) {
    for (const [name, value] of Object.entries(corsHeaders(origin))) ctx.res.setHeader(name, value);
    return false;
  }
  const requested = ctx.req.headers["access-control-request-headers"];
  // A tenant's server is looked up after authentication; its path already names the endpoint.
  const endpoint = (ctx.tenantPath?.endpoint ?? ctx.endpoint) as keyof typeof ALLOW;
  ctx.res.writeHead(204, preflightHeaders(origin, ALLOW[endpoint], requested));
  ctx.res.end();
  return true;
}

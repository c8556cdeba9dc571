import { SwitchyardError } from "../errors.js";
import type { Caller } from "../tenancy/authenticate.js";
import type { RequestContext } from "./context.js";
import { servesEndpoint } from "./match-route.js";
import type { GatewayState } from "./state.js";

/**
 * A tenant's server (`/TENANT/NAME/ENDPOINT`): authenticate the caller (401), check that the credential
 * is this tenant's (403), find the server (404, only now: strangers learn nothing of a tenant's servers),
 * then take one request of the tenant's rate (429). The principal becomes the key or the JWT subject:
 * sessions are bound to it.
 */
export function admitTenant(ctx: RequestContext, gw: GatewayState): Promise<void> | undefined {
  const tenancy = gw.tenancy;
  if (!ctx.tenantPath || !tenancy) return undefined;
  // At once for a known key, a known server and buckets in memory: a promise only when something must be asked.
  const caller = tenancy.auth.authenticate(ctx.req.headers);
  return caller instanceof Promise
    ? caller.then((c) => admitCaller(ctx, tenancy, c))
    : admitCaller(ctx, tenancy, caller);
}

type Tenancy = NonNullable<GatewayState["tenancy"]>;

function admitCaller(ctx: RequestContext, tenancy: Tenancy, caller: Caller): Promise<void> | undefined {
  const path = ctx.tenantPath as NonNullable<RequestContext["tenantPath"]>;
  if (caller.tenant !== path.tenant) throw new SwitchyardError("SWY_TENANT_FORBIDDEN");
  ctx.tenant = caller.tenant;
  ctx.principal = caller.principal;
  const pool = tenancy.pools.get(path.tenant, path.server);
  if (pool) return admitToServer(ctx, tenancy, caller, pool);
  // A server registered on another gateway a moment ago is served here at once.
  return tenancy.registry
    .refresh()
    .then(() => admitToServer(ctx, tenancy, caller, tenancy.pools.get(path.tenant, path.server)));
}

function admitToServer(
  ctx: RequestContext,
  tenancy: Tenancy,
  caller: Caller,
  pool: ReturnType<Tenancy["pools"]["get"]>,
): Promise<void> | undefined {
  const path = ctx.tenantPath as NonNullable<RequestContext["tenantPath"]>;
  if (!pool || !servesEndpoint(pool.transport, path.endpoint)) throw new SwitchyardError("SWY_ROUTE_NOT_FOUND");
  ctx.pool = pool;
  ctx.endpoint = path.endpoint;
  const quotas = tenancy.quotas(caller.tenant);
  ctx.quotas = quotas;
  return tenancy.takeRequest(caller.tenant, quotas);
}

/** After classification: a new session or a new stream must fit in the tenant's quotas (429). */
export async function tenantQuotas(ctx: RequestContext, gw: GatewayState): Promise<void> {
  const { tenant, quotas, info } = ctx;
  const tenancy = gw.tenancy;
  if (tenant === undefined || !quotas || !info || !tenancy) return;
  const opensSession =
    ctx.endpoint === "sse"
      ? ctx.req.method === "GET"
      : ctx.endpoint === "mcp" &&
        info.era !== "modern" &&
        info.sessionId === undefined &&
        info.rpcMethod === "initialize";
  if (opensSession) await tenancy.admitSession(tenant, quotas);
  if (info.longLived) {
    await tenancy.takeStream(tenant, quotas);
    // The client left while the slots were counted (by the workers' primary): the slot goes back at once.
    if (ctx.res.closed) tenancy.giveStream(tenant);
    else ctx.tenantStream = true;
  }
}

import { SwitchyardError } from "../errors.js";
import type { RequestContext } from "./context.js";
import { servesEndpoint } from "./match-route.js";
import type { GatewayState } from "./state.js";

/**
 * A tenant's server (`/TENANT/NAME/ENDPOINT`): authenticate the caller (401), check that the credential
 * is this tenant's (403), find the server (404, only now: strangers learn nothing of a tenant's servers),
 * then take one request of the tenant's rate (429). The principal becomes the key or the JWT subject:
 * sessions are bound to it.
 */
export async function admitTenant(ctx: RequestContext, gw: GatewayState): Promise<void> {
  const path = ctx.tenantPath;
  const tenancy = gw.tenancy;
  if (!path || !tenancy) return;
  const caller = await tenancy.auth.authenticate(ctx.req.headers);
  if (caller.tenant !== path.tenant) throw new SwitchyardError("SWY_TENANT_FORBIDDEN");
  ctx.tenant = caller.tenant;
  ctx.principal = caller.principal;
  let pool = tenancy.pools.get(path.tenant, path.server);
  if (!pool) {
    // A server registered on another gateway a moment ago is served here at once.
    await tenancy.registry.refresh();
    pool = tenancy.pools.get(path.tenant, path.server);
  }
  if (!pool || !servesEndpoint(pool.transport, path.endpoint)) throw new SwitchyardError("SWY_ROUTE_NOT_FOUND");
  ctx.pool = pool;
  ctx.endpoint = path.endpoint;
  const quotas = tenancy.quotas(caller.tenant);
  ctx.quotas = quotas;
  await tenancy.takeRequest(caller.tenant, quotas);
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
    tenancy.takeStream(tenant, quotas);
    ctx.tenantStream = true;
  }
}

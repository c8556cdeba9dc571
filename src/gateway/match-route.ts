import { SwitchyardError } from "../errors.js";
import type { RequestContext } from "./context.js";
import type { GatewayState } from "./state.js";

const ENDPOINTS = { mcp: "streamable-http", sse: "sse", messages: "sse" } as const;

/** Whether `endpoint` is one that a route of `transport` serves. */
export function servesEndpoint(transport: string, endpoint: string): endpoint is keyof typeof ENDPOINTS {
  return Object.hasOwn(ENDPOINTS, endpoint) && ENDPOINTS[endpoint as keyof typeof ENDPOINTS] === transport;
}

/**
 * `/NAME/mcp` → a Streamable HTTP route's pool, or a virtual server; `/NAME/sse` (the stream) and `/NAME/messages` (its
 * POSTs) → an HTTP+SSE route's pool. `/TENANT/NAME/ENDPOINT` → a tenant's server, looked up once the
 * caller is authenticated (`admit-tenant.ts`), so that nobody learns which servers a tenant has.
 */
export function matchRoute(ctx: RequestContext, gw: GatewayState): void {
  const p = ctx.path;
  const slash = p.indexOf("/", 1);
  if (slash > 1 && p.charCodeAt(0) === 0x2f) {
    const endpoint = p.slice(slash + 1);
    const second = endpoint.indexOf("/");
    if (second > 0 && gw.tenancy) {
      const last = endpoint.slice(second + 1);
      if (Object.hasOwn(ENDPOINTS, last)) {
        ctx.tenantPath = { tenant: p.slice(1, slash), server: endpoint.slice(0, second), endpoint: last };
        return;
      }
    }
    const name = p.slice(1, slash);
    const virtual = endpoint === "mcp" ? gw.virtuals.get(name) : undefined;
    if (virtual) {
      ctx.virtual = virtual;
      return;
    }
    const pool = gw.pools.get(name);
    if (pool && servesEndpoint(pool.transport, endpoint)) {
      ctx.pool = pool;
      ctx.endpoint = endpoint;
      return;
    }
  }
  throw new SwitchyardError("SWY_ROUTE_NOT_FOUND");
}

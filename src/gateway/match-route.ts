import { SwitchyardError } from "../errors.js";
import type { RequestContext } from "./context.js";
import type { GatewayState } from "./state.js";

const ENDPOINTS = { mcp: "streamable-http", sse: "sse", messages: "sse" } as const;

/**
 * `/NAME/mcp` → a Streamable HTTP route's pool; `/NAME/sse` (the stream) and `/NAME/messages` (its
 * POSTs) → an HTTP+SSE route's pool.
 */
export function matchRoute(ctx: RequestContext, gw: GatewayState): void {
  const p = ctx.path;
  const slash = p.indexOf("/", 1);
  if (slash > 1 && p.charCodeAt(0) === 0x2f) {
    const endpoint = p.slice(slash + 1);
    const pool = gw.pools.get(p.slice(1, slash));
    if (pool && Object.hasOwn(ENDPOINTS, endpoint)) {
      const kind = endpoint as keyof typeof ENDPOINTS;
      if (ENDPOINTS[kind] === pool.transport) {
        ctx.pool = pool;
        ctx.endpoint = kind;
        return;
      }
    }
  }
  throw new SwitchyardError("SWY_ROUTE_NOT_FOUND");
}

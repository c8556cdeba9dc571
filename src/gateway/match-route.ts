import { SwitchyardError } from "../errors.js";
import type { RequestContext } from "./context.js";
import type { GatewayState } from "./state.js";

/** `/NAME/mcp` → the route's pool. */
export function matchRoute(ctx: RequestContext, gw: GatewayState): void {
  const p = ctx.path;
  if (p.length > 5 && p.endsWith("/mcp") && p.charCodeAt(0) === 0x2f) {
    const name = p.slice(1, -4);
    const pool = name.includes("/") ? undefined : gw.pools.get(name);
    if (pool) {
      ctx.pool = pool;
      return;
    }
  }
  throw new SwitchyardError("SWY_ROUTE_NOT_FOUND");
}

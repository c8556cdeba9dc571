import type { RequestContext } from "./context.js";
import type { GatewayState } from "./state.js";

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

function first(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v?.split(",")[0]?.trim() || undefined;
}

/**
 * The gateway's base URL as this client reaches it, without a trailing slash: `publicUrl` when
 * configured; else the request's own scheme and Host (`X-Forwarded-Proto`/`-Host` when
 * `security.trustProxy`). Values that are not a plain host or scheme are ignored.
 */
export function publicBase(ctx: RequestContext, gw: GatewayState): string {
  const configured = gw.config.publicUrl;
  if (configured !== undefined) return configured.replace(/\/+$/, "");
  const h = ctx.req.headers;
  const trust = gw.config.security.trustProxy;
  const forwardedProto = trust ? first(h["x-forwarded-proto"])?.toLowerCase() : undefined;
  const proto =
    forwardedProto === "http" || forwardedProto === "https"
      ? forwardedProto
      : "encrypted" in ctx.req.socket && ctx.req.socket.encrypted
        ? "https"
        : "http";
  const forwardedHost = trust ? first(h["x-forwarded-host"]) : undefined;
  const host = [forwardedHost, h.host].find((v) => v !== undefined && HOST.test(v));
  if (host !== undefined) return `${proto}://${host}`;
  const { localAddress, localPort } = ctx.req.socket;
  const address = localAddress?.includes(":") ? `[${localAddress}]` : localAddress;
  return `${proto}://${address}:${localPort}`;
}
